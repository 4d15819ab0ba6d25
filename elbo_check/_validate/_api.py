"""Checking the options once, opening the runner, and running one validation.

Both entry points end here: :func:`elbo_check.validate` with a callable, and
the CLI with a ``module:function`` or ``file.py:function`` target that only
the worker process loads (so a torch target imports torch once, there).

>>> Options.checked("mu,logvar", "sum", "numpy", "float64", 10, 0, 5.0, "process").reduction
'sum'
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from elbo_check._validate._axes import AxisLayout
from elbo_check._validate._types import BackendName, DtypeName, Reduction
from elbo_check.errors import ValidationError

if TYPE_CHECKING:
    from elbo_check._validate._result import ValidationResult

__all__ = ["MAX_TIMEOUT", "Options", "run_validation"]

#: the longest per-call timeout accepted (a week): beyond it no queue can wait
MAX_TIMEOUT = 7 * 24 * 3600.0
_ISOLATION = ("process", "thread")


def _one_of(name: str, value: object, allowed: Sequence[str], extra: str = "") -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(
            f"unknown {name} {value!r}; expected one of {', '.join(allowed)}{extra}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class Options:
    """Checked options of one validation."""

    args: str | tuple[str, ...]
    reduction: str
    backend: str
    dtype: str
    examples: int
    seed: int
    timeout: float
    isolation: str
    layout: str | None = None

    @classmethod
    def checked(
        cls,
        args: str | Sequence[str],
        reduction: str,
        backend: str,
        dtype: str,
        examples: int,
        seed: int,
        timeout: float,
        isolation: str,
        layout: str | None = None,
    ) -> Options:
        """Check every option (raises a one-line :class:`ValidationError`)."""
        _one_of("backend", backend, [b.value for b in BackendName])
        if dtype not in [d.value for d in DtypeName]:
            raise ValidationError(f"unsupported dtype {dtype!r}; expected float64 or float32")
        if isinstance(examples, bool) or not isinstance(examples, int) or examples < 1:
            raise ValidationError(f"examples must be a positive integer, got examples={examples!r}")
        if not (
            isinstance(timeout, (int, float))
            and not isinstance(timeout, bool)
            and 0 < timeout <= MAX_TIMEOUT
        ):
            raise ValidationError(
                f"timeout must be a positive, finite number of seconds (at most {MAX_TIMEOUT:g}), "
                f"got timeout={timeout!r}"
            )
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValidationError(f"seed must be a non-negative integer, got seed={seed!r}")
        _one_of("isolation", isolation, _ISOLATION)
        if reduction != "auto":
            _one_of("reduction", reduction, [r.value for r in Reduction], " or auto")
        if backend != "numpy" and importlib.util.find_spec(backend) is None:
            raise ValidationError(f"--backend {backend} needs {backend}, which is not installed")
        if layout is not None:
            AxisLayout.parse(layout)  # a one-line error naming the bad layout
        roles = args if isinstance(args, str) else tuple(str(a) for a in args)
        return cls(
            roles, reduction, backend, dtype, examples, seed, float(timeout), isolation, layout
        )

    @property
    def auto_args(self) -> bool:
        """True for ``--args auto``."""
        return isinstance(self.args, str) and self.args.strip() == "auto"


def run_validation(
    opts: Options,
    fn: Callable[..., Any] | None = None,
    target: tuple[str, str] | None = None,
) -> ValidationResult:
    """Validate a callable (``fn``) or a CLI target (``(where, attr)``)."""
    return _run(opts, fn, target)


def _check_arity(sig: tuple[int, int] | None, roles: Sequence[str]) -> None:
    """More (or fewer) roles than the function takes is a usage error, not a wrong verdict."""
    if sig is None:
        return
    required, accepted = sig
    if not required <= len(roles) <= accepted:
        takes = f"{required}" if required == accepted else f"{required} to {accepted}"
        raise ValidationError(
            f"--args names {len(roles)} roles ({','.join(roles)}), but the function takes "
            f"{takes} positional argument(s)"
        )


def _run_discrete(
    opts: Options,
    fn: Callable[..., Any] | None,
    target: tuple[str, str] | None,
) -> ValidationResult:
    """A Bernoulli or Categorical KL (probs/logits roles): see ``_discrete_run``."""
    from elbo_check._validate._discrete_conv import parse_discrete
    from elbo_check._validate._discrete_run import run
    from elbo_check._validate._runner import open_runner
    from elbo_check._validate._worker import arity

    if opts.reduction == "auto":
        raise ValidationError(
            "--reduction auto is not supported for probs/logits roles; give none, batch, sum, "
            "batchmean or mean"
        )
    conv = parse_discrete(opts.args, opts.reduction, opts.layout)
    runner = open_runner(fn, opts.backend, opts.isolation, target)
    try:
        sig = arity(fn) if fn is not None else getattr(runner, "signature", None)
        _check_arity(sig, conv.roles)
        result = run(runner, conv, opts.backend, opts.dtype, opts.examples, opts.seed, opts.timeout)
    finally:
        runner.close()
    return dataclasses.replace(
        result, convention=dataclasses.replace(result.convention, isolation=runner.kind)
    )


def _run(
    opts: Options,
    fn: Callable[..., Any] | None,
    target: tuple[str, str] | None,
) -> ValidationResult:
    from elbo_check._validate import _core
    from elbo_check._validate._auto import run_auto
    from elbo_check._validate._discrete_conv import is_discrete

    if not opts.auto_args and is_discrete(opts.args):
        return _run_discrete(opts, fn, target)
    from elbo_check._validate._roles import parse_convention
    from elbo_check._validate._runner import open_runner
    from elbo_check._validate._worker import arity

    if not opts.auto_args:
        conv = parse_convention(
            opts.args, "none" if opts.reduction == "auto" else opts.reduction, opts.layout
        )
    runner = open_runner(fn, opts.backend, opts.isolation, target)
    try:
        if not opts.auto_args:
            sig = arity(fn) if fn is not None else getattr(runner, "signature", None)
            _check_arity(sig, conv.roles)
        if opts.reduction == "auto" or opts.auto_args:
            sig = arity(fn) if fn is not None else getattr(runner, "signature", None)
            roles = None if opts.auto_args else opts.args
            result = run_auto(
                runner,
                sig,
                roles if roles is None or isinstance(roles, str) else ",".join(roles),
                [opts.reduction],
                opts.layout,
                opts.backend,
                opts.dtype,
                opts.examples,
                opts.seed,
                opts.timeout,
            )
        else:
            result = _core.run(
                runner, conv, opts.backend, opts.dtype, opts.examples, opts.seed, opts.timeout
            )
    finally:
        runner.close()
    return dataclasses.replace(
        result, convention=dataclasses.replace(result.convention, isolation=runner.kind)
    )
