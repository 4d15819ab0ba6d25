"""The public authoring toolkit: the README's "citing a shipped result" example runs."""

from __future__ import annotations

import sympy as sp

from elbo_check import Derivation, Verdict, check_derivation
from elbo_check.rules import instantiate
from elbo_check.vocab import (
    ELBO,
    ELBO_DECOMPOSITION,
    GAUSSIAN_KL_STANDARD_PRIOR,
    GAUSSIAN_KL_UNIVARIATE,
    GIBBS,
    KL,
    KL_DEFINITION,
    normal_pdf,
    z,
)


def test_the_shipped_lemmas_are_importable_from_one_place() -> None:
    assert {r.kind for r in (GIBBS, GAUSSIAN_KL_UNIVARIATE, GAUSSIAN_KL_STANDARD_PRIOR, ELBO_DECOMPOSITION)} == {"lemma"}
    assert ELBO.is_real
    assert KL_DEFINITION.kind == "definition"


def test_a_user_derivation_cites_the_univariate_lemma_as_the_readme_shows() -> None:
    from derivations.gaussian_kl_univariate import M1, M2, S1, S2

    mu = sp.Symbol("mu", real=True)
    at_unit = instantiate(GAUSSIAN_KL_UNIVARIATE, {M1: mu, S1: 1, M2: 0, S2: 1})
    d = Derivation("unit-variance").start(KL(normal_pdf(z, mu, 1), normal_pdf(z, 0, 1), z))
    d.equals(mu**2 / 2, by=at_unit)
    assert check_derivation(d).verdict is Verdict.PROVED
    wrong = Derivation("unit-variance-wrong").start(KL(normal_pdf(z, mu, 1), normal_pdf(z, 0, 1), z))
    wrong.equals(mu**2, by=at_unit)
    assert check_derivation(wrong).verdict is not Verdict.PROVED
