"""Known wrong formulas ("mutants") of the Gaussian KL, diagonal and full covariance.

Each :class:`Mutant` predicts, elementwise from a :class:`Layout`, what a
function with that bug returns (and where the prediction is valid).
:mod:`elbo_check._validate._diagnose` matches them against observed outputs.

>>> import numpy as np
>>> from elbo_check._validate._roles import parse_convention
>>> from elbo_check._validate._search import plan
>>> from elbo_check._validate._layout import Layout
>>> conv = parse_convention("mu,logvar", "batch")
>>> lay = Layout(conv, plan(conv, 10, np.random.default_rng(0), "float64"))
>>> "sign_flip" in [m.key for m in mutants(lay)]
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from elbo_check._validate._layout import Layout
from elbo_check._validate._reference import FullParts
from elbo_check._validate._roles import DIAG_SCALES
from elbo_check._validate._types import BugClass

__all__ = ["Mutant", "diag_kl_terms", "mutants"]


@dataclasses.dataclass
class Mutant:
    """A wrong formula: elementwise prediction (and validity) from the layout."""

    key: str
    bug_class: BugClass
    message: str
    predict: Callable[[Layout], tuple[np.ndarray, np.ndarray]]


# ---------------------------------------------------------------- diag mutants


def _k(mq: np.ndarray, lq: np.ndarray, mp: np.ndarray, lp: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return 0.5 * (lp - lq + (np.exp(lq) + (mq - mp) ** 2) * np.exp(-lp) - 1.0)


def _diag(fn: Callable[..., np.ndarray]) -> Callable[[Layout], tuple[np.ndarray, np.ndarray]]:
    def predict(lay: Layout) -> tuple[np.ndarray, np.ndarray]:
        c = lay.c
        with np.errstate(all="ignore"):
            out = fn(c["mu_q"], c["lv_q"], c["mu_p"], c["lv_p"])
        return out, np.isfinite(out)

    return predict


def _scale_as(lay: Layout, side: str, alt: str, squared: bool) -> np.ndarray:
    """Log-variance the function would use if it read ``side``'s scale argument as ``alt``."""
    role = next(
        r
        for r, (s, q) in zip(lay.conv.roles, lay.conv.slots, strict=True)
        if s == side and q != "mu"
    )
    v = lay.raw[role]
    with np.errstate(all="ignore"):
        if alt == "logvar":
            return v
        if alt == "logstd":
            return 2 * v
        if alt == "std":
            return np.log(v * v) if squared else 2 * np.log(v)
        return np.log(v)


def _role_confusion(
    side: str, given: str, alt: str, squared: bool
) -> Callable[[Layout], tuple[np.ndarray, np.ndarray]]:
    def predict(lay: Layout) -> tuple[np.ndarray, np.ndarray]:
        c = lay.c
        lv = _scale_as(lay, side, alt, squared)
        if side == "q":
            out = _k(c["mu_q"], lv, c["mu_p"], c["lv_p"])
        else:
            out = _k(c["mu_q"], c["lv_q"], c["mu_p"], lv)
        return out, np.isfinite(out)

    return predict


_SCALE_WORDS = {"logvar": "log σ²", "std": "σ", "var": "σ²", "logstd": "log σ"}


