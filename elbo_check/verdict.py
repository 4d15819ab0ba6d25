"""Three-valued (plus one) verdicts, after sympy.stats' ``_value_check``.

Only :attr:`Verdict.PROVED` is a proof.  :attr:`Verdict.CORROBORATED` means
high-precision numeric agreement at every sampled point: evidence, not proof.
:attr:`Verdict.REFUTED` carries a counterexample.  :attr:`Verdict.UNDECIDED`
means the checker could neither close nor refute the claim.

>>> from elbo_check.verdict import Verdict
>>> Verdict.PROVED.is_proof, Verdict.CORROBORATED.is_proof
(True, False)
>>> Verdict.weakest([Verdict.PROVED, Verdict.CORROBORATED])
<Verdict.CORROBORATED: 'corroborated'>
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

__all__ = ["Verdict"]


class Verdict(str, enum.Enum):
    """The outcome of checking one claim."""

    PROVED = "proved"
    CORROBORATED = "corroborated"
    UNDECIDED = "undecided"
    REFUTED = "refuted"

    @property
    def is_proof(self) -> bool:
        """True only for :attr:`PROVED`."""
        return self is Verdict.PROVED

    @property
    def passes(self) -> bool:
        """True when the claim is not in doubt: proved or corroborated."""
        return self in (Verdict.PROVED, Verdict.CORROBORATED)

    @property
    def rank(self) -> int:
        """Strength order: proved (3) > corroborated (2) > undecided (1) > refuted (0)."""
        return _RANK[self]

    @staticmethod
    def weakest(verdicts: Iterable[Verdict]) -> Verdict:
        """The weakest of ``verdicts`` (``PROVED`` for an empty iterable)."""
        return min(verdicts, key=lambda v: v.rank, default=Verdict.PROVED)

    def __str__(self) -> str:
        return self.value


_RANK = {
    Verdict.PROVED: 3,
    Verdict.CORROBORATED: 2,
    Verdict.UNDECIDED: 1,
    Verdict.REFUTED: 0,
}
