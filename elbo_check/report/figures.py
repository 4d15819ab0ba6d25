"""Evidence figures for ``elbo-check report --evidence``, made with matplotlib.

Three figures, each from the public numeric APIs with fixed seeds:

* ``mc-convergence``: :func:`elbo_check.mc.kl_mc` estimates of each closed-form
  Gaussian KL against the number of draws, with a ±2 SE band, converging on
  the closed form (:func:`elbo_check.kernel.gaussian_kl`,
  :func:`elbo_check.models.mvn_kl`);
* ``elbo-gap``: log p(x) − ELBO(q) in a :class:`~elbo_check.models.LinearGaussianModel`
  as q moves from the prior to the exact posterior;
* ``kl-contour``: KL(N(μ, σ²) ‖ N(0, 1)) over (μ, log σ²).

Output is deterministic: Agg backend, the default style with fixed rc
settings, ``svg.hashsalt`` fixed, no dates in the SVG or PDF metadata.

>>> fig = kl_contour_figure()
>>> fig.key, fig.svg.count("<svg") == 1, fig.pdf[:5]
('kl-contour', True, b'%PDF-')
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from elbo_check.report._model import Figure

__all__ = [
    "RC",
    "elbo_gap_figure",
    "evidence_figures",
    "kl_contour_figure",
    "mc_convergence_figure",
]

#: fixed matplotlib settings: the same bytes on every run
RC: dict[str, Any] = {
    "svg.hashsalt": "elbo-check-report",
    "svg.fonttype": "none",  # text stays text: searchable, selectable, small
    "pdf.fonttype": 42,
    "font.family": "DejaVu Sans",
    "font.size": 9.0,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "figure.dpi": 100.0,
    "savefig.bbox": "tight",
    "path.simplify": True,
}


@contextmanager
def _style() -> Iterator[Any]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.style

    with matplotlib.style.context("default"), matplotlib.rc_context(RC):  # type: ignore[arg-type]
        from matplotlib.figure import Figure as MplFigure

        yield MplFigure


def _save(fig: Any, key: str, title: str, caption: str) -> Figure:
    svg, pdf = io.StringIO(), io.BytesIO()
    fig.savefig(svg, format="svg", metadata={"Date": None})
    fig.savefig(pdf, format="pdf", metadata={"CreationDate": None, "ModDate": None})
    return Figure(key, title, caption, svg.getvalue(), pdf.getvalue())


def _mc_cases() -> list[tuple[str, Any, Any, float]]:
    """(label, q, p, closed form) for each closed-form KL of the library."""
    from scipy import stats

    from elbo_check.kernel import gaussian_kl
    from elbo_check.mc import Independent
    from elbo_check.models import mvn_kl

    mu, logvar = np.array([0.8, -0.5, 0.3]), np.array([-0.4, 0.6, 0.0])
    mu_p, logvar_p = 0.3, np.log(1.5**2)
    cov_q = np.array([[1.0, 0.4], [0.4, 0.7]])
    cov_p = np.array([[1.5, -0.3], [-0.3, 0.8]])
    mean_q, mean_p = np.array([0.5, -0.2]), np.array([0.0, 0.4])
    return [
        (
            "univariate: KL(N(0.8, 0.67²) ‖ N(0.3, 1.5²))",
            stats.norm(0.8, np.exp(-0.2)),
            stats.norm(mu_p, 1.5),
            float(gaussian_kl(0.8, -0.4, mu_p, logvar_p, reduction="sum")),
        ),
        (
            "standard prior: KL(N(0.8, 0.67²) ‖ N(0, 1))",
            stats.norm(0.8, np.exp(-0.2)),
            stats.norm(0.0, 1.0),
            float(gaussian_kl(0.8, -0.4, reduction="sum")),
        ),
        (
            "diagonal, k = 3, standard prior",
            Independent(*(stats.norm(m, np.exp(lv / 2)) for m, lv in zip(mu, logvar, strict=True))),
            Independent.iid(stats.norm(0.0, 1.0), 3),
            float(gaussian_kl(mu, logvar, reduction="sum")),
        ),
        (
            "full covariance, k = 2",
            stats.multivariate_normal(mean_q, cov_q),
            stats.multivariate_normal(mean_p, cov_p),
            float(mvn_kl(mean_q, cov_q, mean_p, cov_p)),
        ),
    ]


def mc_convergence_figure(seed: int = 0, max_log2_n: int = 16) -> Figure:
    """Plain MC estimates against sample size, ±2 SE, and the closed-form line."""
    from elbo_check.mc import kl_mc

    ns = [2**k for k in range(6, max_log2_n + 1)]
    with _style() as MplFigure:
        fig = MplFigure(figsize=(7.5, 5.2))
        axes = fig.subplots(2, 2, sharex=True).ravel()
        for ax, (label, q, p, exact) in zip(axes, _mc_cases(), strict=True):
            est = [kl_mc(q, p, n, seed=seed, progress=False) for n in ns]
            mean = np.array([e.estimate for e in est])
            se = np.array([e.se for e in est])
            ax.fill_between(ns, mean - 2 * se, mean + 2 * se, color="C0", alpha=0.25, lw=0,
                            label="±2 SE")  # fmt: skip
            ax.plot(ns, mean, "o-", color="C0", ms=3, lw=1, label="MC estimate")
            ax.axhline(exact, color="C3", lw=1.2, ls="--", label=f"closed form {exact:.4f}")
            ax.set_xscale("log", base=2)
            ax.set_title(label, fontsize=8.5)
            ax.set_ylabel("KL [nats]")
            ax.legend(fontsize=7, loc="upper right")
        for ax in axes[2:]:
            ax.set_xlabel("draws of q, n (log scale)")
        return _save(
            fig,
            "mc-convergence",
            "Monte Carlo estimates converge on the closed forms",
            f"Plain Monte Carlo estimate of each closed-form KL (elbo_check.mc.kl_mc, seed {seed}) "
            f"against the number of draws n = 2^6 … 2^{max_log2_n}; the band is ±2 standard errors "
            "and the dashed line is the closed form. Units: nats.",
        )


def elbo_gap_figure(seed: int = 0) -> Figure:
    """log p(x) − ELBO(q_t) as q_t moves from the prior (t = 0) to the posterior (t = 1)."""
    from elbo_check.models import LinearGaussianModel

    model = LinearGaussianModel.random(latent_dim=2, obs_dim=5, seed=seed)
    _, x = model.sample(seed)
    m_post, s_post = model.posterior(x)
    k = model.latent_dim
    log_px = model.log_marginal(x)

    def q_at(t: float) -> tuple[Any, Any]:
        return t * m_post, (1 - t) * np.eye(k) + t * s_post

    ts = np.linspace(0.0, 1.0, 41)
    gap = [log_px - model.elbo(x, *q_at(t)) for t in ts]
    kl = [model.kl_to_posterior(x, *q_at(t)) for t in ts]
    t_mc = np.linspace(0.0, 1.0, 6)
    mc = [model.elbo_mc(x, *q_at(t), n=4096, seed=seed) for t in t_mc]
    with _style() as MplFigure:
        fig = MplFigure(figsize=(6.4, 3.6))
        ax = fig.subplots()
        ax.plot(ts, gap, color="C0", lw=1.8, label="log p(x) − ELBO(q)  (closed form)")
        ax.plot(ts, kl, color="C3", lw=1, ls="--", label="KL(q ‖ p(z | x))  (closed form)")
        ax.errorbar(t_mc, [log_px - e.estimate for e in mc], yerr=[2 * e.se for e in mc],
                    fmt="o", color="k", ms=3.5, capsize=3, label="Monte Carlo, ±2 SE (n = 4096)")  # fmt: skip
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.set_xlabel("t: q = N(t·m*, (1 − t)·I + t·S*)   (0 = prior, 1 = exact posterior)")
        ax.set_ylabel("ELBO gap [nats]")
        ax.legend(fontsize=8)
        return _save(
            fig,
            "elbo-gap",
            "The ELBO gap closes at the posterior",
            "Linear-Gaussian model (elbo_check.models.LinearGaussianModel.random(2, 5, "
            f"seed={seed})): the gap log p(x) − ELBO(q) equals KL(q ‖ p(z | x)) for every q "
            "and reaches 0 when q is the exact posterior N(m*, S*). Units: nats.",
        )


def kl_contour_figure() -> Figure:
    """KL(N(μ, σ²) ‖ N(0, 1)) over (μ, log σ²), from the exact kernel."""
    from elbo_check.kernel import gaussian_kl

    mu = np.linspace(-3.0, 3.0, 121)
    logvar = np.linspace(-4.0, 3.0, 141)
    grid_mu, grid_lv = np.meshgrid(mu, logvar)
    kl = gaussian_kl(grid_mu, grid_lv, reduction="none")
    with _style() as MplFigure:
        fig = MplFigure(figsize=(6.0, 4.2))
        ax = fig.subplots()
        levels = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6]
        filled = ax.contourf(
            grid_mu, grid_lv, kl, levels=[0, *levels, 8], cmap="viridis", extend="max"
        )
        lines = ax.contour(grid_mu, grid_lv, kl, levels=levels, colors="white", linewidths=0.6)
        ax.clabel(lines, fmt="%g", fontsize=7)
        ax.grid(False)
        ax.plot([0], [0], marker="*", color="C3", ms=11, ls="none", label="minimum: q = N(0, 1)")
        ax.set_xlabel("μ  (mean of q)")
        ax.set_ylabel("log σ²  (log-variance of q)")
        ax.legend(fontsize=8, loc="lower right")
        fig.colorbar(filled, ax=ax, label="KL(q ‖ N(0, 1))  [nats]")
        return _save(
            fig,
            "kl-contour",
            "KL to the standard normal prior",
            "Contours of KL(N(μ, σ²) ‖ N(0, 1)) = (μ² + σ² − log σ² − 1)/2 over the VAE "
            "encoder's outputs (μ, log σ²), computed with elbo_check.kernel.gaussian_kl. "
            "Units: nats.",
        )


def evidence_figures(seed: int = 0) -> list[Figure]:
    """All three figures, in report order."""
    return [mc_convergence_figure(seed), elbo_gap_figure(seed), kl_contour_figure()]
