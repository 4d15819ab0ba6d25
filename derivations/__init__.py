"""The library of proofs: one module per derivation, registered by slug.

Each module defines ``DERIVATION``, a :class:`elbo_check.Derivation`.  Modules
are imported on first use, so listing slugs costs nothing.

>>> import derivations
>>> derivations.slugs()[:3]
['bayes', 'kl-nonnegative', 'elbo-decomposition']
>>> derivations.get("bayes").name
'bayes'

The closed forms of ``elbo-check kl-formula`` are derivations too, under
``kl-<q>-<p>`` slugs (:func:`kl_pair_slugs`).  They are not part of the
library's default run (``prove`` with no slug), but ``prove SLUG`` and
``report SLUG`` show their steps:

>>> derivations.get("kl-exponential-exponential").title
'KL(Exponential(r1) || Exponential(r2))'
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

from elbo_check.errors import UsageError

if TYPE_CHECKING:
    from elbo_check.derivation import Derivation

__all__ = ["REGISTRY", "all_derivations", "get", "kl_pair_slugs", "slugs"]

#: slug -> module, in reading order (lemmas before the results that cite them)
REGISTRY: dict[str, str] = {
    "bayes": "derivations.bayes",
    "kl-nonnegative": "derivations.kl_nonnegative",
    "elbo-decomposition": "derivations.elbo_decomposition",
    "elbo-reconstruction-kl": "derivations.elbo_reconstruction_kl",
    "gaussian-moments": "derivations.gaussian_moments",
    "gaussian-kl-univariate": "derivations.gaussian_kl_univariate",
    "gaussian-kl-standard-prior": "derivations.gaussian_kl_standard_prior",
    "gaussian-kl-diagonal": "derivations.gaussian_kl_diagonal",
    "gaussian-kl-full-covariance": "derivations.gaussian_kl_full_covariance",
    "gaussian-kl-full-covariance-general": "derivations.gaussian_kl_full_covariance_general",
    "gaussian-kl-unit-variance": "derivations.gaussian_kl_unit_variance",
    "gaussian-kl-gradient": "derivations.gaussian_kl_gradient",
    "gaussian-kl-zero-iff": "derivations.gaussian_kl_zero_iff",
    "reparameterization": "derivations.reparameterization",
    "beta-vae": "derivations.beta_vae",
    "conditional-vae": "derivations.conditional_vae",
    "iwae-bound": "derivations.iwae_bound",
}


def slugs() -> list[str]:
    """Every registered slug, in reading order."""
    return list(REGISTRY)


def kl_pair_slugs() -> dict[str, tuple[str, str]]:
    """``kl-<q>-<p>`` slug -> (q family, p family) for every pair ``kl-formula`` derives.

    >>> kl_pair_slugs()["kl-gamma-gamma"]
    ('Gamma', 'Gamma')
    """
    from elbo_check.klformula.derive import PAIRS

    return {f"kl-{q.lower()}-{p.lower()}": (q, p) for q, p in PAIRS}


@functools.cache
def _pair(slug: str) -> Derivation:
    from elbo_check.klformula.derive import pair_derivation

    return pair_derivation(*kl_pair_slugs()[slug])


def get(slug: str) -> Derivation:
    """The derivation registered as ``slug`` (a library slug or a ``kl-<q>-<p>`` pair)."""
    module = REGISTRY.get(slug)
    if module is None:
        pairs = kl_pair_slugs()
        if slug in pairs:
            return _pair(slug)
        import difflib

        close = difflib.get_close_matches(str(slug), [*REGISTRY, *pairs], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise UsageError(
            f"unknown derivation {slug!r}{hint} known: {', '.join(REGISTRY)}, and the KL pairs "
            "of `elbo-check list`"
        )
    derivation: Derivation = importlib.import_module(module).DERIVATION
    return derivation


def all_derivations() -> list[Derivation]:
    """Every registered derivation, in reading order."""
    return [get(s) for s in REGISTRY]
