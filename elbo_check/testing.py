"""Assertions for users' own test suites.

Copy these three lines into your tests (after hypothesis'
``run_conformance_test``)::

    from elbo_check.testing import assert_kl_correct
    def test_my_kl_is_correct():
        assert_kl_correct(my_kl, args="mu,logvar", reduction="sum")

The assertion fails with the validator's diagnosis and a minimal
counterexample.  Warnings (cancellation near q ≈ p, a float32 result) never
fail it and are not emitted as Python warnings, so ``-W error`` suites stay
green for correct code.

>>> import numpy as np
>>> from elbo_check.testing import assert_kl_correct
>>> assert_kl_correct(lambda mu, logvar: -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar)),
...                   args="mu,logvar", reduction="sum", examples=50)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["assert_kl_correct"]


def assert_kl_correct(
    fn: Callable[..., Any],
    args: str | Sequence[str] = "mu,logvar",
    reduction: str = "batch",
    **kw: Any,
) -> None:
    """Raise AssertionError unless ``fn`` computes KL(q‖p) correctly.

    Parameters
    ----------
    fn : callable
        The KL implementation.
    args, reduction
        The convention, as in :func:`elbo_check.validate`.
    **kw
        ``backend``, ``dtype``, ``examples``, ``seed``, ``timeout``.

    Raises
    ------
    AssertionError
        With the diagnosis and the counterexample, when ``fn`` is wrong.

    Examples
    --------
    >>> import numpy as np
    >>> def wrong(mu, logvar):
    ...     return -0.5 * np.sum(logvar - mu**2 - np.exp(logvar))
    >>> assert_kl_correct(wrong, args="mu,logvar", reduction="sum", examples=50)
    Traceback (most recent call last):
    ...
    AssertionError: KL implementation is wrong: missing constant: ...
    """
    __tracebackhide__ = True  # pytest shows the failure, not this helper's source
    from elbo_check._validate import validate

    result = validate(fn, args=args, reduction=reduction, **kw)
    if not result.ok:
        # the verdict, the diagnosis once, the counterexample
        details = [line for line in result.report().splitlines() if not line.startswith("diagnosis:")]
        raise AssertionError(f"KL implementation is wrong: {result.diagnosis}\n" + "\n".join(details))
