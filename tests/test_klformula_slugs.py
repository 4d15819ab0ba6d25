"""The kl-formula closed forms are derivations that ``prove`` and ``report`` show by slug."""

from __future__ import annotations

from pathlib import Path

import pytest

import derivations
from elbo_check.checker import check_derivation
from elbo_check.cli import main
from elbo_check.klformula.derive import PAIRS
from elbo_check.verdict import Verdict


def test_every_derived_pair_has_a_slug_that_names_it() -> None:
    slugs = derivations.kl_pair_slugs()
    assert sorted(slugs.values()) == sorted(PAIRS)
    assert not set(slugs) & set(derivations.slugs())  # never in the library's default run


@pytest.mark.parametrize("slug", sorted(derivations.kl_pair_slugs()))
def test_every_pair_slug_is_proved_step_by_step(slug: str) -> None:
    derivation = derivations.get(slug)
    assert derivation.name == slug
    assert check_derivation(derivation).verdict is Verdict.PROVED


def test_prove_and_report_take_a_pair_slug(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "kl-gamma-gamma", "--strict", "--no-math"]) == 0
    assert "Gamma moment E[log x]" in capsys.readouterr().out
    assert main(["report", "kl-bernoulli-bernoulli", "--out", str(tmp_path), "--format", "md"]) == 0
    assert "Bernoulli" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_list_shows_the_pairs_after_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.index("iwae-bound") < out.index("kl-normal-normal")


def test_a_misspelt_pair_slug_gets_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prove", "kl-gama-gamma"]) == 2
    assert "did you mean 'kl-gamma-gamma'" in capsys.readouterr().err
