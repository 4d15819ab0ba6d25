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
from typing import TYPE_CHECKING

import numpy as np

from elbo_check._validate._layout import Layout
from elbo_check._validate._mutants import Mutant, mutants
from elbo_check._validate._types import BugClass

if TYPE_CHECKING:
    from elbo_check._validate._fitted import Sampling

if TYPE_CHECKING:
    from elbo_check._validate._fitted import Sampling

__all__ = [
    "BUG_CLASSES",
    "Comparison",
    "Diagnosis",
    "Mutant",
    "compare",
    "diagnose",
    "explains",
    "match_mutants",
    "mutants",
]

#: every bug class, in the order of :class:`BugClass` (the JSON's stable strings)
BUG_CLASSES = tuple(b.value for b in BugClass)


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


def explains(
    layout: Layout, obs: np.ndarray, pred_e: np.ndarray, valid_e: np.ndarray, name: str, eps: float
) -> bool:
    """True when elementwise predictions ``pred_e`` explain ``obs`` under reduction ``name``."""
    return _explains(layout, obs, pred_e, valid_e, name, eps)


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
        if layout.family == "full" and what != "mu":
            # for matrices the extreme value is log|det Σ|/D: a scale, not an entry
            bad = sorted(
                {
                    _extreme_value(layout.batches[k], role, layout.family)
                    for k in failing
                    if labels[k] == f"extreme:{kind}"
                }
            )
            parts.append(f"{role} scaled by e^({', '.join(_fmt(x) for x in bad)}) per dimension")
            continue
        bad = _wrong_extremes(layout, cmp, role, kind)
        parts.append(f"{role} = {', '.join(_fmt(x) for x in bad)}")
    return Diagnosis(
        BugClass.CLAMPING,
        "silent clamping or clipping: the result is right for moderate inputs but wrong at "
        + "; ".join(parts)
        + " (a 'stability hack' such as clamp() or clip() of the inputs changes the KL)",
    )


def _wrong_extremes(layout: Layout, cmp: Comparison, role: str, kind: str) -> list[float]:
    """The extreme values of ``role`` inside the failing outputs of ``kind``'s batches only."""
    what, side = kind.split("_")
    v = layout.variant(layout.declared)
    labels = [b.label for b in layout.batches]
    canon = layout.c["mu_" + side] if what == "mu" else layout.c["lv_" + side]
    limit = 30.0 if what == "mu" else 15.0
    found: set[float] = set()
    for unit in np.flatnonzero(cmp.fail):
        if labels[int(v.unit_batch[unit])] != f"extreme:{kind}":
            continue
        els = np.flatnonzero(v.gid == unit)
        els = els[np.abs(canon[els]) >= limit - 1e-9]
        found.update(float(x) for x in layout.raw[role][els])
    return sorted(found)


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


def _fitted_or_paired(layout: Layout, outputs: list[np.ndarray], eps: float) -> Diagnosis | None:
    from elbo_check._validate._fitted import additive_constant, constant_factor, output_floor
    from elbo_check._validate._pairs import two_bugs

    obs_by: dict[str, np.ndarray] = {}
    for n in (layout.declared, *layout.variant_names()):
        obs = layout.flatten(outputs, n)
        if obs is not None and n not in obs_by:
            obs_by[n] = obs
    for check in (constant_factor, additive_constant, output_floor, two_bugs):
        found = check(layout, obs_by, eps)
        if found is not None:
            return found
    return None


def diagnose(
    layout: Layout,
    outputs: list[np.ndarray],
    cmp: Comparison | None,
    eps: float,
    dtype: str,
    sampling: Sampling | None = None,
) -> Diagnosis:
    """Name the bug behind failing outputs (``cmp`` is None when the shapes are wrong).

    ``sampling`` holds what extra calls showed about randomness (None: not probed).
    """
    from elbo_check._validate._fitted import monte_carlo

    found = _match(layout, outputs, eps)
    if found is not None:
        return found
    if sampling is not None and cmp is not None:
        mc = monte_carlo(layout, cmp.obs, sampling)
        if mc is not None:
            return mc
    found = _fitted_or_paired(layout, outputs, eps)
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