def _diag_mutants(lay: Layout) -> list[Mutant]:
    conv = lay.conv
    out = [
        Mutant(
            "sign_flip",
            BugClass.SIGN_FLIP,
            "sign flip: the function returns −KL(q‖p) (e.g. the VAE line without its leading minus)",
            _diag(lambda a, b, c, d: -_k(a, b, c, d)),
        ),
        Mutant(
            "missing_half",
            BugClass.MISSING_HALF,
            "missing ½: the function returns 2·KL(q‖p)",
            _diag(lambda a, b, c, d: 2 * _k(a, b, c, d)),
        ),
        Mutant(
            "sign_flip_half",
            BugClass.SIGN_FLIP,
            "sign flip and missing ½: the function returns −2·KL(q‖p) (e.g. sum(1 + logvar − mu² − exp(logvar)) without the −0.5)",
            _diag(lambda a, b, c, d: -2 * _k(a, b, c, d)),
        ),
        Mutant(
            "missing_constant",
            BugClass.MISSING_CONSTANT,
            "missing constant: the −1 in the sum is missing, so KL(p‖p) = ½ per dimension instead of 0",
            _diag(lambda a, b, c, d: _k(a, b, c, d) + 0.5),
        ),
        Mutant(
            "plus_mu2",
            BugClass.PLUS_MU_SQUARED,
            "+mu² instead of −mu²: the mean term (μq − μp)²/σp² enters with the wrong sign",
            _diag(lambda a, b, c, d: _k(a, b, c, d) - (a - c) ** 2 * np.exp(-d)),
        ),
        Mutant(
            "no_mu",
            BugClass.MISSING_MEAN_TERM,
            "missing mean term: (μq − μp)²/σp² is left out",
            _diag(lambda a, b, c, d: _k(a, b, c, d) - 0.5 * (a - c) ** 2 * np.exp(-d)),
        ),
        Mutant(
            "log_sign",
            BugClass.LOG_TERM_SIGN,
            "wrong sign of the log term: +log σq² where −log σq² is needed (log(σp²/σq²) is inverted)",
            _diag(lambda a, b, c, d: _k(a, b, c, d) - (d - b)),
        ),
        Mutant(
            "log_not_halved",
            BugClass.LOG_TERM_NOT_HALVED,
            "log term not halved: the function uses log σp² − log σq² where ½(log σp² − log σq²) "
            "is meant (e.g. `lv_p - lv_q` inside a sum that halves only the other terms)",
            _diag(lambda a, b, c, d: _k(a, b, c, d) + 0.5 * (d - b)),
        ),
        Mutant(
            "reversed",
            BugClass.REVERSED_KL,
            "reversed direction: the function computes KL(p‖q) instead of KL(q‖p)",
            _diag(lambda a, b, c, d: _k(c, d, a, b)),
        ),
        Mutant(
            "log_half",
            BugClass.SCALE_CONFUSION,
            "std/var confusion: the log term uses log σ where log σ² is needed (half the log-variance)",
            _diag(lambda a, b, c, d: _k(a, b, c, d) - 0.25 * (d - b)),
        ),
        Mutant(
            "var_as_std",
            BugClass.SCALE_CONFUSION,
            "std/var confusion: the variance term uses σ where σ² is needed (e.g. exp(0.5·logvar) in place of exp(logvar))",
            _diag(lambda a, b, c, d: _k(a, b, c, d) + 0.5 * (np.exp((b - d) / 2) - np.exp(b - d))),
        ),
        Mutant(
            "var_squared",
            BugClass.SCALE_CONFUSION,
            "std/var confusion: the variance term uses σ⁴ where σ² is needed (e.g. exp(logvar)² or var² in place of var)",
            _diag(lambda a, b, c, d: _k(a, b, c, d) + 0.5 * (np.exp(2 * (b - d)) - np.exp(b - d))),
        ),
    ]
    for side in ("q", "p"):
        given = conv.scale(side)
        if given is None:
            continue
        name = next(r for r, s in zip(conv.roles, conv.slots, strict=True) if s == (side, given))
        for alt in DIAG_SCALES:
            if alt == given:
                continue
            variants = [False, True] if alt == "std" else [False]
            for sq in variants:
                out.append(
                    Mutant(
                        f"role_{side}_{alt}{'_sq' if sq else ''}",
                        BugClass.SCALE_CONFUSION,
                        f"std/var/logvar/logstd confusion: the argument passed as {name!r} ({_SCALE_WORDS[given]}) is used as if it held {alt} ({_SCALE_WORDS[alt]})",
                        _role_confusion(side, given, alt, sq),
                    )
                )
    if conv.has_prior_mean:
        out.append(
            Mutant(
                "ignore_mu_p",
                BugClass.IGNORED_PRIOR_MEAN,
                "ignored prior mean: μp is treated as 0",
                _diag(lambda a, b, c, d: _k(a, b, 0.0 * c, d)),
            )
        )
    if conv.scale("p") is not None:
        out.append(
            Mutant(
                "ignore_var_p",
                BugClass.IGNORED_PRIOR_VARIANCE,
                "ignored prior variance: σp² is treated as 1",
                _diag(lambda a, b, c, d: _k(a, b, c, 0.0 * d)),
            )
        )
        out.append(
            Mutant(
                "mu_no_var_p",
                BugClass.IGNORED_PRIOR_VARIANCE,
                "ignored prior variance in the mean term: (μq − μp)² is not divided by σp²",
                _diag(lambda a, b, c, d: _k(a, b, c, d) + 0.5 * (a - c) ** 2 * (1 - np.exp(-d))),
            )
        )
        if conv.has_prior_mean:
            out.append(
                Mutant(
                    "ignore_p",
                    BugClass.IGNORED_PRIOR,
                    "ignored prior: the function computes KL(q‖N(0, 1)) and disregards μp and σp",
                    _diag(lambda a, b, c, d: _k(a, b, 0.0 * c, 0.0 * d)),
                )
            )
    for eps in (1e-10, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3):
        out.append(
            Mutant(
                f"log_eps_{eps:g}",
                BugClass.CLAMPING,
                f"silent clamping: an ε = {eps:g} is added to the variance inside the log (a 'stability hack' that changes the value for small variances)",
                _diag(
                    lambda a, b, c, d, e=eps: (
                        _k(a, np.log(np.exp(b) + e), c, d)
                        + 0.5 * (np.exp(b) - (np.exp(b) + e)) * np.exp(-d)
                    )
                ),
            )
        )
        out.append(
            Mutant(
                f"var_eps_{eps:g}",
                BugClass.CLAMPING,
                f"silent clamping: an ε = {eps:g} is added to the variance (a 'stability hack' that changes the value for small variances)",
                _diag(lambda a, b, c, d, e=eps: _k(a, np.log(np.exp(b) + e), c, d)),
            )
        )
    return out


