"""Bugs with a fitted parameter: c·KL, KL + c·D + c0, max(KL, λ), and sampled estimates.

Each check fits its parameter to the observed outputs (least squares, or a
one-dimensional solve), then accepts only when the fitted model explains every
comparable output to the same tight tolerance the mutant models use.  The
parameter is reported as a fraction and named where it matches something
common: a β weight, 1/N, 1/D, a typical pixel count, ½·log 2π.

>>> _fraction(1 / 784)
'1/784'
>>> _name_factor(1 / 3072)
'1/3072: a division by 3072 = 32·32·3, a typical pixel count'
"""

from __future__ import annotations

import dataclasses
import math
from fractions import Fraction

import numpy as np

from elbo_check._validate._diagnose import Diagnosis, allowed_error
from elbo_check._validate._layout import Layout
from elbo_check._validate._types import BugClass

__all__ = ["Sampling", "additive_constant", "constant_factor", "monte_carlo", "output_floor"]

_PIXELS = {
    784: "28·28",
    1024: "32·32",
    3072: "32·32·3",
    4096: "64·64",
    12288: "64·64·3",
    16384: "128·128",
    49152: "128·128·3",
    65536: "256·256",
    196608: "256·256·3",
}
_PER_VARIANT = {
    "batchmean": "1/N (the batch size)",
    "mean": "1/(N·D) (the number of entries)",
    "sum_over_d": "1/D (the latent dimension)",
    "mean_d": "1/D (the latent dimension)",
    "mean_n": "1/N (the batch size)",
}
_CONSTANTS = {
    0.5 * math.log(2 * math.pi): "½·log 2π, a log-density constant",
    math.log(2 * math.pi): "log 2π",
    0.5 * (1 + math.log(2 * math.pi)): "½(1 + log 2π), the standard normal's entropy",
}


def _fraction(x: float) -> str:
    """``x`` as a short fraction when it is one, else in 4 significant digits."""
    f = Fraction(x).limit_denominator(1_000_000)
    if (
        f != 0
        and abs(float(f) - x) <= 1e-9 * abs(x)
        and (f.denominator <= 1000 or f.numerator == 1)
    ):
        return str(f.numerator) if f.denominator == 1 else f"{f.numerator}/{f.denominator}"
    return f"{x:.4g}"


def _name_factor(c: float) -> str:
    text = _fraction(c)
    inv = round(1 / c) if c else 0
    if inv in _PIXELS and abs(1 / c - inv) <= 1e-9 * inv:
        return f"{text}: a division by {inv} = {_PIXELS[inv]}, a typical pixel count"
    if c > 0:
        return f"{text} (a β weight, as in β-VAE or KL annealing)"
    return text


def _name_constant(c: float) -> str:
    text = _fraction(c)
    for value, name in _CONSTANTS.items():
        if abs(abs(c) - value) <= 1e-9 * value:
            return f"{'−' if c < 0 else ''}{name} ≈ {c:.4g}"
    return text


def _fits(
    layout: Layout, obs: np.ndarray, pred: np.ndarray, mag: np.ndarray, name: str, eps: float
) -> bool:
    """True when unit predictions ``pred`` (magnitudes ``mag``) explain ``obs`` under ``name``."""
    allowed, _ = allowed_error(layout, name, eps)
    tol = np.maximum(64.0 * (allowed + eps * (32.0 + layout.n_elements(name)) * mag), 1e-300)
    with np.errstate(all="ignore"):
        finite = np.isfinite(obs)
        ok_pred = np.isfinite(pred)
        if (~finite & ok_pred).any():
            return False
        comparable = finite & ok_pred
        if comparable.sum() < max(3, 0.2 * obs.size):
            return False
        return bool(np.all(np.abs(obs[comparable] - pred[comparable]) <= tol[comparable]))


def _other(layout: Layout, name: str) -> str:
    if name == layout.declared:
        return ""
    return (
        f" (applied to {layout.describe(name)}, while --reduction {layout.conv.reduction} "
        f"means {layout.describe(layout.declared)})"
    )


