"""The loss kernel on other array libraries: array_api_strict, torch, dask, JAX, CuPy.

``array_api_strict`` proves that the portable path uses the standard only; torch
and dask check that results stay in the input's library, device and dtype (dask
lazily) and equal the numpy answer.  JAX and CuPy tests skip when the library is
absent (CuPy on a GPU machine: see ``benchmarks/gpu_cupy_check.py``).
"""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from _oracle import kl_reference_array, max_relative_error

from elbo_check.kernel import elbo_loss, elbo_loss_grad, gaussian_kl, gaussian_kl_grad

RTOL = {np.float64: 1e-14, np.float32: 1e-5}


def sample(dtype: type = np.float64, shape: tuple[int, ...] = (5, 7)) -> list[np.ndarray]:
    """mu, logvar, mu_p, logvar_p with q ≈ p in places, tiny values and zeros."""
    rng = np.random.default_rng(11)
    mu = rng.standard_normal(shape) * 10.0 ** rng.uniform(-12, 2, shape)
    logvar = rng.standard_normal(shape) * 10.0 ** rng.uniform(-12, 1, shape)
    mu_p = rng.standard_normal(shape[-1])
    logvar_p = rng.standard_normal(shape[-1])
    mu.flat[:3] = 0.0
    logvar.flat[3:6] = 0.0
    return [a.astype(dtype) for a in (mu, logvar, mu_p, logvar_p)]


def reference(arrays: list[np.ndarray], prior: bool) -> np.ndarray:
    mu, logvar, mu_p, logvar_p = (np.broadcast_to(a, arrays[0].shape) for a in arrays)
    if not prior:
        return kl_reference_array(mu, logvar).reshape(mu.shape)
    return kl_reference_array(mu, logvar, mu_p, logvar_p).reshape(mu.shape)


# --------------------------------------------------------------------------
# array_api_strict
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("prior", [False, True])
def test_array_api_strict_matches_the_oracle(dtype: type, prior: bool) -> None:
    import array_api_strict as xs
    arrays = sample(dtype)
    strict = [xs.asarray(a) for a in arrays]
    args = strict if prior else strict[:2]
    got = gaussian_kl(*args, reduction="none")
    assert isinstance(got, type(strict[0]))
    assert got.dtype == strict[0].dtype
    assert max_relative_error(np.asarray(got), reference(arrays, prior), dtype) <= RTOL[dtype]
    for reduction in ("batch", "sum", "batchmean", "mean"):
        value = gaussian_kl(*args, reduction=reduction)
        expected = gaussian_kl(*(arrays if prior else arrays[:2]), reduction=reduction)
        np.testing.assert_allclose(np.asarray(value), expected, rtol=RTOL[dtype])


def test_array_api_strict_runs_gradients_and_elbo_loss() -> None:
    import array_api_strict as xs
    mu, logvar, mu_p, logvar_p = sample()
    grad = gaussian_kl_grad(*(xs.asarray(a) for a in (mu, logvar, mu_p, logvar_p)))
    expected = gaussian_kl_grad(mu, logvar, mu_p, logvar_p)
    for got, want in zip(grad, expected, strict=True):
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-15)
    x = (np.arange(35).reshape(5, 7) % 2).astype(np.float64)
    for likelihood in ("bernoulli", "gaussian"):
        args = (x, mu, mu, logvar)
        strict_terms = elbo_loss(*(xs.asarray(a) for a in args), likelihood=likelihood)
        terms = elbo_loss(*args, likelihood=likelihood)
        for got, want in zip(strict_terms, terms, strict=True):
            np.testing.assert_allclose(float(got), float(want), rtol=1e-14)
        strict_grad = elbo_loss_grad(*(xs.asarray(a) for a in args), likelihood=likelihood)
        numpy_grad = elbo_loss_grad(*args, likelihood=likelihood)
        for got, want in zip(strict_grad, numpy_grad, strict=True):
            if want is not None:
                np.testing.assert_allclose(np.asarray(got), want, rtol=1e-14)


def test_an_explicit_xp_overrides_inference() -> None:
    import array_api_strict as xs
    got = gaussian_kl(xs.asarray([1.0]), xs.asarray([0.0]), xp=xs)
    assert float(got) == 0.5


