"""Evidence records for the ELBO identities and bounds, on the exact linear-Gaussian model.

In :class:`elbo_check.models.LinearGaussianModel` (``p(z) = N(0, I)``,
``p(x|z) = N(Wz + b, σ²I)``) the marginal ``log p(x)``, the posterior and the
ELBO of a Gaussian ``q`` are exact, so Monte Carlo can be checked against them:

* :data:`ELBO_DECOMPOSITION`: the MC ELBO against its closed form, and
  ``log p(x) − ELBO(q)`` against the MC estimate of ``KL(q ‖ p(z|x))``;
* :data:`IWAE_ORDERING`: ``log p(x) ≥ IWAE_2 ≥ ELBO(q)``, where
  ``IWAE_2 = E[log ½(w1 + w2)]`` with ``w = p(x, z)/q(z)`` and ``z1, z2 ~ q``
  independent, is estimated by MC and tested one-sided against both exact
  bounds.

>>> from elbo_check.evidence import run_checks
>>> [line.passed for line in run_checks(IWAE_ORDERING[:1])]
[True, True]
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from elbo_check.evidence._records import NumericCheck, Relation

if TYPE_CHECKING:
    from elbo_check.mc import MCEstimate
    from elbo_check.models import LinearGaussianModel

__all__ = ["ELBO_DECOMPOSITION", "IWAE_ORDERING", "IwaeSetup", "LinearGaussianSetup", "iwae_mc"]

_SOURCE = "elbo_check.models.LinearGaussianModel (numpy closed forms)"


def _model(latent_dim: int, obs_dim: int, model_seed: int) -> tuple[LinearGaussianModel, Any]:
    """The random model of that seed and one observation drawn from it (seed + 1)."""
    from elbo_check.models import LinearGaussianModel

    model = LinearGaussianModel.random(latent_dim=latent_dim, obs_dim=obs_dim, seed=model_seed)
    return model, model.sample(seed=model_seed + 1)[1]


@dataclasses.dataclass(frozen=True)
class LinearGaussianSetup:
    """A random linear-Gaussian model, one observation ``x``, and ``q = N(q_mean, q_cov)``."""

    latent_dim: int
    obs_dim: int
    model_seed: int
    q_mean: tuple[float, ...]
    q_cov: tuple[tuple[float, ...], ...]

    def build(self) -> tuple[LinearGaussianModel, Any, Any, Any]:
        """``(model, x, m, S)`` as numpy objects."""
        import numpy as np

        model, x = _model(self.latent_dim, self.obs_dim, self.model_seed)
        return model, x, np.array(self.q_mean), np.array(self.q_cov)

    def describe(self) -> dict[str, float]:
        """Dimensions, the model seed, and q's mean and covariance lower triangle."""
        model, _, _, _ = self.build()
        out = {
            "latent_dim": float(self.latent_dim),
            "obs_dim": float(self.obs_dim),
            "sigma": model.sigma,
            "model_seed": float(self.model_seed),
        }
        out |= {f"mu_q[{i}]": float(v) for i, v in enumerate(self.q_mean)}
        for i in range(self.latent_dim):
            for j in range(i + 1):
                out[f"Sigma_q[{i},{j}]"] = float(self.q_cov[i][j])
        return out


def _elbo(setup: LinearGaussianSetup) -> float:
    model, x, m, S = setup.build()
    return model.elbo(x, m, S)


def _elbo_mc(setup: LinearGaussianSetup, n: int, seed: int) -> MCEstimate:
    model, x, m, S = setup.build()
    return model.elbo_mc(x, m, S, n, seed)


def _gap(setup: LinearGaussianSetup) -> float:
    model, x, m, S = setup.build()
    return model.log_marginal(x) - model.elbo(x, m, S)


def _kl_to_posterior_mc(setup: LinearGaussianSetup, n: int, seed: int) -> MCEstimate:
    from scipy import stats

    from elbo_check.mc import kl_mc

    model, x, m, S = setup.build()
    post_mean, post_cov = model.posterior(x)
    q, posterior = stats.multivariate_normal(m, S), stats.multivariate_normal(post_mean, post_cov)
    return kl_mc(q, posterior, n, seed)


_DECOMPOSITION_SETUP = LinearGaussianSetup(
    latent_dim=3,
    obs_dim=6,
    model_seed=4,
    q_mean=(0.2, -0.5, 0.1),
    q_cov=((0.5, 0.1, 0.0), (0.1, 0.3, -0.05), (0.0, -0.05, 0.4)),
)

#: log p(x) = ELBO(q) + KL(q ‖ p(z|x)) on the linear-Gaussian model: two lines.
ELBO_DECOMPOSITION = (
    NumericCheck(
        name="ELBO(q), linear-Gaussian model: MC vs closed form",
        closed_form=_elbo,
        estimator=_elbo_mc,
        points=(_DECOMPOSITION_SETUP,),
        source=_SOURCE,
    ),
    NumericCheck(
        name="log p(x) − ELBO(q) vs MC KL(q ‖ p(z|x)), linear-Gaussian model",
        closed_form=_gap,
        estimator=_kl_to_posterior_mc,
        points=(_DECOMPOSITION_SETUP,),
        source=_SOURCE,
    ),
)


