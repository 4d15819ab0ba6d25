"""Naming the bug of a wrong Bernoulli or Categorical KL: mutants, fits and rules.

A *mutant* is a known wrong formula, evaluated per latent unit on the same
batches.  It explains the outputs under a reduction variant when every output
is within tolerance of it, and the outputs are nan or inf exactly where the
mutant's are.  The search goes: the right formula under another reduction,
then each mutant under the declared reduction, then under every other one;
then the fits (an ε that biases, a constant factor); then the rules (nan only
where a probability is exactly 0 or 1: ``log_zero_nan``; wrong only at
extreme inputs: ``clamping``).

>>> from elbo_check._validate._discrete_conv import parse_discrete
>>> [m.name for m in mutants(parse_discrete("logits_q", "sum", "N K"))][:3]
['sign flip', 'reversed KL', 'missing log K']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from elbo_check._validate._diagnose import Diagnosis
from elbo_check._validate._discrete_conv import CLASS_AXIS, DiscreteConvention
from elbo_check._validate._discrete_judge import canonical, describe, judge, variant_shape, variants
from elbo_check._validate._discrete_plan import DBatch
from elbo_check._validate._discrete_ref import (
    EPS_ALLOWED,
    EPS_FORMS,
    class_log_probs,
    eps_form,
    kl_units,
)
from elbo_check._validate._types import BugClass

__all__ = ["Mutant", "diagnose", "mutants"]

Units = Callable[[DBatch], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Mutant:
    """A known wrong formula: its name, bug class, message and per-unit values."""

    name: str
    bug_class: BugClass
    message: str
    units: Units


def _naive(q: np.ndarray, p: np.ndarray, xlogy: bool) -> np.ndarray:
    with np.errstate(all="ignore"):
        terms = q * np.log(q / p)  # the ratio form: two negative "probabilities" give a number
        return np.sum(np.where(q == 0, 0.0, terms) if xlogy else terms, axis=-1)


def _read_as_probs(conv: DiscreteConvention, b: DBatch, side: str) -> np.ndarray:
    role = conv.role(side)
    assert role is not None
    x = b.raw[role].astype(np.float64).reshape(b.n, b.d, -1)
    return x if conv.categorical else np.concatenate([x, 1.0 - x], axis=-1)


def _swap(conv: DiscreteConvention, sides: tuple[str, ...], xlogy: bool = False) -> Units:
    """The KL with the raw arrays of ``sides`` read as the other parametrisation."""

    def units(b: DBatch) -> np.ndarray:
        probs = {"q": (b.lq, b.q), "p": (b.lp, b.p)}
        naive = False
        for side in sides:
            role = conv.role(side)
            assert role is not None
            if conv.side(side) == "logits":  # logits used as probabilities
                x = _read_as_probs(conv, b, side)
                with np.errstate(all="ignore"):
                    probs[side] = (np.log(x), x)
                naive = True
            else:
                probs[side] = class_log_probs("logits", b.raw[role], conv.categorical)
        (lq, q), (lp, p) = probs["q"], probs["p"]
        return _naive(q, p, xlogy) if naive else kl_units(q, lq, lp)

    return units


def _wrong_axis(conv: DiscreteConvention, side: str, axis: str) -> Units:
    """The KL with a log-softmax over ``axis`` of ``side``'s array instead of K."""

    def units(b: DBatch) -> np.ndarray:
        role = conv.role(side)
        assert role is not None
        x = b.raw[role].astype(np.float64)
        axes = conv.internal_axes()
        if "N" not in conv.layout_of(role).axes:
            x, axes = x[0], axes[1:]
        a = axes.index(axis)
        with np.errstate(all="ignore"):
            m = np.max(x, axis=a, keepdims=True)
            lx = x - m - np.log(np.sum(np.exp(x - m), axis=a, keepdims=True))
        if len(axes) < len(conv.internal_axes()):
            lx = np.broadcast_to(lx, b.raw[role].shape)
        lx = lx.reshape(b.n, b.d, -1)
        if side == "q":
            return kl_units(np.exp(lx), lx, b.lp)
        return kl_units(b.q, b.lq, lx)

    return units


def _swaps(conv: DiscreteConvention) -> list[Mutant]:
    """Logits read as probabilities, and probabilities read as logits: one side, then both."""
    found = []
    given = tuple(s for s in ("q", "p") if conv.side(s) is not None)
    groups: list[tuple[str, ...]] = [(s,) for s in given]
    if len(given) == 2 and conv.side("q") == conv.side("p"):
        groups.append(given)
    act = "softmax" if conv.categorical else "sigmoid"
    for sides in groups:
        roles = " and ".join(repr(conv.role(s)) for s in sides)
        if conv.side(sides[0]) == "logits":
            msg = (
                f"logits read as probabilities: {roles} hold(s) logits, but the function uses them as "
                f"probabilities (no {act}); the log of a negative logit is nan"
            )
            for xlogy in (False, True):
                found.append(
                    Mutant(
                        f"{roles} as probs",
                        BugClass.LOGITS_AS_PROBS,
                        msg,
                        _swap(conv, sides, xlogy),
                    )
                )
        else:
            msg = (
                f"probabilities read as logits: {roles} hold(s) probabilities, but the function passes "
                f"them through {act} again"
            )
            found.append(
                Mutant(f"{roles} as logits", BugClass.PROBS_AS_LOGITS, msg, _swap(conv, sides))
            )
    return found


