"""torch: the Bernoulli NLL as an autograd Function, and the negative ELBO's fast path.

Eager CPU tensors only (the Function looks at the data: a non-finite result
sends the caller to the portable ``where`` form, which makes ``0·inf`` of an
infinite logit with its matching target 0).  Elementwise, with ``l`` the
logit and ``x`` the target in [0, 1]:

* NLL = softplus(l) − x·l = l·(H(l) − x) + log1p(e^(−|l|)), with ``H`` the
  Heaviside step (``H(l) = 1`` for l > 0, else 0): the first term is ``(1 − x)·l`` for l > 0 and
  ``−x·l`` for l < 0, both ≥ 0 and formed with one rounding after an exact
  ``H − x`` (Sterbenz), so there is no cancellation; the second is
  ``−log1p(−σ(−|l|))``, one cheap ``sigmoid`` and one ``log1p``;
* ∂NLL/∂l = σ(l) − x = (H(l) − x) ∓ σ(−|l|) (− for l > 0, + for l <= 0): exact
  for 0/1 targets (``−σ(−l)`` where x = 1 and l > 0, not ``σ(l) − 1``);
* ∂NLL/∂x = −l.

>>> import torch
>>> from elbo_check.kernel import elbo_loss
>>> x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
>>> logits = torch.tensor([[40.0, -40.0]], dtype=torch.float64, requires_grad=True)
>>> z = torch.zeros(1, 1, dtype=torch.float64)
>>> terms = elbo_loss(x, logits, z, z, reduction="sum")
>>> terms.reconstruction.item()     # 2·log1p(e^−40); binary_cross_entropy_with_logits: half
8.496708510583178e-18
>>> terms.loss.backward()
>>> logits.grad                     # σ(l) − x = ∓σ(−40); binary_cross_entropy_with_logits: 0, σ(−40)
tensor([[-4.2484e-18,  4.2484e-18]], dtype=torch.float64)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from elbo_check.kernel import _torch
from elbo_check.kernel._numerics import kl_pieces_inplace_torch

__all__ = [
    "BernoulliNLL",
    "ELBOLoss",
    "bernoulli_nll",
    "bernoulli_slope",
    "nll_reduced",
    "try_elbo_loss",
]


def _sum(t: torch.Tensor, reduction: str, batch_ndim: int) -> torch.Tensor:
    """Per sample (the axes after the first ``batch_ndim`` summed) or in total; a new tensor."""
    if reduction != "batch":
        return t.sum()
    axes = tuple(range(batch_ndim, t.ndim))
    return t.sum(axes) if axes else t.clone()  # sum(()) would sum every axis


def nll_reduced(
    x: torch.Tensor, logits: torch.Tensor, reduction: str, batch_ndim: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The reduced NLL, and the one large tensor it used (free for reuse).

    Σ l·(H(l) − x) + Σ log1p(e^(−|l|)), both sums of terms ≥ 0: ten passes
    through one fresh tensor, one ``sigmoid`` and one ``log1p``.  On these
    machines each fresh large tensor can cost a page fault per 4 KiB (glibc
    hands it back to the kernel on free, depending on its heap state), more
    than the passes it saves.  ``log1p`` is numpy's, through a zero-copy view
    of the scratch tensor: 0.5-0.7x torch's CPU ``log1p`` here.

    >>> value, _ = nll_reduced(torch.tensor([[0.0, 1.0]]), torch.tensor([[-30.0, 0.0]]), "sum", 1)
    >>> value                           # log1p(e^−30) + log 2
    tensor(0.6931)
    """
    if x.shape != logits.shape:  # every element of the broadcast shape counts
        logits = logits.expand(torch.broadcast_shapes(x.shape, logits.shape))
    buf = torch.abs(logits).neg_().sigmoid_().neg_()  # −σ(−|l|) ≥ −½
    np.log1p(buf.numpy(), out=buf.numpy())  # log1p(−σ(−|l|)) = −log1p(e^(−|l|)) ≤ 0
    tail = _sum(buf, reduction, batch_ndim)
    step = torch.gt(logits, 0, out=buf)  # H(l): 1 for l > 0, else 0
    # l·(H − x) ≥ 0: H − x is exact where it matters (Sterbenz), one rounding after
    head = (step.sub_(x) if x.shape == step.shape else step - x).mul_(logits)
    value = _sum(head, reduction, batch_ndim).sub_(tail)
    if reduction == "batchmean":
        value = value.div_(math.prod(head.shape[:batch_ndim]))
    return value, buf


