r"""The public authoring toolkit: densities, KL, the ELBO, Gaussians, the standard rules and lemmas.

Write your own derivations with the same building blocks the shipped library
uses, and cite its results:

>>> import sympy as sp
>>> from elbo_check import Derivation, check_derivation
>>> from elbo_check.vocab import KL, KL_DEFINITION, normal_pdf, z
>>> m, s = sp.Symbol("m", real=True), sp.Symbol("s", positive=True)
>>> d = Derivation("my-kl").start(KL(normal_pdf(z, m, s), normal_pdf(z, m, s), z))
>>> _ = d.equals(sp.Integral(normal_pdf(z, m, s) * sp.log(normal_pdf(z, m, s) / normal_pdf(z, m, s)),
...     (z, -sp.oo, sp.oo)), by=KL_DEFINITION)
>>> check_derivation(d).verdict
<Verdict.PROVED: 'proved'>

The shipped lemmas are importable from here too (each is proved by the
checker before a step that cites it can be): ``GIBBS`` (KL(q ‖ p) ≥ 0),
``GAUSSIAN_KL_UNIVARIATE`` (the closed form for two univariate Gaussians, in
``M1, M2`` real and ``S1, S2`` positive, to ``instantiate``),
``GAUSSIAN_KL_STANDARD_PRIOR``, ``GAUSSIAN_KL_UNIT_VARIANCE`` (in ``M1, M2``),
``ELBO_DECOMPOSITION`` (log p(x) ≥ ELBO) and ``ELBO_RECONSTRUCTION_KL``
(ELBO = E_q[log p(x|z)] − KL(q ‖ p(z))).  Two rules serve the newer
derivations: ``PRIOR_NORMALISED`` (∫ p(z) dz = 1) and ``LOG_CONCAVITY``
(log(a + b) − log 2 ≥ ½(log a + log b) for a, b > 0).

The abstract densities are undefined sympy functions declared positive (so
logarithms of products expand).  Positivity is itself an assumption, and it
enters the ledger of every derivation that uses it:
``ABSOLUTE_CONTINUITY`` records that q > 0 where p > 0 (and vice versa) so
that every log-ratio is finite.

>>> from elbo_check.vocab import KL, q, p_prior, z
>>> print(KL(q(z), p_prior(z), z))
KL(q(z) || p_prior(z))
"""

from __future__ import annotations

import sympy as sp

from elbo_check.rules import axiom, definition, inequality, integrability, side_condition

__all__ = [
    "ABSOLUTE_CONTINUITY",
    "CONDITIONAL_DENSITY",
    "ELBO",
    "ELBO_DECOMPOSITION",
    "ELBO_DEFINITION",
    "ELBO_RECONSTRUCTION_KL",
    "GAUSSIAN_KL_STANDARD_PRIOR",
    "GAUSSIAN_KL_UNIT_VARIANCE",
    "GAUSSIAN_KL_UNIVARIATE",
    "GIBBS",
    "INTEGRABILITY",
    "KL",
    "KL_DEFINITION",
    "LOG_BOUND",
    "LOG_CONCAVITY",
    "MARGINALISATION",
    "POSTERIOR_NORMALISED",
    "PRIOR_NORMALISED",
    "PRODUCT_RULE",
    "PRODUCT_RULE_POSTERIOR",
    "Q_NORMALISED",
    "RECONSTRUCTION",
    "RECONSTRUCTION_DEFINITION",
    "mvn_pdf",
    "normal_pdf",
    "p_joint",
    "p_lik",
    "p_post",
    "p_prior",
    "p_x",
    "q",
    "x",
    "z",
]

x = sp.Symbol("x", real=True)
z = sp.Symbol("z", real=True)