def mutants(conv: DiscreteConvention) -> list[Mutant]:
    """The known wrong formulas for this convention, simplest first."""
    found = [
        Mutant(
            "sign flip",
            BugClass.SIGN_FLIP,
            "sign flip: the function returns −KL(q‖p)",
            lambda b: -b.ref,
        ),
        Mutant(
            "reversed KL",
            BugClass.REVERSED_KL,
            "reversed KL: the function computes KL(p‖q) instead of KL(q‖p) (inf where q has a zero)",
            lambda b: kl_units(b.p, b.lp, b.lq),
        ),
    ]
    if conv.side("p") is not None:
        found.append(
            Mutant(
                "ignored prior",
                BugClass.IGNORED_PRIOR,
                f"ignored prior: the function computes the KL against the uniform prior "
                f"({'Bernoulli(½)' if not conv.categorical else 'Uniform(1/K)'}), not the given "
                f"{conv.role('p')!r}",
                lambda b: kl_units(b.q, b.lq, np.full(b.lq.shape, -np.log(b.k))),
            )
        )
    if conv.side("p") is None:
        found.append(
            Mutant(
                "missing log K",
                BugClass.ADDITIVE_CONSTANT,
                "additive constant: the output is KL(q‖Uniform) − log K = −H(q): the log K of the "
                "uniform prior is missing",
                lambda b: b.ref - np.log(b.k),
            )
        )
    found += _swaps(conv)
    for side in ("q", "p"):
        kind = conv.side(side)
        role = conv.role(side)
        if kind is None or role is None:
            continue
        if kind == "logits" and conv.categorical:
            for axis in conv.layout_of(role).axes:
                if axis == CLASS_AXIS:
                    continue
                where = conv.layout_of(role).axes.index(axis)
                msg = (
                    f"softmax over the wrong axis: the function normalises {role!r} over axis {where} "
                    f"({axis!r}, {'the batch' if axis == 'N' else 'a latent axis'}) instead of the class "
                    f"axis {conv.layout_of(role).axes.index(CLASS_AXIS)} ('K')"
                )
                found.append(
                    Mutant(
                        f"softmax over {axis}",
                        BugClass.SOFTMAX_WRONG_AXIS,
                        msg,
                        _wrong_axis(conv, side, axis),
                    )
                )
    return found


def _explains(
    conv: DiscreteConvention,
    batches: list[DBatch],
    outs: list[np.ndarray],
    units: Units,
    name: str,
    eps: float,
) -> bool:
    """True when ``units`` under variant ``name`` matches every output (non-finite where it is)."""
    for b, out in zip(batches, outs, strict=True):
        with np.errstate(all="ignore"):
            values = units(b)
        j = judge(conv, b, out, name, eps, values)
        if j is None:
            return False
        bad_obs = ~np.isfinite(j.obs)
        bad_ref = ~np.isfinite(j.ref)
        if np.any(bad_obs != bad_ref):
            return False
        slack = 1e-9 * np.abs(np.where(bad_ref, 0.0, j.ref))
        with np.errstate(all="ignore"):
            if np.any(~bad_ref & ~(np.abs(j.obs - j.ref) <= j.allowed + slack)):
                return False
    return True


def _reduction_note(conv: DiscreteConvention, name: str) -> str:
    return (
        f" (and the reduction is {describe(conv, name)}, while --reduction {conv.reduction} means "
        f"{describe(conv, conv.reduction)})"
    )


def _match(
    conv: DiscreteConvention, batches: list[DBatch], outs: list[np.ndarray], eps: float
) -> Diagnosis | None:
    declared = canonical(conv, conv.reduction)
    others = [v for v in variants(conv) if v != declared]
    for name in others:
        if _explains(conv, batches, outs, lambda b: b.ref, name, eps):
            return Diagnosis(
                BugClass.WRONG_REDUCTION,
                f"wrong reduction: the function returns {describe(conv, name)}, while --reduction "
                f"{conv.reduction} means {describe(conv, declared)}",
                name,
            )
    for name in (declared, *others):
        for m in mutants(conv):
            if _explains(conv, batches, outs, m.units, name, eps):
                note = "" if name == declared else _reduction_note(conv, name)
                return Diagnosis(m.bug_class, m.message + note, None if name == declared else name)
    return None


def _scaled(c: float) -> Units:
    """c · KL per unit."""

    def units(b: DBatch) -> np.ndarray:
        return c * b.ref

    return units


