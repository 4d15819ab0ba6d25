"""The designed and random input batches the validator feeds to a KL function.

Every batch is a set of (q, p) pairs, shaped (N, D) for means and (N, D, D)
for matrices.  Besides random draws the plan always holds batches designed to
expose the bug classes: asymmetric pairs (direction), q ≈ p and q = p
(cancellation, missing constant), and single extreme entries (|mu| up to 100,
logvar from -30 to 30) that silent clamping or clipping would change.

Values are generated in float64 as *targets*, converted into each role's
parametrisation, rounded to the requested dtype (the *raw* arrays the function
receives), and converted back into float64 *canonical* values, so that the
reference is computed from exactly the numbers the function saw.

>>> import numpy as np
>>> from elbo_check._validate._roles import parse_convention
>>> from elbo_check._validate._search import plan
>>> batches = plan(parse_convention("mu,std", "sum"), 40, np.random.default_rng(0), "float64")
>>> sorted(batches[0].raw)
['mu', 'std']
"""

from __future__ import annotations

import dataclasses

import numpy as np

from elbo_check._validate._roles import Convention

__all__ = ["Batch", "canon_from_raw", "make_batch", "plan", "probe_plan", "replicated_batch"]

# extreme values the plan always visits (one per batch, the rest moderate)
EXTREME_LOGVAR = (-30.0, -15.0, 15.0, 30.0)
EXTREME_MU = (100.0, -100.0, 30.0)


@dataclasses.dataclass
class Batch:
    """One call's worth of inputs: raw role arrays and float64 canonical values."""

    label: str
    shape: tuple[int, int]
    raw: dict[str, np.ndarray]
    canon: dict[str, np.ndarray]
    #: the sizes of the layout's event axes (product D); (D,) for "N D"
    event: tuple[int, ...] = ()

    def event_shape(self, conv: Convention) -> tuple[int, ...]:
        """The event sizes, or the layout's default spread of D over its event axes."""
        return self.event or conv.layout.event_shape(self.shape[1])


def _role_name(conv: Convention, side: str, quantity: str) -> str | None:
    for role, slot in zip(conv.roles, conv.slots, strict=True):
        if slot == (side, quantity):
            return role
    return None


def _from_logvar(quantity: str, lv: np.ndarray) -> np.ndarray:
    if quantity == "logvar":
        return lv
    if quantity == "logstd":
        return lv / 2
    if quantity == "std":
        return np.exp(lv / 2)
    return np.exp(lv)  # var


