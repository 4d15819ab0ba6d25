"""Shrinking a failing batch to a minimal counterexample.

Two stages, each keeping the input failing in the same way: first the shape
(N = 1, D = 1 where possible, by taking rows, columns or principal blocks of
the failing batch), then the values (each entry replaced by the roundest
number that still fails: 0, ±1, ±2, then the entry rounded).

>>> import numpy as np
>>> from elbo_check._validate._roles import parse_convention
>>> from elbo_check._validate._shrink import shrink
>>> conv = parse_convention("mu,logvar", "none")
>>> raw = {"mu": np.array([[0.3, -2.7]]), "logvar": np.array([[1.3, 0.4]])}
>>> small = shrink(conv, raw, lambda r: bool(np.any(r["mu"] < -1)), "float64")
>>> small["mu"].tolist(), small["logvar"].tolist()
([[-2.0]], [[0.0]])
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from elbo_check._validate._roles import Convention

__all__ = ["shrink", "simplicity"]

Raw = dict[str, np.ndarray]


def simplicity(x: float) -> tuple[int, float]:
    """Sort key: fewer decimals first, then smaller magnitude (0 is simplest)."""
    if x == 0:
        return (0, 0.0)
    for digits in range(7):
        if abs(round(x, digits) - x) <= 1e-12 * abs(x):
            return (1 + digits, abs(x))
    return (9, abs(x))


def _candidates(x: float, positive: bool) -> list[float]:
    if positive:
        base = [1.0, 2.0, 0.5]
        rounded = [round(x, k) for k in range(3)]
        cands = base + [r for r in rounded if r > 0]
    else:
        cands = [0.0, 1.0, -1.0, 2.0, -2.0] + [float(round(x, k)) for k in range(3)]
    key = simplicity(x)
    seen: list[float] = []
    for c in cands:
        if c != x and c not in seen and simplicity(c) < key:
            seen.append(c)
    return seen


def _subsets(total: int, size: int, hint: int | None) -> list[list[int]]:
    subs = [list(range(size)), list(range(total - size, total))]
    if hint is not None:
        start = min(max(0, hint - size + 1), total - size)
        subs.append(list(range(start, start + size)))
        if size == 1:
            subs.insert(0, [hint])
    out: list[list[int]] = []
    for s in subs:
        if s not in out:
            out.append(s)
    return out


def _take(conv: Convention, raw: Raw, rows: list[int], cols: list[int]) -> Raw:
    out: Raw = {}
    for role in conv.roles:
        a = raw[role][rows]
        if a.ndim == 3:
            a = a[:, cols][:, :, cols]
        else:
            a = a[:, cols]
        out[role] = np.ascontiguousarray(a)
    return out


def _valid(conv: Convention, raw: Raw) -> bool:
    for role, (_, quantity) in zip(conv.roles, conv.slots, strict=True):
        a = raw[role].astype(np.float64)
        if not np.all(np.isfinite(a)):
            return False
        if quantity in ("std", "var") and np.any(a <= 0):
            return False
        if quantity == "cov":
            try:
                np.linalg.cholesky(a)
            except np.linalg.LinAlgError:
                return False
        if quantity == "scale_tril" and np.any(np.diagonal(a, axis1=-2, axis2=-1) <= 0):
            return False
    return True


def shrink(
    conv: Convention,
    raw: Raw,
    fails: Callable[[Raw], bool],
    dtype: str,
    hint: tuple[int, int] | None = None,
    budget: int = 300,
) -> Raw:
    """The smallest, roundest variant of ``raw`` for which ``fails`` stays True."""
    calls = 0

    def check(candidate: Raw) -> bool:
        nonlocal calls
        if calls >= budget or not _valid(conv, candidate):
            return False
        calls += 1
        return fails(candidate)

    mu_role = conv.roles[conv.slots.index(("q", "mu"))]
    n_all, d_all = raw[mu_role].shape
    best = raw
    # stage 1: shape
    sizes_n = sorted({1, 2, 3, n_all} & set(range(1, n_all + 1)))
    sizes_d = sorted({1, 2, 3, d_all} & set(range(1, d_all + 1)))
    found = False
    for n, d in sorted(itertools.product(sizes_n, sizes_d), key=lambda s: (s[0] * s[1], s[0])):
        if (n, d) == (n_all, d_all):
            break
        row_sets = _subsets(n_all, n, hint[0] if hint else None)
        col_sets = _subsets(d_all, d, hint[1] if hint else None)
        for rows, cols in itertools.product(row_sets, col_sets):
            candidate = _take(conv, raw, rows, cols)
            if check(candidate):
                best, found = candidate, True
                break
        if found:
            break
    # stage 2: values, entry by entry
    np_dtype = np.dtype(dtype)
    for role, (_, quantity) in zip(conv.roles, conv.slots, strict=True):
        arr = best[role]
        idx_list = list(np.ndindex(arr.shape))
        if arr.ndim == 3:
            idx_list = [i for i in idx_list if i[1] >= i[2]]
        shared = conv.broadcast(role)  # one row shared by all rows: change whole columns
        if shared:
            idx_list = [i for i in idx_list if i[0] == 0]
        for idx in idx_list:
            x = float(best[role][idx])
            positive = quantity in ("std", "var") or (arr.ndim == 3 and idx[1] == idx[2])
            for c in _candidates(x, positive):
                new = best[role].copy()
                new[idx] = np_dtype.type(c)
                if shared:
                    new[:, idx[1]] = np_dtype.type(c)
                if quantity == "cov":
                    new[idx[0], idx[2], idx[1]] = np_dtype.type(c)
                candidate = {**best, role: new}
                if check(candidate):
                    best = candidate
                    break
    return best