def _fits(
    conv: DiscreteConvention, batches: list[DBatch], outs: list[np.ndarray], eps: float
) -> Diagnosis | None:
    declared = conv.reduction
    for power in range(1, 6):
        e = 10.0**-power
        for form in EPS_FORMS:

            def units(b: DBatch, form: str = form, e: float = e) -> np.ndarray:
                return eps_form(form, b.q, b.p, e)

            if e > EPS_ALLOWED and _explains(conv, batches, outs, units, declared, eps):
                return Diagnosis(
                    BugClass.EPSILON_BIAS,
                    f"ε bias: the function computes the KL with {form} where ε = {e:g}, which "
                    f"biases the result beyond the allowance for ε ≤ {EPS_ALLOWED:g} (use xlogy, "
                    "log_softmax or a smaller ε)",
                )
    obs_all, ref_all = [], []
    for b, out in zip(batches, outs, strict=True):
        j = judge(conv, b, out, declared, eps)
        if j is None:
            return None
        obs_all.append(j.obs)
        ref_all.append(j.ref)
    obs, ref = np.concatenate(obs_all), np.concatenate(ref_all)
    ok = np.isfinite(obs) & np.isfinite(ref)
    denom = float(np.sum(ref[ok] ** 2))
    if denom <= 0 or not ok.all():
        return None
    c = float(np.sum(obs[ok] * ref[ok]) / denom)
    frac = Fraction(c).limit_denominator(4096)
    named = [
        (1.0 / np.log(2.0), "c = 1/ln 2: the KL in bits (log2) instead of nats"),
        (1.0 / np.log(10.0), "c = 1/ln 10: the KL with log10 instead of the natural log"),
        (float(frac), f"c = {frac}"),
    ]
    for value, text in named:
        if c <= 0 or abs(value - 1.0) < 1e-12 or abs(value - c) > 1e-6 * abs(c):
            continue
        if _explains(conv, batches, outs, _scaled(value), declared, eps):
            return Diagnosis(
                BugClass.CONSTANT_FACTOR, f"constant factor: the output is c·KL(q‖p) with {text}"
            )
    return None


def _edge_rule(
    conv: DiscreteConvention, batches: list[DBatch], outs: list[np.ndarray], eps: float
) -> Diagnosis | None:
    """nan/inf only at exact 0/1 probabilities, or failures only at extreme inputs."""
    bad_nonfinite = bad_elsewhere = 0
    labels: set[str] = set()
    for b, out in zip(batches, outs, strict=True):
        j = judge(conv, b, out, conv.reduction, eps)
        if j is None or j.ok:
            continue
        tiny = bool(np.any(b.q <= eps)) or bool(np.any(b.p <= eps))
        edge = b.label.startswith(("zeros", "near_one", "extreme", "wide")) or tiny
        labels.add(b.label)
        nonfinite = ~np.isfinite(j.obs) & j.fail
        if np.any(nonfinite):
            bad_nonfinite += 1
            if not tiny:
                bad_elsewhere += 1
        elif not edge:
            bad_elsewhere += 1
    if not labels or bad_elsewhere:
        return None
    if bad_nonfinite:
        return Diagnosis(
            BugClass.LOG_ZERO_NAN,
            "log(0) nan: the function returns nan or inf where a class probability is 0 "
            "or rounds to 0 in the function's dtype (q = 0, q = 1 for a Bernoulli, or a softmax/sigmoid that underflows), although the KL "
            "is finite there (0·log 0 = 0): use xlogy, log_softmax/logsigmoid, or an ε",
        )
    return Diagnosis(
        BugClass.CLAMPING,
        "clamping: right for moderate inputs, wrong only at extreme ones "
        f"({', '.join(sorted(labels))} batches: exact zeros, values next to 1, or large logits)",
    )


def diagnose(
    conv: DiscreteConvention, batches: list[DBatch], outs: list[np.ndarray], eps: float
) -> Diagnosis:
    """The named bug that explains ``outs`` (the outputs do not all match the reference)."""
    found = _match(conv, batches, outs, eps)
    if found is not None:
        return found
    shaped = all(
        out.shape == variant_shape(conv, b, conv.reduction)
        for b, out in zip(batches, outs, strict=True)
    )
    if not shaped:
        k = next(
            i
            for i, (b, o) in enumerate(zip(batches, outs, strict=True))
            if o.shape != variant_shape(conv, b, conv.reduction)
        )
        return Diagnosis(
            BugClass.WRONG_SHAPE,
            f"wrong shape: returned shape {tuple(outs[k].shape)}, expected "
            f"{variant_shape(conv, batches[k], conv.reduction)} for --reduction {conv.reduction}",
        )
    found = _fits(conv, batches, outs, eps) or _edge_rule(conv, batches, outs, eps)
    if found is not None:
        return found
    if any(not np.all(np.isfinite(o)) for o in outs):
        big = any(
            b.label == "extreme:logits"
            for b, o in zip(batches, outs, strict=True)
            if not np.all(np.isfinite(o))
        )
        hint = (
            " (at logits of ±1000: exp overflows; subtract the maximum or use log_softmax)"
            if big
            else ""
        )
        return Diagnosis(BugClass.NAN_OR_INF, f"nan or inf on valid input{hint}")
    return Diagnosis(BugClass.WRONG_VALUE, "wrong value: no known bug explains the outputs")