def _to_logvar(quantity: str, x: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        if quantity == "logvar":
            return x
        if quantity == "logstd":
            return 2 * x
        if quantity == "std":
            return 2 * np.log(x)
        return np.log(x)  # var


def canon_from_raw(
    conv: Convention, raw: dict[str, np.ndarray], shape: tuple[int, int]
) -> dict[str, np.ndarray]:
    """Float64 canonical values (means, log-variances or matrices) of raw role arrays."""
    n, d = shape
    canon: dict[str, np.ndarray] = {}
    for side in ("q", "p"):
        mu_role = _role_name(conv, side, "mu")
        canon[f"mu_{side}"] = (
            raw[mu_role].astype(np.float64) if mu_role else np.zeros((n, d), dtype=np.float64)
        )
        scale = conv.scale(side)
        role = _role_name(conv, side, scale) if scale else None
        if conv.family == "diag":
            if role is None or scale is None:
                canon[f"lv_{side}"] = np.zeros((n, d), dtype=np.float64)
            else:
                canon[f"lv_{side}"] = _to_logvar(scale, raw[role].astype(np.float64))
        elif role is None:
            eye = np.broadcast_to(np.eye(d), (n, d, d)).copy()
            canon[f"cov_{side}"] = eye
            canon[f"L_{side}"] = eye.copy()
        elif scale == "cov":
            cov = raw[role].astype(np.float64)
            canon[f"cov_{side}"] = cov
            canon[f"L_{side}"] = np.linalg.cholesky(cov)
        else:
            lower = np.tril(raw[role].astype(np.float64))
            canon[f"L_{side}"] = lower
            canon[f"cov_{side}"] = lower @ np.swapaxes(lower, -1, -2)
    return canon


def make_batch(
    conv: Convention,
    label: str,
    targets: dict[str, np.ndarray],
    dtype: str,
    event: tuple[int, ...] = (),
) -> Batch:
    """Round float64 targets into the roles' raw arrays and build the batch.

    A broadcast role (a layout without N) gets the same row in every row.
    """
    n, d = targets["mu_q"].shape
    raw: dict[str, np.ndarray] = {}
    for role, (side, quantity) in zip(conv.roles, conv.slots, strict=True):
        if conv.broadcast(role):
            key = f"mu_{side}" if quantity == "mu" else f"lv_{side}"
            targets[key] = np.broadcast_to(targets[key][:1], targets[key].shape).copy()
        if quantity == "mu":
            value = targets[f"mu_{side}"]
        elif conv.family == "diag":
            value = _from_logvar(quantity, targets[f"lv_{side}"])
        elif quantity == "scale_tril":
            value = targets[f"L_{side}"]
        else:
            lower = targets[f"L_{side}"]
            value = lower @ np.swapaxes(lower, -1, -2)
            value = 0.5 * (value + np.swapaxes(value, -1, -2))
        raw[role] = np.ascontiguousarray(value, dtype=np.dtype(dtype))
    return Batch(label, (n, d), raw, canon_from_raw(conv, raw, (n, d)), event)


def _random_lower(rng: np.random.Generator, n: int, d: int, log_scale: float = 0.0) -> np.ndarray:
    """Random Cholesky factors with moderate condition numbers."""
    lower = np.tril(rng.normal(0.0, 0.5, size=(n, d, d)), -1)
    diag = np.exp(rng.uniform(-0.7, 0.7, size=(n, d)) + log_scale / 2)
    idx = np.arange(d)
    lower[:, idx, idx] = diag
    if log_scale:
        off = np.tril(np.ones((d, d)), -1).astype(bool)
        lower[:, off] *= np.exp(log_scale / 2)
    return lower


def _targets(
    conv: Convention, rng: np.random.Generator, n: int, d: int, wide: bool, mu_sd: float
) -> dict[str, np.ndarray]:
    t: dict[str, np.ndarray] = {}
    for side in ("q", "p"):
        if wide:
            t[f"mu_{side}"] = rng.uniform(-100.0, 100.0, size=(n, d))
        else:
            t[f"mu_{side}"] = rng.normal(0.0, mu_sd, size=(n, d))
        if conv.family == "diag":
            lim = 30.0 if wide else 6.0
            t[f"lv_{side}"] = rng.uniform(-lim, lim, size=(n, d))
        else:
            t[f"L_{side}"] = _random_lower(rng, n, d, rng.uniform(-8, 8) if wide else 0.0)
    return t


def _designed(conv: Convention, rng: np.random.Generator, dtype: str) -> list[Batch]:
    k = len(conv.layout.event_axes)
    event = (2, 3, 4, 5, 6)[:k] if k > 1 else (3,)
    moderate = _targets(conv, rng, 4, int(np.prod(event)), False, 1.5)
    batches = [make_batch(conv, "moderate", moderate, dtype, event)]
    # q ≈ p: the textbook formula cancels here; q = p: KL is exactly 0
    delta = 1e-7 if dtype == "float64" else 1e-3
    near = _targets(conv, rng, 3, 2, False, 1.5)
    equal = _targets(conv, rng, 2, 3, False, 1.5)
    for t in (near, equal):
        if conv.has_prior_mean:
            t["mu_q"] = t["mu_p"].copy()
        else:
            t["mu_q"] = np.zeros_like(t["mu_q"])
        key = "lv" if conv.family == "diag" else "L"
        if conv.scale("p") is not None:
            t[f"{key}_q"] = t[f"{key}_p"].copy()
        elif conv.family == "diag":
            t["lv_q"] = np.zeros_like(t["lv_q"])
        else:
            t["L_q"] = np.broadcast_to(np.eye(t["L_q"].shape[-1]), t["L_q"].shape).copy()
    near["mu_q"] = near["mu_q"] + delta * rng.choice([-1.0, 1.0], size=near["mu_q"].shape)
    if conv.family == "diag":
        near["lv_q"] = near["lv_q"] + delta * rng.choice([-1.0, 1.0], size=near["lv_q"].shape)
    else:
        near["L_q"] = near["L_q"] * (1 + delta)
    batches += [make_batch(conv, "near", near, dtype), make_batch(conv, "equal", equal, dtype)]
    # single extreme entries
    sides = ["q"] + (["p"] if conv.scale("p") is not None else [])
    for side in sides:
        for value in EXTREME_LOGVAR:
            t = _targets(conv, rng, 2, 2, False, 1.0)
            if conv.family == "diag":
                t[f"lv_{side}"][0, 0] = value
            else:
                t[f"L_{side}"] = _random_lower(rng, 2, 2, value / 3)
            batches.append(make_batch(conv, f"extreme:scale_{side}", t, dtype))
    mu_sides = ["q"] + (["p"] if conv.has_prior_mean else [])
    for side in mu_sides:
        for value in EXTREME_MU:
            t = _targets(conv, rng, 2, 2, False, 1.0)
            t[f"mu_{side}"][0, 0] = value
            batches.append(make_batch(conv, f"extreme:mu_{side}", t, dtype))
    # batch size 1 (a squeezed or mis-shaped result shows only there)
    for n, d in ((1, 1), (1, 3)):
        batches.append(make_batch(conv, "single", _targets(conv, rng, n, d, False, 1.5), dtype))
    # many latent dimensions at extreme (but searched) log-variances: forms that
    # multiply variances across dimensions over- or underflow there, although the
    # KL is finite.  (Full covariance is left out: log(det Σ) is the textbook form,
    # and large, badly scaled covariances are not what its users feed it.)
    if conv.family == "diag":
        t = _targets(conv, rng, 2, 64, False, 1.0)
        t["lv_q"][0, :] = -30.0
        t["lv_q"][1, :] = 30.0
        if conv.scale("p") is not None:
            t["lv_p"][0, :] = 30.0
        batches.append(make_batch(conv, "extreme:scale_q", t, dtype))
    return batches


def _random_event(conv: Convention, rng: np.random.Generator, max_d: int) -> tuple[int, ...]:
    """Event sizes of a random batch: D in 1..max_d, or 1..3 per axis for several axes."""
    k = len(conv.layout.event_axes)
    if k == 1:
        return (int(rng.integers(1, max_d + 1)),)
    return tuple(int(x) for x in rng.integers(1, 4, size=k))


def plan(conv: Convention, examples: int, rng: np.random.Generator, dtype: str) -> list[Batch]:
    """The designed batches, then random ones until ``examples`` rows in all.

    Per-element and per-row reductions get large batches (few calls); scalar
    reductions get small ones, so that each call still says something.
    """
    batches = _designed(conv, rng, dtype)
    rows = sum(b.shape[0] for b in batches)
    scalar = conv.effective_reduction not in ("none", "batch")
    max_d = 5 if conv.family == "full" else 6
    while rows < examples:
        if scalar:
            n = int(rng.integers(1, 7))
        else:
            n = int(rng.integers(4, 49 if conv.family == "diag" else 25))
        n = min(n, max(1, examples - rows))
        event = _random_event(conv, rng, max_d)
        d = int(np.prod(event))
        wide = bool(rng.random() < 0.25)
        mu_sd = float(rng.choice([0.5, 2.0, 5.0]))
        label = "wide" if wide else "random"
        batches.append(
            make_batch(conv, label, _targets(conv, rng, n, d, wide, mu_sd), dtype, event)
        )
        rows += n
    return batches


def probe_plan(conv: Convention, rng: np.random.Generator, dtype: str) -> list[Batch]:
    """A few small batches (N ≠ D) that tell the reductions and roles apart."""
    k = len(conv.layout.event_axes)
    events = (
        [(3,), (5,), (2,)] if k == 1 else [(2, 3, 4, 5)[:k], (3, 2, 1, 2)[:k], (1, 2, 2, 1)[:k]]
    )
    return [
        make_batch(conv, "moderate", _targets(conv, rng, n, int(np.prod(e)), False, 1.5), dtype, e)
        for n, e in zip((4, 2, 3), events, strict=True)
    ]


def replicated_batch(conv: Convention, rng: np.random.Generator, dtype: str, n: int = 64) -> Batch:
    """One moderate (q, p) pair repeated in ``n`` identical rows: a closed form gives equal outputs."""
    k = len(conv.layout.event_axes)
    event = (2, 3, 1, 1, 1)[:k] if k > 1 else (3,)
    one = _targets(conv, rng, 1, int(np.prod(event)), False, 1.0)
    targets = {key: np.repeat(v, n, axis=0) for key, v in one.items()}
    return make_batch(conv, "replicated", targets, dtype, event)
