"""The negative ELBO of a VAE and its analytic gradient, on top of the KL.

>>> import numpy as np
>>> from elbo_check.kernel import elbo_loss
>>> float(elbo_loss(np.ones((1, 2)), np.full((1, 2), 800.0), np.zeros((1, 1)), np.zeros((1, 1))).loss)
0.0
"""

from __future__ import annotations

import math
import sys
from typing import Any, NamedTuple

from elbo_check import _xp
from elbo_check.errors import UsageError
from elbo_check.kernel._kl import (
    _compute_dtype,
    _is_torch,
    _output,
    _plain_numpy,
    _sum_to,
    gaussian_kl,
    gaussian_kl_grad,
    jit_call,
)

__all__ = ["ELBOGrad", "ELBOTerms", "elbo_loss", "elbo_loss_grad"]

_LOG_2PI = math.log(2.0 * math.pi)
_LIKELIHOODS = ("bernoulli", "gaussian")
_ELBO_REDUCTIONS = ("batch", "sum", "batchmean")


def _native(xp: Any) -> Any:
    """numpy or torch itself for array-api-compat's wrappers (fewer Python layers)."""
    name = getattr(xp, "__name__", "")
    if name in ("array_api_compat.numpy", "array_api_compat.torch"):
        return sys.modules[name.split(".")[1]]
    return xp


def _const(xp: Any, like: Any, value: float) -> Any:
    import array_api_compat

    return xp.asarray(value, dtype=like.dtype, device=array_api_compat.device(like))


class ELBOTerms(NamedTuple):
    """The negative ELBO and its parts, reduced alike.

    ``loss = reconstruction + beta * kl``; ``kl`` is the unweighted KL.
    """

    loss: Any
    reconstruction: Any
    kl: Any


class ELBOGrad(NamedTuple):
    """Gradient of the reduced negative ELBO (``loss``) w.r.t. its inputs.

    ``obs_logvar`` is ``None`` for the Bernoulli likelihood.
    """

    decoder_out: Any
    mu: Any
    logvar: Any
    obs_logvar: Any = None


class _ELBOPrepared(NamedTuple):
    xp: Any
    x: Any
    out: Any
    obs: Any
    mu: Any
    logvar: Any
    dtype: Any
    data_shape: tuple[Any, ...]
    latent_shape: tuple[Any, ...]
    event_axes: tuple[int, ...]


def _prepare_elbo(
    x: Any,
    decoder_out: Any,
    mu: Any,
    logvar: Any,
    likelihood: str,
    obs_logvar: Any,
    beta: Any,
    reduction: str,
    xp: Any,
) -> _ELBOPrepared:
    if likelihood not in _LIKELIHOODS:
        valid = ", ".join(repr(n) for n in _LIKELIHOODS)
        raise UsageError(f"unknown likelihood={likelihood!r}; expected one of {valid}")
    if reduction in ("none", "mean"):
        raise UsageError(
            f"reduction={reduction!r} is not defined for the negative ELBO (reconstruction "
            "and KL live on different axes); use 'batch', 'sum' or 'batchmean'"
        )
    _xp.check_reduction(reduction, _ELBO_REDUCTIONS)
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < math.inf:
        raise UsageError(f"expected a finite number >= 0 for beta, got beta={beta!r}")
    obs = obs_logvar if likelihood == "gaussian" else None
    values = {"x": x, "decoder_out": decoder_out, "obs_logvar": obs, "mu": mu, "logvar": logvar}
    names = list(values)
    raw = list(values.values())
    xp = _xp.get_namespace(*raw, xp=xp, names=names)
    dtype = _xp.result_float_dtype(xp, raw, names)
    device = _xp.device_of(*raw)
    compute = _compute_dtype(xp, dtype)
    shape = {n: tuple(v.shape) for n, v in values.items() if _xp.is_array(v)}
    data_shape = _xp.broadcast_shapes({n: s for n, s in shape.items() if n in names[:3]})
    latent_shape = _xp.broadcast_shapes({n: s for n, s in shape.items() if n in names[3:]})
    if len(latent_shape) == 0:
        raise UsageError("mu and logvar need a latent axis (shape (..., D)), got 0-d")
    batch = latent_shape[:-1]
    if tuple(data_shape[: len(batch)]) != tuple(batch) or len(data_shape) < len(batch):
        raise UsageError(
            f"batch shapes differ: x/decoder_out have shape {data_shape} but mu/logvar "
            f"have shape {latent_shape}; the leading {len(batch)} axes must match"
        )
    x_a, out_a, obs_a, mu_a, lv_a = (
        None if v is None else _xp.as_float(xp, v, compute, device) for v in raw
    )
    event_axes = tuple(range(len(batch), len(data_shape)))
    return _ELBOPrepared(
        xp, x_a, out_a, obs_a, mu_a, lv_a, dtype, data_shape, latent_shape, event_axes
    )


