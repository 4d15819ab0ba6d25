r"""``gaussian-kl-zero-iff``: within the Gaussian family, KL = 0 iff the Gaussians are equal.

With :math:`d = \log(s_1^2 / s_2^2)` and :math:`f(d) = e^d - 1 - d`:

.. math::

   \mathrm{KL}\left(N(m_1, s_1^2) \,\|\, N(m_2, s_2^2)\right)
     = \log\frac{s_2}{s_1} + \frac{s_1^2 + (m_1 - m_2)^2}{2 s_2^2} - \frac12
     = \tfrac12 f(d) + \frac{(m_1 - m_2)^2}{2 s_2^2}

Both summands are non-negative: the second is a square over a positive
number, the first is :math:`w - 1 - \log w \ge 0` at :math:`w = e^d =
s_1^2/s_2^2` (the library's ``log x <= x - 1``).  Four chains are proved:

1. the decomposition above;
2. :math:`\mathrm{KL} \ge (m_1 - m_2)^2 / (2 s_2^2)` (drop :math:`f \ge 0`);
3. :math:`\mathrm{KL} \ge \tfrac12 f(d)` (drop the square);
4. "if": :math:`\mathrm{KL}(N(m, s^2) \,\|\, N(m, s^2)) = 0`.

"Only if" is then elementary logic outside the chains, which prove no
implications: from KL = 0, chain 2 gives :math:`(m_1 - m_2)^2 \le 0`, so
:math:`m_1 = m_2`; chain 3 gives :math:`f(d) \le 0`, so :math:`f(d) = 0`, and
the cited equality case of :math:`e^d \ge 1 + d` (:math:`f(d) = 0 \Rightarrow
d = 0`, true because :math:`f'(d) = e^d - 1` has the sign of d; recorded in
the ledger as a side condition, checked symbolically by the test suite, not by
the core) gives :math:`s_1^2 = s_2^2`, so :math:`s_1 = s_2 > 0`.  This settles
"tight only when q equals the posterior" for Gaussians without Gibbs'
measure-theoretic equality axiom.
"""

from __future__ import annotations

import sympy as sp

from derivations import gaussian_kl_univariate as uni
from elbo_check import Derivation
from elbo_check.rules import definition, instantiate, side_condition
from elbo_check.vocab import KL, LOG_BOUND, normal_pdf, z

__all__ = ["DERIVATION", "EQUALITY_CASE", "M1", "M2", "S1", "S2", "D", "M", "S", "f"]

M1, M2, M = uni.M1, uni.M2, sp.Symbol("m", real=True)
S1, S2, S = uni.S1, uni.S2, sp.Symbol("s", positive=True)
#: d = log(s1² / s2²), the log variance ratio
D = sp.Symbol("d", real=True)

D_DEFINITION = definition("log variance ratio d", D, sp.log(S1**2 / S2**2), "d := log(s1²/s2²)")
EQUALITY_CASE = side_condition(
    "equality case of exp(d) >= 1 + d",
    "f(d) = exp(d) - 1 - d = 0 only at d = 0 (f'(d) = exp(d) - 1 has the sign of d); "
    "used, outside the chains, for the 'only if' direction",
)


def f(d: sp.Expr) -> sp.Expr:
    """``exp(d) - 1 - d``: non-negative, zero only at ``d = 0``."""
    return sp.exp(d) - 1 - d


_KL = KL(normal_pdf(z, M1, S1), normal_pdf(z, M2, S2), z)
_SQUARE = (M1 - M2) ** 2 / (2 * S2**2)
_SPLIT = f(D) / 2 + _SQUARE
_CLOSED = sp.log(S2 / S1) + (S1**2 + (M1 - M2) ** 2) / (2 * S2**2) - sp.Rational(1, 2)
_BY_LEMMA = uni.LEMMA

DERIVATION = Derivation(
    "gaussian-kl-zero-iff",
    title="KL(N(m1, s1²) || N(m2, s2²)) = ½ f(d) + (m1 - m2)²/(2 s2²) >= each term >= 0",
    description=(
        "KL = ½(e^d - 1 - d) + (m1 - m2)²/(2 s2²), d = log(s1²/s2²); both terms are >= 0, "
        "so KL = 0 forces m1 = m2 and (by the cited equality case f(d) = 0 => d = 0) s1 = s2."
    ),
    assumptions=[EQUALITY_CASE],
)
# 1. the decomposition
DERIVATION.start(_KL)
DERIVATION.equals(_CLOSED, by=_BY_LEMMA)
DERIVATION.equals(_SPLIT, by=[D_DEFINITION, "exp(d) = s1²/s2²; regroup"])
# 2. KL >= (m1 - m2)² / (2 s2²)
DERIVATION.start(_KL)
DERIVATION.equals(_SPLIT, by=[_BY_LEMMA, D_DEFINITION])
DERIVATION.geq(_SQUARE, by=[D_DEFINITION, LOG_BOUND, "f(d) = w - 1 - log w at w = exp(d) > 0"])
DERIVATION.geq(sp.Integer(0), by="a square over a positive number")
# 3. KL >= ½ f(d)
DERIVATION.start(_KL)
DERIVATION.equals(_SPLIT, by=[_BY_LEMMA, D_DEFINITION])
DERIVATION.geq(f(D) / 2, by="(m1 - m2)²/(2 s2²) >= 0")
DERIVATION.geq(sp.Integer(0), by=[D_DEFINITION, LOG_BOUND])
# 4. "if": equal parameters give KL = 0
DERIVATION.start(KL(normal_pdf(z, M, S), normal_pdf(z, M, S), z))
DERIVATION.equals(
    sp.Integer(0),
    by=instantiate(
        uni.LEMMA,
        {M1: M, S1: S, M2: M, S2: S},
        name="univariate Gaussian KL at m1 = m2 = m, s1 = s2 = s (lemma gaussian-kl-univariate)",
    ),
)
