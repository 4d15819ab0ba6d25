"""Argument roles and reductions: parsing ``--args`` and ``--reduction``.

A *convention* says what each positional argument of the user's function holds
and how the result is reduced.  Roles are normalised to a side (``q`` or ``p``)
and a quantity (``mu``, ``logvar``, ``std``, ``var``, ``logstd``, ``cov``,
``scale_tril``); the bare standard-normal names (``mu``, ``logvar``, ...) are
the ``q`` side with a standard-normal prior.

>>> from elbo_check._validate._roles import parse_convention
>>> c = parse_convention("mu,logvar", "sum")
>>> c.family, c.slots
('diag', (('q', 'mu'), ('q', 'logvar')))
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

from elbo_check._validate._axes import DEFAULT, AxisLayout, split_role_layouts
from elbo_check._validate._discrete_conv import DISCRETE_ROLES as _DISCRETE_ROLES
from elbo_check._validate._types import DIAG_SCALES as _DIAG
from elbo_check._validate._types import FULL_SCALES as _FULL
from elbo_check._validate._types import Reduction
from elbo_check.errors import ValidationError

__all__ = [
    "DIAG_SCALES",
    "FULL_SCALES",
    "REDUCTIONS",
    "Convention",
    "auto_candidates",
    "parse_convention",
    "parse_roles",
]

DIAG_SCALES = tuple(q.value for q in _DIAG)
FULL_SCALES = tuple(q.value for q in _FULL)
REDUCTIONS = tuple(r.value for r in Reduction)

_BARE = {"mu", *DIAG_SCALES}
_SIDED = {f"{q}_{s}" for q in ("mu", *DIAG_SCALES, *FULL_SCALES) for s in ("q", "p")}
KNOWN_ROLES = tuple(sorted(_BARE | _SIDED))
# the Bernoulli/Categorical roles (parsed by _discrete_conv; listed here so that
# an unknown role's message names them too)
KNOWN_ROLES = tuple(sorted({*KNOWN_ROLES, *_DISCRETE_ROLES}))

Slot = tuple[str, str]


@dataclasses.dataclass(frozen=True)
class Convention:
    """What the positional arguments hold and how the result is reduced."""

    roles: tuple[str, ...]
    slots: tuple[Slot, ...]
    family: str  # "diag" or "full"
    reduction: str
    layout: AxisLayout = DEFAULT
    role_layouts: tuple[tuple[str, AxisLayout], ...] = ()

    def layout_of(self, role: str) -> AxisLayout:
        """The layout of ``role``'s array: its override, or the main layout."""
        return dict(self.role_layouts).get(role, self.layout)

    def broadcast(self, role: str) -> bool:
        """True when ``role`` is one array shared by every row (no N axis)."""
        return self.layout_of(role).broadcast

    @property
    def has_prior_mean(self) -> bool:
        """True when the prior mean is an argument (not fixed at 0)."""
        return ("p", "mu") in self.slots

    def scale(self, side: str) -> str | None:
        """The scale quantity given for ``side`` (None: fixed at the standard normal)."""
        for s, q in self.slots:
            if s == side and q != "mu":
                return q
        return None

    @property
    def effective_reduction(self) -> str:
        """The reduction with full covariance's ``batch`` folded into ``none``."""
        if self.family == "full" and self.reduction == "batch":
            return "none"
        return self.reduction

    @property
    def args_text(self) -> str:
        """The ``--args`` value that gives this convention (overrides included)."""
        over = dict(self.role_layouts)
        return ",".join(r + (f":{over[r].text}" if r in over else "") for r in self.roles)

    @property
    def flags(self) -> str:
        """The CLI flags that give this convention."""
        text = f"--args {self.args_text} --reduction {self.reduction}"
        if self.layout != DEFAULT:
            text += f' --layout "{self.layout.text}"'
        return text


