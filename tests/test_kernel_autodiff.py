"""The torch autograd.Function and the JAX custom_jvp, against the mpmath oracle.

Forward values and every gradient are checked point by point at the edges the
numpy tests cover (q ≈ p, extreme log-variances, the overflow windows), in
float64 (1e-14) and float32 (1e-5), on each torch path: eager on the CPU, the
traceable where-blend that CUDA, ``torch.compile`` and ``torch.func`` take, and
the numpy tiles that large CPU tensors take.  Then the transforms: double
backward, ``torch.compile``, ``torch.func.grad``/``vmap``; JAX ``jit``,
``grad``, ``vmap`` and second derivatives.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _oracle import edge_columns as columns
from _oracle import edge_failures, grad_reference, kl_reference_array, max_relative_error

import elbo_check.kernel._tiles as T
from elbo_check.kernel import gaussian_kl, gaussian_kl_grad

RTOL = {np.float64: 1e-14, np.float32: 1e-5}


def threshold_sweep(dtype: type) -> np.ndarray:
    """logvar across both branch thresholds (and their neighbours), with mu = 0.

    With mu = 0 the KL is ½f(d) alone, so an error of either branch of f shows
    undiluted; each threshold is hit exactly and one ulp either side.
    """
    grid = np.linspace(-1.0, 1.0, 161)
    edges = [sign * t for t in (0.1, 0.4) for sign in (-1.0, 1.0)]
    near = [np.nextafter(dtype(e), dtype(k * np.inf)) for e in edges for k in (-1, 1)]
    return np.concatenate([grid, edges, near]).astype(dtype)


def check_sweep(values: Any, lv_grad: Any, lv: np.ndarray) -> None:
    """Values and ∂/∂logvar on :func:`threshold_sweep` against the oracle."""
    dtype = lv.dtype.type
    zero = np.zeros_like(lv)
    assert max_relative_error(values, kl_reference_array(zero, lv), dtype) <= RTOL[dtype]
    want = [grad_reference(0.0, float(v))[1] for v in lv]
    assert max_relative_error(lv_grad, np.array(want), dtype) <= RTOL[dtype]


def check_all(values: Any, grads: list[Any], cols: list[np.ndarray], prior: bool) -> None:
    """The forward values and each partial (two or four) against the oracle."""
    failures = edge_failures(values, grads, cols, prior)
    assert not failures, failures


def test_the_edge_check_rejects_the_textbook_logvar_gradient() -> None:
    # mutation test: ½(e^ℓ − 1) instead of ½expm1(ℓ) loses q ≈ p
    cols = columns(np.float64)
    with np.errstate(over="ignore"):
        textbook = 0.5 * (np.exp(cols[1]) - 1)
        values = gaussian_kl(*cols[:2], reduction="none")
    assert edge_failures(values, [cols[0], textbook], cols, prior=False)
    analytic = gaussian_kl_grad(*cols[:2], reduction="sum")
    assert not edge_failures(values, [analytic.mu, analytic.logvar], cols, prior=False)


# --------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------


@pytest.fixture(params=["eager", "traced", "tiles"])
def torch_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Route CPU tensors through one forward path of the autograd.Function."""
    pytest.importorskip("torch")
    import elbo_check.kernel._torch as TK

    if request.param == "traced":
        monkeypatch.setattr(TK, "_eager", lambda t: False)
    elif request.param == "tiles":
        monkeypatch.setattr(T, "FAST_MIN_SIZE", 0)
        monkeypatch.setattr(TK, "TILES_MIN_SIZE", 0)
        monkeypatch.setattr(TK, "TILES_MIN_SIZE_F32", 0)
    return request.param


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("prior", [False, True])
def test_torch_values_and_backward_match_the_oracle_at_every_edge(
    torch_path: str, dtype: type, prior: bool
) -> None:
    import torch

    cols = columns(dtype)
    tensors = [torch.tensor(c, requires_grad=True) for c in cols]
    args = tensors if prior else tensors[:2]
    values = gaussian_kl(*args, reduction="none")
    gaussian_kl(*args, reduction="sum").backward()
    grads = [t.grad.numpy() for t in args]  # type: ignore[union-attr]
    check_all(values.detach().numpy(), grads, cols, prior)


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_torch_values_and_backward_match_the_oracle_across_the_branch_thresholds(
    torch_path: str, dtype: type
) -> None:
    import torch

    lv_np = threshold_sweep(dtype)
    mu = torch.zeros(lv_np.shape, dtype=torch.float64 if dtype is np.float64 else torch.float32)
    lv = torch.tensor(lv_np, requires_grad=True)
    values = gaussian_kl(mu, lv, reduction="none")
    gaussian_kl(mu, lv, reduction="sum").backward()
    check_sweep(values.detach().numpy(), lv.grad.numpy(), lv_np)  # type: ignore[union-attr]


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_torch_backward_agrees_with_gaussian_kl_grad_including_inf(
    torch_path: str, dtype: type
) -> None:
    import torch

    cols = columns(dtype)
    tensors = [torch.tensor(c, requires_grad=True) for c in cols]
    gaussian_kl(*tensors, reduction="sum").backward()
    analytic = gaussian_kl_grad(*cols, reduction="sum")
    for tensor, want in zip(tensors, analytic, strict=True):
        got = tensor.grad.numpy()  # type: ignore[union-attr]
        np.testing.assert_allclose(got, want, rtol=4 * np.finfo(dtype).eps, atol=0)
    lv = torch.tensor([800.0], dtype=torch.float32, requires_grad=True)
    gaussian_kl(torch.zeros(1), lv).sum().backward()
    assert lv.grad is not None
    assert math.isinf(float(lv.grad[0]))


