"""A flat view of many batches, so that reductions and mutants are vectorised.

All batches' entries are concatenated into one float64 vector of *elements*
(an (N, D) batch gives N·D elements for diagonal Gaussians; N rows for full
covariance).  A *variant* of the reduction maps elements to output *units*
with a group id and a weight, so that any reduction of any elementwise model
over all batches is one ``numpy.bincount``.

>>> import numpy as np
>>> from elbo_check._validate._roles import parse_convention
>>> from elbo_check._validate._search import plan
>>> from elbo_check._validate._layout import Layout
>>> conv = parse_convention("mu,logvar", "batch")
>>> lay = Layout(conv, plan(conv, 30, np.random.default_rng(1), "float64"))
>>> lay.reduce(lay.ref, "batch").shape == (lay.n_rows,)
True
"""

from __future__ import annotations

import dataclasses

import numpy as np

from elbo_check._validate._reference import FullParts, diag_kl, diag_terms
from elbo_check._validate._roles import Convention
from elbo_check._validate._search import Batch

__all__ = ["VARIANT_TEXT", "Layout", "Variant"]

VARIANT_TEXT = {
    "none": "no reduction (shape (N, D))",
    "batch": "a sum over the latent dimensions (shape (N,))",
    "mean_d": "a mean over the latent dimensions (shape (N,), a factor 1/D)",
    "sum_n": "a sum over the batch axis (shape (D,))",
    "mean_n": "a mean over the batch axis (shape (D,))",
    "sum": "the sum over all entries (a scalar)",
    "batchmean": "the sum divided by the batch size N (a scalar)",
    "mean": "the mean over all N·D entries (a scalar)",
    "sum_over_d": "the sum divided by the latent dimension D (a scalar, a factor 1/D)",
}
FULL_VARIANT_TEXT = {
    "none": "one KL per row (shape (N,))",
    "sum": "the sum over the batch (a scalar)",
    "batchmean": "the sum divided by the batch size N (a scalar)",
    "mean": "the sum divided by N·D (a scalar)",
    "sum_over_d": "the sum divided by the dimension D (a scalar)",
}


@dataclasses.dataclass
class Variant:
    """A reduction: element -> unit group ids, weights and per-batch output shapes."""

    name: str
    gid: np.ndarray
    weight: np.ndarray
    n_units: int
    shapes: list[tuple[int, ...]]
    unit_batch: np.ndarray