#: p(x, z), p(x|z), p(z), p(z|x), p(x) and the variational q(z|x), all positive
p_joint = sp.Function("p_joint", positive=True)
p_lik = sp.Function("p_lik", positive=True)
p_prior = sp.Function("p_prior", positive=True)
p_post = sp.Function("p_post", positive=True)
p_x = sp.Function("p_x", positive=True)
q = sp.Function("q", positive=True)


class KL(sp.Function):
    """``KL(f, g, v)``: the Kullback-Leibler divergence of density ``f`` from ``g``.

    ``v`` is the integration variable, or a ``Tuple`` of them for densities on R^k.
    """

    nargs = 3
    is_real = True
    #: an uninterpreted symbol for the trusted core: its meaning is KL_DEFINITION
    opaque = True

    def as_integral(self) -> sp.Integral:
        """The definition: the integral of f log(f/g) over the whole space."""
        f, g, v = self.args
        variables = tuple(v) if isinstance(v, sp.Tuple) else (v,)
        return sp.Integral(f * sp.log(f / g), *[(w, -sp.oo, sp.oo) for w in variables])

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        f, g, _ = self.args
        return rf"\mathrm{{KL}}\left({printer._print(f)} \,\middle\|\, {printer._print(g)}\right)"

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        f, g, _ = self.args
        return f"KL({printer._print(f)} || {printer._print(g)})"


#: KL is defined between positive densities: the core enforces that on every match
_F, _G = sp.Wild("F", positive=True), sp.Wild("G", positive=True)
_V = sp.symbols("V1:4", cls=sp.Wild, real=True)


def _kl_schema(k: int, packed: bool = True) -> tuple[sp.Expr, sp.Expr]:
    """``KL(F, G, v) -> ∫ F log(F/G) dv`` for ``k`` integration variables."""
    variables = sp.Tuple(*_V[:k]) if packed else _V[0]
    body = _F * sp.log(_F / _G)
    return KL(_F, _G, variables), sp.Integral(body, *[(v, -sp.oo, sp.oo) for v in _V[:k]])


KL_DEFINITION = definition(
    "definition of KL",
    *_kl_schema(1, packed=False),
    "KL(q || p) := ∫ q(z) log(q(z)/p(z)) dz (over R^k for k = 1, 2, 3 variables)",
    more=(_kl_schema(1), _kl_schema(2), _kl_schema(3)),
)

ELBO = sp.Symbol("ELBO", real=True)
ELBO_DEFINITION = definition(
    "definition of the ELBO",
    ELBO,
    sp.Integral(q(z) * sp.log(p_joint(x, z) / q(z)), (z, -sp.oo, sp.oo)),
    "ELBO := E_q[log p(x, z) - log q(z|x)]",
)
RECONSTRUCTION = sp.Symbol("E_q[log p(x|z)]", real=True)
RECONSTRUCTION_DEFINITION = definition(
    "expected reconstruction log-likelihood",
    RECONSTRUCTION,
    sp.Integral(q(z) * sp.log(p_lik(x, z)), (z, -sp.oo, sp.oo)),
    "E_q[log p(x|z)] := ∫ q(z|x) log p(x|z) dz",
)

_wx = sp.Wild("wx")
_wz = sp.Wild("wz")