def _recon_elementwise(xp: Any, prep: _ELBOPrepared, likelihood: str) -> Any:
    x, out = prep.x, prep.out
    if likelihood == "bernoulli":
        # softplus(l) − x·l = (1−x)·max(l,0) + x·max(−l,0) + log1p(exp(−|l|)): all
        # terms ≥ 0 for x in [0, 1]; the zero weights are masked so ±inf logits work.
        zero = _const(xp, out, 0.0)
        pos = xp.where(x == 1, zero, (1 - x) * xp.maximum(out, zero))
        neg = xp.where(x == 0, zero, x * xp.maximum(-out, zero))
        return (pos + neg) + xp.log1p(xp.exp(-xp.abs(out)))
    obs = prep.obs if prep.obs is not None else _const(xp, out, 0.0)
    r = (x - out) * xp.exp(-0.5 * obs)
    return 0.5 * (_LOG_2PI + obs) + r * (0.5 * r)


def _recon_torch_eager(native: Any, prep: _ELBOPrepared) -> Any:
    """Per-sample Bernoulli NLL of eager CPU torch tensors without ``where``; else ``None``.

    ``None`` also where the result is not finite (an infinite logit, a nan):
    the portable form, which masks ``0·inf``, then decides.
    """
    if getattr(native, "__name__", "") != "torch":
        return None
    from elbo_check.kernel import _torch_elbo

    batch_ndim = len(prep.latent_shape) - 1
    return _torch_elbo.bernoulli_nll(prep.x, prep.out, "batch", batch_ndim)


def _per_sample(xp: Any, elementwise: Any, shape: tuple[Any, ...], axes: tuple[int, ...]) -> Any:
    if tuple(elementwise.shape) != tuple(shape):
        elementwise = xp.broadcast_to(elementwise, shape)
    return xp.sum(elementwise, axis=axes) if axes else elementwise


def _reduce_samples(xp: Any, per_sample: Any, reduction: str) -> Any:
    if reduction == "batch":
        return per_sample
    total = xp.sum(per_sample)
    if reduction == "sum":
        return total
    return total / math.prod(per_sample.shape)


def _try_torch(
    x: Any, decoder_out: Any, mu: Any, logvar: Any, beta: Any, reduction: str
) -> tuple[Any, Any, Any] | None:
    """The eager-CPU torch fast path of the Bernoulli ELBO (valid arguments only), or ``None``."""
    if reduction not in _ELBO_REDUCTIONS or type(beta) not in (int, float):
        return None
    if not 0 <= beta < math.inf:
        return None
    from elbo_check.kernel import _torch_elbo

    return _torch_elbo.try_elbo_loss(x, decoder_out, mu, logvar, beta, reduction)


