"""Reference KL values, the magnitudes that bound their rounding error, and mpmath checks.

Diagonal Gaussians use the kernel's :func:`elbo_check.kernel.gaussian_kl`
(accurate to about 1e-14 relative in float64, also where q ≈ p).  Full
covariance uses a float64 Cholesky evaluation here.

The *terms* are the magnitudes of the summands of the textbook formula,

    ½ (|log σp²| + |log σq²| + σq²/σp² + (|μq| + |μp|)²/σp² + 1),

so that a correct implementation of any algebraically equal form stays within
``c · eps · terms`` of the reference, even where KL itself cancels to ~0.

>>> import numpy as np
>>> from elbo_check._validate._reference import diag_kl
>>> float(diag_kl(np.array([1.0]), np.array([0.0]), np.zeros(1), np.zeros(1))[0])
0.5
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np

__all__ = ["FullParts", "diag_kl", "diag_terms", "expected_mp", "full_parts"]


def diag_kl(mu_q: np.ndarray, lv_q: np.ndarray, mu_p: np.ndarray, lv_p: np.ndarray) -> np.ndarray:
    """Elementwise KL(N(mu_q, e^lv_q) ‖ N(mu_p, e^lv_p)) in float64, accurate where q ≈ p."""
    from elbo_check.kernel import gaussian_kl

    shape = np.shape(mu_q)
    flat = [np.asarray(a, dtype=np.float64).reshape(-1, 1) for a in (mu_q, lv_q, mu_p, lv_p)]
    with np.errstate(all="ignore"):
        out = gaussian_kl(flat[0], flat[1], flat[2], flat[3], reduction="none")
    return np.asarray(out, dtype=np.float64).reshape(shape)


def diag_terms(
    mu_q: np.ndarray, lv_q: np.ndarray, mu_p: np.ndarray, lv_p: np.ndarray
) -> np.ndarray:
    """Elementwise magnitudes of the textbook summands (the error scale)."""
    with np.errstate(all="ignore"):
        inv_vp = np.exp(-lv_p)
        return 0.5 * (
            np.abs(lv_p)
            + np.abs(lv_q)
            + np.exp(lv_q - lv_p)
            + (np.abs(mu_q) + np.abs(mu_p)) ** 2 * inv_vp
            + 1.0
        )


class FullParts:
    """Per-row pieces of the full-covariance KL, for the reference and the mutants.

    ``tr`` is tr(Σp⁻¹Σq), ``quad`` is dᵀΣp⁻¹d with d = μq − μp, ``ld_q`` and
    ``ld_p`` are log-determinants.  Helper methods give the pieces for other
    matrices, so that mutants (swapped trace, transposed factor, ...) reuse them.
    """

    def __init__(self, canon: dict[str, np.ndarray]) -> None:
        self.mu_q, self.mu_p = canon["mu_q"], canon["mu_p"]
        self.cov_q, self.cov_p = canon["cov_q"], canon["cov_p"]
        self.L_q, self.L_p = canon["L_q"], canon["L_p"]
        self.d = self.mu_q.shape[-1]
        self.diff = self.mu_q - self.mu_p
        self.ld_q = 2 * np.sum(np.log(np.abs(np.diagonal(self.L_q, axis1=-2, axis2=-1))), axis=-1)
        self.ld_p = 2 * np.sum(np.log(np.abs(np.diagonal(self.L_p, axis1=-2, axis2=-1))), axis=-1)
        self.tr = self.trace_inv(self.cov_p, self.cov_q)
        self.quad = self.quad_inv(self.cov_p, self.diff)

    @staticmethod
    def trace_inv(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """tr(a⁻¹ b), batched."""
        with np.errstate(all="ignore"):
            try:
                return np.trace(np.linalg.solve(a, b), axis1=-2, axis2=-1)
            except np.linalg.LinAlgError:
                return np.full(a.shape[:-2], np.nan)

    @staticmethod
    def quad_inv(a: np.ndarray, x: np.ndarray) -> np.ndarray:
        """xᵀ a⁻¹ x, batched."""
        with np.errstate(all="ignore"):
            try:
                return np.sum(x * np.linalg.solve(a, x[..., None])[..., 0], axis=-1)
            except np.linalg.LinAlgError:
                return np.full(a.shape[:-2], np.nan)

    @staticmethod
    def logdet(a: np.ndarray) -> np.ndarray:
        """log|det a|, batched."""
        with np.errstate(all="ignore"):
            return np.linalg.slogdet(a)[1]

    def kl(self) -> np.ndarray:
        """The reference per-row KL."""
        return 0.5 * (self.tr + self.quad - self.d + self.ld_p - self.ld_q)

    def terms(self) -> np.ndarray:
        """Per-row error scale: the summands' magnitudes times the condition numbers."""
        cond_p = np.linalg.cond(self.cov_p)
        cond_q = np.linalg.cond(self.cov_q)
        big = np.abs(self.mu_q) + np.abs(self.mu_p)
        quad_abs = self.quad_inv(self.cov_p, big)
        base = 0.5 * (
            np.abs(self.tr) + np.abs(quad_abs) + self.d + np.abs(self.ld_p) + np.abs(self.ld_q)
        )
        return base * (1.0 + self.d * (cond_p + cond_q) / 8.0)