def parse_roles(roles: str | Sequence[str]) -> tuple[tuple[str, ...], tuple[Slot, ...], str]:
    """Parse ``"mu,logvar"`` into roles, (side, quantity) slots and the family.

    >>> parse_roles("mu_q,cov_q,mu_p,cov_p")[2]
    'full'
    >>> parse_roles("mu,sigma")
    Traceback (most recent call last):
    ...
    elbo_check.errors.ValidationError: unknown role 'sigma' in --args; did you mean 'std'? expected one of ...
    """
    if isinstance(roles, str):
        names = tuple(r.strip() for r in roles.split(","))
    else:
        names = tuple(str(r).strip() for r in roles)
    if not names or any(not n for n in names):
        raise ValidationError(f"--args needs comma-separated roles, got {roles!r}")
    slots: list[Slot] = []
    for name in names:
        if name not in KNOWN_ROLES:
            raise ValidationError(
                f"unknown role {name!r} in --args;{_suggest_role(name)} "
                f"expected one of {', '.join(KNOWN_ROLES)}"
            )
        if name in _BARE:
            slots.append(("q", name))
        else:
            quantity, side = name.rsplit("_", 1)
            slots.append((side, quantity))
    if len(set(slots)) != len(slots):
        raise ValidationError(f"--args names the same quantity twice: {','.join(names)!r}")
    family = "full" if any(q in FULL_SCALES for _, q in slots) else "diag"
    for side in ("q", "p"):
        scales = [q for s, q in slots if s == side and q != "mu"]
        if len(scales) > 1:
            raise ValidationError(
                f"--args gives two scales for {side}: {', '.join(scales)}; give exactly one"
            )
        if scales and (scales[0] in FULL_SCALES) != (family == "full"):
            raise ValidationError(
                f"--args mixes diagonal and full-covariance roles: {','.join(names)!r}"
            )
    if ("q", "mu") not in slots or not any(s == "q" and q != "mu" for s, q in slots):
        raise ValidationError(
            f"--args must give the mean and one scale of q (e.g. 'mu,logvar'), got {','.join(names)!r}"
        )
    return names, tuple(slots), family


#: what users call a role, by the role's name here
_SYNONYMS = {
    "sigma": "std",
    "sd": "std",
    "stddev": "std",
    "scale": "std",
    "sigma2": "var",
    "variance": "var",
    "log_sigma": "logstd",
    "logsigma": "logstd",
    "log_sigma2": "logvar",
    "mean": "mu",
    "loc": "mu",
    "m": "mu",
    "cov": "cov_q",
    "covariance": "cov_q",
    "cholesky": "scale_tril_q",
    "scale_tril": "scale_tril_q",
}


def _suggest_role(name: str) -> str:
    """`` did you mean 'logvar'?`` for a near miss or a common synonym, else ``""``.

    >>> _suggest_role("log_var"), _suggest_role("sigma_p"), _suggest_role("xyz")
    (" did you mean 'logvar'?", " did you mean 'std_p'?", '')
    """
    import difflib

    base, side = name.lower(), ""
    if base[-2:] in ("_q", "_p") and base[:-2] not in KNOWN_ROLES:
        base, side = base[:-2], base[-2:]
    guess = _SYNONYMS.get(base, base)
    candidate = guess + side if guess + side in KNOWN_ROLES else guess
    if candidate not in KNOWN_ROLES:
        close = difflib.get_close_matches(name, KNOWN_ROLES, n=1, cutoff=0.7)
        if not close:
            return ""
        candidate = close[0]
    return f" did you mean {candidate!r}?"