def elbo_loss(
    x: Any,
    decoder_out: Any,
    mu: Any,
    logvar: Any,
    *,
    likelihood: str = "bernoulli",
    obs_logvar: Any = 0.0,
    beta: float = 1.0,
    reduction: str = "batchmean",
    xp: Any = None,
) -> ELBOTerms:
    r"""The negative ELBO of a VAE: reconstruction NLL + beta·KL(q || N(0, I)).

    >>> import numpy as np
    >>> x = np.array([[1.0, 0.0]])
    >>> logits = np.array([[800.0, -800.0]])     # a confident, correct decoder
    >>> [float(t) for t in elbo_loss(x, logits, np.zeros((1, 2)), np.zeros((1, 2)))]
    [0.0, 0.0, 0.0]
    >>> terms = elbo_loss(x, np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2)),
    ...                   likelihood="gaussian", reduction="batch")
    >>> terms.reconstruction                      # 2 · ½(log 2π + 0 + ½)
    array([2.33787707])

    Parameters
    ----------
    x : array
        Data, shape ``(*batch, *event)``; its leading axes match ``mu``'s batch
        axes ``mu.shape[:-1]`` and the remaining axes are summed.
    decoder_out : array
        Bernoulli: logits (any real value, ±inf included).  Gaussian: the mean.
    mu, logvar : array
        Encoder outputs, shape ``(*batch, D)``.
    likelihood : {"bernoulli", "gaussian"}
        The Gaussian NLL includes its normalising constant
        :math:`\tfrac12\log 2\pi + \tfrac12\,\mathrm{obs\_logvar}`.
    obs_logvar : array or float
        Gaussian observation log-variance, broadcastable to ``x``.
    beta : float
        Weight of the KL term (β-VAE), finite and ``>= 0``.
    reduction : {"batch", "sum", "batchmean"}
        Per-sample values, their total, or their mean.  ``"none"`` and
        ``"mean"`` are rejected: they mix the pixel and latent scales.
    xp : namespace, optional
        Array namespace override.

    Returns
    -------
    ELBOTerms
        ``(loss, reconstruction, kl)``, reduced alike, ``loss = reconstruction + beta*kl``.
    """
    if xp is None and likelihood == "bernoulli" and _is_torch(logvar):
        fast = _try_torch(x, decoder_out, mu, logvar, beta, reduction)
        if fast is not None:
            return ELBOTerms(*fast)
    prep = _prepare_elbo(x, decoder_out, mu, logvar, likelihood, obs_logvar, beta, reduction, xp)
    given, xp = xp, prep.xp
    native = _native(xp)
    recon = _recon_torch_eager(native, prep) if likelihood == "bernoulli" else None
    if recon is None:
        with _xp.numpy_errstate():
            elementwise = _recon_elementwise(native, prep, likelihood)
            recon = _per_sample(native, elementwise, prep.data_shape, prep.event_axes)
    # without an explicit xp the KL takes its fast path (numpy, torch Function, JAX)
    kl = gaussian_kl(prep.mu, prep.logvar, reduction="batch", xp=given)
    recon = _reduce_samples(xp, recon, reduction)
    kl = _reduce_samples(xp, kl, reduction)
    loss = recon + beta * kl
    return ELBOTerms(*(_output(xp, t, prep.dtype) for t in (loss, recon, kl)))


def _decoder_grads(xp: Any, prep: _ELBOPrepared, likelihood: str, scale: float) -> Any:
    """(∂loss/∂decoder_out, ∂loss/∂obs_logvar or None), both times ``scale``, unbroadcast."""
    if likelihood == "bernoulli":
        if _plain_pair(prep):  # numba's one-pass loop when it serves this process
            fast = jit_call("bernoulli_logit_grad", prep.x, prep.out, scale)
            if fast is not None:
                return fast, None
        sig_pos, sig_neg = _sigmoid_pair(xp, prep.out)
        return ((1 - prep.x) * sig_pos - prep.x * sig_neg) * scale, None
    obs = prep.obs if prep.obs is not None else _const(xp, prep.out, 0.0)
    w = xp.exp(-0.5 * obs)
    rw = (prep.x - prep.out) * w
    return -(rw * w) * scale, (0.5 - rw * (0.5 * rw)) * scale


