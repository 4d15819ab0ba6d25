"""Numeric evidence for ``elbo-check prove --evidence``.

For each closed-form result the proof engine derives, :func:`collect_evidence`
evaluates the closed form at a fixed parameter point and compares it with an
independent Monte Carlo estimate (plain MC: it uses no closed form at all) by a
z-test.  Evidence is never a proof: a passing line does not upgrade a verdict,
and a failing line on a proved step means a bug in the checker.

False alarms
------------
All evidence lines of one run form one family: :data:`EVIDENCE_ALPHA` is the
family-wise false-alarm rate (``1e-7``), split by Bonferroni over the
:data:`EVIDENCE_LINES` lines that exist, so a correct closed form fails with
probability below ``1e-7`` per run.  Seeds are fixed, so runs are
deterministic anyway; the rate says how unlucky a fixed seed could be.

Closed forms
------------
The closed forms are the proof engine's own, evaluated numerically, whenever
the derivation modules import: ``gaussian-kl-univariate`` and
``gaussian-kl-standard-prior`` lambdify ``CLOSED_FORM`` (symbols ``M1, M2,
S1, S2`` and ``MU, SIGMA``, scales being standard deviations),
``gaussian-kl-diagonal`` lambdifies ``closed_form(3)`` (q diagonal, p the
standard normal), and ``gaussian-kl-full-covariance`` evaluates
``closed_form`` at numeric Cholesky factors.  Otherwise they fall back to the
numpy formulas of :mod:`elbo_check.models` and say so in
:attr:`EvidenceLine.source`.  ``elbo-decomposition`` is a statement about
abstract densities; its evidence uses the exact linear-Gaussian model of
:mod:`elbo_check.models`.

Resolution: plain MC with 2**18 draws resolves a relative error of about 1-2 %
of the KL (the critical ``|z|`` is about 5.7); symbolic slips such as a dropped
``1/2`` or a variance in place of a standard deviation are far larger.

>>> from elbo_check.evidence import collect_evidence
>>> [line.passed for line in collect_evidence("gaussian-kl-standard-prior")]
[True]
>>> collect_evidence("no-such-derivation")
[]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import scipy.stats

from elbo_check._library import submodule
from elbo_check.mc import Independent, MCEstimate, kl_mc, z_test
from elbo_check.models import LinearGaussianModel, mvn_kl, normal_kl

__all__ = [
    "EVIDENCE_ALPHA",
    "EVIDENCE_LINES",
    "EVIDENCE_SLUGS",
    "EvidenceLine",
    "collect_evidence",
]

#: Family-wise false-alarm rate of one ``prove --evidence`` run.
EVIDENCE_ALPHA = 1e-7

#: Slugs that carry numeric evidence, with their number of lines.
_LINES_PER_SLUG: dict[str, int] = {
    "gaussian-kl-univariate": 1,
    "gaussian-kl-standard-prior": 1,
    "gaussian-kl-diagonal": 1,
    "gaussian-kl-full-covariance": 1,
    "elbo-decomposition": 2,
}

#: The slugs :func:`collect_evidence` covers.
EVIDENCE_SLUGS = tuple(_LINES_PER_SLUG)

#: Total evidence lines in a run over all slugs: the Bonferroni divisor.
EVIDENCE_LINES = sum(_LINES_PER_SLUG.values())

# Draws per line: each line stays well under 0.5 s on a laptop core.
_N_DRAWS = 1 << 18


@dataclasses.dataclass(frozen=True)
class EvidenceLine:
    """One numeric check of a closed form against Monte Carlo.

    Attributes
    ----------
    name : str
        What is compared.
    point : dict of str to float
        The parameter point.
    closed_form : float
        The closed form at ``point``.
    estimate, se : float
        The Monte Carlo estimate and its standard error.
    z : float
        ``(estimate - closed_form) / se`` (SE floored at round-off).
    passed : bool
        ``|z|`` is within the critical value at ``alpha``.
    alpha : float
        The per-line false-alarm rate (Bonferroni share of :data:`EVIDENCE_ALPHA`).
    n : int
        Monte Carlo draws.
    seed : int
        Root seed of the draws.
    source : str
        Where the closed form came from (not part of :meth:`to_dict`).
    """

    name: str
    point: dict[str, float]
    closed_form: float
    estimate: float
    se: float
    z: float
    passed: bool
    alpha: float
    n: int
    seed: int
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: exactly the ten documented keys.

        >>> line = collect_evidence("gaussian-kl-univariate")[0]
        >>> sorted(line.to_dict())
        ['alpha', 'closed_form', 'estimate', 'n', 'name', 'passed', 'point', 'se', 'seed', 'z']
        """
        return {
            "name": self.name,
            "point": dict(self.point),
            "closed_form": self.closed_form,
            "estimate": self.estimate,
            "se": self.se,
            "z": self.z,
            "passed": self.passed,
            "alpha": self.alpha,
            "n": self.n,
            "seed": self.seed,
        }

    def format_text(self) -> str:
        """One line for the terminal.

        >>> line = EvidenceLine("KL", {"MU": 0.5}, 0.2, 0.2001, 0.001, 0.1, True, 1e-8, 1000, 0)
        >>> line.format_text()
        'KL at MU=0.5: closed form 0.2 vs MC 0.2001 ± 0.001 (n=1000, seed=0), z=+0.10, pass (α=1e-08)'
        """
        point = ", ".join(f"{k}={v:.6g}" for k, v in self.point.items())
        verdict = "pass" if self.passed else "FAIL"
        return (
            f"{self.name} at {point}: closed form {self.closed_form:.6g} vs MC "
            f"{self.estimate:.6g} ± {self.se:.2g} (n={self.n}, seed={self.seed}), "
            f"z={self.z:+.2f}, {verdict} (α={self.alpha:.2g})"
        )


