"""The torch fast path of ``elbo_loss``: the Bernoulli NLL Function and the one-call ELBO.

Values and gradients against mpmath (float64 and float32), against the
generic path (which the fast path must not change), at infinite logits and KL
overflow (where the generic path decides), and under the transforms: double
backward and ``torch.func.grad``.  (``elbo_loss`` under ``torch.compile``
fails before and after the fast path: dynamo cannot trace array-api-compat's
namespace inference in the generic path.)
"""

from __future__ import annotations

import math
from typing import Any

import mpmath
import numpy as np
import pytest

from elbo_check.kernel import elbo_loss, elbo_loss_grad, gaussian_kl

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

RTOL = {torch.float64: 2e-15, torch.float32: 1e-6}
TINY = {torch.float64: 2.2250738585072014e-308, torch.float32: 1.1754943508222875e-38}


def nll_reference(x: float, logit: float) -> float:
    """softplus(l) − x·l at 60 digits."""
    with mpmath.workdps(60):
        lm, xm = mpmath.mpf(logit), mpmath.mpf(x)
        return float(xm * mpmath.log1p(mpmath.exp(-lm)) + (1 - xm) * mpmath.log1p(mpmath.exp(lm)))


def slope_reference(x: float, logit: float) -> float:
    """σ(l) − x at 60 digits, as (1 − x)σ(l) − xσ(−l) (no cancellation for 0/1 targets)."""
    with mpmath.workdps(60):
        lm, xm = mpmath.mpf(logit), mpmath.mpf(x)
        return float((1 - xm) / (1 + mpmath.exp(-lm)) - xm / (1 + mpmath.exp(lm)))


def edge_grid(dtype: Any) -> tuple[Any, Any]:
    """(x, logits) columns: 0/1 and soft targets against logits from −700 to 700."""
    rng = np.random.default_rng(3)
    logits = np.concatenate(
        [
            [0.0, -0.0, 1e-30, -1e-30, 1e-9, -1e-9, 0.5, -0.5, 17.0, -17.0, 30.0, -30.0],
            [40.0, -40.0, 88.0, -88.0, 103.0, -103.0, 700.0, -700.0],
            rng.standard_normal(40) * 5,
        ]
    )
    targets = [0.0, 1.0, 0.25, 0.5, 1e-10, 1 - 2**-20]
    x = np.repeat(targets, len(logits))
    logits = np.tile(logits, len(targets))
    if dtype == torch.float32:
        logits = logits[np.abs(logits) < 100]  # e^-|l| stays a normal float32
        x = x[: len(logits)]
    return torch.tensor(x[:, None], dtype=dtype), torch.tensor(logits[:, None], dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_reconstruction_and_its_gradient_match_mpmath_element_by_element(dtype: Any) -> None:
    x, logits = edge_grid(dtype)
    logits.requires_grad_()
    zeros = torch.zeros(len(x), 1, dtype=dtype)
    terms = elbo_loss(x, logits, zeros, zeros, reduction="batch")
    terms.loss.sum().backward()
    assert logits.grad is not None
    for xi, li, got, slope in zip(
        x[:, 0].tolist(),
        logits[:, 0].tolist(),
        terms.reconstruction.tolist(),
        logits.grad[:, 0].tolist(),
        strict=True,
    ):
        want = nll_reference(xi, li)
        assert abs(got - want) <= RTOL[dtype] * max(abs(want), TINY[dtype]), (xi, li, got, want)
        if xi in (0.0, 1.0):  # soft targets: σ(l) − x cancels near σ(l) = x, in any form
            ref = slope_reference(xi, li)
            tol = 4 * RTOL[dtype] * max(abs(ref), TINY[dtype])
            assert abs(slope - ref) <= tol, (xi, li, slope, ref)


def batch_case(dtype: Any, grad: bool) -> list[Any]:
    rng = np.random.default_rng(4)
    x = rng.uniform(size=(5, 1, 3, 4))
    x[0] = np.round(x[0])
    logits = rng.standard_normal((5, 1, 3, 4)) * 10
    mu, lv = rng.standard_normal((2, 5, 6))
    return [torch.tensor(a, dtype=dtype, requires_grad=grad) for a in (x, logits, mu, lv)]


@pytest.mark.parametrize("reduction", ["batch", "sum", "batchmean"])
@pytest.mark.parametrize("grad", [False, True])
def test_the_fast_path_gives_the_generic_paths_values_and_gradients(
    reduction: str, grad: bool
) -> None:
    fast_in = batch_case(torch.float64, grad)
    generic_in = batch_case(torch.float64, grad)
    fast = elbo_loss(*fast_in, beta=0.5, reduction=reduction)
    # a numpy float as beta takes the generic path (namespace inference, where-form)
    generic = elbo_loss(*generic_in, beta=np.float64(0.5), reduction=reduction)
    for a, b in zip(fast, generic, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-14, atol=0)
    if grad:
        fast.loss.sum().backward()
        generic.loss.sum().backward()
        for a, b in zip(fast_in, generic_in, strict=True):
            torch.testing.assert_close(a.grad, b.grad, rtol=1e-13, atol=1e-300)


def test_broadcast_logits_count_once_per_sample_on_the_generic_path() -> None:
    x, logits, mu, lv = (t.detach().numpy() for t in batch_case(torch.float64, False))
    one_row = logits[:1]  # one decoder output for every sample
    for reduction in ("batch", "sum", "batchmean"):
        got = elbo_loss(*(torch.tensor(a) for a in (x, one_row, mu, lv)), reduction=reduction)
        want = elbo_loss(x, one_row, mu, lv, reduction=reduction)
        np.testing.assert_allclose(got.reconstruction.numpy(), want.reconstruction, rtol=1e-14)


def test_the_backward_equals_elbo_loss_grad_for_every_input() -> None:
    x, logits, mu, lv = batch_case(torch.float64, True)
    x.requires_grad_(False)
    elbo_loss(x, logits, mu, lv, beta=2.0).loss.backward()
    want = elbo_loss_grad(*(t.detach().numpy() for t in (x, logits, mu, lv)), beta=2.0)
    for tensor, analytic in zip((logits, mu, lv), want[:3], strict=True):
        assert tensor.grad is not None
        np.testing.assert_allclose(tensor.grad.numpy(), analytic, rtol=1e-13, atol=1e-300)


def test_a_target_that_requires_grad_gets_minus_the_logit() -> None:
    x, logits, mu, lv = batch_case(torch.float64, True)
    elbo_loss(x, logits, mu, lv, reduction="sum").loss.backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, -logits.detach(), rtol=0, atol=0)


