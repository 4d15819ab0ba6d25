"""The designed and random batches for a Bernoulli or Categorical KL.

Probabilities are drawn on the simplex (Dirichlet rows for a Categorical,
uniform numbers for a Bernoulli) and logits over a wide range.  The designed
batches hold what breaks discrete KL code: exact zeros (one-hot rows,
q = 0 and q = 1 for a Bernoulli), values next to 1 (1 − 2⁻⁵³, so that
1 − q rounds to a tiny number), logits of ±40 (σ(40) rounds to 1) and ±1000
(softmax underflows to exact zeros, a naive ``exp`` overflows), q ≈ p and
q = p, and batches of a single row.

>>> import numpy as np
>>> from elbo_check._validate._discrete_conv import parse_discrete
>>> conv = parse_discrete("probs_q", "batch", "N D K")
>>> bs = plan(conv, 40, np.random.default_rng(0), "float64")
>>> bool(np.allclose(bs[0].raw["probs_q"].sum(axis=-1), 1.0))
True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from elbo_check._validate._discrete_conv import DiscreteConvention
from elbo_check._validate._discrete_ref import (
    class_log_probs,
    kl_units,
    rounding_terms,
    uniform_log_probs,
)

__all__ = ["DBatch", "make_dbatch", "plan"]


@dataclasses.dataclass
class DBatch:
    """One call's inputs: raw internal arrays per role and float64 class probabilities."""

    label: str
    n: int
    event: tuple[int, ...]
    k: int  # classes (2 for a Bernoulli)
    raw: dict[str, np.ndarray]
    lq: np.ndarray
    q: np.ndarray
    lp: np.ndarray
    p: np.ndarray
    ref: np.ndarray  # (N, D) exact KL per unit
    terms: np.ndarray  # (N, D) rounding magnitudes

    @property
    def d(self) -> int:
        """The number of latent units per row."""
        return int(np.prod(self.event)) if self.event else 1


def make_dbatch(
    conv: DiscreteConvention,
    label: str,
    targets: dict[str, np.ndarray],
    dtype: str,
    event: tuple[int, ...],
) -> DBatch:
    """Round float64 targets (keys ``q``, ``p``) into the roles' raw arrays and build the batch."""
    raw: dict[str, np.ndarray] = {}
    parts = {}
    for side in ("q", "p"):
        role = conv.role(side)
        if role is None:
            continue
        value = targets[side]
        if "N" not in conv.layout_of(role).axes:
            value = np.broadcast_to(value[:1], value.shape)
        raw[role] = np.ascontiguousarray(value, dtype=np.dtype(dtype))
        kind = conv.side(side)
        assert kind is not None
        parts[side] = class_log_probs(kind, raw[role], conv.categorical)
    lq, q = parts["q"]
    lp, p = parts["p"] if "p" in parts else uniform_log_probs(q.shape)
    mag = np.zeros(q.shape[:2])
    for role, arr in raw.items():
        if role.startswith("logits"):
            a = np.abs(arr.astype(np.float64)).reshape(q.shape[0], q.shape[1], -1)
            mag = mag + np.max(a, axis=-1)
    n = q.shape[0]
    k = q.shape[-1]
    return DBatch(
        label, n, event, k, raw, lq, q, lp, p, kl_units(q, lq, lp), rounding_terms(q, lq, lp, mag)
    )


def _probs(
    rng: np.random.Generator, shape: tuple[int, ...], k: int, cat: bool, prior: bool
) -> np.ndarray:
    """Probabilities: uniform for a Bernoulli, Dirichlet rows for a Categorical.

    q gets concentration 0.3, 1 or 3 (0.3 gives near-zero classes); a prior
    gets 1 or 3, so that its probabilities are rarely below the ε allowance.
    """
    if not cat:
        return rng.uniform(0.0, 1.0, size=shape)
    alpha = float(rng.choice([1.0, 3.0] if prior else [0.3, 1.0, 3.0]))
    return rng.dirichlet(np.full(k, alpha), size=shape)


def _logits(
    rng: np.random.Generator, shape: tuple[int, ...], k: int, cat: bool, wide: bool
) -> np.ndarray:
    full = (*shape, k) if cat else shape
    return rng.uniform(-50.0, 50.0, size=full) if wide else rng.normal(0.0, 3.0, size=full)


def _draw(
    conv: DiscreteConvention,
    side: str,
    rng: np.random.Generator,
    shape: tuple[int, ...],
    k: int,
    wide: bool,
) -> np.ndarray:
    kind = conv.side(side)
    if kind == "probs":
        return _probs(rng, shape, k, conv.categorical, side == "p")
    return _logits(rng, shape, k, conv.categorical, wide and side == "q")


def _targets(
    conv: DiscreteConvention,
    rng: np.random.Generator,
    n: int,
    event: tuple[int, ...],
    k: int,
    wide: bool = False,
) -> dict[str, np.ndarray]:
    shape = (n, *event)
    t = {"q": _draw(conv, "q", rng, shape, k, wide)}
    if conv.side("p") is not None:
        t["p"] = _draw(conv, "p", rng, shape, k, wide)
    return t


