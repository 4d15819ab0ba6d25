"""Array layouts (``--layout "N C H W"``): how the validator's (N, D) batches reach the function.

Internally every batch is (N, D).  A layout names the axes of the arrays the
function receives, einops-style: ``N`` is the batch axis and every other name
is an event axis, which the KL sums over (``batch``) or averages over
(``mean``); D is the product of the event axes' sizes.  ``"D N"`` puts the
batch last.  A role may have its own layout (``--args mu,logvar:D``); a layout
without ``N`` means one parameter shared by the whole batch (broadcast).

>>> import numpy as np
>>> lay = AxisLayout.parse("N C H W")
>>> lay.event_axes, lay.text
(('C', 'H', 'W'), 'N C H W')
>>> x = np.arange(12.0).reshape(2, 6)
>>> lay.to_function(x, lay, (1, 2, 3)).shape
(2, 1, 2, 3)
>>> AxisLayout.parse("D N").to_function(x, AxisLayout.parse("D N"), (6,)).shape
(6, 2)
>>> AxisLayout.parse("D", main=False).to_function(np.ones((2, 6)), DEFAULT, (6,)).shape
(6,)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from elbo_check.errors import ValidationError

__all__ = ["DEFAULT", "AxisLayout", "split_role_layouts"]


@dataclasses.dataclass(frozen=True)
class AxisLayout:
    """The names of an array's axes, in the order the function sees them."""

    axes: tuple[str, ...]

    @classmethod
    def parse(cls, text: str, *, main: bool = True) -> AxisLayout:
        """Parse ``"N C H W"`` (raises ValidationError naming the bad layout).

        >>> AxisLayout.parse("N N")
        Traceback (most recent call last):
        ...
        elbo_check.errors.ValidationError: bad --layout 'N N': an axis name repeats
        """
        if not isinstance(text, str):
            raise ValidationError(f"--layout must be a string such as 'N C H W', got {text!r}")
        axes = tuple(text.replace(",", " ").split())
        if not axes or any(not a.isidentifier() for a in axes):
            raise ValidationError(
                f"bad --layout {text!r}: expected axis names separated by spaces, such as 'N C H W'"
            )
        if len(set(axes)) != len(axes):
            raise ValidationError(f"bad --layout {text!r}: an axis name repeats")
        if main and "N" not in axes:
            raise ValidationError(f"bad --layout {text!r}: it needs the batch axis N")
        if len(axes) == 1 and axes[0] == "N":
            raise ValidationError(f"bad --layout {text!r}: it needs at least one event axis")
        return cls(axes)

    @property
    def text(self) -> str:
        """The layout as written (``"N C H W"``)."""
        return " ".join(self.axes)

    @property
    def event_axes(self) -> tuple[str, ...]:
        """Every axis but ``N``, in this layout's order."""
        return tuple(a for a in self.axes if a != "N")

    @property
    def broadcast(self) -> bool:
        """True when the array has no batch axis (one value for every row)."""
        return "N" not in self.axes

    @property
    def is_default(self) -> bool:
        """True for ``"N D"``-like layouts: the batch first, then one event axis."""
        return len(self.axes) == 2 and self.axes[0] == "N"

    def check_role(self, main: AxisLayout, role: str) -> None:
        """A role's layout must use the main layout's event axes (and N or not)."""
        if sorted(self.event_axes) != sorted(main.event_axes):
            raise ValidationError(
                f"bad layout {self.text!r} for {role}: expected the event axes "
                f"{' '.join(main.event_axes)} of --layout {main.text!r}, with or without N"
            )

    def to_function(self, arr: np.ndarray, main: AxisLayout, event: tuple[int, ...]) -> np.ndarray:
        """An internal (N, D) array in this layout; ``event`` gives ``main``'s event sizes."""
        n = arr.shape[0]
        full = np.reshape(arr, (n, *event))  # axes: N, then main's event axes
        names = ("N", *main.event_axes)
        if self.broadcast:
            full = full[0]
            names = names[1:]
        order = [names.index(a) for a in self.axes]
        return np.ascontiguousarray(np.transpose(full, order))

    def from_function(self, out: np.ndarray, n: int, event: tuple[int, ...]) -> np.ndarray:
        """A result in this (main) layout back in internal order: (N, D), (D,) or unchanged."""
        named = dict(zip(("N", *self.event_axes), (n, *event), strict=True))
        full = tuple(named[a] for a in self.axes)
        d = int(np.prod(event))
        if out.shape == full and not self.is_default:
            order = [self.axes.index(a) for a in ("N", *self.event_axes)]
            return np.reshape(np.transpose(out, order), (n, d))
        events = tuple(named[a] for a in self.event_axes)
        if out.shape == events and len(events) > 1:
            return np.reshape(out, (d,))
        return out

    def event_shape(self, d: int) -> tuple[int, ...]:
        """Event sizes with product ``d``, spread over the event axes (trailing ones 1).

        >>> AxisLayout.parse("N C H W").event_shape(12)
        (2, 2, 3)
        """
        k = len(self.event_axes)
        sizes = []
        rest = d
        for _ in range(k - 1):
            p = next((p for p in range(2, rest + 1) if rest % p == 0), 1) if rest > 1 else 1
            sizes.append(p)
            rest //= p
        return (*sizes, rest)


DEFAULT = AxisLayout(("N", "D"))


def split_role_layouts(args: str) -> tuple[str, dict[str, str]]:
    """``"mu,logvar:D"`` -> (``"mu,logvar"``, ``{"logvar": "D"}``).

    >>> split_role_layouts("mu_q,logvar_q:D,mu_p,logvar_p:D")
    ('mu_q,logvar_q,mu_p,logvar_p', {'logvar_q': 'D', 'logvar_p': 'D'})
    """
    roles, layouts = [], {}
    for part in args.split(","):
        role, sep, lay = part.partition(":")
        roles.append(role.strip())
        if sep:
            layouts[role.strip()] = lay.strip()
    return ",".join(roles), layouts
