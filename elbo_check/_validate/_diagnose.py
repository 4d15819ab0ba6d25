"""Naming the bug: mutant models of the KL are matched against the observed outputs.

Each *mutant* is a known wrong formula (sign flip, missing ½, reversed
direction, σ used for σ², ...).  A mutant combined with a reduction variant
*explains* the outputs when it agrees with every comparable output to a tight
tolerance while the reference does not.  The simplest explanation wins: the
right formula with the wrong reduction, then one wrong formula, then a wrong
formula with a wrong reduction.  When no mutant explains the outputs, the
pattern of failures is read: failures only at extreme inputs mean clamping;
small errors everywhere mean precision loss; otherwise a generic message.

>>> from elbo_check._validate._diagnose import BUG_CLASSES
>>> "sign_flip" in BUG_CLASSES
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

__all__ = [
    "BUG_CLASSES",
    "Comparison",
    "Diagnosis",
    "Mutant",
    "compare",
    "diagnose",
    "match_mutants",
    "mutants",
]

#: every bug class, in the order of :class:`BugClass` (the JSON's stable strings)
BUG_CLASSES = tuple(b.value for b in BugClass)


@dataclasses.dataclass
class Mutant:
    """A wrong formula: elementwise prediction (and validity) from the layout."""

    key: str
    bug_class: BugClass
    message: str
    predict: Callable[[Layout], tuple[np.ndarray, np.ndarray]]


@dataclasses.dataclass
class Diagnosis:
    """The named bug: its class and a one-paragraph explanation."""

    bug_class: BugClass
    message: str
    #: the reduction variant under which the named formula explains the outputs,
    #: when it is not the declared one (a formula bug and a reduction bug at once)
    variant: str | None = None


@dataclasses.dataclass
class Comparison:
    """Observed vs reference for the declared reduction, per output unit."""

    obs: np.ndarray
    ref: np.ndarray
    allowed: np.ndarray
    terms: np.ndarray
    fail: np.ndarray
    rel: np.ndarray
    eps: float

    @property
    def ok(self) -> bool:
        """True when no unit fails."""
        return not bool(self.fail.any())


def allowed_error(layout: Layout, name: str, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-unit error allowance c·eps·terms (c grows with the summed count) and terms."""
    terms = layout.reduce(layout.terms, name)
    count = layout.n_elements(name)
    return eps * (32.0 + count) * terms, terms


def compare(layout: Layout, obs: np.ndarray, eps: float, name: str | None = None) -> Comparison:
    """Compare flattened observed units with the reference under reduction ``name``.

    ``name`` defaults to the declared reduction.
    """
    name = layout.declared if name is None else name
    ref = layout.reduce(layout.ref, name)
    allowed, terms = allowed_error(layout, name, eps)
    with np.errstate(all="ignore"):
        err = np.abs(obs - ref)
        fail = ~np.isfinite(obs) | ~(err <= allowed)
        rel = err / np.maximum(np.abs(ref), terms * eps)
    return Comparison(obs, ref, allowed, terms, fail, rel, eps)


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


# ---------------------------------------------------------------- matching


def _explains(
    layout: Layout, obs: np.ndarray, pred_e: np.ndarray, valid_e: np.ndarray, name: str, eps: float
) -> bool:
    # where the mutant overflows the dtype, the user's code returns inf or nan
    big = float(np.finfo(np.float32 if eps >= np.finfo(np.float32).eps else np.float64).max)
    with np.errstate(all="ignore"):
        valid_e = valid_e & (np.abs(pred_e) < 1e-3 * big)
    pred = layout.reduce(np.where(valid_e, pred_e, 0.0), name)
    valid = layout.count(~valid_e, name) == 0
    declared = layout.declared
    if layout.variant(name).shapes != layout.variant(declared).shapes:
        ref = np.full(obs.shape, np.inf)  # another shape: distinguishable by shape alone
    else:
        ref = layout.reduce(layout.ref, declared)
    allowed, _ = allowed_error(layout, name, eps)
    # the mutant's own magnitudes count too: its terms may dwarf the reference's
    own = (
        eps
        * (32.0 + layout.n_elements(name))
        * layout.reduce(np.abs(np.where(valid_e, pred_e, 0.0)), name)
    )
    tol = np.maximum(64.0 * (allowed + own), 1e-300)
    with np.errstate(all="ignore"):
        finite_obs = np.isfinite(obs)
        comparable = finite_obs & valid & np.isfinite(pred)
        unexplained = ~finite_obs & valid & np.isfinite(pred)
        if unexplained.any():
            return False
        if comparable.sum() < max(3, 0.2 * obs.size):
            return False
        if not np.all(np.abs(obs[comparable] - pred[comparable]) <= tol[comparable]):
            return False
        # the mutant must differ from the reference somewhere, or it explains nothing
        return bool(np.any(np.abs(pred[comparable] - ref[comparable]) > tol[comparable]))