PRODUCT_RULE = axiom(
    "product rule",
    p_joint(_wx, _wz),
    p_lik(_wx, _wz) * p_prior(_wz),
    "p(x, z) = p(x|z) p(z)",
)
PRODUCT_RULE_POSTERIOR = axiom(
    "product rule (posterior form)",
    p_joint(_wx, _wz),
    p_post(_wz, _wx) * p_x(_wx),
    "p(x, z) = p(z|x) p(x)",
)
CONDITIONAL_DENSITY = definition(
    "conditional density",
    p_post(_wz, _wx),
    p_joint(_wx, _wz) / p_x(_wx),
    "p(z|x) := p(x, z) / p(x), for p(x) > 0",
)
MARGINALISATION = axiom(
    "marginalisation (sum rule)",
    p_x(_wx),
    sp.Integral(p_joint(_wx, z), (z, -sp.oo, sp.oo)),
    "p(x) = ∫ p(x, z) dz",
)
Q_NORMALISED = axiom(
    "q integrates to 1",
    sp.Integral(q(z), (z, -sp.oo, sp.oo)),
    sp.Integer(1),
    "∫ q(z|x) dz = 1 (q is a density)",
)
POSTERIOR_NORMALISED = axiom(
    "p(z|x) integrates to 1",
    sp.Integral(p_post(z, x), (z, -sp.oo, sp.oo)),
    sp.Integer(1),
    "∫ p(z|x) dz = 1 (the posterior is a density)",
)
PRIOR_NORMALISED = axiom(
    "p(z) integrates to 1",
    sp.Integral(p_prior(z), (z, -sp.oo, sp.oo)),
    sp.Integer(1),
    "∫ p(z) dz = 1 (the prior is a density)",
)
ABSOLUTE_CONTINUITY = side_condition(
    "positivity / absolute continuity",
    "all densities are > 0 on the real line (in particular q > 0 wherever p > 0), "
    "so every log-ratio is finite",
)
INTEGRABILITY = integrability(
    "every integral of the densities appearing in the derivation is finite "
    "(so linearity of the integral applies)",
)

_w = sp.Wild("w", positive=True)
LOG_BOUND = inequality(
    "log x <= x - 1",
    _w - 1 - sp.log(_w),
    "log w <= w - 1 for every w > 0 (tangent line of the concave log; equality iff w = 1)",
)
_a, _b = sp.Wild("a", positive=True), sp.Wild("b", positive=True)
#: Jensen for the concave log at two points (the iwae-bound derivation proves it for symbols)
LOG_CONCAVITY = inequality(
    "concavity of log at two points",
    sp.log(_a + _b) - sp.log(2) - sp.log(_a) / 2 - sp.log(_b) / 2,
    "log(a + b) - log 2 >= (log a + log b)/2 for all a, b > 0 (Jensen for the concave log; "
    "proved for arbitrary positive a, b by chain 1 of iwae-bound)",
)


def normal_pdf(v: sp.Symbol, mean: sp.Expr, sd: sp.Expr) -> sp.Expr:
    """The density of N(mean, sd**2) at ``v``."""
    return sp.exp(-((v - mean) ** 2) / (2 * sd**2)) / (sp.sqrt(2 * sp.pi) * sd)


def mvn_pdf(v: sp.Matrix, mean: sp.Matrix, chol: sp.Matrix) -> sp.Expr:
    """The density of N(mean, L L^T) at the column vector ``v``, L lower-triangular."""
    k = v.shape[0]
    w = chol.inv() * (v - mean)
    det = sp.Mul(*(chol[i, i] for i in range(k)))
    return sp.exp(-(w.T * w)[0] / 2) / (sp.sqrt(2 * sp.pi) ** k * det)


#: the shipped lemmas, imported from the derivation library on first use
_LEMMAS = {
    "GIBBS": ("derivations.kl_nonnegative", "GIBBS"),
    "GAUSSIAN_KL_UNIVARIATE": ("derivations.gaussian_kl_univariate", "LEMMA"),
    "GAUSSIAN_KL_STANDARD_PRIOR": ("derivations.gaussian_kl_standard_prior", None),
    "ELBO_DECOMPOSITION": ("derivations.elbo_decomposition", None),
    "ELBO_RECONSTRUCTION_KL": ("derivations.elbo_reconstruction_kl", None),
    "GAUSSIAN_KL_UNIT_VARIANCE": ("derivations.gaussian_kl_unit_variance", None),
}


def __getattr__(name: str) -> object:
    if name not in _LEMMAS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from elbo_check._library import submodule

    module_name, attr = _LEMMAS[name]
    module = submodule(module_name)
    if attr is not None:
        return getattr(module, attr)
    return module.DERIVATION.as_lemma()
