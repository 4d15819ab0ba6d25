"""``prove``'s text output shows the mathematics; ``--no-math`` keeps the compact table."""

from __future__ import annotations

import io

import sympy as sp

from elbo_check.cli import main
from elbo_check.report.notation import name_densities, terminal


def _prove(*argv: str) -> str:
    out = io.StringIO()
    assert main(["prove", *argv], out=out, err=io.StringIO()) == 0
    return out.getvalue()


def test_prove_shows_each_link_as_a_formula_with_its_relation() -> None:
    text = _prove("kl-nonnegative")
    assert "KL(q(z) ‖ p(z))" in text
    assert "(3) ✔ proved" in text
    assert "      ≥ -⎮" in text  # the inequality link, in sympy's 2-D form


def test_prove_names_gaussian_densities_in_formulas_and_ledger() -> None:
    text = _prove("gaussian-kl-standard-prior")
    assert "N(z; μ, σ" in text or "N⎝z; μ, σ" in text
    assert "KL(N(z; m1, s1²) || N(z; m2, s2²))" in text  # the lemma's statement
    assert "sqrt(2)*exp" not in text


def test_no_math_restores_the_compact_table() -> None:
    text = _prove("bayes", "--no-math")
    assert "  step  rel  verdict           time  justification" in text
    assert "⎛" not in text


def test_long_expressions_are_elided_to_one_bounded_line() -> None:
    big = sp.Add(*(sp.Symbol(f"x{i}") ** i for i in range(200)))
    lines = terminal(big, "= ", width=60)
    assert len(lines) == 1
    assert len(lines[0]) <= 60
    assert "…" in lines[0]


def test_every_line_of_the_library_output_is_bounded() -> None:
    text = _prove("gaussian-kl-full-covariance")
    formula_lines = [line for line in text.splitlines() if line.startswith("      ")]
    assert max(len(line) for line in formula_lines) <= 120


def test_density_names_leave_other_text_alone() -> None:
    assert name_densities("exp(-z**2/2) + 1") == "exp(-z**2/2) + 1"
    assert name_densities("sqrt(2)*exp(-z**2/2)/(2*sqrt(pi))") == "N(z; 0, 1)"
