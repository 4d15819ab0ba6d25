"""The exact Bernoulli and Categorical KL in numpy, its error scale, and the ε allowance.

Probabilities of the classes come in as ``(N, D, C)`` float64 arrays (C = K
for a Categorical; C = 2 for a Bernoulli, the classes 1 and 0).  The KL of
one latent unit is Σ_c q_c (log q_c − log p_c), with the convention
0 · log 0 = 0 (as ``scipy.special.xlogy``) and no ε anywhere:

- probabilities: log q from ``log`` (−inf at an exact 0), and for a Bernoulli
  log(1 − q) from ``log1p(-q)``;
- logits: log-softmax with the maximum subtracted (no overflow at 1000), and
  for a Bernoulli log σ(l) = −softplus(−l), log(1 − σ(l)) = −softplus(l).

>>> import numpy as np
>>> lq, q = class_log_probs("probs", np.array([[0.0, 1.0]]), True)
>>> lp, p = uniform_log_probs(q.shape)
>>> bool(kl_units(q, lq, lp)[0, 0] == np.log(2))
True
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

__all__ = [
    "EPS_ALLOWED",
    "EPS_FORMS",
    "class_log_probs",
    "eps_allowance",
    "eps_form",
    "expected_units_mp",
    "kl_units",
    "rounding_terms",
    "uniform_log_probs",
]

#: the largest ε (in a log or a clamp of a probability) that a correct function may use
EPS_ALLOWED = 1e-6
#: the ways code puts an ε into the KL, named as they are reported
EPS_FORMS = (
    "log(q + ε)",
    "clamp(q, min=ε)",
    "clamp(q, min=ε) also as the weight",
    "log(q + ε) on q only",
)


def class_log_probs(kind: str, raw: np.ndarray, categorical: bool) -> tuple[np.ndarray, np.ndarray]:
    """(log-probabilities, probabilities) of every class, shaped (N, D, C), from a raw array.

    ``raw`` is internal: (N, *event, K) for a Categorical, (N, *event) for a Bernoulli.

    >>> lp, p = class_log_probs("logits", np.array([[1000.0, 0.0]]), True)
    >>> p.tolist(), lp[0, 0, 0]
    ([[[1.0, 0.0]]], np.float64(0.0))
    """
    x = np.asarray(raw, dtype=np.float64)
    n = x.shape[0]
    with np.errstate(all="ignore"):
        if categorical:
            x = x.reshape(n, -1, x.shape[-1])
            if kind == "probs":
                return np.log(x), x
            m = np.max(x, axis=-1, keepdims=True)
            lp = x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))
            return lp, np.exp(lp)
        x = x.reshape(n, -1)
        if kind == "probs":
            lp = np.stack([np.log(x), np.log1p(-x)], axis=-1)
            return lp, np.stack([x, 1.0 - x], axis=-1)
        lp = np.stack([-np.logaddexp(0.0, -x), -np.logaddexp(0.0, x)], axis=-1)
        return lp, np.exp(lp)


def uniform_log_probs(shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The uniform prior over the C classes (Bernoulli(½) for C = 2)."""
    c = shape[-1]
    return np.full(shape, -np.log(c)), np.full(shape, 1.0 / c)


def kl_units(q: np.ndarray, lq: np.ndarray, lp: np.ndarray) -> np.ndarray:
    """Σ_c q_c (log q_c − log p_c) per latent unit, (N, D), with 0 · log 0 = 0."""
    with np.errstate(all="ignore"):
        return np.sum(np.where(q > 0, q * (lq - lp), 0.0), axis=-1)


def rounding_terms(
    q: np.ndarray, lq: np.ndarray, lp: np.ndarray, logit_mag: np.ndarray
) -> np.ndarray:
    """The magnitudes a textbook evaluation rounds, per unit: Σ q(|log q| + |log p|) + max|logit| + 1."""
    with np.errstate(all="ignore"):
        mags = np.where(q > 0, q * (np.abs(lq) + np.abs(lp)), 0.0)
    return np.sum(mags, axis=-1) + logit_mag + 1.0


def eps_form(form: str, q: np.ndarray, p: np.ndarray, eps: float) -> np.ndarray:
    """The KL per unit as computed with an ε in one of :data:`EPS_FORMS`."""
    with np.errstate(all="ignore"):
        if form == EPS_FORMS[0]:
            terms = q * (np.log(q + eps) - np.log(p + eps))
        elif form == EPS_FORMS[1]:
            terms = q * (np.log(np.maximum(q, eps)) - np.log(np.maximum(p, eps)))
        elif form == EPS_FORMS[2]:
            qc = np.maximum(q, eps)
            terms = qc * (np.log(qc) - np.log(np.maximum(p, eps)))
        else:
            terms = q * (np.log(q + eps) - np.log(p))
        return np.sum(terms, axis=-1)


def eps_allowance(q: np.ndarray, p: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Per unit, the largest change that an ε of :data:`EPS_ALLOWED` in any form makes."""
    with np.errstate(all="ignore"):
        devs = [np.abs(eps_form(f, q, p, EPS_ALLOWED) - ref) for f in EPS_FORMS]
        worst = np.max(np.stack(devs), axis=0)
    return np.where(np.isfinite(worst), worst, 0.0)


def _mp_log_probs(kind: str, values: list[float], categorical: bool) -> list[Any]:
    """Exact log-probabilities of one unit's classes (None for log 0)."""
    xs = [mpmath.mpf(v) for v in values]
    if categorical and kind == "probs":
        return [mpmath.log(x) if x > 0 else None for x in xs]
    if categorical:
        lse = mpmath.log(mpmath.fsum(mpmath.exp(x) for x in xs))
        return [x - lse for x in xs]
    (x,) = xs
    if kind == "probs":
        return [mpmath.log(x) if x > 0 else None, mpmath.log(1 - x) if x < 1 else None]
    return [-mpmath.log1p(mpmath.exp(-x)), -mpmath.log1p(mpmath.exp(x))]


def expected_units_mp(
    kinds: tuple[str, str | None],
    q_raw: np.ndarray,
    p_raw: np.ndarray | None,
    categorical: bool,
    dps: int = 40,
) -> list[list[Any]]:
    """The KL of every latent unit, (N, D) nested lists of mpf, at ``dps`` digits (inf where p is 0)."""
    n = q_raw.shape[0]
    c = q_raw.shape[-1] if categorical else 1
    qs = np.asarray(q_raw, dtype=np.float64).reshape(n, -1, c)
    ps = None if p_raw is None else np.asarray(p_raw, dtype=np.float64).reshape(n, -1, c)
    rows: list[list[Any]] = []
    with mpmath.workdps(dps):
        for i in range(n):
            row = []
            for j in range(qs.shape[1]):
                lq = _mp_log_probs(kinds[0], [float(v) for v in qs[i, j]], categorical)
                if ps is None or kinds[1] is None:
                    lp = [-mpmath.log(len(lq))] * len(lq)
                else:
                    lp = _mp_log_probs(kinds[1], [float(v) for v in ps[i, j]], categorical)
                total = mpmath.mpf(0)
                for a, b in zip(lq, lp, strict=True):
                    if a is None:
                        continue  # 0 · log 0 = 0
                    if b is None:
                        total = mpmath.inf
                        break
                    total += mpmath.exp(a) * (a - b)
                row.append(total)
            rows.append(row)
    return rows
