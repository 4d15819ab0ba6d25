"""Validate a third-party Gaussian KL implementation: right or wrong, which bug, smallest input.

:func:`validate` calls the function on designed and random batches (asymmetric
pairs, q ≈ p, |mu| up to 100, logvar from -30 to 30), compares it with the
reference KL(q‖p) under a condition-aware tolerance, and, when it is wrong,
names the bug (sign flip, missing ½, std/var confusion, wrong reduction,
reversed direction, clamping, precision loss, ...) and shrinks a
counterexample to N = 1, D = 1 with round numbers where possible.

>>> import numpy as np
>>> import elbo_check.validate as v
>>> def vae_kl(mu, logvar):
...     return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
>>> v.validate(vae_kl, args="mu,logvar", reduction="sum", examples=50).ok
True
>>> def buggy(mu, logvar):
...     return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))
>>> r = v.validate(buggy, args="mu,logvar", reduction="sum", examples=50)
>>> r.ok, r.bug_class
(False, 'sign_flip')
>>> r.counterexample["inputs"]
{'mu': [[0.0]], 'logvar': [[1.0]]}
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

from elbo_check.errors import ValidationError

#: the longest per-call timeout accepted (a week): beyond it no queue can wait
_MAX_TIMEOUT = 7 * 24 * 3600.0

__all__ = ["ValidationResult", "validate"]

_DTYPES = ("float64", "float32")
_BACKENDS = ("numpy", "torch", "jax")


@dataclasses.dataclass(frozen=True)
class ValidationResult:
    """The verdict on one KL implementation.

    Attributes
    ----------
    ok : bool
        True when the function matches the reference within tolerance on every example.
    diagnosis : str or None
        The named bug, in words (None when ``ok``).
    counterexample : dict or None
        A small failing input: ``inputs`` (role -> nested lists), ``shape``,
        ``expected`` (40-digit mpmath reference), ``returned`` and ``error``.
    max_rel_error : float
        Largest relative error seen (nan when nothing could be compared).
    examples : int
        Number of (q, p) pairs (rows of the input batches) checked.
    convention : dict
        ``args``, ``reduction``, ``family``, ``backend`` and ``dtype`` used
        (the inferred ones for ``auto``).
    warnings : list of str
        Non-fatal findings: cancellation near q ≈ p, a different dtype
        returned, printing, a list returned, ...
    bug_class : str or None
        A stable identifier of the bug class (``sign_flip``, ``wrong_reduction``, ...).
    """

    ok: bool
    diagnosis: str | None
    counterexample: dict[str, Any] | None
    max_rel_error: float
    examples: int
    convention: dict[str, Any]
    warnings: list[str]
    bug_class: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (non-finite floats become None).

        >>> ValidationResult(True, None, None, 0.0, 3, {}, []).to_dict()["ok"]
        True
        """
        d = dataclasses.asdict(self)
        d["max_rel_error"] = _finite(self.max_rel_error)
        return d

    def to_json(self) -> str:
        """The result as a JSON string (the CLI's ``--format json``)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False)

    def report(self) -> str:
        """A human-readable report (the CLI's ``--format text``)."""
        conv = self.convention
        head = (
            f"{'OK' if self.ok else 'WRONG'}: args={','.join(conv.get('args', []))} "
            f"reduction={conv.get('reduction')} backend={conv.get('backend')} dtype={conv.get('dtype')}"
        )
        lines = [head]
        if self.diagnosis:
            lines.append(f"diagnosis: {self.diagnosis}")
        cex = self.counterexample
        if cex:
            inputs = ", ".join(f"{k}={v}" for k, v in cex["inputs"].items())
            lines.append(f"counterexample: {inputs}")
            lines.append(f"  expected: {cex['expected']}")
            lines.append(f"  returned: {cex['returned'] if cex['error'] is None else cex['error']}")
        err = "nan" if math.isnan(self.max_rel_error) else f"{self.max_rel_error:.3g}"
        lines.append(f"max relative error: {err} over {self.examples} examples")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.report()

    def _repr_html_(self) -> str:
        """Jupyter: verdict badge, diagnosis and counterexample (elbo_check.report)."""
        from elbo_check.report.notebook import validation_html

        return validation_html(self)

    def _repr_latex_(self) -> str:
        """Jupyter: a one-line LaTeX summary."""
        from elbo_check.report.notebook import validation_latex

        return validation_latex(self)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def validate(
    fn: Callable[..., Any],
    args: str | Sequence[str] = "mu,logvar",
    reduction: str = "batch",
    *,
    backend: str = "numpy",
    dtype: str = "float64",
    examples: int = 1000,
    seed: int = 0,
    timeout: float = 10.0,
) -> ValidationResult:
    """Check a KL implementation against the reference KL(q‖p).

    Parameters
    ----------
    fn : callable
        The implementation, called positionally with one array per role.
    args : str or sequence of str
        The roles of the positional arguments, e.g. ``"mu,logvar"``,
        ``"mu_q,std_q,mu_p,std_p"``, ``"mu_q,scale_tril_q,mu_p,scale_tril_p"``,
        or ``"auto"`` to try every convention.
    reduction : {"none", "batch", "sum", "batchmean", "mean", "auto"}
        As in :func:`elbo_check.gaussian_kl`.  For full covariance, ``none`` and
        ``batch`` both mean shape (N,), and ``mean`` divides the sum by N·D.
    backend : {"numpy", "torch", "jax"}
        The array type passed to ``fn``.
    dtype : {"float64", "float32"}
        The inputs' dtype; it sets the rounding the tolerance allows.
    examples : int
        Number of (q, p) pairs (rows) to check in all; the designed batches
        (about 40 rows) are always included.
    seed : int
        Seed of the random batches (the run is deterministic given it).
    timeout : float
        Seconds one call may take before the function is judged hung.

    Returns
    -------
    ValidationResult

    Raises
    ------
    elbo_check.errors.ValidationError
        For bad roles, reduction, backend, dtype or counts (the CLI's exit 2).

    Examples
    --------
    >>> import numpy as np
    >>> from elbo_check.validate import validate
    >>> def kl(mu_q, std_q, mu_p, std_p):
    ...     return np.sum(np.log(std_p / std_q) + (std_q**2 + (mu_q - mu_p) ** 2) / (2 * std_p**2) - 0.5, axis=-1)
    >>> validate(kl, args="mu_q,std_q,mu_p,std_p", reduction="batch", examples=40).ok
    True
    """
    from elbo_check.validate import _core
    from elbo_check.validate._roles import REDUCTIONS, auto_candidates, parse_convention

    if not callable(fn):
        raise ValidationError(f"expected a callable KL function, got fn={fn!r}")
    if backend not in _BACKENDS:
        raise ValidationError(
            f"unknown backend {backend!r}; expected one of {', '.join(_BACKENDS)}"
        )
    if dtype not in _DTYPES:
        raise ValidationError(f"unsupported dtype {dtype!r}; expected float64 or float32")
    if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
        raise ValidationError(f"examples must be a positive integer, got examples={examples!r}")
    if not (
        isinstance(timeout, (int, float))
        and not isinstance(timeout, bool)
        and 0 < timeout <= _MAX_TIMEOUT
    ):
        raise ValidationError(
            f"timeout must be a positive, finite number of seconds (at most {_MAX_TIMEOUT:g}), "
            f"got timeout={timeout!r}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValidationError(f"seed must be a non-negative integer, got seed={seed!r}")
    from elbo_check.validate._runner import get_backend

    get_backend(backend)  # fail early (exit 2) when the backend is missing
    auto_args = isinstance(args, str) and args.strip() == "auto"
    if reduction == "auto" or auto_args:
        roles = None if auto_args else args
        candidates = auto_candidates(fn, roles)
        reductions = list(REDUCTIONS) if reduction == "auto" else [reduction]
        if reduction != "auto":
            parse_convention(candidates[0], reduction)  # validates the reduction
        out = _core.run_auto(
            fn, candidates, reductions, backend, dtype, examples, seed, float(timeout)
        )
    else:
        conv = parse_convention(args, reduction)
        out = _core.run(fn, conv, backend, dtype, examples, seed, float(timeout))
    return ValidationResult(
        ok=bool(out["ok"]),
        diagnosis=out["diagnosis"],
        counterexample=out["counterexample"],
        max_rel_error=float(out["max_rel_error"]),
        examples=int(out["examples"]),
        convention=out["convention"],
        warnings=list(out["warnings"]),
        bug_class=out["bug_class"],
    )


class _CallableModule(types.ModuleType):
    """Lets ``elbo_check.validate(...)`` work even after ``import elbo_check.validate``.

    Importing the subpackage binds the *module* to ``elbo_check.validate``;
    making the module callable keeps the public function name working.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> ValidationResult:
        return validate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
