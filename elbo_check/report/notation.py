"""Mathematics for reports: sympy's own printers, after a display-only rewrite.

:func:`display` rewrites an expression for reading, never for checking: a
univariate Gaussian density becomes ``N(z; m, s²)``, ``KL(f, g, z)`` becomes
``KL(f ‖ g)`` and the library's abstract densities read as ``p(x | z)``.  The
printers are sympy's: :func:`mathml` (presentation MathML), :func:`latex` and
:func:`pretty`; the notation classes only tell those printers how to lay out
their own arguments.

>>> import sympy as sp
>>> z, m = sp.Symbol("z", real=True), sp.Symbol("m", real=True)
>>> s = sp.Symbol("s", positive=True)
>>> pdf = sp.exp(-(z - m) ** 2 / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)
>>> one_line(pdf)
'N(z; m, s**2)'
>>> latex(pdf)
'\\\\mathcal{N}\\\\left(z; m, s^{2}\\\\right)'
>>> mathml(z).startswith('<math display="block"')
True
>>> name_densities("KL(sqrt(2)*exp(-(-m1 + z)**2/(2*s1**2))/(2*sqrt(pi)*s1) || q(z))")
'KL(N(z; m1, s1²) || q(z))'
"""

from __future__ import annotations

import functools
import re
from typing import Any, ClassVar

import sympy as sp
from sympy.printing.mathml import MathMLPresentationPrinter
from sympy.printing.pretty.pretty import PrettyPrinter
from sympy.printing.pretty.stringpict import prettyForm
from sympy.printing.str import StrPrinter

__all__ = [
    "RELATION_LATEX",
    "RELATION_TEXT",
    "display",
    "latex",
    "mathml",
    "name_densities",
    "one_line",
    "pretty",
    "terminal",
]

#: relation symbols for text, MathML and LaTeX
RELATION_TEXT = {"=": "=", "<=": "≤", ">=": "≥"}
RELATION_LATEX = {"=": "=", "<=": r"\leq", ">=": r"\geq"}


class _Notation(sp.Function):
    """A display-only function printed as ``head(a sep b sep c)``."""

    head: ClassVar[str] = "f"
    head_latex: ClassVar[str] = "f"
    head_mathml: ClassVar[str] = ""  # defaults to ``head``
    seps: ClassVar[tuple[str, ...]] = (", ",)
    seps_latex: ClassVar[tuple[str, ...]] = (", ",)

    def _sep(self, i: int, latex: bool = False) -> str:
        seps = self.seps_latex if latex else self.seps
        return seps[min(i, len(seps) - 1)]

    def _sympystr(self, printer: Any) -> str:
        body = "".join(
            (self._sep(i - 1) if i else "") + printer._print(a) for i, a in enumerate(self.args)
        )
        return f"{self.head}({body})"

    def _latex(self, printer: Any) -> str:
        body = "".join(
            (self._sep(i - 1, True) if i else "") + printer._print(a)
            for i, a in enumerate(self.args)
        )
        return rf"{self.head_latex}\left({body}\right)"

    def _pretty(self, printer: Any) -> Any:
        body = printer._print(self.args[0])
        for i, a in enumerate(self.args[1:]):
            body = prettyForm(*body.right(self._sep(i), printer._print(a)))
        body = prettyForm(*body.parens())
        return prettyForm(*body.left(self.head), binding=prettyForm.FUNC)

    def _mathml_presentation(self, printer: Any) -> Any:
        dom = printer.dom

        def node(tag: str, text: str) -> Any:
            el = dom.createElement(tag)
            el.appendChild(dom.createTextNode(text))
            return el

        inner = dom.createElement("mrow")
        inner.appendChild(node("mo", "("))
        for i, a in enumerate(self.args):
            if i:
                sep = node("mo", self._sep(i - 1).strip())
                if sep.firstChild.data in ("‖", "|"):
                    sep.setAttribute("lspace", "0.28em")
                    sep.setAttribute("rspace", "0.28em")
                inner.appendChild(sep)
            inner.appendChild(printer._print(a))
        inner.appendChild(node("mo", ")"))
        row = dom.createElement("mrow")
        row.appendChild(node("mi", self.head_mathml or self.head))
        row.appendChild(inner)
        return row


class KLNotation(_Notation):
    """``KL(q ‖ p)``."""

    head = "KL"
    head_latex = r"\mathrm{KL}"
    seps = (" ‖ ",)
    seps_latex = (r" \,\middle\|\, ",)


class NormalNotation(_Notation):
    """``N(z; m, s²)``: the Gaussian density with mean m and variance s² at z."""

    head = "N"
    head_latex = r"\mathcal{N}"
    head_mathml = "𝒩"  # as \mathcal{N} in LaTeX
    seps = ("; ", ", ")
    seps_latex = ("; ", ", ")