def constant_factor(layout: Layout, obs_by: dict[str, np.ndarray], eps: float) -> Diagnosis | None:
    """The output is c·KL under some reduction, with c ∉ {1, −1, 2, −2}."""
    for name, obs in obs_by.items():
        ref = layout.reduce(layout.ref, name)
        mag = layout.reduce(layout.terms, name)
        with np.errstate(all="ignore"):
            use = np.isfinite(obs) & np.isfinite(ref) & (np.abs(ref) > 1e-8 * mag)
            if use.sum() < 3:
                continue
            c = float(np.sum(obs[use] * ref[use]) / np.sum(ref[use] ** 2))
        if not math.isfinite(c) or c == 0:
            continue
        nice = Fraction(c).limit_denominator(1_000_000)
        if abs(float(nice) - c) <= 1e-9 * abs(c):
            c = float(nice)
        if any(abs(c - k) <= 1e-9 for k in (1.0, -1.0, 2.0, -2.0)) and name == layout.declared:
            continue
        if _fits(layout, obs, c * ref, abs(c) * mag, name, eps):
            extra = (
                f"; with the reduction, the factor is {_PER_VARIANT[name]} times {_fraction(c)}"
                if name in _PER_VARIANT
                else ""
            )
            return Diagnosis(
                BugClass.CONSTANT_FACTOR,
                f"constant factor: the output is c·KL(q‖p) with c = {_name_factor(c)}{_other(layout, name)}{extra}",
                None if name == layout.declared else name,
            )
    return None


def additive_constant(
    layout: Layout, obs_by: dict[str, np.ndarray], eps: float
) -> Diagnosis | None:
    """The output is KL + c·D + c0 (c per latent dimension, c0 per output)."""
    for name, obs in obs_by.items():
        ref = layout.reduce(layout.ref, name)
        w = layout.reduce(np.ones(layout.size), name)
        scale = layout.reduce(layout.terms, name) + w
        with np.errstate(all="ignore"):
            use = np.isfinite(obs) & np.isfinite(ref) & np.isfinite(scale)
            if use.sum() < 4:
                continue
            r = (obs[use] - ref[use]) / scale[use]  # weighted: rounding grows with the terms
            design = np.stack([w[use], np.ones(int(use.sum()))], axis=1) / scale[use, None]
            if np.ptp(w[use]) == 0:
                design = design[:, 1:]
            coef = np.linalg.lstsq(design, r, rcond=None)[0]
        c, c0 = (float(coef[0]), float(coef[1])) if coef.size == 2 else (0.0, float(coef[0]))
        c, c0 = (_snap(c), _snap(c0))
        if (c, c0) in ((0.0, 0.0), (0.5, 0.0)):  # right, or the known missing −1
            continue
        pred = ref + c * w + c0
        mag = layout.reduce(layout.terms, name) + abs(c) * w + abs(c0)
        if _fits(layout, obs, pred, mag, name, eps):
            what = f"c = {_name_constant(c)} per latent dimension" if c else ""
            what += (" and " if c and c0 else "") + (f"c0 = {_name_constant(c0)}" if c0 else "")
            return Diagnosis(
                BugClass.ADDITIVE_CONSTANT,
                f"additive constant: the output is KL(q‖p) + c·D + c0 with {what}{_other(layout, name)} "
                "(a constant dropped from one log-density, or a wrong ±1)",
                None if name == layout.declared else name,
            )
    return None


def _snap(x: float) -> float:
    for value in (0.0, *_CONSTANTS, *(-v for v in _CONSTANTS)):
        if abs(x - value) <= 1e-9 * max(1.0, abs(value)):
            return value
    nice = Fraction(x).limit_denominator(1000)
    return float(nice) if abs(float(nice) - x) <= 1e-9 * max(1.0, abs(x)) else x


