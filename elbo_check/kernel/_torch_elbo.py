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

__all__ = ["BernoulliNLL", "bernoulli_nll", "bernoulli_pieces", "try_elbo_loss"]


def bernoulli_pieces(
    x: torch.Tensor, logits: torch.Tensor, slope: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(−NLL, σ(l) − x)`` elementwise, the slope only when ``slope`` (else ``None``).

    Seven passes (two allocating) and two more for the slope; one ``sigmoid``
    and one ``log1p``, against the ``exp`` and ``log1p`` of the ``log_sigmoid``
    in ``binary_cross_entropy_with_logits`` (which cancels: ``l + softplus(−l)``
    for x = 0).  ``−|l|`` is ``l − 2l·H(l)``, exact; an infinite logit gives
    nan, which sends the caller to the portable form.  ``torch.heaviside`` and
    ``torch.copysign`` would save a pass each but cost 2 to 40 passes on the CPU.

    >>> nll, g = bernoulli_pieces(torch.tensor([0.0, 1.0]), torch.tensor([-30.0, 0.0]), True)
    >>> -nll, g                          # log1p(e^−30) and log 2; σ(−30) and ½ − 1
    (tensor([9.3576e-14, 6.9315e-01]), tensor([ 9.3576e-14, -5.0000e-01]))
    """
    step = torch.gt(logits, 0, out=torch.empty_like(logits))  # H(l): 1 for l > 0, else 0
    s = torch.addcmul(logits, logits, step, value=-2).sigmoid_()  # σ(l − 2l·H) = σ(−|l|) ≤ ½
    g = torch.addcmul(s, s, step, value=-2) if slope else None  # σ(l) − H(l) = ∓σ(−|l|)
    same = x.shape == logits.shape
    t = step.sub_(x) if same else step - x  # H − x, exact where it matters (Sterbenz)
    if g is not None:
        g = g.add_(t) if same else g + t
    # log1p(−σ(−|l|)) = −log1p(e^(−|l|)) ≤ 0, in place; numpy's log1p through a
    # zero-copy view costs 0.5-0.7x torch's on these CPUs (s is a fresh CPU tensor)
    neg = s.neg_()
    np.log1p(neg.numpy(), out=neg.numpy())
    neg = neg.addcmul_(logits, t, value=-1) if same else neg - logits * t
    return neg, g


def _reduce(neg: torch.Tensor, reduction: str, batch_ndim: int) -> torch.Tensor:
    """The NLL per sample, summed, or averaged over the samples (``−neg`` reduced)."""
    if reduction == "batch":
        axes = tuple(range(batch_ndim, neg.ndim))
        return (neg.sum(axes) if axes else neg).neg()  # sum(()) would sum every axis
    if reduction == "sum":
        return neg.sum().neg_()
    return torch.div(neg.sum(), -math.prod(neg.shape[:batch_ndim]))


class BernoulliNLL(torch.autograd.Function):
    """``BernoulliNLL.apply(x, logits, reduction, batch_ndim)``: the reduced NLL.

    ``reduction`` is ``"batch"`` (per sample: summed over the axes after the
    first ``batch_ndim``), ``"sum"`` or ``"batchmean"``.  The forward saves
    σ(l) − x; double backward recomputes it through differentiable ops.
    """

    @staticmethod
    def forward(ctx: Any, x: Any, logits: Any, reduction: str, batch_ndim: int) -> Any:
        need = ctx.needs_input_grad
        neg, g = bernoulli_pieces(x, logits, slope=need[1])
        ctx.reduction, ctx.batch_ndim, ctx.shape = reduction, batch_ndim, neg.shape
        ctx.save_for_backward(x, logits, g)
        return _reduce(neg, reduction, batch_ndim)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        x, logits, g = ctx.saved_tensors
        shape, batch_ndim = ctx.shape, ctx.batch_ndim
        if ctx.reduction == "batch":
            grad = grad.reshape(grad.shape + (1,) * (len(shape) - batch_ndim))
        elif ctx.reduction == "batchmean":
            grad = grad / math.prod(shape[:batch_ndim])
        need = ctx.needs_input_grad
        grads: list[Any] = [None] * 4
        if need[1]:
            if torch.is_grad_enabled():  # double backward: (1 − x)σ(l) − xσ(−l), differentiable
                g = (1 - x) * torch.sigmoid(logits) - x * torch.sigmoid(-logits)
            grads[1] = _torch._to(grad * g, shape, logits)
        if need[0]:
            grads[0] = _torch._to(-grad * logits, shape, x)
        return tuple(grads)


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
        value = _reduce(bernoulli_pieces(x, logits, slope=False)[0], reduction, batch_ndim)
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
        recon = BernoulliNLL.apply(x, out, reduction, batch_ndim)
        kl = _torch.GaussianKL.apply(mu, lv, None, None, reduction)
    else:
        recon = _reduce(bernoulli_pieces(x, out, slope=False)[0], reduction, batch_ndim)
        kl = _torch._reduce(kl_pieces_inplace_torch(mu, lv)[0], reduction)
    loss = torch.add(recon, kl, alpha=beta)
    return (loss, recon, kl) if _finite(loss) else None
