"""Discrete conventions: the roles ``probs_q``, ``logits_q``, ``probs_p``, ``logits_p``.

Which distribution a convention means is read from the layout.  Without a class
axis every array holds one probability (or logit) per latent unit: Bernoulli.
With the class axis ``K`` in ``--layout`` (``"N K"``, ``"N D K"``, ``"K N"``)
the arrays hold a distribution over K classes per latent unit: Categorical.
Without a prior role the prior is the uniform distribution over the outcomes:
Bernoulli(½), or Uniform over the K classes.

Internally a batch is (N, *event) for Bernoulli and (N, *event, K) for
Categorical, with the event axes in the main layout's order; a role's layout
may permute them, and may drop ``N`` (one array shared by the batch).

>>> c = parse_discrete("logits_q", "batch", "N D K")
>>> c.dist, c.side("q"), c.side("p")
('categorical', 'logits', None)
>>> parse_discrete("probs_q,probs_p", "sum", None).dist
'bernoulli'
>>> DISCRETE_ROLES
('probs_q', 'logits_q', 'probs_p', 'logits_p')
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from elbo_check._validate._axes import AxisLayout, split_role_layouts
from elbo_check._validate._types import DISCRETE_QUANTITIES, DiscreteDist, Reduction
from elbo_check.errors import ValidationError

__all__ = ["CLASS_AXIS", "DISCRETE_ROLES", "DiscreteConvention", "is_discrete", "parse_discrete"]

#: the pinned roles of a discrete KL
DISCRETE_ROLES = tuple(f"{q.value}_{s}" for s in ("q", "p") for q in DISCRETE_QUANTITIES)
#: the axis letter that marks the classes of a Categorical
CLASS_AXIS = "K"
_BERNOULLI_DEFAULT = AxisLayout(("N", "D"))


def _names(roles: str | Sequence[str]) -> list[str]:
    text = roles if isinstance(roles, str) else ",".join(str(r) for r in roles)
    return [r.split(":")[0].strip() for r in text.split(",")]


def is_discrete(roles: str | Sequence[str]) -> bool:
    """True when ``--args`` names a probs/logits role.

    >>> is_discrete("logits_q:K"), is_discrete("mu,logvar")
    (True, False)
    """
    return any(n in DISCRETE_ROLES for n in _names(roles))


@dataclasses.dataclass(frozen=True)
class DiscreteConvention:
    """What the positional arguments of a discrete KL hold, and the reduction."""

    roles: tuple[str, ...]
    dist: DiscreteDist
    reduction: str
    layout: AxisLayout
    role_layouts: tuple[tuple[str, AxisLayout], ...] = ()

    def side(self, side: str) -> str | None:
        """``"probs"``, ``"logits"`` or None (the uniform prior) for side ``q`` or ``p``."""
        for r in self.roles:
            kind, s = r.rsplit("_", 1)
            if s == side:
                return kind
        return None

    def role(self, side: str) -> str | None:
        """The role name of ``side``, or None."""
        kind = self.side(side)
        return None if kind is None else f"{kind}_{side}"

    def layout_of(self, role: str) -> AxisLayout:
        """The layout of ``role``'s array: its override, or the main layout."""
        return dict(self.role_layouts).get(role, self.layout)

    @property
    def categorical(self) -> bool:
        """True for a Categorical (the layout has the class axis)."""
        return self.dist is DiscreteDist.CATEGORICAL

    @property
    def event_axes(self) -> tuple[str, ...]:
        """The latent axes the KL sums over for ``batch`` (neither N nor K)."""
        return tuple(a for a in self.layout.axes if a not in ("N", CLASS_AXIS))

    def internal_axes(self) -> tuple[str, ...]:
        """The internal axis order: N, the event axes, then K for a Categorical."""
        return ("N", *self.event_axes) + ((CLASS_AXIS,) if self.categorical else ())

    def to_function(self, role: str, arr: np.ndarray) -> np.ndarray:
        """An internal (N, *event[, K]) array in ``role``'s layout (row 0 when it has no N)."""
        lay = self.layout_of(role).axes
        internal = self.internal_axes()
        if "N" not in lay:
            arr = arr[0]
            internal = internal[1:]
        return np.ascontiguousarray(np.transpose(arr, [internal.index(a) for a in lay]))

    def output_axes(self) -> tuple[str, ...]:
        """The axes of a per-unit (``none``) result, in the main layout's order."""
        return tuple(a for a in self.layout.axes if a != CLASS_AXIS)

    def function_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The function-layout shape of an internal (N, *event) unit shape."""
        internal = ("N", *self.event_axes)
        return tuple(shape[internal.index(a)] for a in self.output_axes())

    @property
    def args_text(self) -> str:
        """The ``--args`` value that gives this convention (overrides included)."""
        over = dict(self.role_layouts)
        return ",".join(r + (f":{over[r].text}" if r in over else "") for r in self.roles)


def _role_layout(role: str, text: str, main: AxisLayout) -> AxisLayout:
    lay = AxisLayout.parse(text, main=False)
    wanted = {a for a in main.axes if a != "N"}
    if {a for a in lay.axes if a != "N"} != wanted or not set(lay.axes) <= set(main.axes):
        raise ValidationError(
            f"the layout {text!r} of {role!r} must name the axes of --layout {main.text!r} "
            "(in any order), with or without N"
        )
    return lay


def parse_discrete(
    roles: str | Sequence[str], reduction: str, layout: str | None
) -> DiscreteConvention:
    """Parse ``--args`` with probs/logits roles, ``--reduction`` and ``--layout``.

    >>> parse_discrete("logits_q,mu", "sum", None)
    Traceback (most recent call last):
    ...
    elbo_check.errors.ValidationError: --args mixes discrete roles (probs_q, logits_q, probs_p, logits_p) with Gaussian ones: 'logits_q,mu'
    """
    text = roles if isinstance(roles, str) else ",".join(str(r) for r in roles)
    plain, overrides = split_role_layouts(text)
    names = tuple(r.strip() for r in plain.split(","))
    if any(n not in DISCRETE_ROLES for n in names):
        raise ValidationError(
            f"--args mixes discrete roles ({', '.join(DISCRETE_ROLES)}) with Gaussian ones: "
            f"{','.join(names)!r}"
        )
    for side in ("q", "p"):
        given = [n for n in names if n.endswith("_" + side)]
        if len(given) > 1:
            raise ValidationError(f"--args gives {side} twice: {', '.join(given)}; give one")
    if not any(n.endswith("_q") for n in names):
        raise ValidationError(f"--args must give q (probs_q or logits_q), got {','.join(names)!r}")
    if reduction not in [r.value for r in Reduction]:
        raise ValidationError(
            f"unknown reduction {reduction!r}; expected one of "
            f"{', '.join(r.value for r in Reduction)}"
        )
    main = _BERNOULLI_DEFAULT if layout is None else AxisLayout.parse(layout)
    categorical = CLASS_AXIS in main.axes
    per_role = []
    for role, lay_text in overrides.items():
        if role not in names:
            raise ValidationError(f"a layout is given for {role!r}, which is not in --args")
        per_role.append((role, _role_layout(role, lay_text, main)))
    dist = DiscreteDist.CATEGORICAL if categorical else DiscreteDist.BERNOULLI
    return DiscreteConvention(names, dist, reduction, main, tuple(per_role))