# --------------------------------------------------------------------------
# torch (CPU)
# --------------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_torch_results_stay_torch_and_match_the_oracle(dtype: type) -> None:
    torch = pytest.importorskip("torch")
    arrays = sample(dtype)
    tensors = [torch.from_numpy(a) for a in arrays]
    for prior in (False, True):
        got = gaussian_kl(*(tensors if prior else tensors[:2]), reduction="none")
        assert isinstance(got, torch.Tensor)
        assert got.dtype == tensors[0].dtype
        assert got.device == tensors[0].device
        err = max_relative_error(got.numpy(), reference(arrays, prior), dtype)
        assert err <= RTOL[dtype]


@pytest.mark.torch
def test_torch_half_precision_and_integer_inputs_keep_torch_dtypes() -> None:
    torch = pytest.importorskip("torch")
    for dtype in (torch.float16, torch.bfloat16):
        got = gaussian_kl(torch.zeros(3, dtype=dtype), torch.full((3,), 0.5, dtype=dtype))
        assert got.dtype == dtype
        assert float(got) == pytest.approx(3 * (np.expm1(0.5) - 0.5) / 2, rel=1e-2)
    promoted = gaussian_kl(torch.tensor([[1, 2]]), torch.tensor([[0, 0]]))
    assert promoted.dtype == torch.get_default_dtype()


@pytest.mark.torch
def test_numpy_mixed_with_torch_raises_a_type_error() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="mu is a numpy array but logvar is a torch array"):
        gaussian_kl(np.zeros(2), torch.zeros(2))


@pytest.mark.torch
def test_torch_gradients_match_autograd_of_the_kernel() -> None:
    torch = pytest.importorskip("torch")
    mu, logvar, mu_p, logvar_p = (
        torch.tensor(a, requires_grad=True) for a in sample(np.float64, (3, 4))
    )
    gaussian_kl(mu, logvar, mu_p, logvar_p, reduction="sum").backward()
    grad = gaussian_kl_grad(*(t.detach() for t in (mu, logvar, mu_p, logvar_p)), reduction="sum")
    for tensor, analytic in zip((mu, logvar, mu_p, logvar_p), grad, strict=True):
        assert tensor.grad is not None
        torch.testing.assert_close(analytic, tensor.grad, rtol=1e-12, atol=1e-300)


@pytest.mark.torch
@pytest.mark.parametrize("grad", [False, True])
def test_torch_bernoulli_elbo_matches_numpy_for_soft_targets_and_infinite_logits(
    grad: bool,
) -> None:
    # the where-free torch form, its in-place variant (no graph) and its fallback
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(size=(3, 6)), [[0.0, 1.0, 1.0, 0.0, 1 - 2**-40, 0.25]]])
    logits = np.concatenate([rng.standard_normal((3, 6)) * 30, [[-40.0, 40.0, 0.0, -1e-9, 5, 2]]])
    mu, lv = rng.standard_normal((2, 4, 2))
    t_logits = torch.tensor(logits, requires_grad=grad)
    got = elbo_loss(
        torch.tensor(x), t_logits, torch.tensor(mu), torch.tensor(lv), reduction="batch"
    )
    want = elbo_loss(x, logits, mu, lv, reduction="batch")
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.detach().numpy(), w, rtol=1e-15, atol=0)
    if grad:
        got.loss.sum().backward()
        analytic = elbo_loss_grad(x, logits, mu, lv, reduction="batch").decoder_out
        np.testing.assert_allclose(t_logits.grad.numpy(), analytic, rtol=1e-12, atol=1e-300)
    broadcast = elbo_loss(
        torch.tensor(x[:1]), torch.tensor(logits), torch.tensor(mu), torch.tensor(lv)
    )
    want_b = elbo_loss(x[:1], logits, mu, lv)
    np.testing.assert_allclose(broadcast.loss.detach().numpy(), want_b.loss, rtol=1e-15, atol=0)
    inf_x, inf_l = np.array([[1.0, 0.0, 0.5]]), np.array([[np.inf, -np.inf, np.inf]])
    z = torch.zeros(1, 1, dtype=torch.float64)
    inf_terms = elbo_loss(torch.tensor(inf_x), torch.tensor(inf_l), z, z, reduction="batch")
    assert float(inf_terms.reconstruction[0]) == math.inf
    finite = elbo_loss(torch.tensor(inf_x[:, :2]), torch.tensor(inf_l[:, :2]), z, z)
    assert float(finite.reconstruction) == 0.0


