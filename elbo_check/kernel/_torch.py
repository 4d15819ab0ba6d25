"""torch: a :class:`torch.autograd.Function` with a fused forward and an analytic backward.

This module imports torch; ``_kl.py`` imports it only when a torch tensor
arrives.  The forward calls :func:`~elbo_check.kernel._numerics.kl_pieces`
(eagerly on the CPU, as a sync-free where-blend on other devices, under
``torch.compile`` and under ``torch.func`` transforms) and returns, beside the
reduced KL, the two slopes the backward needs:

* ``∂KL/∂logvar = h = ½·expm1(d)``, ``∂KL/∂mu = mw·w`` (``w = e^(−ℓp/2)``),
* ``∂KL/∂mu_p = −mw·w`` and ``∂KL/∂logvar_p = −h − ½mw²``.

Double backward (``create_graph=True``) recomputes the slopes from the saved
inputs through differentiable torch ops, so ``gradgradcheck`` holds.

>>> import torch
>>> from elbo_check.kernel import gaussian_kl
>>> lv = torch.tensor([[1e-9, 800.0]], requires_grad=True)
>>> gaussian_kl(torch.zeros(1, 2), lv).backward()
>>> lv.grad                     # ½·expm1(d), and inf where the KL is inf
tensor([[5.0000e-10,        inf]])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from elbo_check import _xp
from elbo_check.kernel import _tiles
from elbo_check.kernel._numerics import kl_pieces, kl_pieces_inplace_torch, slopes

__all__ = [
    "TILES_MIN_SIZE",
    "TILES_MIN_SIZE_F32",
    "GaussianKL",
    "GaussianKLFunc",
    "gaussian_kl_tensors",
    "try_gaussian_kl",
]

_FLOATS = (torch.float32, torch.float64)
#: From this many elements float64 CPU tensors go to the numpy tiles (measured
#: against the in-place torch forward at 2^21, forward + backward: 0.95-1.26x the
#: textbook against 1.26-1.27x).
TILES_MIN_SIZE = 1 << 19
#: float32 CPU tensors stay in torch at every size (at 2^21: 0.87-0.90x the
#: textbook in place, against 1.17-1.21x through the tiles).
TILES_MIN_SIZE_F32 = 1 << 62


def _eager(t: torch.Tensor) -> bool:
    """May the forward look at the data (gather, skip the overflow guard)?"""
    if not t.is_cpu or torch.compiler.is_compiling():
        return False
    return not torch._C._functorch.is_functorch_wrapped_tensor(t)


def _reduce(kl: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "none":
        return kl
    if reduction == "batch":
        return kl.sum(-1)
    total = kl.sum()
    if reduction == "sum":
        return total
    return total / (kl.numel() // kl.shape[-1] if reduction == "batchmean" else kl.numel())


def _per_element(g: torch.Tensor, reduction: str, shape: torch.Size) -> torch.Tensor:
    """The gradient of the reduced KL with respect to each element."""
    if reduction == "batch":
        return g.unsqueeze(-1)
    if reduction == "batchmean":
        return g / (shape.numel() // shape[-1])
    if reduction == "mean":
        return g / shape.numel()
    return g


def _to(grad: torch.Tensor, shape: torch.Size, target: torch.Tensor) -> torch.Tensor:
    """``grad`` broadcast to the elementwise ``shape``, summed to ``target``'s shape."""
    if grad.shape == target.shape and target.shape == shape:
        return grad
    return grad.expand(shape).sum_to_size(target.shape)