def _line(
    name: str, point: Mapping[str, float], closed_form: float, est: MCEstimate, source: str
) -> EvidenceLine:
    """Run the z-test and package one line."""
    if math.isnan(closed_form):
        z, passed = math.nan, False
        alpha = EVIDENCE_ALPHA / EVIDENCE_LINES
    else:
        test = z_test(est, closed_form, alpha=EVIDENCE_ALPHA, n_tests=EVIDENCE_LINES)
        z, passed, alpha = test.z, test.passed, test.alpha_per_test
    return EvidenceLine(
        name=name,
        point={k: float(v) for k, v in point.items()},
        closed_form=float(closed_form),
        estimate=est.estimate,
        se=est.se,
        z=z,
        passed=passed,
        alpha=alpha,
        n=est.n,
        seed=est.seed,
        source=source,
    )


def _symbol(module: Any, expr: Any, name: str) -> Any:
    """The symbol ``name``: the module attribute if it is one, else by symbol name."""
    attr = getattr(module, name, None)
    if attr is not None and getattr(attr, "is_Symbol", False):
        return attr
    by_name = {s.name: s for s in expr.free_symbols}
    found = by_name.get(name, by_name.get(name.lower()))
    if found is None:
        import sympy as sp

        return sp.Symbol(name)
    return found


def _derivation_closed_form(
    module: str,
    names: tuple[str, ...],
    fallback: Callable[..., float],
    fallback_name: str,
    build: Callable[[Any], Any] | None = None,
) -> tuple[Callable[..., float], str]:
    """Lambdify the derivation's closed form in ``names`` if it imports, else ``fallback``.

    The expression is ``<module>.CLOSED_FORM``, or ``build(<module>)`` when
    given.  Symbols are the module attributes named ``names`` when present,
    else the expression's free symbols of those names.
    """
    what = f"{module}.CLOSED_FORM" if build is None else f"{module}.closed_form"
    try:
        mod = submodule(module)
        expr = mod.CLOSED_FORM if build is None else build(mod)
    except (ImportError, AttributeError) as exc:
        return fallback, f"{fallback_name} (numpy; {what} unavailable: {exc})"
    import sympy as sp

    symbols = [_symbol(mod, expr, n) for n in names]
    extra = sorted(s.name for s in expr.free_symbols - set(symbols))
    if extra:
        return fallback, f"{fallback_name} (numpy; {what} has unexpected symbols {extra})"
    fn = sp.lambdify(symbols, expr, modules="math")

    def evaluate(*args: float) -> float:
        try:
            value = complex(fn(*args))
        except (ArithmeticError, TypeError, ValueError):
            return math.nan
        return value.real if value.imag == 0.0 else math.nan

    return evaluate, f"{what} (lambdified)"