@pytest.mark.torch
def test_torch_kl_divergence_is_inf_where_ours_is_finite() -> None:
    # the claim, checked: torch overflows at logvar = -104 in float32
    torch = pytest.importorskip("torch")
    normal = torch.distributions.Normal
    mu, logvar = torch.zeros(1), torch.tensor([-104.0])
    theirs = torch.distributions.kl_divergence(
        normal(mu, torch.exp(logvar / 2)), normal(torch.zeros(1), torch.ones(1))
    )
    ours = gaussian_kl(mu, logvar, reduction="none")
    assert torch.isinf(theirs).all()
    assert float(ours) == pytest.approx(51.5, rel=1e-6)


# --------------------------------------------------------------------------
# dask
# --------------------------------------------------------------------------


@pytest.mark.dask
def test_dask_results_are_lazy_and_compute_to_the_numpy_answer() -> None:
    da = pytest.importorskip("dask.array")
    arrays = sample(np.float64, (6, 5))
    lazy = [da.from_array(a, chunks=2) for a in arrays]
    for prior in (False, True):
        for reduction in ("none", "batch", "sum", "batchmean", "mean"):
            args = lazy if prior else lazy[:2]
            got = gaussian_kl(*args, reduction=reduction)
            assert isinstance(got, da.Array)
            expected = gaussian_kl(*(arrays if prior else arrays[:2]), reduction=reduction)
            np.testing.assert_allclose(got.compute(), expected, rtol=1e-15)


@pytest.mark.dask
def test_dask_elbo_loss_and_gradients_stay_lazy() -> None:
    da = pytest.importorskip("dask.array")
    mu, logvar, _, _ = sample(np.float64, (6, 5))
    x = (np.arange(30).reshape(6, 5) % 3 == 0).astype(np.float64)
    args = (x, mu, mu, logvar)
    lazy = [da.from_array(a, chunks=3) for a in args]
    terms = elbo_loss(*lazy)
    assert all(isinstance(t, da.Array) for t in terms)
    for got, want in zip(terms, elbo_loss(*args), strict=True):
        np.testing.assert_allclose(got.compute(), want, rtol=1e-14)
    grad = elbo_loss_grad(*lazy)
    for got, want in zip(grad[:3], elbo_loss_grad(*args)[:3], strict=True):
        assert isinstance(got, da.Array)
        np.testing.assert_allclose(got.compute(), want, rtol=1e-14)


# --------------------------------------------------------------------------
# JAX and CuPy (skipped where not installed)
# --------------------------------------------------------------------------


def test_jax_matches_numpy() -> None:
    jnp = pytest.importorskip("jax.numpy")
    jax = pytest.importorskip("jax")
    saved = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        arrays = sample(np.float64)
        got = gaussian_kl(*(jnp.asarray(a) for a in arrays), reduction="none")
        want = gaussian_kl(*arrays, reduction="none")
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-15)
    finally:
        jax.config.update("jax_enable_x64", saved)


def test_cupy_matches_numpy() -> None:
    cp = pytest.importorskip("cupy")
    arrays = sample(np.float64)
    got: Any = gaussian_kl(*(cp.asarray(a) for a in arrays), reduction="none")
    assert isinstance(got, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(got), gaussian_kl(*arrays, reduction="none"), rtol=1e-14)


def test_importing_the_kernel_imports_no_heavy_array_library() -> None:
    code = (
        "import sys, elbo_check\n"
        "from elbo_check.kernel import gaussian_kl\n"
        "import numpy as np\n"
        "gaussian_kl(np.zeros((2, 3)), np.zeros((2, 3)))\n"
        "heavy = {'torch', 'dask', 'jax', 'cupy', 'sympy'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