def _solve_floor(layout: Layout, obs: np.ndarray, name: str, unit: int) -> float | None:
    """λ with reduce(max(KL_e, λ))[unit] = obs[unit], by bisection."""
    v = layout.variant(name)
    mask = v.gid == unit
    ref_e, w_e = layout.ref[mask], v.weight[mask]
    lo, hi = 0.0, float(obs[unit] / max(float(np.sum(w_e)), 1e-300)) + 1.0
    if not (math.isfinite(hi) and hi > 0):
        return None
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        if float(np.sum(w_e * np.maximum(ref_e, mid))) < obs[unit]:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def output_floor(layout: Layout, obs_by: dict[str, np.ndarray], eps: float) -> Diagnosis | None:
    """Free bits or nats: max(KL, λ) per output, or per latent dimension before reducing."""
    name = layout.declared
    obs = obs_by.get(name)
    if obs is None or layout.family != "diag":
        return None
    ref = layout.reduce(layout.ref, name)
    mag = layout.reduce(layout.terms, name)
    allowed, _ = allowed_error(layout, name, eps)
    with np.errstate(all="ignore"):
        above = np.isfinite(obs) & (obs > ref + 64 * allowed)
    if (
        above.sum() < 2
        or (obs[np.isfinite(obs)] < ref[np.isfinite(obs)] - 64 * allowed[np.isfinite(obs)]).any()
    ):
        return None
    lam = _snap(float(np.median(obs[above])))
    if lam > 0 and _fits(layout, obs, np.maximum(ref, lam), mag + lam, name, eps):
        return Diagnosis(
            BugClass.OUTPUT_FLOOR,
            f"output floor (free nats): the function returns max(KL, λ) per output with λ = {_fraction(lam)}; "
            "below λ the value (and its gradient) is not the KL",
        )
    unit = int(np.flatnonzero(above)[0])
    solved = _solve_floor(layout, obs, name, unit)
    if solved is None:
        return None
    lam = _snap(round(solved, 9))
    pred = layout.reduce(np.maximum(layout.ref, lam), name)
    if lam > 0 and _fits(layout, obs, pred, mag + lam * layout.n_elements(name), name, eps):
        return Diagnosis(
            BugClass.OUTPUT_FLOOR,
            f"output floor (free bits): each latent dimension's KL is replaced by max(KL_d, λ) with "
            f"λ = {_fraction(lam)} before the reduction; below λ the value (and its gradient) is not the KL",
        )
    return None


@dataclasses.dataclass(frozen=True)
class Sampling:
    """Signs of a sampled estimate, from extra calls.

    ``gap``: how far two calls on the same batch differ (None: identical).
    ``spread``: how far outputs for identical rows of one batch differ (None:
    identical, or not visible under a scalar reduction); then ``bias`` and
    ``se`` are the mean error over those rows and its standard error.
    """

    gap: float | None = None
    spread: float | None = None
    bias: float = math.nan
    se: float = math.nan
    rows: int = 0


def monte_carlo(layout: Layout, obs: np.ndarray, sampling: Sampling) -> Diagnosis | None:
    """A sampled estimate: random for identical inputs, or scattered over identical rows."""
    if sampling.gap is None and sampling.spread is None:
        return None
    if sampling.spread is not None:
        stats = (
            f"over {sampling.rows} identical rows its error has mean {sampling.bias:.3g} "
            f"± {sampling.se:.2g} (standard error)"
        )
        if sampling.gap is None:
            return Diagnosis(
                BugClass.MONTE_CARLO_ESTIMATE,
                f"Monte-Carlo estimate: identical rows of one batch get different values (up to "
                f"{sampling.spread:.3g} apart; a fixed seed makes the calls repeatable); {stats}: "
                "a sampled estimate, not the closed-form KL",
            )
        return Diagnosis(
            BugClass.MONTE_CARLO_ESTIMATE,
            f"Monte-Carlo estimate: the output is random for identical inputs (two calls on the same "
            f"batch differ by up to {sampling.gap:.3g}); {stats}: a sampled estimate, not the closed-form KL",
        )
    ref = layout.reduce(layout.ref, layout.declared)
    v = layout.variant(layout.declared)
    labels = np.array([b.label for b in layout.batches])
    ordinary = np.isin(labels[v.unit_batch], ["moderate", "random", "near", "equal", "single"])
    with np.errstate(all="ignore"):
        err = (obs - ref)[ordinary & np.isfinite(obs)]
    bias = float(np.mean(err)) if err.size else math.nan
    se = float(np.std(err, ddof=1) / math.sqrt(err.size)) if err.size > 1 else math.nan
    return Diagnosis(
        BugClass.MONTE_CARLO_ESTIMATE,
        f"Monte-Carlo estimate: the output is random for identical inputs (two calls on the same "
        f"batch differ by up to {sampling.gap:.3g}); its error has mean {bias:.3g} ± {se:.2g} "
        f"(standard error, over {err.size} outputs): a sampled estimate, not the closed-form KL",
    )
