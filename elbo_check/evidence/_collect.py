"""Find the records a registered derivation declares, and run them.

This is the one part of :mod:`elbo_check.evidence` that reads the derivation
library: it looks up the optional ``EVIDENCE`` attribute of the module the
registry names for a slug.  It knows no slug and no symbol itself.
"""

from __future__ import annotations

from typing import Any

from elbo_check._library import shipped, submodule
from elbo_check.errors import EvidenceError
from elbo_check.evidence._records import EvidenceLine, NumericCheck
from elbo_check.evidence._run import run_checks

__all__ = ["collect_evidence", "evidence_slugs", "registered_checks"]


def registered_checks(slug: str) -> tuple[NumericCheck[Any], ...]:
    """The records declared as ``EVIDENCE`` by the module of the derivation ``slug``.

    Empty for an unknown slug or a module without ``EVIDENCE``.

    >>> [check.name for check in registered_checks("gaussian-kl-standard-prior")]
    ['KL(N(mu, sigma²) ‖ N(0, 1))']
    >>> registered_checks("no-such-derivation")
    ()
    """
    module_name = shipped().REGISTRY.get(slug)
    if module_name is None:
        return ()
    declared = getattr(submodule(module_name), "EVIDENCE", ())
    checks = tuple(declared)
    for check in checks:
        if not isinstance(check, NumericCheck):
            raise EvidenceError(f"{module_name}.EVIDENCE holds {check!r}, not a NumericCheck")
    return checks


def evidence_slugs() -> list[str]:
    """The registered slugs whose module declares evidence, in reading order."""
    return [slug for slug in shipped().slugs() if registered_checks(slug)]


def collect_evidence(slug: str, *, seed: int = 0) -> list[EvidenceLine]:
    """Numeric evidence lines for the derivation ``slug`` (empty if it declares none).

    Parameters
    ----------
    slug : str
        A registered derivation slug.
    seed : int
        Root seed of the Monte Carlo draws.

    Returns
    -------
    list of EvidenceLine

    >>> lines = collect_evidence("elbo-decomposition", seed=3)
    >>> [(line.passed, line.n, line.seed) for line in lines]
    [(True, 262144, 3), (True, 262144, 3)]
    >>> collect_evidence("no-such-derivation")
    []
    """
    return run_checks(registered_checks(slug), seed=seed)