def _edge_values(conv: DiscreteConvention) -> list[tuple[str, list[float]]]:
    """Rows of q that break naive code, as (label, one row's classes or one Bernoulli value)."""
    one_minus = float(np.nextafter(1.0, 0.0))
    if conv.side("q") == "logits":
        if conv.categorical:
            return [
                ("extreme:logits", [1000.0, 0.0, -1.0]),
                ("extreme:logits", [-1000.0, 1.0, 2.0]),
                ("extreme:logits", [40.0, -40.0, 0.0]),
            ]
        return [
            ("extreme:logits", [40.0]),
            ("extreme:logits", [-40.0]),
            ("extreme:logits", [1000.0]),
            ("extreme:logits", [-1000.0]),
        ]
    if conv.categorical:
        return [
            ("zeros", [0.0, 1.0, 0.0]),
            ("zeros", [0.0, 0.25, 0.75]),
            ("near_one", [one_minus, 1.0 - one_minus, 0.0]),
        ]
    return [("zeros", [0.0]), ("zeros", [1.0]), ("near_one", [one_minus]), ("zeros", [1e-300])]


def _designed(conv: DiscreteConvention, rng: np.random.Generator, dtype: str) -> list[DBatch]:
    m = len(conv.event_axes)
    event = (2, 3, 2, 2)[:m] if m > 1 else (3,)[:m]
    k = 3 if conv.categorical else 2
    batches = [make_dbatch(conv, "moderate", _targets(conv, rng, 4, event, k), dtype, event)]
    if conv.categorical:
        for kk in (2, 10):
            batches.append(
                make_dbatch(conv, "moderate", _targets(conv, rng, 3, event, kk), dtype, event)
            )
    if conv.side("q") == "logits":
        batches.append(
            make_dbatch(conv, "wide", _targets(conv, rng, 4, event, k, True), dtype, event)
        )
    # q ≈ p and q = p
    small = (2,) * m
    delta = 1e-7 if dtype == "float64" else 1e-3
    for label in ("near", "equal"):
        t = _targets(conv, rng, 3, small, k)
        if "p" in t and conv.side("q") == conv.side("p"):
            t["q"] = t["p"].copy()
        elif "p" not in t:
            t["q"] = np.full_like(t["q"], 0.0 if conv.side("q") == "logits" else 1.0 / k)
        if label == "near":
            wiggle = delta * rng.choice([-1.0, 1.0], size=t["q"].shape)
            if conv.side("q") == "logits":
                t["q"] = t["q"] + wiggle
            else:
                t["q"] = t["q"] * (1.0 + wiggle)
                if conv.categorical:
                    t["q"] = t["q"] / np.sum(t["q"], axis=-1, keepdims=True)
        batches.append(make_dbatch(conv, label, t, dtype, small))
    # the edge rows, each in the first unit of a small batch
    for label, row in _edge_values(conv):
        t = _targets(conv, rng, 2, small, len(row) if conv.categorical else k)
        t["q"][(0,) * (1 + m)] = row if conv.categorical else row[0]
        batches.append(make_dbatch(conv, label, t, dtype, small))
    for n, d in ((1, 1), (1, 3)):
        ev = (d,) + (1,) * (m - 1) if m else ()
        batches.append(make_dbatch(conv, "single", _targets(conv, rng, n, ev, k), dtype, ev))
    return batches


def plan(
    conv: DiscreteConvention, examples: int, rng: np.random.Generator, dtype: str
) -> list[DBatch]:
    """The designed batches, then random ones (a quarter wide, some with zeros) until ``examples`` rows."""
    batches = _designed(conv, rng, dtype)
    rows = sum(b.n for b in batches)
    scalar = conv.reduction not in ("none", "batch")
    m = len(conv.event_axes)
    while rows < examples:
        n = int(rng.integers(1, 7)) if scalar else int(rng.integers(4, 33))
        n = min(n, max(1, examples - rows))
        event = tuple(int(x) for x in rng.integers(1, 4 if m > 1 else 7, size=m))
        k = int(rng.integers(2, 13)) if conv.categorical else 2
        u = float(rng.random())
        t = _targets(conv, rng, n, event, k, u < 0.25)
        label = "wide" if u < 0.25 else "random"
        if u > 0.85 and conv.side("q") == "probs":  # exact zeros in random places
            t["q"] = np.where(rng.random(t["q"].shape) < 0.3, 0.0, t["q"])
            if conv.categorical:
                t["q"][..., 0] += 1.0 - np.sum(t["q"], axis=-1)
                t["q"] = np.abs(t["q"])
                t["q"] = t["q"] / np.sum(t["q"], axis=-1, keepdims=True)
            label = "zeros"
        batches.append(make_dbatch(conv, label, t, dtype, event))
        rows += n
    return batches