def _plain_pair(prep: _ELBOPrepared) -> bool:
    """x and the logits are plain float ndarrays of one dtype and shape (numba's loop takes them)."""
    return _plain_numpy((prep.x, prep.out, None, None))


def _sigmoid_pair(xp: Any, z: Any) -> tuple[Any, Any]:
    """(sigmoid(z), sigmoid(-z)), each accurate to a few ulp for any z.

    ``σ(z) = e^min(z, 0) / (1 + e^(−|z|))`` and ``σ(−z) = e^(−max(z, 0)) / (1 + e^(−|z|))``:
    of the two numerators one is exactly 1 and the other is ``e^(−|z|)``, so
    their product is the denominator's ``e^(−|z|)``, exactly.  No ``where``:
    on the CPU a select on a boolean mask costs 10 to 30 multiplies.
    """
    zero = _const(xp, z, 0.0)
    pos_num = xp.exp(xp.minimum(z, zero))
    neg_num = xp.exp(-xp.maximum(z, zero))
    denom = pos_num * neg_num + 1
    return pos_num / denom, neg_num / denom


def elbo_loss_grad(
    x: Any,
    decoder_out: Any,
    mu: Any,
    logvar: Any,
    *,
    likelihood: str = "bernoulli",
    obs_logvar: Any = 0.0,
    beta: float = 1.0,
    reduction: str = "batchmean",
    xp: Any = None,
) -> ELBOGrad:
    r"""Analytic gradient of ``elbo_loss(...).loss`` (for ``"batch"``: per sample).

    Bernoulli: :math:`\partial/\partial\,\mathrm{logit} = \sigma(l) - x`,
    formed as :math:`(1-x)\sigma(l) - x\sigma(-l)` (no cancellation for 0/1 data).
    Gaussian: :math:`\partial/\partial\hat x = -(x-\hat x)e^{-v}` and
    :math:`\partial/\partial v = \tfrac12 - \tfrac12(x-\hat x)^2 e^{-v}`.
    Latents: ``beta`` times :func:`gaussian_kl_grad`.  ``"batchmean"`` divides
    everything by the number of samples.  Gradients take their input's shape.

    >>> import numpy as np
    >>> g = elbo_loss_grad(np.array([[1.0]]), np.array([[40.0]]),
    ...                    np.array([[0.5]]), np.array([[0.0]]), reduction="sum")
    >>> g.decoder_out, g.mu, g.logvar
    (array([[-4.24835426e-18]]), array([[0.5]]), array([[0.]]))
    """
    prep = _prepare_elbo(x, decoder_out, mu, logvar, likelihood, obs_logvar, beta, reduction, xp)
    given, xp = xp, prep.xp
    samples = math.prod(prep.latent_shape[:-1])
    scale = 1 / samples if reduction == "batchmean" else 1
    with _xp.numpy_errstate():
        out_grad, obs_grad = _decoder_grads(xp, prep, likelihood, scale)
        out_grad = xp.broadcast_to(out_grad, prep.data_shape)
        # without an explicit xp the KL gradient takes its plain-ndarray fast path
        kl = gaussian_kl_grad(prep.mu, prep.logvar, reduction="sum", xp=given)
        grads = [
            _sum_to(xp, out_grad, decoder_out),
            _sum_to(xp, xp.broadcast_to(kl.mu * (beta * scale), prep.latent_shape), mu),
            _sum_to(xp, xp.broadcast_to(kl.logvar * (beta * scale), prep.latent_shape), logvar),
            None,
        ]
        if obs_grad is not None:
            obs_grad = xp.broadcast_to(obs_grad, prep.data_shape)
            grads[3] = _sum_to(xp, obs_grad, obs_logvar)
    return ELBOGrad(*(None if g is None else _output(xp, g, prep.dtype) for g in grads))