class ConditionalNotation(_Notation):
    """``p(x | z)``."""

    head = "p"
    head_latex = "p"
    seps = (" | ",)
    seps_latex = (r" \mid ",)


_P = sp.Function("p")

#: the derivation library's abstract densities, as a reader writes them
_DENSITY_NAMES: dict[str, Any] = {
    "p_joint": lambda a: _P(*a),
    "p_prior": lambda a: _P(*a),
    "p_x": lambda a: _P(*a),
    "p_lik": lambda a: ConditionalNotation(*a),
    "p_post": lambda a: ConditionalNotation(*a),
}


def _bound_symbols(expr: sp.Basic) -> list[sp.Symbol]:
    """Integration variables (and KL's variable): the density's argument when there is a choice."""
    found: set[sp.Symbol] = set()
    for e in sp.preorder_traversal(expr):
        if isinstance(e, sp.Integral):
            found.update(v for v in e.variables if isinstance(v, sp.Symbol))
        elif isinstance(e, sp.Function) and type(e).__name__ == "KL" and len(e.args) == 3:
            found.update(e.args[2].atoms(sp.Symbol))  # a sympy Symbol or Tuple, never text
    return sorted(found, key=str)


def _variable_first(v: sp.Symbol) -> tuple[bool, str]:
    """Without an integral to tell, names like z, x, u read as the variable."""
    return (not str(v).startswith(("z", "x", "u", "w", "y", "t")), str(v))


def _gaussian(expr: sp.Expr, prefer: list[sp.Symbol]) -> sp.Expr | None:
    """``expr`` with one Gaussian density among its factors named, else None."""
    if not isinstance(expr, sp.Mul):
        return None
    factors = list(expr.args)
    for k, factor in enumerate(factors):
        if not isinstance(factor, sp.exp):
            continue
        free = factor.args[0].free_symbols
        if len(free) > 3 or sp.count_ops(factor.args[0]) > 24:
            continue  # a univariate density's exponent is small: skip quadratic forms fast
        candidates = [v for v in prefer if v in free] or sorted(free, key=_variable_first)
        for v in candidates:
            named = _gaussian_in(factor.args[0], v, factors[:k] + factors[k + 1 :])
            if named is not None:
                return named
    return None


def _gaussian_in(exponent: sp.Expr, v: sp.Symbol, others: list[sp.Expr]) -> sp.Expr | None:
    try:
        poly = sp.Poly(exponent, v)
    except sp.PolynomialError:
        return None
    if poly.degree() != 2:
        return None
    a, b, c = poly.all_coeffs()
    if not (-a).is_positive:
        return None
    var = sp.cancel(-1 / (2 * a))
    mean = sp.cancel(-b / (2 * a))
    if sp.cancel(c + mean**2 / (2 * var)) != 0:
        return None
    const = [f for f in others if v not in f.free_symbols]
    rest = [f for f in others if v in f.free_symbols]
    k = sp.Mul(*const)
    if k.is_positive is not True or sp.cancel(sp.expand(k**2 * 2 * sp.pi * var)) != 1:
        return None  # not the normaliser 1/√(2π var): squares avoid a slow simplify
    return sp.Mul(NormalNotation(v, mean, var), *rest)


@functools.lru_cache(maxsize=4096)
def display(expr: sp.Basic) -> sp.Basic:
    """``expr`` rewritten for reading (densities named, KL as ``KL(q ‖ p)``); display only.

    >>> import sympy as sp
    >>> z = sp.Symbol("z", real=True)
    >>> one_line(sp.exp(-z**2 / 2) / sp.sqrt(2 * sp.pi) * sp.log(z**2 + 1))
    'N(z; 0, 1)*log(z**2 + 1)'
    """
    if not isinstance(expr, sp.Basic) or expr.is_Atom:
        return expr
    from elbo_check._printing import bounded

    expr = bounded(expr)  # a huge expression is shown elided (prove --full shows it all)
    try:
        prefer = _bound_symbols(expr)
        out = expr.replace(lambda e: isinstance(e, sp.Mul), lambda e: _gaussian(e, prefer) or e)
        out = out.replace(
            lambda e: isinstance(e, sp.Function) and type(e).__name__ == "KL" and len(e.args) == 3,
            lambda e: KLNotation(e.args[0], e.args[1]),
        )
        return out.replace(
            lambda e: isinstance(e, sp.Function) and type(e).__name__ in _DENSITY_NAMES,
            lambda e: _DENSITY_NAMES[type(e).__name__](e.args),
        )
    except Exception:  # display is best effort: never fail a report over notation
        return expr


