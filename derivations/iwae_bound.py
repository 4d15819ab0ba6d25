r"""``iwae-bound``: the importance-weighted bound for K = 2 lies between the ELBO and log p(x).

With :math:`w(z) = p(x, z) / q(z \mid x)` and :math:`z_1, z_2` drawn
independently from q (joint density :math:`q_2(z_1, z_2) = q(z_1)\,q(z_2)`):

.. math::

   \log p(x) \;\ge\; \mathcal{L}_2 := \mathbb{E}_{q_2}\left[\log\tfrac12\left(w(z_1) + w(z_2)\right)\right]
     \;\ge\; \mathrm{ELBO}(q)

Chain 1 proves the cited concavity rule for arbitrary positive symbols a, b:
:math:`\log\frac{a + b}2 \ge \tfrac12(\log a + \log b)`, from :math:`\log w \le w - 1`
at :math:`w = 2\sqrt{ab}/(a + b)`.  The core cannot turn a proved chain into a
pattern schema, so the schema itself (Jensen for the concave log at two
points) is stated once as an inequality axiom, with its condition a, b > 0
(``elbo_check.vocab.LOG_CONCAVITY``).  sympy distributes the ½ inside
:math:`\log\frac12(w_1 + w_2)`, which would hide the schema's pattern, so
:math:`\mathcal{L}_2` is written :math:`\mathbb{E}_{q_2}[\log(w_1 + w_2)] - \log 2`.

Chain 2 (:math:`\mathcal{L}_2 \ge \mathrm{ELBO}`): the concavity rule
pointwise, integrated against :math:`q_2 > 0` (monotonicity); then each
half is the ELBO by symmetry (the two marginals of :math:`q_2` are q).

Chain 3 (:math:`\log p(x) \ge \mathcal{L}_2`, Jensen for the expectation):
:math:`\log W \le \log p(x) + W / p(x) - 1` pointwise (``log x <= x - 1``
at :math:`W / p(x)`), integrated; and :math:`\mathbb{E}_{q_2}[W] = p(x)`,
since each :math:`\mathbb{E}_q[w] = \int p(x, z)\,dz = p(x)`.

Cited, in the ledger: the marginals of :math:`q_2` (Fubini with
:math:`\int q = 1`), stated for the two integrands used; :math:`\int\!\!\int
q_2 = 1`; the integrability side condition (every expectation here is
finite).  Multiple integrals of abstract densities are not reduced by the
core's moves, which is why the marginals are cited.

**Not proved:** the general-K statement
:math:`\log p(x) \ge \mathcal{L}_{K+1} \ge \mathcal{L}_K \ge \mathcal{L}_1 =
\mathrm{ELBO}` (Burda et al. 2016).  Only K = 2 is proved here.
"""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation
from elbo_check.evidence.elbo_bounds import IWAE_ORDERING
from elbo_check.rules import Rule, axiom
from elbo_check.vocab import (
    ABSOLUTE_CONTINUITY,
    ELBO,
    ELBO_DEFINITION,
    INTEGRABILITY,
    LOG_BOUND,
    LOG_CONCAVITY,
    MARGINALISATION,
    p_joint,
    p_x,
    q,
    x,
)

__all__ = ["DERIVATION", "EVIDENCE", "IWAE_2", "JENSEN_TWO_POINTS", "Z1", "Z2", "q2", "weight"]

_oo = sp.oo
Z1, Z2 = sp.symbols("z1 z2", real=True)
A, B = sp.symbols("a b", positive=True)
#: the joint density of two independent draws from q: q2(z1, z2) = q(z1) q(z2)
q2 = sp.Function("q2", positive=True)


def weight(v: sp.Symbol) -> sp.Expr:
    """The importance weight ``p(x, v) / q(v)``."""
    return p_joint(x, v) / q(v)


def _e2(body: sp.Expr) -> sp.Integral:
    return sp.Integral(q2(Z1, Z2) * body, (Z1, -_oo, _oo), (Z2, -_oo, _oo))


_W = (weight(Z1) + weight(Z2)) / 2
#: the K = 2 importance-weighted bound E_q2[log ½(w1 + w2)], written E_q2[log(w1 + w2) - log 2]
#: (sympy distributes the ½ inside the log, which would hide the pattern of the concavity rule)
IWAE_2 = _e2(sp.log(weight(Z1) + weight(Z2)) - sp.log(2))