def _univariate(seed: int) -> list[EvidenceLine]:
    point = {"M1": 0.3, "S1": 0.7, "M2": -0.4, "S2": 1.3}
    fn, source = _derivation_closed_form(
        "derivations.gaussian_kl_univariate",
        ("M1", "M2", "S1", "S2"),
        lambda m1, m2, s1, s2: float(normal_kl(m1, s1, m2, s2)),
        "elbo_check.models.normal_kl",
    )
    closed = fn(point["M1"], point["M2"], point["S1"], point["S2"])
    q = scipy.stats.norm(point["M1"], point["S1"])
    p = scipy.stats.norm(point["M2"], point["S2"])
    est = kl_mc(q, p, _N_DRAWS, seed)
    return [_line("KL(N(M1, S1²) ‖ N(M2, S2²))", point, closed, est, source)]


def _standard_prior(seed: int) -> list[EvidenceLine]:
    point = {"MU": 0.8, "SIGMA": 0.45}
    fn, source = _derivation_closed_form(
        "derivations.gaussian_kl_standard_prior",
        ("MU", "SIGMA"),
        lambda mu, sigma: float(normal_kl(mu, sigma, 0.0, 1.0)),
        "elbo_check.models.normal_kl",
    )
    closed = fn(point["MU"], point["SIGMA"])
    est = kl_mc(scipy.stats.norm(point["MU"], point["SIGMA"]), scipy.stats.norm(), _N_DRAWS, seed)
    return [_line("KL(N(MU, SIGMA²) ‖ N(0, 1))", point, closed, est, source)]


_DIAG_NAMES = ("mu1", "mu2", "mu3", "sigma1", "sigma2", "sigma3")


def _diagonal(seed: int) -> list[EvidenceLine]:
    mu, sigma = (0.5, -1.0, 0.2), (0.6, 1.4, 0.9)
    fn, source = _derivation_closed_form(
        "derivations.gaussian_kl_diagonal",
        _DIAG_NAMES,
        lambda *a: math.fsum(float(normal_kl(a[j], a[3 + j], 0.0, 1.0)) for j in range(3)),
        "sum of elbo_check.models.normal_kl",
        build=lambda mod: mod.closed_form(3),
    )
    closed = fn(*mu, *sigma)
    point = dict(zip(_DIAG_NAMES, (*mu, *sigma), strict=True))
    q = Independent(*(scipy.stats.norm(m, s) for m, s in zip(mu, sigma, strict=True)))
    est = kl_mc(q, Independent.iid(scipy.stats.norm(), 3), _N_DRAWS, seed)
    return [_line("KL(∏ N(mu_j, sigma_j²) ‖ N(0, I)), d=3", point, closed, est, source)]


def _full_covariance_closed_form(
    mean_q: np.ndarray, cov_q: np.ndarray, mean_p: np.ndarray, cov_p: np.ndarray
) -> tuple[float, str]:
    """The derivation's ``closed_form`` at numeric Cholesky factors, else :func:`mvn_kl`."""
    module = "derivations.gaussian_kl_full_covariance"
    try:
        build = submodule(module).closed_form
    except (ImportError, AttributeError) as exc:
        value = mvn_kl(mean_q, cov_q, mean_p, cov_p)
        return value, f"elbo_check.models.mvn_kl (numpy; {module}.closed_form unavailable: {exc})"
    import sympy as sp

    args = [
        sp.Matrix(mean_q),
        sp.Matrix(np.linalg.cholesky(cov_q)),
        sp.Matrix(mean_p),
        sp.Matrix(np.linalg.cholesky(cov_p)),
    ]
    try:
        exact = complex(sp.N(build(*args), 30))
    except (ArithmeticError, TypeError, ValueError):
        return math.nan, f"{module}.closed_form (evaluation failed)"
    closed = exact.real if exact.imag == 0.0 else math.nan
    return closed, f"{module}.closed_form (evaluated at numeric Cholesky factors)"