def _forward(
    ctx: Any, mu: Any, lv: Any, mu_p: Any, lv_p: Any, reduction: str
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """The reduced KL, and the slopes h and mw when they come for free.

    Large CPU tensors go through the numpy tiles (zero-copy views, threads,
    gather); the backward then forms h itself.  ``mw`` is ``None`` without a
    prior (it is ``mu``).
    """
    eager = _eager(lv)
    ctx.reduction = reduction
    tiles_from = TILES_MIN_SIZE if lv.dtype == torch.float64 else TILES_MIN_SIZE_F32
    if eager and lv.numel() >= max(tiles_from, _tiles.FAST_MIN_SIZE) and lv.ndim:
        arrays = [mu, lv, mu_p, lv_p]
        shapes = {tuple(t.shape) for t in arrays if t is not None}
        ctx.shape = lv.shape if len(shapes) == 1 else torch.broadcast_shapes(*shapes)
        views = [None if t is None else t.detach().numpy() for t in arrays]
        with np.errstate(all="ignore"):
            value = _tiles.kl_tiled(views, tuple(ctx.shape), reduction)
        return torch.as_tensor(np.asarray(value)), None, None
    # eager: first without the overflow guard; a non-finite result (an overflow, an
    # inf or nan input, or a true inf) sends it through the guarded evaluation
    if eager:
        kl, h, mw, _ = kl_pieces_inplace_torch(mu, lv, mu_p, lv_p)
    else:
        kl, h, mw, _ = kl_pieces(torch, mu, lv, mu_p, lv_p, eager=False, guard=True)
    value = _reduce(kl, reduction)
    if eager and not math.isfinite(float(value.sum() if value.ndim else value)):
        kl, h, mw, _ = kl_pieces(torch, mu, lv, mu_p, lv_p, eager=True, guard=True)
        value = _reduce(kl, reduction)
    ctx.shape = kl.shape
    return value, h, None if mu_p is None and lv_p is None else mw


def _backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
    """Analytic gradients of the reduced KL from the saved inputs and slopes."""
    mu, lv, mu_p, lv_p, h, mw = ctx.saved_tensors
    if torch.is_grad_enabled() or h is None:  # double backward: differentiable ops
        h, mw, w = slopes(torch, mu, lv, mu_p, lv_p, eager=_eager(lv))
    else:
        mw = mu if mw is None else mw
        w = None if lv_p is None else torch.exp(-0.5 * lv_p)
    ge = _per_element(g, ctx.reduction, ctx.shape)
    need = ctx.needs_input_grad
    grads: list[Any] = [None] * 5
    if need[0] or need[2]:
        mu_grad = ge * (mw if w is None else mw * w)
        if need[0]:
            grads[0] = _to(mu_grad, ctx.shape, mu)
        if need[2]:
            grads[2] = _to(-mu_grad, ctx.shape, mu_p)
    if need[1]:
        grads[1] = _to(ge * h, ctx.shape, lv)
    if need[3]:
        grads[3] = _to(-ge * (h + mw * (0.5 * mw)), ctx.shape, lv_p)
    return tuple(grads)


class GaussianKL(torch.autograd.Function):
    """The reduced Gaussian KL: ``GaussianKL.apply(mu, logvar, mu_p, logvar_p, reduction)``.

    The plain autograd form (no ``setup_context``: the cheapest ``apply``);
    under ``torch.func`` transforms and ``torch.compile`` :class:`GaussianKLFunc`
    takes over.
    """

    @staticmethod
    def forward(ctx: Any, mu: Any, lv: Any, mu_p: Any, lv_p: Any, reduction: str) -> Any:
        kl, h, mw = _forward(ctx, mu, lv, mu_p, lv_p, reduction)
        ctx.save_for_backward(mu, lv, mu_p, lv_p, h, mw)
        return kl

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        return _backward(ctx, g)


class GaussianKLFunc(torch.autograd.Function):
    """The same function for ``torch.func``/``torch.compile``: ``setup_context``, vmap rule.

    Returns ``(kl, h, mw)`` (``mw`` is a view of ``mu`` without a prior); only
    ``kl`` is differentiable.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(mu: Any, lv: Any, mu_p: Any, lv_p: Any, reduction: str) -> Any:
        kl, h, mw = _forward(_Scratch(), mu, lv, mu_p, lv_p, reduction)
        if h is None:
            h, mw, _ = slopes(torch, mu, lv, mu_p, lv_p, eager=False)
        return kl, h, mu.view_as(mu) if mw is None else mw

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Any, ...]) -> None:
        mu, lv, mu_p, lv_p, reduction = inputs
        _, h, mw = output
        ctx.mark_non_differentiable(h, mw)
        ctx.save_for_backward(mu, lv, mu_p, lv_p, h, mw)
        ctx.reduction = reduction
        ctx.shape = torch.broadcast_shapes(h.shape, mw.shape)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        return _backward(ctx, g)


class _Scratch:
    """A throwaway attribute holder for :func:`_forward` outside an autograd ctx."""

    reduction: str
    shape: torch.Size


def gaussian_kl_tensors(arrays: list[Any], reduction: str) -> torch.Tensor:
    """The KL of prepared tensors (one float dtype and device; ``None`` for no prior)."""
    if torch.compiler.is_compiling() or torch._C._are_functorch_transforms_active():
        return GaussianKLFunc.apply(*arrays, reduction)[0]
    return GaussianKL.apply(*arrays, reduction)


def try_gaussian_kl(arrays: tuple[Any, ...], reduction: str) -> torch.Tensor | None:
    """The fast path for float32/float64 tensors on one device; ``None`` for anything else.

    A Python number as prior becomes a 0-d tensor; shapes are checked only when
    they differ.
    """
    mu, lv = arrays[0], arrays[1]
    dtype = lv.dtype
    if not isinstance(mu, torch.Tensor) or dtype not in _FLOATS or mu.dtype != dtype:
        return None
    device = lv.device
    if mu.device != device:
        return None
    if arrays[2] is None and arrays[3] is None and mu.shape == lv.shape:  # the common case
        return (
            None
            if reduction == "batch" and not lv.ndim
            else gaussian_kl_tensors([mu, lv, None, None], reduction)
        )
    prepared = [mu, lv]
    for value in arrays[2:]:
        if isinstance(value, torch.Tensor):
            if value.dtype != dtype or value.device != device:
                return None
        elif value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return None
            value = torch.full((), value, dtype=dtype, device=device)  # no host copy
        prepared.append(value)
    names = ("mu", "logvar", "mu_p", "logvar_p")
    shapes = {n: t.shape for n, t in zip(names, prepared, strict=True) if t is not None}
    if len(set(shapes.values())) > 1:
        _xp.broadcast_shapes(shapes)  # raises UsageError naming both shapes
    elif reduction == "batch" and not lv.ndim:
        return None
    return gaussian_kl_tensors(prepared, reduction)