# ---------------------------------------------------------------- full mutants


def _full(
    fn: Callable[[FullParts], np.ndarray],
) -> Callable[[Layout], tuple[np.ndarray, np.ndarray]]:
    def predict(lay: Layout) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(all="ignore"):
            out = np.concatenate([fn(p) for p in lay.parts]) if lay.parts else np.zeros(0)
        return out, np.isfinite(out)

    return predict


def _kl_from(cov_q: np.ndarray, cov_p: np.ndarray, diff: np.ndarray, d: int) -> np.ndarray:
    tr = FullParts.trace_inv(cov_p, cov_q)
    quad = FullParts.quad_inv(cov_p, diff)
    return 0.5 * (tr + quad - d + FullParts.logdet(cov_p) - FullParts.logdet(cov_q))


def _tt(m: np.ndarray) -> np.ndarray:
    return np.swapaxes(m, -1, -2)


def _full_mutants(lay: Layout) -> list[Mutant]:
    conv = lay.conv
    out = [
        Mutant(
            "sign_flip",
            BugClass.SIGN_FLIP,
            "sign flip: the function returns −KL(q‖p)",
            _full(lambda p: -p.kl()),
        ),
        Mutant(
            "missing_half",
            BugClass.MISSING_HALF,
            "missing ½: the function returns 2·KL(q‖p)",
            _full(lambda p: 2 * p.kl()),
        ),
        Mutant(
            "missing_constant",
            BugClass.MISSING_CONSTANT,
            "missing constant: the −D (the dimension) is missing, so KL(p‖p) = D/2 instead of 0",
            _full(lambda p: p.kl() + p.d / 2),
        ),
        Mutant(
            "reversed",
            BugClass.REVERSED_KL,
            "reversed direction: the function computes KL(p‖q) instead of KL(q‖p)",
            _full(lambda p: _kl_from(p.cov_p, p.cov_q, p.diff, p.d)),
        ),
        Mutant(
            "swapped_trace",
            BugClass.SWAPPED_TRACE,
            "swapped trace: tr(Σq⁻¹Σp) is used where tr(Σp⁻¹Σq) is needed",
            _full(lambda p: p.kl() + 0.5 * (p.trace_inv(p.cov_q, p.cov_p) - p.tr)),
        ),
        Mutant(
            "logdet_no_half",
            BugClass.LOGDET_WITHOUT_HALF,
            "log-det term without its ½: log det Σp − log det Σq enters with weight 1 instead of ½",
            _full(lambda p: p.kl() + 0.5 * (p.ld_p - p.ld_q)),
        ),
        Mutant(
            "logdet_sign",
            BugClass.LOG_TERM_SIGN,
            "wrong sign of the log-det term: log det Σq − log det Σp where log det Σp − log det Σq is needed",
            _full(lambda p: p.kl() - (p.ld_p - p.ld_q)),
        ),
        Mutant(
            "no_mu",
            BugClass.MISSING_MEAN_TERM,
            "missing mean term: (μq − μp)ᵀΣp⁻¹(μq − μp) is left out",
            _full(lambda p: p.kl() - 0.5 * p.quad),
        ),
        Mutant(
            "inverted_trace",
            BugClass.INVERTED_MATRIX,
            "inverted matrix: the trace uses Σp Σq where Σp⁻¹ Σq is needed",
            _full(
                lambda p: p.kl() + 0.5 * (np.trace(p.cov_p @ p.cov_q, axis1=-2, axis2=-1) - p.tr)
            ),
        ),
        Mutant(
            "inverted_quad",
            BugClass.INVERTED_MATRIX,
            "inverted matrix: the mean term uses Σp where Σp⁻¹ is needed",
            _full(
                lambda p: (
                    p.kl() + 0.5 * (np.einsum("ni,nij,nj->n", p.diff, p.cov_p, p.diff) - p.quad)
                )
            ),
        ),
        Mutant(
            "inverted_both",
            BugClass.INVERTED_MATRIX,
            "inverted matrix: Σp is used where Σp⁻¹ is needed (in the trace and the mean term)",
            _full(
                lambda p: (
                    p.kl()
                    + 0.5
                    * (
                        np.trace(p.cov_p @ p.cov_q, axis1=-2, axis2=-1)
                        - p.tr
                        + np.einsum("ni,nij,nj->n", p.diff, p.cov_p, p.diff)
                        - p.quad
                    )
                )
            ),
        ),
    ]

    def jittered(e: float, on_q: float, on_p: float) -> Callable[[FullParts], np.ndarray]:
        def kl(p: FullParts) -> np.ndarray:
            eye = np.eye(p.d)
            return _kl_from(p.cov_q + e * on_q * eye, p.cov_p + e * on_p * eye, p.diff, p.d)

        return kl

    for eps in (1e-10, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3):
        for where, on_q, on_p in (("both", 1.0, 1.0), ("q", 1.0, 0.0), ("p", 0.0, 1.0)):
            out.append(
                Mutant(
                    f"jitter_{where}_{eps:g}",
                    BugClass.CLAMPING,
                    f"silent clamping: a jitter ε·I with ε = {eps:g} is added to "
                    + {"both": "both covariances", "q": "Σq", "p": "Σp"}[where]
                    + " (a 'stability hack' that changes the value for small covariances)",
                    _full(jittered(eps, on_q, on_p)),
                )
            )
    for side in ("q", "p"):
        scale = conv.scale(side)
        if scale == "scale_tril":
            other = "p" if side == "q" else "q"

            def transposed(p: FullParts, s: str = side, o: str = other) -> np.ndarray:
                lower = getattr(p, f"L_{s}")
                covs = {s: _tt(lower) @ lower, o: getattr(p, f"cov_{o}")}
                return _kl_from(covs["q"], covs["p"], p.diff, p.d)

            def as_cov(p: FullParts, s: str = side, o: str = other) -> np.ndarray:
                covs = {s: getattr(p, f"L_{s}"), o: getattr(p, f"cov_{o}")}
                return _kl_from(covs["q"], covs["p"], p.diff, p.d)

            out.append(
                Mutant(
                    f"transposed_{side}",
                    BugClass.TRANSPOSED_MATRIX,
                    f"transposed matrix: Σ{side} is built as LᵀL from scale_tril_{side} where L Lᵀ is needed",
                    _full(transposed),
                )
            )
            out.append(
                Mutant(
                    f"tril_as_cov_{side}",
                    BugClass.SCALE_CONFUSION,
                    f"scale/covariance confusion: scale_tril_{side} (L) is used as if it were the covariance",
                    _full(as_cov),
                )
            )
        elif scale == "cov":
            other = "p" if side == "q" else "q"

            def cov_as_tril(p: FullParts, s: str = side, o: str = other) -> np.ndarray:
                cov = getattr(p, f"cov_{s}")
                covs = {s: cov @ _tt(cov), o: getattr(p, f"cov_{o}")}
                return _kl_from(covs["q"], covs["p"], p.diff, p.d)

            out.append(
                Mutant(
                    f"cov_as_tril_{side}",
                    BugClass.SCALE_CONFUSION,
                    f"scale/covariance confusion: cov_{side} is used as if it were a scale factor (Σ Σᵀ)",
                    _full(cov_as_tril),
                )
            )
    if conv.scale("q") == "scale_tril" and conv.scale("p") == "scale_tril":

        def transposed_both(p: FullParts) -> np.ndarray:
            return _kl_from(_tt(p.L_q) @ p.L_q, _tt(p.L_p) @ p.L_p, p.diff, p.d)

        out.append(
            Mutant(
                "transposed_both",
                BugClass.TRANSPOSED_MATRIX,
                "transposed matrices: both covariances are built as LᵀL where L Lᵀ is needed",
                _full(transposed_both),
            )
        )
    if conv.has_prior_mean:
        out.append(
            Mutant(
                "ignore_mu_p",
                BugClass.IGNORED_PRIOR_MEAN,
                "ignored prior mean: μp is treated as 0",
                _full(lambda p: p.kl() + 0.5 * (p.quad_inv(p.cov_p, p.mu_q) - p.quad)),
            )
        )
    if conv.scale("p") is not None:
        out.append(
            Mutant(
                "ignore_cov_p",
                BugClass.IGNORED_PRIOR_VARIANCE,
                "ignored prior covariance: Σp is treated as the identity",
                _full(
                    lambda p: _kl_from(
                        p.cov_q, np.broadcast_to(np.eye(p.d), p.cov_q.shape), p.diff, p.d
                    )
                ),
            )
        )
    return out


def mutants(layout: Layout) -> list[Mutant]:
    """The mutant models that apply to the layout's convention."""
    return _diag_mutants(layout) if layout.family == "diag" else _full_mutants(layout)


def diag_kl_terms(mq: np.ndarray, lq: np.ndarray, mp: np.ndarray, lp: np.ndarray) -> np.ndarray:
    """The textbook elementwise KL (no care for cancellation), for composing mutants."""
    return _k(mq, lq, mp, lp)