def parse_convention(
    roles: str | Sequence[str], reduction: str, layout: str | None = None
) -> Convention:
    """Build a :class:`Convention` from ``--args``, ``--reduction`` and ``--layout``.

    >>> c = parse_convention("mu,logvar:D", "batch", "N D")
    >>> c.flags
    '--args mu,logvar:D --reduction batch'
    """
    text = roles if isinstance(roles, str) else ",".join(str(r) for r in roles)
    roles, overrides = split_role_layouts(text)
    names, slots, family = parse_roles(roles)
    if reduction not in REDUCTIONS:
        raise ValidationError(
            f"unknown reduction {reduction!r}; expected one of {', '.join(REDUCTIONS)} or auto"
        )
    main = DEFAULT if layout is None else AxisLayout.parse(layout)
    per_role = []
    for role, text in overrides.items():
        if role not in names:
            raise ValidationError(f"a layout is given for {role!r}, which is not in --args")
        lay = AxisLayout.parse(text, main=False)
        lay.check_role(main, role)
        per_role.append((role, lay))
    if family == "full" and (main != DEFAULT or per_role):
        raise ValidationError(
            f"--layout {main.text!r} and per-role layouts apply to diagonal Gaussians only; "
            "full covariance keeps (N, D) means and (N, D, D) matrices"
        )
    return Convention(names, slots, family, reduction, main, tuple(per_role))


def _arities(arity: tuple[int, int] | None) -> list[int]:
    """Positional arities among 2 and 4 that a (required, accepted) signature allows."""
    if arity is None:
        return [2, 4]
    lo, hi = arity
    found = [a for a in (2, 4) if lo <= a <= hi]
    return found or [2, 4]


def _orders(roles: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every order of ``roles``: the given one, then means first, then the rest."""
    perms = list(itertools.permutations(roles))
    means_first = tuple(sorted(roles, key=lambda r: (not r.startswith("mu"), roles.index(r))))
    head = [roles, means_first]
    return list(dict.fromkeys(head + perms))


def _crossed(order: tuple[str, ...]) -> int:
    """1 when the means' sides come in another order than the scales' (mu_q, s_p, mu_p, s_q)."""
    sides = [r.rsplit("_", 1)[-1] if "_" in r else "q" for r in order]
    means = [s for r, s in zip(order, sides, strict=True) if r.startswith("mu")]
    scales = [s for r, s in zip(order, sides, strict=True) if not r.startswith("mu")]
    return int(len(means) == len(scales) and means != scales)


def auto_candidates(
    arity: tuple[int, int] | None, roles: str | Sequence[str] | None
) -> list[tuple[str, ...]]:
    """The role tuples ``--args auto`` tries, in every argument order, most common first.

    ``arity`` is (required, accepted) positional arguments, None when unknown.
    Most common first: the mean before the scale, q before p, the same scale
    on both sides; then every other order (the prior first, logvar before mu).

    >>> auto_candidates((2, 2), None)[:3]
    [('mu', 'logvar'), ('mu', 'std'), ('mu', 'var')]
    >>> ('logvar', 'mu') in auto_candidates((2, 2), None)
    True
    >>> len(auto_candidates((4, 4), None))
    480
    """
    if roles is not None:
        text = roles if isinstance(roles, str) else ",".join(roles)
        parse_roles(split_role_layouts(text)[0])  # a bad role is a usage error
        return [tuple(r.strip() for r in text.split(","))]
    ranked: list[tuple[tuple[int, int, int, int], tuple[str, ...]]] = []
    for n_args in _arities(arity):
        bases: list[tuple[str, ...]] = []
        if n_args == 2:
            bases += [("mu", s) for s in DIAG_SCALES]
            bases += [("mu_q", f"{s}_q") for s in FULL_SCALES]
        else:
            for scales in (DIAG_SCALES, FULL_SCALES):
                for sq, sp in itertools.product(scales, repeat=2):
                    bases.append(("mu_q", f"{sq}_q", "mu_p", f"{sp}_p"))
        for b, base in enumerate(bases):
            mixed = int(len({r.split("_")[0] for r in base if not r.startswith("mu")}) > 1)
            for k, order in enumerate(_orders(base)):
                ranked.append(((min(k, 2), _crossed(order), mixed, b), order))
    ranked.sort(key=lambda t: t[0])
    return [order for _, order in ranked]
