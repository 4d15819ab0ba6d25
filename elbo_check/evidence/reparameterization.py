"""Evidence records for the reparameterization identity and its gradient form.

For ``f`` in ``z²``, ``sin z`` and ``exp(z/2)``, at a few ``(μ, σ)``:

* :data:`REPARAMETERIZATION`: ``E_{z~N(μ,σ²)}[f(z)] = E_{ε~N(0,1)}[f(μ + σε)]``.
  The left side is computed by adaptive quadrature of ``f`` against the
  ``N(μ, σ²)`` density (no change of variables); the right side is a plain
  Monte Carlo mean over ``ε`` with its standard error.
* :data:`REPARAMETERIZATION_GRADIENT`: ``∂/∂μ E[f(z)] = E[f′(μ + σε)]``.  The
  left side is a central difference in ``μ`` of that quadrature (step
  ``1e-4``: truncation and quadrature error below ``1e-7``, far under the
  Monte Carlo error), so it does not assume differentiation under the integral;
  the right side is Monte Carlo over ``ε``.

>>> from elbo_check.evidence import run_checks
>>> all(line.passed for line in run_checks(REPARAMETERIZATION[:1]))
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from elbo_check.evidence._records import NumericCheck

if TYPE_CHECKING:
    from elbo_check.mc import MCEstimate

__all__ = [
    "REPARAMETERIZATION",
    "REPARAMETERIZATION_GRADIENT",
    "TEST_FUNCTIONS",
    "GaussianLocation",
    "TestFunction",
    "density_expectation",
]

_STEP = 1e-4


@dataclasses.dataclass(frozen=True)
class GaussianLocation:
    """``N(mu, sigma²)``: the point of a reparameterization check."""

    mu: float
    sigma: float


@dataclasses.dataclass(frozen=True)
class TestFunction:
    """An integrand ``f`` with its derivative, both vectorized over arrays."""

    label: str
    f: Callable[[Any], Any]
    derivative: Callable[[Any], Any]


def _sin(z: Any) -> Any:
    import numpy as np

    return np.sin(z)


def _cos(z: Any) -> Any:
    import numpy as np

    return np.cos(z)


def _half_exp(z: Any) -> Any:
    import numpy as np

    return np.exp(0.5 * z)


#: The integrands: smooth, with every Gaussian moment finite.
TEST_FUNCTIONS = (
    TestFunction("z²", lambda z: z * z, lambda z: 2.0 * z),
    TestFunction("sin z", _sin, _cos),
    TestFunction("exp(z/2)", _half_exp, lambda z: 0.5 * _half_exp(z)),
)


def density_expectation(f: Callable[[Any], Any], mu: float, sigma: float) -> float:
    """``∫ f(z) N(z; mu, sigma²) dz`` by adaptive quadrature on each side of ``mu``.

    The range is ``mu ± 40 sigma``: beyond it the density is below ``e^-800``,
    which no test function here outgrows.

    >>> round(density_expectation(lambda z: z * z, 0.5, 2.0), 10)  # μ² + σ²
    4.25
    """
    from scipy import integrate, stats

    density = stats.norm(mu, sigma)

    def integrand(z: float) -> float:
        return float(f(z)) * float(density.pdf(z))

    reach = 40.0 * sigma
    left = integrate.quad(integrand, mu - reach, mu, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    right = integrate.quad(integrand, mu, mu + reach, epsabs=1e-13, epsrel=1e-11, limit=200)[0]
    return float(left + right)


def _reparameterized_mc(
    g: Callable[[Any], Any], point: GaussianLocation, n: int, seed: int
) -> MCEstimate:
    """Monte Carlo ``E_{ε~N(0,1)}[g(μ + σε)]``."""
    from scipy import stats

    from elbo_check.mc import expectation_mc

    return expectation_mc(lambda eps: g(point.mu + point.sigma * eps), stats.norm(), n, seed)


def _value_check(fn: TestFunction) -> NumericCheck[GaussianLocation]:
    return NumericCheck(
        name=f"E[{fn.label}] under z ~ N(mu, sigma²) vs E over eps ~ N(0, 1) at z = mu + sigma·eps",
        closed_form=lambda point: density_expectation(fn.f, point.mu, point.sigma),
        estimator=lambda point, n, seed: _reparameterized_mc(fn.f, point, n, seed),
        points=_POINTS,
        source="quadrature of f against the N(mu, sigma²) density",
    )


def _gradient_check(fn: TestFunction) -> NumericCheck[GaussianLocation]:
    def finite_difference(point: GaussianLocation) -> float:
        up = density_expectation(fn.f, point.mu + _STEP, point.sigma)
        down = density_expectation(fn.f, point.mu - _STEP, point.sigma)
        return (up - down) / (2.0 * _STEP)

    return NumericCheck(
        name=f"∂/∂mu E[{fn.label}] under N(mu, sigma²) vs E[f′(mu + sigma·eps)], f = {fn.label}",
        closed_form=finite_difference,
        estimator=lambda point, n, seed: _reparameterized_mc(fn.derivative, point, n, seed),
        points=_POINTS,
        source="central difference in mu of the density quadrature",
    )


_POINTS = (GaussianLocation(mu=0.3, sigma=0.8), GaussianLocation(mu=-1.2, sigma=1.7))

#: E_{N(μ,σ²)}[f] (quadrature) = E_{N(0,1)}[f(μ + σε)] (MC), for each test function.
REPARAMETERIZATION = tuple(_value_check(fn) for fn in TEST_FUNCTIONS)

#: ∂/∂μ E_{N(μ,σ²)}[f] (difference of quadratures) = E[f′(μ + σε)] (MC), for each test function.
REPARAMETERIZATION_GRADIENT = tuple(_gradient_check(fn) for fn in TEST_FUNCTIONS)
