"""Two small bugs at once: a search over pairs of known mutations (diagonal Gaussians).

A mutation acts either on the *inputs* (a scale argument read as another
parametrisation, or clipped to a range, on one side or both) or on the
*formula* (a sign, a missing ½ or −1, an ε in the log, ...).  A pair is two
input mutations composed (clip, then read as another parametrisation), an
input mutation followed by a formula mutation, or two additive formula
mutations.  Each pair predicts the outputs elementwise, and it explains them
under the same tight tolerance as a single mutant.

>>> len(_FORMULAS) > 10
True
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import numpy as np

from elbo_check._validate._diagnose import Diagnosis, explains
from elbo_check._validate._layout import Layout
from elbo_check._validate._mutants import diag_kl_terms as _k
from elbo_check._validate._roles import DIAG_SCALES
from elbo_check._validate._types import BugClass

__all__ = ["two_bugs"]

Params = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Formula = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]

_WORDS = {"logvar": "log σ²", "std": "σ", "var": "σ²", "logstd": "log σ"}
#: clip ranges seen in real code, for log-scale arguments and for σ or σ²
_LOG_CLIPS = (
    (-20.0, 2.0),
    (-10.0, 10.0),
    (-20.0, 20.0),
    (-30.0, 20.0),
    (-5.0, 5.0),
    (-10.0, 2.0),
    (-6.0, 2.0),
    (-5.0, 2.0),
)
_POS_CLIPS = ((1e-6, np.inf), (1e-4, np.inf), (1e-3, np.inf), (1e-2, np.inf))


def _eps_log(e: float) -> Formula:
    def f(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
        return _k(a, np.log(np.exp(b) + e), c, d) + 0.5 * (np.exp(b) - (np.exp(b) + e)) * np.exp(-d)

    return f


#: (text, additive?, formula); additive formulas are KL + Δ and may be summed
_FORMULAS: list[tuple[str, bool, Formula]] = [
    ("sign flip: −KL", False, lambda a, b, c, d: -_k(a, b, c, d)),
    ("missing ½: 2·KL", False, lambda a, b, c, d: 2 * _k(a, b, c, d)),
    ("missing constant: the −1 is missing", True, lambda a, b, c, d: _k(a, b, c, d) + 0.5),
    ("+mu² instead of −mu²", True, lambda a, b, c, d: _k(a, b, c, d) - (a - c) ** 2 * np.exp(-d)),
    ("missing mean term", True, lambda a, b, c, d: _k(a, b, c, d) - 0.5 * (a - c) ** 2 * np.exp(-d)),
    ("wrong sign of the log term", True, lambda a, b, c, d: _k(a, b, c, d) - (d - b)),
    ("log term not halved", True, lambda a, b, c, d: _k(a, b, c, d) + 0.5 * (d - b)),
    ("the log term uses log σ for log σ²", True, lambda a, b, c, d: _k(a, b, c, d) - 0.25 * (d - b)),
    ("the variance term uses σ for σ²", True, lambda a, b, c, d: _k(a, b, c, d) + 0.5 * (np.exp((b - d) / 2) - np.exp(b - d))),
    ("reversed direction: KL(p‖q)", False, lambda a, b, c, d: _k(c, d, a, b)),
] + [(f"an ε = {e:g} added to the variance inside the log", False, _eps_log(e)) for e in (1e-8, 1e-6, 1e-5, 1e-4, 1e-3)]  # fmt: skip


def _raw_scale(lay: Layout, side: str) -> tuple[str, str, np.ndarray] | None:
    for role, (s, q) in zip(lay.conv.roles, lay.conv.slots, strict=True):
        if s == side and q != "mu":
            return role, q, lay.raw[role]
    return None


def _as_logvar(x: np.ndarray, quantity: str) -> np.ndarray:
    with np.errstate(all="ignore"):
        return {"logvar": x, "logstd": 2 * x, "std": 2 * np.log(x), "var": np.log(x)}[quantity]


def _inputs(lay: Layout) -> Iterator[tuple[list[str], dict[str, np.ndarray]]]:
    """Input mutations: (texts, new log-variances by side); one or two of them composed."""
    sides = [s for s in ("q", "p") if _raw_scale(lay, s) is not None]
    for chosen in [[s] for s in sides] + ([sides] if len(sides) == 2 else []):
        found = [_raw_scale(lay, s) for s in chosen]
        scales = [f for f in found if f is not None]
        given = scales[0][1]
        clips = _LOG_CLIPS if given in ("logvar", "logstd") else _POS_CLIPS
        where = " and ".join(repr(r) for r, _, _ in scales)
        for alt in [given, *[a for a in DIAG_SCALES if a != given]]:
            for clip in [None, *clips]:
                texts = []
                if clip is not None:
                    texts.append(f"{where} clipped to [{clip[0]:g}, {clip[1]:g}]")
                if alt != given:
                    texts.append(
                        f"{where} ({_WORDS[given]}) used as if it held {alt} ({_WORDS[alt]})"
                    )
                if not texts:
                    continue
                lv = {}
                for s, (_, _, raw) in zip(chosen, scales, strict=True):
                    x = raw if clip is None else np.clip(raw, *clip)
                    lv[s] = _as_logvar(x, alt)
                yield texts, lv


def _candidates(lay: Layout) -> Iterator[tuple[list[str], np.ndarray]]:
    c = lay.c
    base: Params = (c["mu_q"], c["lv_q"], c["mu_p"], c["lv_p"])
    with np.errstate(all="ignore"):
        for texts, lv in _inputs(lay):
            params = (base[0], lv.get("q", base[1]), base[2], lv.get("p", base[3]))
            if len(texts) == 2:
                yield texts, _k(*params)
                continue
            for text, _, f in _FORMULAS:
                yield [*texts, text], f(*params)
        for (t1, add1, f1), (t2, add2, f2) in itertools.combinations(_FORMULAS, 2):
            if add1 and add2:
                yield [t1, t2], f1(*base) + f2(*base) - _k(*base)
            elif add2 and t1.startswith(("sign", "missing ½")):
                scale = -1.0 if t1.startswith("sign") else 2.0
                yield [t1, t2], scale * f2(*base)


def two_bugs(layout: Layout, obs_by: dict[str, np.ndarray], eps: float) -> Diagnosis | None:
    """The first pair of known mutations that explains the outputs (declared reduction)."""
    name = layout.declared
    obs = obs_by.get(name)
    if obs is None or layout.family != "diag":
        return None
    for texts, pred in _candidates(layout):
        if len(texts) == 2 and explains(layout, obs, pred, np.isfinite(pred), name, eps):
            return Diagnosis(
                BugClass.TWO_BUGS,
                f"two bugs at once: (1) {texts[0]}; (2) {texts[1]}",
            )
    return None