# ----------------------------------------------------------------------------- IWAE


@dataclasses.dataclass(frozen=True)
class IwaeSetup:
    """A random linear-Gaussian model, ``x``, and ``q = N(μ_post + shift·1, scale·Σ_post)``.

    ``q`` is placed relative to the exact posterior so that both gaps of
    ``log p(x) ≥ IWAE_2 ≥ ELBO`` are positive and resolved by the Monte Carlo.
    """

    latent_dim: int
    obs_dim: int
    model_seed: int
    mean_shift: float
    cov_scale: float

    def build(self) -> tuple[LinearGaussianModel, Any, Any, Any]:
        """``(model, x, m, S)`` as numpy objects."""
        model, x = _model(self.latent_dim, self.obs_dim, self.model_seed)
        post_mean, post_cov = model.posterior(x)
        return model, x, post_mean + self.mean_shift, self.cov_scale * post_cov

    def describe(self) -> dict[str, float]:
        """The numbers that define the setup."""
        return {f.name: float(getattr(self, f.name)) for f in dataclasses.fields(self)}


def iwae_mc(
    model: LinearGaussianModel, x: Any, m: Any, S: Any, samples: int, n: int, seed: int
) -> MCEstimate:
    """Monte Carlo ``IWAE_K = E[log (1/K) Σ_j p(x, z_j)/q(z_j)]``, ``z_j ~ q = N(m, S)`` iid.

    One draw is ``K`` independent draws of ``q``: a sample of
    ``N((m, ..., m), diag(S, ..., S))`` in ``K·k`` dimensions.

    >>> from elbo_check.models import LinearGaussianModel
    >>> model = LinearGaussianModel.random(latent_dim=2, obs_dim=3, seed=0)
    >>> x = model.sample(seed=1)[1]
    >>> m, S = model.posterior(x)
    >>> est = iwae_mc(model, x, m, S, samples=2, n=1000, seed=0)  # q = posterior: w = p(x)
    >>> abs(est.estimate - model.log_marginal(x)) < 1e-9
    True
    """
    import numpy as np
    import scipy.linalg
    from scipy import stats
    from scipy.special import logsumexp

    from elbo_check.mc import expectation_mc

    k = model.latent_dim
    mean, cov = np.asarray(m, dtype=float), np.asarray(S, dtype=float)
    q = stats.multivariate_normal(mean, cov)
    stacked = stats.multivariate_normal(
        np.tile(mean, samples), scipy.linalg.block_diag(*[cov] * samples)
    )

    def log_mean_weight(zz: Any) -> Any:
        parts = np.asarray(zz).reshape(-1, samples, k)
        log_w = np.stack(
            [model.log_joint(x, parts[:, j]) - q.logpdf(parts[:, j]) for j in range(samples)],
            axis=1,
        )
        return logsumexp(log_w, axis=1) - np.log(samples)

    return expectation_mc(log_mean_weight, stacked, n, seed)


def _iwae2_mc(setup: IwaeSetup, n: int, seed: int) -> MCEstimate:
    model, x, m, S = setup.build()
    return iwae_mc(model, x, m, S, 2, n, seed)


def _log_marginal(setup: IwaeSetup) -> float:
    model, x, _, _ = setup.build()
    return model.log_marginal(x)


def _iwae_elbo(setup: IwaeSetup) -> float:
    model, x, m, S = setup.build()
    return model.elbo(x, m, S)


# The gaps are hundreds of standard errors wide at 2**16 draws: more buys nothing.
_IWAE_DRAWS = 1 << 16

_IWAE_SETUPS = (
    IwaeSetup(latent_dim=2, obs_dim=5, model_seed=7, mean_shift=0.6, cov_scale=1.8),
    IwaeSetup(latent_dim=3, obs_dim=6, model_seed=11, mean_shift=-0.4, cov_scale=0.5),
)

#: log p(x) ≥ IWAE_2 ≥ ELBO(q) on the linear-Gaussian model: IWAE_2 by MC, both bounds exact.
IWAE_ORDERING = (
    NumericCheck(
        name="IWAE_2 ≤ log p(x), linear-Gaussian model",
        closed_form=_log_marginal,
        estimator=_iwae2_mc,
        points=_IWAE_SETUPS,
        draws=_IWAE_DRAWS,
        relation=Relation.AT_MOST,
        source="elbo_check.models.LinearGaussianModel.log_marginal (exact)",
    ),
    NumericCheck(
        name="IWAE_2 ≥ ELBO(q), linear-Gaussian model",
        closed_form=_iwae_elbo,
        estimator=_iwae2_mc,
        points=_IWAE_SETUPS,
        draws=_IWAE_DRAWS,
        relation=Relation.AT_LEAST,
        source="elbo_check.models.LinearGaussianModel.elbo (exact)",
    ),
)
