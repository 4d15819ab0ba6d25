r"""``conditional-vae``: the conditional ELBO bounds log p(x | c).

.. math::

   \log p(x \mid c) \;\ge\; \mathrm{ELBO}_c
     = \mathbb{E}_{q(z \mid x, c)}[\log p(x \mid z, c)]
       - \mathrm{KL}\left(q(z \mid x, c) \,\|\, p(z \mid c)\right)

Nothing is re-derived: the ``elbo-decomposition`` and
``elbo-reconstruction-kl`` lemmas are instantiated with every density
conditioned on c.  The densities in the lemmas' statements become ``Lambda``
functions of c (``q(z) := q_c(z, x, c)``, ``p(z) := p_prior_c(z, c)``,
``p(x) := p_x_c(x, c)``); p(x, z), p(x|z) and p(z|x) occur only in the
lemmas' premises, and become the undefined functions ``p_joint_c(x, z)``,
``p_lik_c(x, z)``, ``p_post_c(z, x)`` for the fixed c.  (``instantiate``
probes a function absent from a lemma's statement with one argument, so a
two-argument ``Lambda`` is refused there: a limit of the core, noted in the
report.)  The core accepts the instances only because this derivation states
each premise the substitution changes (the conditional product rules, the
normalisations of q(z|x,c) and p(z|x,c), the definitions of ELBO_c and of
the conditional reconstruction term), and they are in its ledger.
"""

from __future__ import annotations

import sympy as sp

from derivations import elbo_decomposition, elbo_reconstruction_kl
from elbo_check import Derivation
from elbo_check.rules import axiom, definition, instantiate
from elbo_check.vocab import (
    ABSOLUTE_CONTINUITY,
    ELBO,
    INTEGRABILITY,
    KL,
    RECONSTRUCTION,
    p_joint,
    p_lik,
    p_post,
    p_prior,
    p_x,
    q,
    x,
    z,
)

__all__ = [
    "DERIVATION",
    "ELBO_C",
    "RECONSTRUCTION_C",
    "C",
    "p_joint_c",
    "p_lik_c",
    "p_post_c",
    "p_prior_c",
    "p_x_c",
    "q_c",
]

_oo = sp.oo
#: the condition (a label, a class, ...)
C = sp.Symbol("c", real=True)
#: q(z|x,c), p(z|c), p(x|c): functions of c
q_c = sp.Function("q_c", positive=True)
p_prior_c = sp.Function("p_prior_c", positive=True)
p_x_c = sp.Function("p_x_c", positive=True)
#: p(x,z|c), p(x|z,c), p(z|x,c): c is fixed, and named, not passed (see the module docstring)
p_joint_c = sp.Function("p_joint_c", positive=True)
p_lik_c = sp.Function("p_lik_c", positive=True)
p_post_c = sp.Function("p_post_c", positive=True)
ELBO_C = sp.Symbol("ELBO_c", real=True)
RECONSTRUCTION_C = sp.Symbol("E_q[log p(x|z,c)]", real=True)

#: every density of the unconditional lemmas, conditioned on c
CONDITIONED = {
    q: sp.Lambda(z, q_c(z, x, C)),
    p_joint: p_joint_c,
    p_lik: p_lik_c,
    p_prior: sp.Lambda(z, p_prior_c(z, C)),
    p_post: p_post_c,
    p_x: sp.Lambda(x, p_x_c(x, C)),
    ELBO: ELBO_C,
    RECONSTRUCTION: RECONSTRUCTION_C,
}

_wx, _wz = sp.Wild("wx"), sp.Wild("wz")
_PREMISES = [
    definition(
        "definition of the conditional ELBO",
        ELBO_C,
        sp.Integral(q_c(z, x, C) * sp.log(p_joint_c(x, z) / q_c(z, x, C)), (z, -_oo, _oo)),
        "ELBO_c := E_q(z|x,c)[log p(x, z|c) - log q(z|x,c)]",
    ),
    definition(
        "conditional reconstruction log-likelihood",
        RECONSTRUCTION_C,
        sp.Integral(q_c(z, x, C) * sp.log(p_lik_c(x, z)), (z, -_oo, _oo)),
        "E_q[log p(x|z,c)] := ∫ q(z|x,c) log p(x|z,c) dz",
    ),
    axiom(
        "conditional product rule",
        p_joint_c(_wx, _wz),
        p_lik_c(_wx, _wz) * p_prior_c(_wz, C),
        "p(x, z|c) = p(x|z,c) p(z|c)",
    ),
    axiom(
        "conditional product rule (posterior form)",
        p_joint_c(_wx, _wz),
        p_post_c(_wz, _wx) * p_x_c(_wx, C),
        "p(x, z|c) = p(z|x,c) p(x|c)",
    ),
    axiom(
        "q(z|x,c) integrates to 1",
        sp.Integral(q_c(z, x, C), (z, -_oo, _oo)),
        sp.Integer(1),
        "∫ q(z|x,c) dz = 1",
    ),
    axiom(
        "p(z|x,c) integrates to 1",
        sp.Integral(p_post_c(z, x), (z, -_oo, _oo)),
        sp.Integer(1),
        "∫ p(z|x,c) dz = 1",
    ),
]

_BOUND = instantiate(
    elbo_decomposition.DERIVATION.as_lemma(),
    dict(CONDITIONED),
    name="log p(x|c) >= ELBO_c (lemma elbo-decomposition, conditioned on c)",
)
_SPLIT = instantiate(
    elbo_reconstruction_kl.DERIVATION.as_lemma(),
    dict(CONDITIONED),
    name="ELBO_c = E_q[log p(x|z,c)] - KL(q(z|x,c) || p(z|c)) (lemma elbo-reconstruction-kl, conditioned on c)",
)

DERIVATION = Derivation(
    "conditional-vae",
    title="log p(x|c) >= E_q(z|x,c)[log p(x|z,c)] - KL(q(z|x,c) || p(z|c))",
    description="The conditional VAE's objective, by instantiating the ELBO lemmas with densities conditioned on c.",
    assumptions=[ABSOLUTE_CONTINUITY, INTEGRABILITY],
)
DERIVATION.start(sp.log(p_x_c(x, C)))
DERIVATION.geq(ELBO_C, by=_BOUND)
# the premises are cited here, after the lemma (which rewrites ELBO_c first): cited
# anywhere in the derivation, they discharge the instances' hypotheses of both steps
DERIVATION.equals(RECONSTRUCTION_C - KL(q_c(z, x, C), p_prior_c(z, C), z), by=[_SPLIT, *_PREMISES])