def match_mutants(layout: Layout, outputs: list[np.ndarray], eps: float) -> Diagnosis | None:
    """The simplest known bug (with any reduction) that explains ``outputs``, or None."""
    return _match(layout, outputs, eps)


def _match(layout: Layout, outputs: list[np.ndarray], eps: float) -> Diagnosis | None:
    declared = layout.declared
    names = [n for n in layout.variant_names() if layout.flatten(outputs, n) is not None]
    obs_by = {n: layout.flatten(outputs, n) for n in names}
    every = np.ones(layout.size, dtype=bool)
    # 1. the right formula with the wrong reduction
    for n in names:
        if n == declared:
            continue
        obs = obs_by[n]
        assert obs is not None
        if _explains(layout, obs, layout.ref, every, n, eps):
            return Diagnosis(
                BugClass.WRONG_REDUCTION,
                f"wrong reduction: the function returns {layout.describe(n)}, but --reduction "
                f"{layout.conv.reduction} means {layout.describe(declared)}",
            )
    models = mutants(layout)
    predictions = [m.predict(layout) for m in models]
    # 2. one wrong formula, 3. a wrong formula and a wrong reduction
    ordered = ([declared] if declared in names else []) + [n for n in names if n != declared]
    for n in ordered:
        obs = obs_by[n]
        assert obs is not None
        for m, (pred, valid) in zip(models, predictions, strict=True):
            if _explains(layout, obs, pred, valid, n, eps):
                msg = m.message
                if n != declared:
                    msg += (
                        f"; also the reduction is {layout.describe(n)}, but --reduction "
                        f"{layout.conv.reduction} means {layout.describe(declared)}"
                    )
                return Diagnosis(m.bug_class, msg, None if n == declared else n)
    return None


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _clamping(layout: Layout, cmp: Comparison) -> Diagnosis | None:
    """Failures only in batches with one extreme entry (or wide draws): clamping."""
    v = layout.variant(layout.declared)
    if not np.isfinite(cmp.obs[cmp.fail]).all():
        return None  # clamping changes values; it does not produce nan or inf
    labels = [b.label for b in layout.batches]
    failing = set(v.unit_batch[cmp.fail].tolist())
    passing = set(range(len(labels))) - failing
    moderate = [k for k in range(len(labels)) if labels[k] in ("moderate", "random")]
    if not failing or not moderate or any(k in failing for k in moderate):
        return None
    if any(not (labels[k].startswith("extreme") or labels[k] == "wide") for k in failing):
        return None
    kinds = sorted({labels[k].split(":")[1] for k in failing if labels[k].startswith("extreme")})
    if not kinds:
        return None
    if layout.declared in ("none", "batch") and not _fails_at_extreme_entries(layout, cmp):
        return None
    conv = layout.conv
    parts = []
    for kind in kinds:
        what, side = kind.split("_")
        if what == "mu":
            role = next(r for r, s in zip(conv.roles, conv.slots, strict=True) if s == (side, "mu"))
        else:
            role = next(
                r
                for r, s in zip(conv.roles, conv.slots, strict=True)
                if s[0] == side and s[1] != "mu"
            )
        bad = sorted(
            _extreme_value(layout.batches[k], role, layout.family)
            for k in failing
            if labels[k] == f"extreme:{kind}"
        )
        good = sorted(
            _extreme_value(layout.batches[k], role, layout.family)
            for k in passing
            if labels[k] == f"extreme:{kind}"
        )
        where = ", ".join(_fmt(x) for x in bad)
        if layout.family == "full" and what != "mu":
            # for matrices the extreme value is log|det Σ|/D: a scale, not an entry
            parts.append(
                f"{role} scaled by e^({where}) per dimension"
                + (f" (but not by e^({', '.join(_fmt(x) for x in good)}))" if good else "")
            )
            continue
        parts.append(
            f"{role} = {where}"
            + (f" (but not at {', '.join(_fmt(x) for x in good)})" if good else "")
        )
    return Diagnosis(
        BugClass.CLAMPING,
        "silent clamping or clipping: the result is right for moderate inputs but wrong at "
        + "; ".join(parts)
        + " (a 'stability hack' such as clamp() or clip() of the inputs changes the KL)",
    )


