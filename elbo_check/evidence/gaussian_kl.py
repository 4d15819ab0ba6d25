"""Evidence records for the Gaussian KL closed forms: plain Monte Carlo against numpy formulas.

Each record compares a closed form (the numpy formulas of
:mod:`elbo_check.models`) with :func:`elbo_check.mc.kl_mc` (plain MC: it uses
no closed form at all).  The tests tie each numpy formula to the proved
symbolic closed form of its derivation.  Importing this module costs nothing:
numpy and scipy are imported when a record runs.

Resolution: plain MC with 2**18 draws resolves a relative error of about 1-2 %
of the KL; symbolic slips such as a dropped ``1/2`` or a variance in place of a
standard deviation are far larger.

>>> from elbo_check.evidence import run_checks
>>> [line.passed for line in run_checks(UNIVARIATE_GAUSSIAN_KL)]
[True]
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from elbo_check.evidence._records import NumericCheck

if TYPE_CHECKING:
    from elbo_check.mc import MCEstimate

__all__ = [
    "DIAGONAL_GAUSSIAN_KL",
    "FULL_COVARIANCE_GAUSSIAN_KL",
    "FULL_COVARIANCE_GAUSSIAN_KL_K8",
    "STANDARD_PRIOR_GAUSSIAN_KL",
    "UNIVARIATE_GAUSSIAN_KL",
    "GaussianPair",
    "random_gaussian_pair",
]

Matrix = tuple[tuple[float, ...], ...]


@dataclasses.dataclass(frozen=True)
class GaussianPair:
    """``q = N(mean_q, cov_q)`` and ``p = N(mean_p, cov_p)``, as plain tuples.

    >>> pair = GaussianPair((0.0,), ((1.0,),), (1.0,), ((2.0,),))
    >>> pair.describe()
    {'k': 1.0, 'mu_q[0]': 0.0, 'Sigma_q[0,0]': 1.0, 'mu_p[0]': 1.0, 'Sigma_p[0,0]': 2.0}
    """

    mean_q: tuple[float, ...]
    cov_q: Matrix
    mean_p: tuple[float, ...]
    cov_p: Matrix

    @property
    def dim(self) -> int:
        """``k``."""
        return len(self.mean_q)

    def describe(self) -> dict[str, float]:
        """Every mean entry and covariance lower triangle up to k = 3; summaries beyond."""
        out = {"k": float(self.dim)}
        if self.dim > 3:
            diff = [a - b for a, b in zip(self.mean_q, self.mean_p, strict=True)]
            out["|mu_q - mu_p|²"] = math.fsum(d * d for d in diff)
            out["tr Sigma_q"] = math.fsum(self.cov_q[i][i] for i in range(self.dim))
            out["tr Sigma_p"] = math.fsum(self.cov_p[i][i] for i in range(self.dim))
            return out
        for tag, mean, cov in (("q", self.mean_q, self.cov_q), ("p", self.mean_p, self.cov_p)):
            out |= {f"mu_{tag}[{i}]": float(v) for i, v in enumerate(mean)}
            for i in range(self.dim):
                for j in range(i + 1):
                    out[f"Sigma_{tag}[{i},{j}]"] = float(cov[i][j])
        return out


def random_gaussian_pair(k: int, seed: int) -> GaussianPair:
    """A reproducible pair in ``k`` dimensions, in pure Python (no numpy at import).

    Means have N(0, 0.5²) entries; each covariance is ``A Aᵀ / k + I / 2``
    with standard normal ``A`` (so well conditioned), all from
    ``random.Random(seed)``.

    >>> random_gaussian_pair(8, seed=1) == random_gaussian_pair(8, seed=1)
    True
    >>> random_gaussian_pair(8, seed=1).dim
    8
    """
    rng = random.Random(seed)

    def mean() -> tuple[float, ...]:
        return tuple(rng.gauss(0.0, 0.5) for _ in range(k))

    def cov() -> Matrix:
        a = [[rng.gauss(0.0, 1.0) for _ in range(k)] for _ in range(k)]
        return tuple(
            tuple(
                math.fsum(a[i][t] * a[j][t] for t in range(k)) / k + (0.5 if i == j else 0.0)
                for j in range(k)
            )
            for i in range(k)
        )

    mean_q, cov_q = mean(), cov()
    mean_p, cov_p = mean(), cov()
    return GaussianPair(mean_q, cov_q, mean_p, cov_p)


# ----------------------------------------------------------------------------- univariate


def _normal_kl(m1: float, s1: float, m2: float, s2: float) -> float:
    from elbo_check.models import normal_kl

    return float(normal_kl(m1, s1, m2, s2))


def _univariate_kl(point: Mapping[str, float]) -> float:
    return _normal_kl(point["m1"], point["s1"], point["m2"], point["s2"])


def _univariate_mc(point: Mapping[str, float], n: int, seed: int) -> MCEstimate:
    from scipy import stats

    from elbo_check.mc import kl_mc

    q, p = stats.norm(point["m1"], point["s1"]), stats.norm(point["m2"], point["s2"])
    return kl_mc(q, p, n, seed)


#: KL(N(m1, s1²) ‖ N(m2, s2²)): numpy closed form vs plain MC.
UNIVARIATE_GAUSSIAN_KL = (
    NumericCheck(
        name="KL(N(m1, s1²) ‖ N(m2, s2²))",
        closed_form=_univariate_kl,
        estimator=_univariate_mc,
        points=({"m1": 0.3, "s1": 0.7, "m2": -0.4, "s2": 1.3},),
        source="elbo_check.models.normal_kl",
    ),
)


def _standard_kl(point: Mapping[str, float]) -> float:
    return _normal_kl(point["mu"], point["sigma"], 0.0, 1.0)


def _standard_mc(point: Mapping[str, float], n: int, seed: int) -> MCEstimate:
    from scipy import stats

    from elbo_check.mc import kl_mc

    return kl_mc(stats.norm(point["mu"], point["sigma"]), stats.norm(), n, seed)


#: KL(N(mu, sigma²) ‖ N(0, 1)): numpy closed form vs plain MC.
STANDARD_PRIOR_GAUSSIAN_KL = (
    NumericCheck(
        name="KL(N(mu, sigma²) ‖ N(0, 1))",
        closed_form=_standard_kl,
        estimator=_standard_mc,
        points=({"mu": 0.8, "sigma": 0.45},),
        source="elbo_check.models.normal_kl",
    ),
)


# ----------------------------------------------------------------------------- diagonal


def _split(point: Mapping[str, float]) -> tuple[list[float], list[float]]:
    """``(mu_1..mu_d, sigma_1..sigma_d)`` from a point named ``mu1``, ``sigma1``, ..."""
    d = sum(1 for name in point if name.startswith("mu"))
    return [point[f"mu{j}"] for j in range(1, d + 1)], [point[f"sigma{j}"] for j in range(1, d + 1)]


def _diagonal_kl(point: Mapping[str, float]) -> float:
    mu, sigma = _split(point)
    return math.fsum(_normal_kl(m, s, 0.0, 1.0) for m, s in zip(mu, sigma, strict=True))


def _diagonal_mc(point: Mapping[str, float], n: int, seed: int) -> MCEstimate:
    from scipy import stats

    from elbo_check.mc import Independent, kl_mc

    mu, sigma = _split(point)
    q = Independent(*(stats.norm(m, s) for m, s in zip(mu, sigma, strict=True)))
    return kl_mc(q, Independent.iid(stats.norm(), len(mu)), n, seed)


#: KL(∏ N(mu_j, sigma_j²) ‖ N(0, I)) at d = 3: sum of numpy closed forms vs plain MC.
DIAGONAL_GAUSSIAN_KL = (
    NumericCheck(
        name="KL(∏ N(mu_j, sigma_j²) ‖ N(0, I)), d=3",
        closed_form=_diagonal_kl,
        estimator=_diagonal_mc,
        points=(
            {"mu1": 0.5, "mu2": -1.0, "mu3": 0.2, "sigma1": 0.6, "sigma2": 1.4, "sigma3": 0.9},
        ),
        source="sum of elbo_check.models.normal_kl",
    ),
)


# ----------------------------------------------------------------------------- full covariance


def _arrays(pair: GaussianPair) -> tuple[Any, Any, Any, Any]:
    import numpy as np

    return (
        np.array(pair.mean_q),
        np.array(pair.cov_q),
        np.array(pair.mean_p),
        np.array(pair.cov_p),
    )


def full_covariance_kl(pair: GaussianPair) -> float:
    """The numpy closed form :func:`elbo_check.models.mvn_kl` at ``pair``.

    >>> pair = GaussianPair((0.0, 0.0), ((1.0, 0.0), (0.0, 1.0)), (0.0, 0.0), ((1.0, 0.0), (0.0, 1.0)))
    >>> full_covariance_kl(pair)
    0.0
    """
    from elbo_check.models import mvn_kl

    return float(mvn_kl(*_arrays(pair)))


def _full_covariance_mc(pair: GaussianPair, n: int, seed: int) -> MCEstimate:
    from scipy import stats

    from elbo_check.mc import kl_mc

    mean_q, cov_q, mean_p, cov_p = _arrays(pair)
    return kl_mc(
        stats.multivariate_normal(mean_q, cov_q), stats.multivariate_normal(mean_p, cov_p), n, seed
    )


_FULL_K3 = GaussianPair(
    mean_q=(0.4, -0.3, 1.0),
    cov_q=((1.0, 0.3, -0.2), (0.3, 0.8, 0.1), (-0.2, 0.1, 0.5)),
    mean_p=(0.0, 0.2, 0.5),
    cov_p=((1.5, -0.4, 0.0), (-0.4, 1.0, 0.3), (0.0, 0.3, 1.2)),
)

#: KL(N(mu_q, Sigma_q) ‖ N(mu_p, Sigma_p)) at k = 3: numpy closed form vs plain MC.
FULL_COVARIANCE_GAUSSIAN_KL = (
    NumericCheck(
        name="KL(N(mu_q, Sigma_q) ‖ N(mu_p, Sigma_p)), k=3",
        closed_form=full_covariance_kl,
        estimator=_full_covariance_mc,
        points=(_FULL_K3,),
        source="elbo_check.models.mvn_kl",
    ),
)

#: The general-k closed form at k = 8 (two random, well-conditioned pairs) vs plain MC.
FULL_COVARIANCE_GAUSSIAN_KL_K8 = (
    NumericCheck(
        name="KL(N(mu_q, Sigma_q) ‖ N(mu_p, Sigma_p)), k=8",
        closed_form=full_covariance_kl,
        estimator=_full_covariance_mc,
        points=(random_gaussian_pair(8, seed=8), random_gaussian_pair(8, seed=9)),
        source="elbo_check.models.mvn_kl",
    ),
)