@pytest.mark.torch
@pytest.mark.parametrize("reduction", ["none", "batch", "sum", "batchmean", "mean"])
def test_torch_gradcheck_and_gradgradcheck_hold_in_float64(reduction: str) -> None:
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(0)
    mu, lv = (torch.randn(3, 4, generator=gen, dtype=torch.float64) for _ in range(2))
    mu_p = torch.randn(4, generator=gen, dtype=torch.float64)
    lv_p = torch.randn(3, 1, generator=gen, dtype=torch.float64) * 0.5
    inputs = tuple(t.requires_grad_() for t in (mu, lv, mu_p, lv_p))

    def kl(*a: Any) -> Any:
        return gaussian_kl(*a, reduction=reduction)

    assert torch.autograd.gradcheck(kl, inputs)
    assert torch.autograd.gradgradcheck(kl, inputs)
    assert torch.autograd.gradgradcheck(kl, inputs[:2])


@pytest.mark.torch
def test_broadcast_and_scalar_priors_get_gradients_of_their_own_shape() -> None:
    torch = pytest.importorskip("torch")
    mu = torch.randn(5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    lv = torch.zeros(5, 3, dtype=torch.float64, requires_grad=True)
    mu_p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    gaussian_kl(mu, lv, mu_p, 0.5, reduction="batchmean").backward()
    want = gaussian_kl_grad(
        mu.numpy(), lv.detach().numpy(), mu_p.detach().numpy(), 0.5, reduction="batchmean"
    )
    assert mu_p.grad is not None
    assert mu_p.grad.shape == (3,)
    np.testing.assert_allclose(mu_p.grad.numpy(), want.mu_p, rtol=1e-14, atol=0)
    np.testing.assert_allclose(lv.grad.numpy(), want.logvar, rtol=1e-14, atol=0)  # type: ignore[union-attr]


@pytest.mark.torch
def test_parameters_as_variational_means_and_learned_priors_get_analytic_gradients() -> None:
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(4)
    mu = torch.nn.Parameter(torch.randn(4, 3, dtype=torch.float64, generator=gen))
    lv = torch.randn(4, 3, dtype=torch.float64, generator=gen) * 1e-6
    mu_p = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    gaussian_kl(mu, lv, mu_p, 0.0, reduction="sum").backward()
    want = gaussian_kl_grad(mu.detach().numpy(), lv.numpy(), np.zeros(3), 0.0, reduction="sum")
    assert mu.grad is not None
    assert mu_p.grad is not None
    np.testing.assert_allclose(mu.grad.numpy(), want.mu, rtol=1e-15, atol=0)
    np.testing.assert_allclose(mu_p.grad.numpy(), want.mu_p, rtol=1e-15, atol=0)


@pytest.mark.torch
# dynamo itself instantiates torch.autograd.Function while tracing any custom
# Function, and warns about it; the warning is torch's, not ours
@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
def test_torch_compile_in_eager_backend_gives_the_same_values_and_gradients() -> None:
    torch = pytest.importorskip("torch")
    cols = [torch.tensor(c) for c in columns(np.float64)]
    plain = [c.clone().requires_grad_() for c in cols]
    traced = [c.clone().requires_grad_() for c in cols]
    compiled = torch.compile(lambda *a: gaussian_kl(*a, reduction="sum"), backend="eager")
    gaussian_kl(*plain, reduction="sum").backward()
    compiled(*traced).backward()
    for a, b in zip(plain, traced, strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-15, atol=0)


@pytest.mark.torch
def test_torch_func_grad_and_vmap_match_the_batched_call() -> None:
    torch = pytest.importorskip("torch")
    gen = torch.Generator().manual_seed(2)
    mu = torch.randn(6, 4, dtype=torch.float64, generator=gen)
    lv = torch.randn(6, 4, dtype=torch.float64, generator=gen) * 1e-3

    def one(m: Any, l: Any) -> Any:
        return gaussian_kl(m, l, reduction="sum")

    rows = torch.func.vmap(one)(mu, lv)
    torch.testing.assert_close(rows, gaussian_kl(mu, lv), rtol=1e-15, atol=0)
    per_row = torch.func.vmap(torch.func.grad(one, argnums=(0, 1)))(mu, lv)
    want = gaussian_kl_grad(mu.numpy(), lv.numpy(), reduction="sum")
    np.testing.assert_allclose(per_row[0].numpy(), want.mu, rtol=1e-15, atol=0)
    np.testing.assert_allclose(per_row[1].numpy(), want.logvar, rtol=1e-15, atol=0)


# --------------------------------------------------------------------------
# JAX
# --------------------------------------------------------------------------


@pytest.fixture
def jax_x64() -> Iterator[Any]:
    """JAX with float64 enabled, restored afterwards."""
    jax = pytest.importorskip("jax")
    saved = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield jax
    finally:
        jax.config.update("jax_enable_x64", saved)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("prior", [False, True])
def test_jax_jit_values_and_grad_match_the_oracle_at_every_edge(
    jax_x64: Any, dtype: type, prior: bool
) -> None:
    jnp = jax_x64.numpy
    cols = columns(dtype)
    args = [jnp.asarray(c) for c in (cols if prior else cols[:2])]
    values = jax_x64.jit(lambda *a: gaussian_kl(*a, reduction="none"))(*args)
    assert values.dtype == args[0].dtype
    total = jax_x64.jit(lambda *a: gaussian_kl(*a, reduction="sum"))
    grads = jax_x64.jit(jax_x64.grad(total, argnums=tuple(range(len(args)))))(*args)
    check_all(np.asarray(values), [np.asarray(g) for g in grads], cols, prior)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jax_jit_values_and_grad_match_the_oracle_across_the_branch_thresholds(
    jax_x64: Any, dtype: type
) -> None:
    jnp = jax_x64.numpy
    lv_np = threshold_sweep(dtype)
    mu, lv = jnp.zeros(lv_np.shape, dtype=lv_np.dtype), jnp.asarray(lv_np)
    values = jax_x64.jit(lambda m, v: gaussian_kl(m, v, reduction="none"))(mu, lv)
    total = jax_x64.jit(lambda m, v: gaussian_kl(m, v, reduction="sum"))
    lv_grad = jax_x64.jit(jax_x64.grad(total, argnums=1))(mu, lv)
    check_sweep(np.asarray(values), np.asarray(lv_grad), lv_np)


def test_jax_vmap_and_second_derivatives_follow_the_closed_form(jax_x64: Any) -> None:
    jnp = jax_x64.numpy
    rng = np.random.default_rng(3)
    mu, lv = rng.standard_normal((2, 5, 3))
    rows = jax_x64.vmap(lambda m, l: gaussian_kl(m, l, reduction="sum"))(
        jnp.asarray(mu), jnp.asarray(lv)
    )
    np.testing.assert_allclose(np.asarray(rows), gaussian_kl(mu, lv), rtol=1e-15)

    def total(l: Any) -> Any:
        return gaussian_kl(jnp.asarray(mu), l, reduction="sum")

    hess_diag = jax_x64.vmap(
        lambda v: jax_x64.jvp(jax_x64.grad(total), (jnp.asarray(lv),), (v,))[1]
    )(jnp.eye(lv.size).reshape(-1, *lv.shape))
    diag = np.asarray(hess_diag).reshape(lv.size, lv.size).diagonal()
    np.testing.assert_allclose(diag, 0.5 * np.exp(lv).ravel(), rtol=1e-14)