def _full_covariance(seed: int) -> list[EvidenceLine]:
    mean_q = np.array([0.4, -0.3, 1.0])
    cov_q = np.array([[1.0, 0.3, -0.2], [0.3, 0.8, 0.1], [-0.2, 0.1, 0.5]])
    mean_p = np.array([0.0, 0.2, 0.5])
    cov_p = np.array([[1.5, -0.4, 0.0], [-0.4, 1.0, 0.3], [0.0, 0.3, 1.2]])
    closed, source = _full_covariance_closed_form(mean_q, cov_q, mean_p, cov_p)
    point = _gaussian_point("q", mean_q, cov_q) | _gaussian_point("p", mean_p, cov_p)
    q = scipy.stats.multivariate_normal(mean_q, cov_q)
    p = scipy.stats.multivariate_normal(mean_p, cov_p)
    est = kl_mc(q, p, _N_DRAWS, seed)
    return [_line("KL(N(mu_q, Sigma_q) ‖ N(mu_p, Sigma_p)), d=3", point, closed, est, source)]


def _gaussian_point(tag: str, mean: np.ndarray, cov: np.ndarray) -> dict[str, float]:
    """Mean entries and the lower triangle of the covariance, named."""
    out = {f"mu_{tag}[{i}]": float(v) for i, v in enumerate(mean)}
    for i in range(cov.shape[0]):
        for j in range(i + 1):
            out[f"Sigma_{tag}[{i},{j}]"] = float(cov[i, j])
    return out


def _elbo_decomposition(seed: int) -> list[EvidenceLine]:
    model_seed = 4
    model = LinearGaussianModel.random(latent_dim=3, obs_dim=6, seed=model_seed)
    x = model.sample(seed=model_seed + 1)[1]
    m = np.array([0.2, -0.5, 0.1])
    S = np.array([[0.5, 0.1, 0.0], [0.1, 0.3, -0.05], [0.0, -0.05, 0.4]])
    point = {
        "latent_dim": 3.0,
        "obs_dim": 6.0,
        "sigma": model.sigma,
        "model_seed": float(model_seed),
    } | _gaussian_point("q", m, S)
    elbo = model.elbo(x, m, S)
    log_px = model.log_marginal(x)
    source = "elbo_check.models.LinearGaussianModel (numpy closed forms)"
    elbo_est = model.elbo_mc(x, m, S, _N_DRAWS, seed)
    post_mean, post_cov = model.posterior(x)
    kl_est = kl_mc(
        scipy.stats.multivariate_normal(m, S),
        scipy.stats.multivariate_normal(post_mean, post_cov),
        _N_DRAWS,
        seed,
    )
    return [
        _line("ELBO(q), linear-Gaussian model: MC vs closed form", point, elbo, elbo_est, source),
        _line(
            "log p(x) − ELBO(q) vs MC KL(q ‖ p(z|x)), linear-Gaussian model",
            point,
            log_px - elbo,
            kl_est,
            source,
        ),
    ]


_COLLECTORS: dict[str, Callable[[int], list[EvidenceLine]]] = {
    "gaussian-kl-univariate": _univariate,
    "gaussian-kl-standard-prior": _standard_prior,
    "gaussian-kl-diagonal": _diagonal,
    "gaussian-kl-full-covariance": _full_covariance,
    "elbo-decomposition": _elbo_decomposition,
}


def collect_evidence(slug: str, *, seed: int = 0) -> list[EvidenceLine]:
    """Numeric evidence lines for the derivation ``slug`` (empty if it has none).

    Parameters
    ----------
    slug : str
        A derivation slug; see :data:`EVIDENCE_SLUGS`.
    seed : int
        Root seed of the Monte Carlo draws.

    Returns
    -------
    list of EvidenceLine

    >>> lines = collect_evidence("elbo-decomposition", seed=3)
    >>> [(line.passed, line.n, line.seed) for line in lines]
    [(True, 262144, 3), (True, 262144, 3)]
    """
    collector = _COLLECTORS.get(slug)
    if collector is None:
        return []
    return collector(seed)