def full_parts(canon: dict[str, np.ndarray]) -> FullParts:
    """Build :class:`FullParts` for canonical full-covariance arrays."""
    return FullParts(canon)


def _mp_reduce(values: list[list[Any]], reduction: str, family: str) -> Any:
    """Reduce an N×D (diag) or N×1 (full) table of mpf values like ``gaussian_kl``."""
    n = len(values)
    d = len(values[0]) if values else 0
    if reduction == "none":
        return (
            [[float(v) for v in row] for row in values]
            if family == "diag"
            else [float(r[0]) for r in values]
        )
    if reduction == "batch":
        return [float(mpmath.fsum(row)) for row in values]
    total = mpmath.fsum(v for row in values for v in row)
    if reduction == "sum":
        return float(total)
    if reduction == "batchmean":
        return float(total / n)
    return float(total / (n * d))  # mean (d is the latent dimension for full too)


def _mp_logvar(quantity: str, x: Any) -> Any:
    if quantity == "logvar":
        return x
    if quantity == "logstd":
        return 2 * x
    if quantity == "std":
        return 2 * mpmath.log(x)
    return mpmath.log(x)


def expected_mp(conv: Any, raw: dict[str, np.ndarray], dps: int = 40) -> Any:
    """The reference value of a (small) input, computed with mpmath at ``dps`` digits.

    ``conv`` is the :class:`~elbo_check._validate._roles.Convention`; ``raw`` holds
    the role arrays exactly as the function received them.
    """
    mu_role = conv.roles[conv.slots.index(("q", "mu"))]
    n, d = raw[mu_role].shape[:2]
    by_slot = {slot: raw[role] for role, slot in zip(conv.roles, conv.slots, strict=True)}
    with mpmath.workdps(dps):
        mpf = mpmath.mpf

        def mean(side: str, i: int) -> list[Any]:
            a = by_slot.get((side, "mu"))
            return [mpf(0) if a is None else mpf(float(a[i, j])) for j in range(d)]

        rows: list[list[Any]] = []
        if conv.family == "diag":
            for i in range(n):
                lv = {}
                for side in ("q", "p"):
                    scale = conv.scale(side)
                    a = by_slot.get((side, scale)) if scale else None
                    lv[side] = [
                        mpf(0)
                        if a is None or scale is None
                        else _mp_logvar(scale, mpf(float(a[i, j])))
                        for j in range(d)
                    ]
                mq, mp_ = mean("q", i), mean("p", i)
                rows.append(
                    [
                        (
                            lv["p"][j]
                            - lv["q"][j]
                            + (mpmath.exp(lv["q"][j]) + (mq[j] - mp_[j]) ** 2)
                            / mpmath.exp(lv["p"][j])
                            - 1
                        )
                        / 2
                        for j in range(d)
                    ]
                )
            return _mp_reduce(rows, conv.reduction, "diag")
        for i in range(n):
            cov = {}
            for side in ("q", "p"):
                scale = conv.scale(side)
                a = by_slot.get((side, scale)) if scale else None
                if a is None:
                    cov[side] = mpmath.eye(d)
                else:
                    m = mpmath.matrix([[float(x) for x in r] for r in a[i]])
                    if scale == "scale_tril":
                        for r in range(d):
                            for c in range(r + 1, d):
                                m[r, c] = 0
                        m = m * m.T
                    cov[side] = m
            diff = mpmath.matrix([x - y for x, y in zip(mean("q", i), mean("p", i), strict=True)])
            inv_p = mpmath.inverse(cov["p"])
            prod = inv_p * cov["q"]
            tr = mpmath.fsum(prod[k, k] for k in range(d))
            quad = (diff.T * inv_p * diff)[0, 0]
            kl = (
                tr + quad - d + mpmath.log(mpmath.det(cov["p"])) - mpmath.log(mpmath.det(cov["q"]))
            ) / 2
            rows.append([kl])
        red = conv.effective_reduction
        if red == "mean":  # full covariance: "mean" divides by N·D like the diagonal case
            return float(mpmath.fsum(r[0] for r in rows) / (n * d))
        return _mp_reduce(rows, "batch" if red == "none" else red, "full")