class Layout:
    """Concatenated canonical values, reference, error scales and reductions of batches."""

    def __init__(self, conv: Convention, batches: list[Batch]) -> None:
        self.conv = conv
        self.batches = batches
        self.family = conv.family
        self.n_rows = sum(b.shape[0] for b in batches)
        self.raw: dict[str, np.ndarray] = {}
        eb, er, ec = [], [], []
        row0 = col0 = 0
        for k, b in enumerate(batches):
            n, d = b.shape
            per = n * d if self.family == "diag" else n
            eb.append(np.full(per, k))
            if self.family == "diag":
                er.append(np.repeat(np.arange(n), d) + row0)
                ec.append(np.tile(np.arange(d), n) + col0)
            else:
                er.append(np.arange(n) + row0)
                ec.append(np.zeros(n, dtype=int) + col0)
            row0 += n
            col0 += d
        self.e_batch = np.concatenate(eb)
        self.e_row = np.concatenate(er)
        self.e_col = np.concatenate(ec)
        self.n_cols = col0
        self.size = self.e_batch.size
        self.bn = np.array([b.shape[0] for b in batches], dtype=np.float64)[self.e_batch]
        self.bd = np.array([b.shape[1] for b in batches], dtype=np.float64)[self.e_batch]
        if self.family == "diag":
            self.c = {
                key: np.concatenate([b.canon[key].ravel() for b in batches])
                for key in ("mu_q", "lv_q", "mu_p", "lv_p")
            }
            for role in conv.roles:
                self.raw[role] = np.concatenate(
                    [b.raw[role].astype(np.float64).ravel() for b in batches]
                )
            self.ref = diag_kl(self.c["mu_q"], self.c["lv_q"], self.c["mu_p"], self.c["lv_p"])
            self.terms = diag_terms(self.c["mu_q"], self.c["lv_q"], self.c["mu_p"], self.c["lv_p"])
            self.parts: list[FullParts] = []
        else:
            self.c = {}
            self.parts = [FullParts(b.canon) for b in batches]
            self.ref = np.concatenate([p.kl() for p in self.parts])
            self.terms = np.concatenate([p.terms() for p in self.parts])
        self._variants: dict[str, Variant] = {}

    @property
    def declared(self) -> str:
        """The variant name of the declared reduction."""
        return self.conv.effective_reduction

    def variant_names(self) -> tuple[str, ...]:
        """All reduction variants for this family."""
        if self.family == "diag":
            return tuple(VARIANT_TEXT)
        return tuple(FULL_VARIANT_TEXT)

    def describe(self, name: str) -> str:
        """Plain-words description of a variant."""
        return (VARIANT_TEXT if self.family == "diag" else FULL_VARIANT_TEXT)[name]

    def variant(self, name: str) -> Variant:
        """The :class:`Variant` called ``name`` (cached)."""
        if name in self._variants:
            return self._variants[name]
        one = np.ones(self.size)
        shapes: list[tuple[int, ...]]
        sizes = [b.shape for b in self.batches]
        if name == "none":
            gid = np.arange(self.size)
            weight = one
            shapes = [(n, d) if self.family == "diag" else (n,) for n, d in sizes]
        elif name in ("batch", "mean_d"):
            gid = self.e_row
            weight = one if name == "batch" else 1.0 / self.bd
            shapes = [(n,) for n, _ in sizes]
        elif name in ("sum_n", "mean_n"):
            gid = self.e_col
            weight = one if name == "sum_n" else 1.0 / self.bn
            shapes = [(d,) for _, d in sizes]
        else:
            gid = self.e_batch
            weight = {
                "sum": one,
                "batchmean": 1.0 / self.bn,
                "mean": 1.0 / (self.bn * self.bd),
                "sum_over_d": 1.0 / self.bd,
            }[name]
            shapes = [() for _ in sizes]
        n_units = int(gid.max()) + 1 if gid.size else 0
        unit_batch = np.zeros(n_units, dtype=int)
        unit_batch[gid] = self.e_batch
        v = Variant(name, gid, weight, n_units, shapes, unit_batch)
        self._variants[name] = v
        return v

    def reduce(self, values: np.ndarray, name: str) -> np.ndarray:
        """Reduce elementwise ``values`` with variant ``name`` (nan propagates)."""
        v = self.variant(name)
        with np.errstate(all="ignore"):
            return np.bincount(v.gid, weights=values * v.weight, minlength=v.n_units)

    def count(self, mask: np.ndarray, name: str) -> np.ndarray:
        """Number of True elements of ``mask`` per unit."""
        v = self.variant(name)
        return np.bincount(v.gid, weights=mask.astype(np.float64), minlength=v.n_units)

    def n_elements(self, name: str) -> np.ndarray:
        """Elements per unit."""
        v = self.variant(name)
        return np.bincount(v.gid, minlength=v.n_units).astype(np.float64)

    def flatten(self, outputs: list[np.ndarray], name: str) -> np.ndarray | None:
        """Observed outputs as one unit vector, or None when shapes do not fit ``name``."""
        v = self.variant(name)
        if any(o.shape != s for o, s in zip(outputs, v.shapes, strict=True)):
            return None
        return np.concatenate([o.ravel() for o in outputs]) if outputs else np.zeros(0)

    def unit_element(self, name: str) -> np.ndarray:
        """One element index per unit (its first), to describe where a unit lies."""
        v = self.variant(name)
        first = np.full(v.n_units, -1)
        order = np.arange(self.size)[::-1]
        first[v.gid[order]] = order
        return first
