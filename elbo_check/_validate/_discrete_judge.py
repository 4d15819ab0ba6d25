"""Reductions and the tolerance rule for discrete KL outputs, batch by batch.

A *variant* maps a batch's per-unit values (N, D) to the function's output:
``none`` (the layout without K), ``batch`` (N,), ``mean_d``, ``sum_n`` and
``mean_n`` (the latent axes), and the scalars ``sum``, ``batchmean``,
``mean``, ``sum_over_d``.

The tolerance of one latent unit is

    (32 + C) · eps(dtype) · terms  +  the ε allowance,

where *terms* = Σ q(|log q| + |log p|) + max|logit| + 1 bounds what a
textbook evaluation rounds, and the ε allowance is the largest change that an
ε of 1e-6 makes in any of the usual forms (``log(q + ε)``, a clamp at ε, ...).
Reduced units add their allowances, plus count · eps · |reference| for the sum.

>>> import numpy as np
>>> from elbo_check._validate._discrete_conv import parse_discrete
>>> from elbo_check._validate._discrete_plan import plan
>>> conv = parse_discrete("probs_q", "batch", "N K")
>>> b = plan(conv, 10, np.random.default_rng(0), "float64")[0]
>>> reduce_units(conv, b, b.ref, "batch").shape == (b.n,)
True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from elbo_check._validate._discrete_conv import DiscreteConvention
from elbo_check._validate._discrete_plan import DBatch
from elbo_check._validate._discrete_ref import eps_allowance

__all__ = [
    "VARIANTS",
    "VARIANT_TEXT",
    "Judged",
    "allowed_units",
    "canonical",
    "describe",
    "judge",
    "reduce_units",
    "variant_shape",
    "variants",
]

VARIANTS = ("none", "batch", "mean_d", "sum_n", "mean_n", "sum", "batchmean", "mean", "sum_over_d")
VARIANT_TEXT = {
    "none": "one KL per latent unit (the layout without K)",
    "batch": "a sum over the latent units (shape (N,))",
    "mean_d": "a mean over the latent units (shape (N,), a factor 1/D)",
    "sum_n": "a sum over the batch axis",
    "mean_n": "a mean over the batch axis",
    "sum": "the sum over all entries (a scalar)",
    "batchmean": "the sum divided by the batch size N (a scalar)",
    "mean": "the mean over all N·D latent units (a scalar)",
    "sum_over_d": "the sum divided by the number D of latent units (a scalar)",
}
_ONE_UNIT = {"none": "one KL per row (shape (N,))"}


def variants(conv: DiscreteConvention) -> tuple[str, ...]:
    """The distinct variants: with no latent axis (``"N K"``) D = 1 and several coincide."""
    return VARIANTS if conv.event_axes else ("none", "sum", "batchmean")


def canonical(conv: DiscreteConvention, name: str) -> str:
    """``name`` as one of :func:`variants` (``batch`` is ``none`` when D = 1)."""
    if conv.event_axes:
        return name
    return {"batch": "none", "mean_d": "none", "mean": "batchmean", "sum_over_d": "sum"}.get(
        name, name
    )


def describe(conv: DiscreteConvention, name: str) -> str:
    """Plain words for a variant."""
    if not conv.event_axes:
        return _ONE_UNIT.get(canonical(conv, name), VARIANT_TEXT[canonical(conv, name)])
    return VARIANT_TEXT[name]


def variant_shape(conv: DiscreteConvention, b: DBatch, name: str) -> tuple[int, ...] | None:
    """The output shape of ``name`` for batch ``b`` (None: the variant does not apply)."""
    if name == "none":
        return conv.function_shape((b.n, *b.event))
    if name in ("batch", "mean_d"):
        return (b.n,)
    if name in ("sum_n", "mean_n"):
        if not b.event:
            return None
        axes = conv.output_axes()
        sizes = dict(zip(conv.event_axes, b.event, strict=True))
        return tuple(sizes[a] for a in axes if a != "N")
    return ()


def reduce_units(conv: DiscreteConvention, b: DBatch, units: np.ndarray, name: str) -> np.ndarray:
    """Per-unit (N, D) values reduced like ``name``, raveled in the function's order."""
    n, d = b.n, b.d
    with np.errstate(all="ignore"):
        if name == "none":
            full = units.reshape(n, *b.event)
            axes = ("N", *conv.event_axes)
            return np.transpose(full, [axes.index(a) for a in conv.output_axes()]).ravel()
        if name in ("batch", "mean_d"):
            return units.sum(axis=1) / (1.0 if name == "batch" else d)
        if name in ("sum_n", "mean_n"):
            over = units.sum(axis=0) / (1.0 if name == "sum_n" else n)
            full = over.reshape(b.event)
            ev = [a for a in conv.output_axes() if a != "N"]
            return np.transpose(full, [conv.event_axes.index(a) for a in ev]).ravel()
        scale = {"sum": 1.0, "batchmean": float(n), "mean": float(n * d), "sum_over_d": float(d)}
        return np.array([units.sum() / scale[name]])


def allowed_units(b: DBatch, eps: float) -> np.ndarray:
    """Per-unit tolerance: rounding plus the ε allowance (see the module docstring)."""
    return (32.0 + b.k) * eps * b.terms + eps_allowance(b.q, b.p, b.ref)


@dataclasses.dataclass
class Judged:
    """One batch's output against the reference under one variant."""

    obs: np.ndarray
    ref: np.ndarray
    allowed: np.ndarray
    fail: np.ndarray
    units: np.ndarray  # per output unit, how many latent units it sums

    @property
    def ok(self) -> bool:
        """True when no output unit fails."""
        return not bool(self.fail.any())


def judge(
    conv: DiscreteConvention,
    b: DBatch,
    out: np.ndarray,
    name: str,
    eps: float,
    values: np.ndarray | None = None,
) -> Judged | None:
    """Compare ``out`` with ``values`` (default: the reference) reduced like ``name``; None when the shape differs."""
    if out.shape != variant_shape(conv, b, name):
        return None
    target = b.ref if values is None else values
    ref = reduce_units(conv, b, target, name)
    count = reduce_units(conv, b, np.ones_like(b.ref), name)
    if name in ("mean_d", "mean_n", "batchmean", "mean", "sum_over_d"):
        count = reduce_units(
            conv, b, np.ones_like(b.ref), {"mean_d": "batch", "mean_n": "sum_n"}.get(name, "sum")
        )
    allowed = reduce_units(conv, b, allowed_units(b, eps), name)
    with np.errstate(all="ignore"):
        allowed = allowed + count * eps * np.abs(ref) + 1e-300
        obs = out.astype(np.float64).ravel()
        both_inf = np.isinf(obs) & np.isinf(ref) & (np.sign(obs) == np.sign(ref))
        close = np.abs(obs - ref) <= allowed
    return Judged(obs, ref, allowed, ~(close | both_inf), count)