def bernoulli_slope(
    x: torch.Tensor, logits: torch.Tensor, scratch: torch.Tensor | None = None
) -> torch.Tensor:
    """σ(l) − x = (H(l) − x) ∓ σ(−|l|) (− for l > 0), a fresh tensor: five passes, one ``sigmoid``.

    Exact for 0/1 targets (``−σ(−l)`` where x = 1 and l > 0, not ``σ(l) − 1``).
    ``−|l|`` is ``l − 2l·H(l)``; ``scratch`` (the shape of ``logits``) saves an
    allocation.  ``torch.heaviside`` and ``torch.copysign`` would save a pass
    each but cost 2 to 40 passes on the CPU.

    >>> bernoulli_slope(torch.tensor([0.0, 1.0]), torch.tensor([-30.0, 0.0]))
    tensor([ 9.3576e-14, -5.0000e-01])
    """
    step = torch.gt(logits, 0, out=torch.empty_like(logits))
    s = torch.addcmul(logits, logits, step, value=-2, out=scratch).sigmoid_()  # σ(−|l|)
    q = s.addcmul_(s, step, value=-2)  # σ(l) − H(l) = ∓σ(−|l|)
    g = step.sub_(x) if x.shape == step.shape else step - x
    return g.add_(q) if g.shape == q.shape else g + q


def _forward_nll(
    ctx: Any, x: Any, logits: Any, reduction: str, batch_ndim: int, slope: bool
) -> torch.Tensor:
    """The reduced NLL; ``ctx`` keeps what the backward needs (the slope, formed here
    in the NLL's scratch tensor, when ``slope``)."""
    value, scratch = nll_reduced(x, logits, reduction, batch_ndim)
    ctx.reduction, ctx.batch_ndim = reduction, batch_ndim
    same = x.shape == logits.shape  # torch.broadcast_shapes costs 10-40 µs
    ctx.shape = logits.shape if same else torch.broadcast_shapes(x.shape, logits.shape)
    fits = scratch.shape == logits.shape  # else: logits broadcast against a larger x
    ctx.slope = bernoulli_slope(x, logits, scratch if fits else None) if slope else None
    return value


class BernoulliNLL(torch.autograd.Function):
    """``BernoulliNLL.apply(x, logits, reduction, batch_ndim)``: the reduced NLL.

    ``reduction`` is ``"batch"`` (per sample: summed over the axes after the
    first ``batch_ndim``), ``"sum"`` or ``"batchmean"``.  The forward saves
    nothing but its inputs; the backward recomputes σ(l) − x (double backward:
    through differentiable ops).
    """

    @staticmethod
    def forward(ctx: Any, x: Any, logits: Any, reduction: str, batch_ndim: int) -> Any:
        value = _forward_nll(ctx, x, logits, reduction, batch_ndim, ctx.needs_input_grad[1])
        ctx.save_for_backward(x, logits)
        return value

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        x, logits = ctx.saved_tensors
        need = ctx.needs_input_grad
        grads = _nll_grads(ctx, grad, x, logits, need[0], need[1])
        return (*grads, None, None)


def _nll_grads(
    ctx: Any, grad: torch.Tensor, x: Any, logits: Any, need_x: bool, need_logits: bool
) -> tuple[Any, Any]:
    """The NLL's gradients (x, logits) from the reduced one (``ctx``: reduction, batch_ndim, shape)."""
    shape, batch_ndim = ctx.shape, ctx.batch_ndim
    if ctx.reduction == "batch":
        grad = grad.reshape(grad.shape + (1,) * (len(shape) - batch_ndim))
    elif ctx.reduction == "batchmean":
        grad = grad / math.prod(shape[:batch_ndim])
    grad_x = grad_logits = None
    if need_logits:
        if torch.is_grad_enabled():  # double backward: (1 − x)σ(l) − xσ(−l), differentiable
            g = (1 - x) * torch.sigmoid(logits) - x * torch.sigmoid(-logits)
            grad_logits = grad * g
        else:  # the forward's slope, used up in place (a second backward recomputes it)
            g, ctx.slope = ctx.slope, None
            g = bernoulli_slope(x, logits) if g is None else g
            grad_logits = g.mul_(grad)
        grad_logits = _torch._to(grad_logits, shape, logits)
    if need_x:
        grad_x = _torch._to(-grad * logits, shape, x)
    return grad_x, grad_logits


class _KLContext:
    """What :func:`elbo_check.kernel._torch._backward` reads from an autograd ctx."""

    reduction: str
    shape: torch.Size
    saved_tensors: tuple[Any, ...]
    needs_input_grad: tuple[bool, ...]


def _plus(a: torch.Tensor | None, b: torch.Tensor | None, scale: float) -> torch.Tensor | None:
    """``scale·a + b`` with ``None`` for a gradient that did not flow."""
    if a is not None and scale != 1:
        a = a * scale
    if a is None or b is None:
        return a if b is None else b
    return a + b