def mathml(expr: sp.Basic, printer: str = "presentation", *, block: bool = True) -> str:
    """A ``<math>`` element for ``expr`` (sympy's MathML printer).

    Parentheses around flat content are marked non-stretchy: browsers lay out
    stretchy fences with the wide side bearings of their large variants.

    >>> import sympy as sp
    >>> mathml(sp.Symbol("x"), block=False)
    '<math><mi>x</mi></math>'
    """
    if printer != "presentation":
        body = str(sp.mathml(display(expr), printer=printer))
    else:
        element = MathMLPresentationPrinter()._print(display(expr))
        _tighten_fences(element)
        body = element.toxml().encode("ascii", "xmlcharrefreplace").decode()
    opening = '<math display="block">' if block else "<math>"
    return f"{opening}{body}</math>"


_TALL = ("mfrac", "msqrt", "mroot", "munderover", "msubsup", "munder", "mover", "mtable")


def _tighten_fences(element: Any) -> None:
    for mo in element.getElementsByTagName("mo"):
        if mo.firstChild is None or mo.firstChild.data not in "()[]":
            continue
        if any(mo.parentNode.getElementsByTagName(tag) for tag in _TALL):
            continue
        mo.setAttribute("stretchy", "false")


def latex(expr: sp.Basic) -> str:
    """LaTeX for ``expr`` (sympy's printer, after :func:`display`)."""
    return str(sp.latex(display(expr)))


def pretty(expr: sp.Basic, width: int = 100) -> str:
    """sympy's unicode 2-D form of ``expr``."""
    return str(sp.pretty(display(expr), use_unicode=True, wrap_line=False, num_columns=width))


def one_line(expr: sp.Basic, limit: int = 0) -> str:
    """Compact one-line form; longer than ``limit`` (when > 0) is elided in the middle.

    >>> import sympy as sp
    >>> one_line(sp.Symbol("x") + sp.Symbol("y") ** 2)
    'x + y**2'
    >>> one_line(sp.Symbol("x") + sp.Symbol("y") ** 2, limit=6)
    'x +…*2'
    """
    text = str(_OneLinePrinter().doprint(display(expr)))
    return _elide(text, limit) if limit > 0 else text


class _OneLinePrinter(StrPrinter):
    """sympy's str printer, with integrals written ``∫ f dz`` as a reader would."""

    def _print_Integral(self, expr: sp.Integral) -> str:
        body = str(self._print(expr.function))
        if isinstance(expr.function, sp.Add):
            body = f"({body})"
        for limit in expr.limits:
            v = self._print(limit[0])
            bounds = "" if len(limit) < 3 or limit[1:] == (-sp.oo, sp.oo) else (
                f"_{{{self._print(limit[1])}}}^{{{self._print(limit[2])}}}"
            )  # fmt: skip
            body = f"∫{bounds} {body} d{v}"
        return body


def terminal(expr: sp.Basic, prefix: str = "", width: int = 72, height: int = 7) -> list[str]:
    """Lines for a terminal: 2-D when it fits ``width`` × ``height``, else one elided line.

    ``prefix`` (a relation such as ``"= "``) sits on the expression's baseline.

    >>> import sympy as sp
    >>> terminal(sp.Symbol("x") ** 2, "= ")
    ['   2', '= x']
    >>> terminal(sp.Add(*sp.symbols("a:40")), "= ", width=20)
    ['= a0 + a1 +… a8 + a9']
    """
    form = PrettyPrinter({"use_unicode": True, "wrap_line": False})._print(display(expr))
    if prefix:
        form = prettyForm(*form.left(prefix))
    art = [line.rstrip() for line in form.render(wrap_line=False).split("\n")]
    if len(art) <= height and max((len(line) for line in art), default=0) <= width:
        return art
    return [prefix + one_line(expr, limit=max(width - len(prefix), 8))]


def _elide(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = limit - 1
    head = (keep + 1) // 2
    return text[:head] + "…" + text[len(text) - (keep - head) :]


_PDF = re.compile(
    r"sqrt\(2\)\*exp\(-(?:\((?P<d>[^()]+)\)|(?P<v0>\w+))\*\*2/"
    r"(?:\(2\*(?P<s>\w+)\*\*2\)|2)\)/\(2\*sqrt\(pi\)(?:\*(?P<s2>\w+))?\)"
)
_DIFF = re.compile(r"^(?:-(?P<m1>\w+) \+ (?P<v1>\w+)|(?P<v2>\w+) - (?P<m2>\w+))$")


def name_densities(text: str) -> str:
    """Replace sympy's string form of a Gaussian density by ``N(z; m, s²)`` in ``text``."""

    def repl(match: re.Match[str]) -> str:
        s, s2 = match.group("s"), match.group("s2")
        if s != s2:
            return match.group(0)
        if match.group("v0"):
            v, m = match.group("v0"), "0"
        else:
            diff = _DIFF.match(match.group("d"))
            if diff is None:
                return match.group(0)
            v = diff.group("v1") or diff.group("v2")
            m = diff.group("m1") or diff.group("m2")
        return f"N({v}; {m}, {s + '²' if s else '1'})"

    return _PDF.sub(repl, text)
