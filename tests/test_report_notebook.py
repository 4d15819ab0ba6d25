"""Jupyter reprs, called directly: derivations, their results and validator results."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import derivations
from elbo_check import Derivation, ValidationResult, validate
from elbo_check.checker import CheckConfig, Checker


@pytest.fixture(scope="module")
def checked() -> object:
    return Checker(CheckConfig()).check(derivations.get("gaussian-kl-univariate"))


def test_a_checked_result_shows_mathml_badges_and_ledger_in_html(checked: object) -> None:
    page = checked._repr_html_()  # type: ignore[attr-defined]
    assert page.startswith("<style>")
    assert page.count("<math") == 5
    assert "✔ proved</span>" in page
    assert "Gaussian integral" in page
    assert "<script" not in page


def test_a_checked_result_is_one_aligned_latex_display(checked: object) -> None:
    tex = checked._repr_latex_()  # type: ignore[attr-defined]
    assert tex.startswith("$$\\begin{aligned}")
    assert tex.endswith("\\end{aligned}$$")
    assert tex.count("&&") == 4
    assert "\\text{(1) ✔ proved: definition of KL}" in tex
    assert "\\mathcal{N}" in tex


def test_an_unchecked_derivation_renders_its_chain_without_verdicts() -> None:
    x = sp.Symbol("x", real=True)
    d = Derivation("tiny", title="Tiny & small").start((x + 1) ** 2)
    d.equals(x**2 + 2 * x + 1, by="expand {twice}")
    page = d._repr_html_()
    assert "not checked yet" in page
    assert "Tiny &amp; small" in page
    assert "badge" not in page.split("</style>", 1)[1]
    assert "\\text{(1) expand \\{twice\\}}" in d._repr_latex_()


def test_a_wrong_kl_shows_its_diagnosis_and_counterexample() -> None:
    def buggy(mu: np.ndarray, logvar: np.ndarray) -> float:
        return float(0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar)))

    result = validate(buggy, args="mu,logvar", reduction="sum", examples=50)
    page = result._repr_html_()
    assert "✘ wrong</span>" in page
    assert "Counterexample" in page
    assert result.diagnosis is not None
    assert "WRONG" in result._repr_latex_()


def test_a_right_kl_says_it_matches() -> None:
    result = ValidationResult(True, None, None, 1e-16, 10, {}, [])
    assert "✔ matches the reference</span>" in result._repr_html_()
    assert result._repr_latex_().startswith("$$\\text{OK}")
