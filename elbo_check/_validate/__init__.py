"""Validate a third-party KL implementation (Gaussian, Bernoulli, Categorical): right or wrong, which bug, smallest input.

:func:`validate` calls the function on designed and random batches (asymmetric
pairs, q ≈ p, |mu| up to 100, logvar from -30 to 30), compares it with the
reference KL(q‖p) under a condition-aware tolerance, and, when it is wrong,
names the bug (sign flip, missing ½, std/var confusion, wrong reduction,
reversed direction, clamping, precision loss, ...) and shrinks a
counterexample to N = 1, D = 1 with round numbers where possible.

>>> import numpy as np
>>> import elbo_check as v
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

from collections.abc import Callable, Sequence
from typing import Any

from elbo_check._validate._result import (
    ConventionInfo,
    Counterexample,
    ValidationResult,
)
from elbo_check._validate._types import BugClass
from elbo_check.errors import ValidationError

__all__ = ["BugClass", "ConventionInfo", "Counterexample", "ValidationResult", "validate"]


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
    layout: str | None = None,
    isolation: str = "process",
) -> ValidationResult:
    """Check a KL implementation against the reference KL(q‖p).

    Parameters
    ----------
    fn : callable
        The implementation, called positionally with one array per role.
    args : str or sequence of str
        The roles of the positional arguments, e.g. ``"mu,logvar"``,
        ``"mu_q,std_q,mu_p,std_p"``, ``"mu_q,scale_tril_q,mu_p,scale_tril_p"``,
        or ``"auto"`` to try every Gaussian convention.  For a Bernoulli or
        Categorical KL: ``probs_q`` or ``logits_q``, optionally ``probs_p`` or
        ``logits_p`` (without them the prior is uniform: Bernoulli(½) or
        Uniform(1/K)).
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
    layout : str, optional
        The axes of every array argument, einops-style: ``"N C H W"`` (N the
        batch axis, the others event axes the KL sums over), ``"D N"`` (batch
        last).  The default is ``"N D"``; in auto mode, both ``"N D"`` and
        ``"D N"`` are tried.  A role may override it in ``args``:
        ``"mu_q,logvar_q:D,mu_p,logvar_p:D"`` passes one (D,) log-variance
        shared by the whole batch.  Full covariance keeps (N, D) and (N, D, D).
        With probs/logits roles, the axis ``K`` holds the classes of a
        Categorical (``"N K"``, ``"N D K"``); without it every entry is one
        Bernoulli.
    isolation : {"process", "thread"}
        ``process`` (the default) runs ``fn`` in a worker process that a
        timeout kills and whose crash is a verdict; ``fn`` must then be
        picklable by name (a module-level function).  Lambdas, closures and
        functions the worker cannot import run in a thread of this process
        instead, as ``thread`` asks for: there a crash takes the caller down
        and a call stuck in C code cannot be stopped.

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
    >>> from elbo_check import validate
    >>> def kl(mu_q, std_q, mu_p, std_p):
    ...     return np.sum(np.log(std_p / std_q) + (std_q**2 + (mu_q - mu_p) ** 2) / (2 * std_p**2) - 0.5, axis=-1)
    >>> validate(kl, args="mu_q,std_q,mu_p,std_p", reduction="batch", examples=40).ok
    True
    >>> from scipy.special import xlogy
    >>> def kl_uniform(probs_q):  # KL(Cat(q) ‖ Uniform), one per row
    ...     return np.sum(xlogy(probs_q, probs_q * probs_q.shape[-1]), axis=-1)
    >>> validate(kl_uniform, args="probs_q", reduction="batch", layout="N K", examples=40).ok
    True
    """
    if not callable(fn):
        raise ValidationError(f"expected a callable KL function, got fn={fn!r}")
    from elbo_check._validate._api import Options, run_validation

    opts = Options.checked(
        args, reduction, backend, dtype, examples, seed, timeout, isolation, layout
    )
    return run_validation(opts, fn=fn)