def _fails_at_extreme_entries(layout: Layout, cmp: Comparison) -> bool:
    """Per element (or per row): do the failures sit where the extreme entries are?

    The designed extreme batches put their one extreme value at row 0, column 0
    (the many-dimension batch makes whole rows extreme).  A failure elsewhere in
    such a batch is not explained by clamping that extreme value.
    """
    v = layout.variant(layout.declared)
    units = np.flatnonzero(cmp.fail)
    elements = layout.unit_element(layout.declared)[units]
    row0 = np.cumsum([0] + [b.shape[0] for b in layout.batches])
    col0 = np.cumsum([0] + [b.shape[1] for b in layout.batches])
    for unit, el in zip(units, elements, strict=True):
        k = int(v.unit_batch[unit])
        b = layout.batches[k]
        if not b.label.startswith("extreme"):
            continue
        row = int(layout.e_row[el]) - int(row0[k])
        col = int(layout.e_col[el]) - int(col0[k])
        whole_rows = b.shape[1] > 8  # the many-dimension batch: every entry of a row
        if row != 0 and not whole_rows:
            return False
        if layout.declared == "none" and col != 0 and not whole_rows and layout.family == "diag":
            return False
    return True


def _extreme_value(batch: object, role: str, family: str) -> float:
    raw = batch.raw[role]  # type: ignore[attr-defined]
    if family == "full" and raw.ndim == 3:
        return float(np.log(abs(np.linalg.det(raw[0].astype(np.float64)))) / raw.shape[-1])
    return float(raw.reshape(-1)[0])


_DTYPES = (("bfloat16", 2.0**-8), ("float16", 2.0**-11), ("float32", 2.0**-24))


def _precision(layout: Layout, cmp: Comparison, eps: float, dtype: str) -> Diagnosis | None:
    v = layout.variant(layout.declared)
    labels = np.array([b.label for b in layout.batches])
    ordinary = np.isin(labels[v.unit_batch], ["moderate", "random", "equal", "near"])
    finite = np.isfinite(cmp.obs)
    sel = ordinary & finite
    if not (cmp.fail & sel).any():
        return None
    with np.errstate(all="ignore"):
        e = np.abs(cmp.obs - cmp.ref) / cmp.terms
    worst = float(np.max(e[sel]))
    if not worst <= 0.05:
        return None
    # name a dtype only when the error is the size its rounding makes (within a
    # factor 64 above its unit roundoff); a larger, systematic error is no rounding
    like = next((name for name, u in _DTYPES if u <= 1.5 * worst <= 96 * u), None)
    if like is None:
        return None
    extra = " It also overflows to inf or nan at extreme inputs." if (~finite).any() else ""
    return Diagnosis(
        BugClass.PRECISION_LOSS,
        f"precision loss: errors reach {worst:.2g} of the summed terms' magnitude, "
        f"{worst / eps:.2g} times {dtype}'s machine epsilon; consistent with computing in {like}.{extra}",
    )


def diagnose(
    layout: Layout, outputs: list[np.ndarray], cmp: Comparison | None, eps: float, dtype: str
) -> Diagnosis:
    """Name the bug behind failing outputs (``cmp`` is None when the shapes are wrong)."""
    found = _match(layout, outputs, eps)
    if found is not None:
        return found
    if cmp is None:
        v = layout.variant(layout.declared)
        k = next(i for i, (o, s) in enumerate(zip(outputs, v.shapes, strict=True)) if o.shape != s)
        b = layout.batches[k]
        inputs = f"(N, D) = {b.shape}"
        return Diagnosis(
            BugClass.WRONG_SHAPE,
            f"wrong shape: returns shape {tuple(outputs[k].shape)} for inputs with {inputs} and "
            f"--reduction {layout.conv.reduction}; expected {v.shapes[k]}",
        )
    for check in (_clamping(layout, cmp), _precision(layout, cmp, eps, dtype)):
        if check is not None:
            return check
    if (~np.isfinite(cmp.obs)).any():
        bad = int(np.sum(~np.isfinite(cmp.obs)))
        return Diagnosis(
            BugClass.NAN_OR_INF,
            f"returns nan or inf on valid input ({bad} of {cmp.obs.size} outputs); see the counterexample",
        )
    with np.errstate(all="ignore"):
        worst = float(np.max(cmp.rel[cmp.fail]))
    return Diagnosis(
        BugClass.WRONG_VALUE,
        f"does not match the reference KL(q‖p) and no known bug explains it; max relative error {worst:.3g}",
    )