class ELBOLoss(torch.autograd.Function):
    """``ELBOLoss.apply(x, logits, mu, logvar, beta, reduction)``: (loss, reconstruction, kl).

    The Bernoulli NLL of :class:`BernoulliNLL` and the KL of
    :class:`~elbo_check.kernel._torch.GaussianKL` in one Function: a Python
    autograd node costs as much as a few kernels at these sizes, in the
    forward and again in the backward.
    """

    @staticmethod
    def forward(
        ctx: Any, x: Any, logits: Any, mu: Any, lv: Any, beta: float, reduction: str
    ) -> Any:
        need = ctx.needs_input_grad
        ctx.beta = beta
        recon = _forward_nll(ctx, x, logits, reduction, lv.ndim - 1, need[1])
        ctx.kl = kl_ctx = _KLContext()
        kl, h, mw = _torch._forward(kl_ctx, mu, lv, None, None, reduction)
        kl_ctx.needs_input_grad = (need[2], need[3], False, False, False)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(x, logits, mu, lv, h, mw)
        return torch.add(recon, kl, alpha=beta), recon, kl

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:
        x, logits, mu, lv, h, mw = ctx.saved_tensors
        need = ctx.needs_input_grad
        out: list[Any] = [None] * 6
        g_recon = _plus(grads[0], grads[1], 1)
        if g_recon is not None and (need[0] or need[1]):
            out[0], out[1] = _nll_grads(ctx, g_recon, x, logits, need[0], need[1])
        g_kl = _plus(grads[0], grads[2], ctx.beta)
        if g_kl is not None and (need[2] or need[3]):
            ctx.kl.saved_tensors = (mu, lv, None, None, h, mw)
            out[2], out[3] = _torch._backward(ctx.kl, g_kl)[:2]
        return tuple(out)


def _eager(*tensors: torch.Tensor) -> bool:
    """May the forward look at the data (CPU, no ``torch.compile``, no ``torch.func``)?"""
    if torch.compiler.is_compiling() or torch._C._are_functorch_transforms_active():
        return False
    return all(t.is_cpu and not torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors)


def _finite(value: torch.Tensor) -> bool:
    total = value.detach()
    return math.isfinite(float(total.sum() if total.ndim else total))


def bernoulli_nll(
    x: torch.Tensor, logits: torch.Tensor, reduction: str, batch_ndim: int
) -> torch.Tensor | None:
    """The reduced Bernoulli NLL of eager CPU tensors of one float dtype; else ``None``.

    ``None`` also where the result is not finite (an infinite logit, a nan):
    the caller's portable form, which masks ``0·inf``, then decides.
    """
    if not _eager(x, logits):
        return None
    if torch.is_grad_enabled() and (x.requires_grad or logits.requires_grad):
        value = BernoulliNLL.apply(x, logits, reduction, batch_ndim)
    else:
        value = nll_reduced(x, logits, reduction, batch_ndim)[0]
    return value if _finite(value) else None


def try_elbo_loss(
    x: Any, out: Any, mu: Any, lv: Any, beta: float, reduction: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """``(loss, reconstruction, kl)`` of the Bernoulli negative ELBO; ``None`` off the fast path.

    The fast path: four eager CPU tensors of one float dtype, ``x`` and
    ``out`` of one shape, ``mu`` and ``logvar`` of one shape with a latent
    axis, whose batch axes lead ``out``'s, and a finite loss (else the generic
    path decides: it masks ``0·inf`` and guards the KL against overflow).  The
    caller has checked ``beta`` and ``reduction``.  One finiteness check for
    the whole loss; without a graph, the KL numerics are called directly (an
    autograd Function's ``apply`` costs as much as a few kernels here).
    """
    dtype = lv.dtype
    if dtype not in _torch._FLOATS or not lv.ndim or not isinstance(out, torch.Tensor):
        return None
    tensors = (x, out, mu, lv)
    if any(not isinstance(t, torch.Tensor) or t.dtype != dtype for t in tensors):
        return None
    if x.shape != out.shape or mu.shape != lv.shape or not lv.numel() or not _eager(*tensors):
        return None
    batch_ndim = lv.ndim - 1
    if out.shape[:batch_ndim] != lv.shape[:-1]:
        return None
    if torch.is_grad_enabled() and any(t.requires_grad for t in tensors):
        loss, recon, kl = ELBOLoss.apply(x, out, mu, lv, beta, reduction)
    else:
        recon = nll_reduced(x, out, reduction, batch_ndim)[0]
        kl = _torch._reduce(kl_pieces_inplace_torch(mu, lv)[0], reduction)
        loss = torch.add(recon, kl, alpha=beta)
    return (loss, recon, kl) if _finite(loss) else None