def test_infinite_logits_and_kl_overflow_are_left_to_the_generic_path() -> None:
    x = torch.tensor([[1.0, 0.0, 0.5]], dtype=torch.float64)
    logits = torch.tensor([[math.inf, -math.inf, 2.0]], dtype=torch.float64)
    z = torch.zeros(1, 1, dtype=torch.float64)
    terms = elbo_loss(x, logits, z, z, reduction="sum")
    assert float(terms.reconstruction) == pytest.approx(nll_reference(0.5, 2.0), rel=1e-15)
    lv = torch.full((1, 2), 800.0, dtype=torch.float32)  # e^800 overflows float32
    big = elbo_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, 2), lv)
    assert math.isinf(float(big.kl))
    assert math.isinf(float(big.loss))
    # e^88.7 overflows float32 but ½e^88.7 does not: the guarded KL gives it
    lv = torch.full((1, 1), 88.7, dtype=torch.float32)
    edge = elbo_loss(torch.zeros(1, 1), torch.zeros(1, 1), torch.zeros(1, 1), lv)
    assert math.isfinite(float(edge.kl))
    assert float(edge.kl) == float(gaussian_kl(torch.zeros(1, 1), lv, reduction="sum"))


def test_double_backward_holds_in_float64() -> None:
    x, logits, mu, lv = batch_case(torch.float64, True)

    def loss(*args: Any) -> Any:
        return elbo_loss(*args, reduction="batch").loss

    assert torch.autograd.gradcheck(loss, (x, logits, mu, lv))
    assert torch.autograd.gradgradcheck(loss, (x, logits, mu, lv))


def test_torch_func_grad_takes_the_traceable_path_and_agrees() -> None:
    x, logits, mu, lv = batch_case(torch.float64, False)

    def loss(lg: Any, m: Any, v: Any) -> Any:
        return elbo_loss(x, lg, m, v, reduction="sum").loss

    got = torch.func.grad(loss, argnums=(0, 1, 2))(logits, mu, lv)
    eager = [t.clone().requires_grad_() for t in (logits, mu, lv)]
    loss(*eager).backward()
    for a, b in zip(got, eager, strict=True):
        torch.testing.assert_close(a, b.grad, rtol=1e-14, atol=1e-300)