#: Jensen for the concave log at two points, as the schema cited in chain 2
JENSEN_TWO_POINTS = LOG_CONCAVITY
Q2_NORMALISED = axiom(
    "q2 integrates to 1", _e2(sp.Integer(1)), sp.Integer(1), "∫∫ q(z1) q(z2) dz1 dz2 = 1"
)


def _marginal(body: sp.Expr, v: sp.Symbol, what: str) -> Rule:
    z = sp.Symbol("z", real=True)
    return axiom(
        f"marginal of q2 in {v} ({what})",
        _e2(body),
        sp.Integral(q(z) * body.xreplace({v: z}), (z, -_oo, _oo)),
        f"∫∫ q(z1) q(z2) g({v}) dz1 dz2 = ∫ q(z) g(z) dz for g = {what} (Fubini; ∫ q = 1)",
    )


_MARGINALS_LOG = [_marginal(sp.log(weight(v)), v, "log w") for v in (Z1, Z2)]
_MARGINALS_W = [_marginal(weight(v), v, "w") for v in (Z1, Z2)]
_P = p_x(x)

DERIVATION = Derivation(
    "iwae-bound",
    title="K = 2: log p(x) >= E[log ½(w1 + w2)] >= ELBO (general K not proved)",
    description=(
        "The importance-weighted bound with two samples, by concavity of log (Jensen at two "
        "points, proved for symbols and cited as a schema) and symmetry; the general-K "
        "monotonicity is not proved."
    ),
    assumptions=[ABSOLUTE_CONTINUITY, INTEGRABILITY],
)
# 1. the concavity rule, for arbitrary positive a, b
_MEAN_LOG = (sp.log(A) + sp.log(B)) / 2
_V = 2 * sp.sqrt(A) * sp.sqrt(B) / (A + B)
DERIVATION.start(sp.log(A + B) - sp.log(2))
DERIVATION.equals(_MEAN_LOG - sp.log(_V), by="log of a product and a quotient")
DERIVATION.geq(_MEAN_LOG + 1 - _V, by=[LOG_BOUND, "at w = 2√(ab)/(a + b)"])
DERIVATION.equals(_MEAN_LOG + (sp.sqrt(A) - sp.sqrt(B)) ** 2 / (A + B), by="common denominator")
DERIVATION.geq(_MEAN_LOG, by="a square over a positive number")
# 2. L2 >= ELBO
DERIVATION.start(IWAE_2)
DERIVATION.geq(
    _e2((sp.log(weight(Z1)) + sp.log(weight(Z2))) / 2),
    by=[JENSEN_TWO_POINTS, "q2 > 0 (monotonicity of the integral)"],
)
DERIVATION.equals(
    _e2(sp.log(weight(Z1))) / 2 + _e2(sp.log(weight(Z2))) / 2, by="linearity of the integral"
)
DERIVATION.equals(ELBO, by=[*_MARGINALS_LOG, ELBO_DEFINITION, "symmetry: both halves are the ELBO"])
# 3. log p(x) >= L2
DERIVATION.start(IWAE_2)
DERIVATION.equals(
    _e2(sp.log(_W / _P) + sp.log(_P)), by="log W = log(W / p(x)) + log p(x), W = ½(w1 + w2)"
)
DERIVATION.leq(
    _e2(_W / _P - 1 + sp.log(_P)), by=[LOG_BOUND, "q2 > 0 (monotonicity of the integral)"]
)
DERIVATION.equals(
    _e2(weight(Z1)) / (2 * _P)
    + _e2(weight(Z2)) / (2 * _P)
    - _e2(sp.Integer(1))
    + sp.log(_P) * _e2(sp.Integer(1)),
    by="linearity of the integral",
)
DERIVATION.equals(
    sp.Integral(p_joint(x, Z1), (Z1, -_oo, _oo)) / _P - 1 + sp.log(_P),
    by=[*_MARGINALS_W, Q2_NORMALISED, "q(z) w(z) = p(x, z); symmetry"],
)
DERIVATION.equals(sp.log(_P), by=MARGINALISATION)

#: numeric check: log p(x) >= IWAE_2 >= ELBO on the linear-Gaussian model, where log p(x) is exact
EVIDENCE = IWAE_ORDERING
