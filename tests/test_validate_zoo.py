"""The validator against a zoo of correct and mutated KL implementations.

Every correct form must pass with its reduction; every mutant must fail with
the diagnosis naming its bug class, and with a small counterexample.  The
zoo's mutation score (killed / total) must be 100 %.
"""

from __future__ import annotations

import pytest
from kl_zoo import numpy_impls

from elbo_check import validate

NP_CORRECT = numpy_impls.CORRECT
NP_MUTANTS = numpy_impls.MUTANTS


def _id(case: tuple) -> str:
    return case[0].__name__


@pytest.mark.parametrize("case", NP_CORRECT, ids=_id)
def test_correct_numpy_implementation_passes(case):
    fn, args, reduction = case
    result = validate(fn, args=args, reduction=reduction)
    assert result.ok, result.report()
    assert result.diagnosis is None
    assert result.counterexample is None


@pytest.mark.parametrize("case", NP_MUTANTS, ids=_id)
def test_numpy_mutant_is_caught_and_its_bug_named(case):
    fn, args, reduction, bug = case
    result = validate(fn, args=args, reduction=reduction)
    assert not result.ok
    assert result.bug_class == bug, result.report()
    cex = result.counterexample
    assert cex is not None
    n, d = cex["shape"]
    assert n * d <= 4, cex
    assert cex["expected"] is not None


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("sign_flip", "sign flip"),
        ("missing_half", "missing ½"),
        ("missing_constant", "missing constant"),
        ("plus_mu_squared", "+mu²"),
        ("std_used_as_logvar", "confusion"),
        ("mean_over_latent_dims", "mean over the latent dimensions"),
        ("sum_over_batch_axis", "sum over the batch axis"),
        ("reversed_direction", "KL(p‖q)"),
        ("ignores_prior_mean", "prior mean"),
        ("clamps_logvar", "clamping"),
        ("float16_inside", "float16"),
        ("float32_inside", "float32"),
        ("full_swapped_trace", "swapped trace"),
        ("full_transposed_tril", "transposed"),
        ("full_inverted", "inverted"),
    ],
)
def test_diagnosis_names_the_bug_in_words(name, words):
    fn, args, reduction, _ = next(c for c in NP_MUTANTS if c[0].__name__ == name)
    result = validate(fn, args=args, reduction=reduction)
    assert result.diagnosis is not None
    assert words in result.diagnosis


def test_sign_flip_counterexample_is_one_round_entry():
    result = validate(numpy_impls.sign_flip, args="mu,logvar", reduction="sum")
    cex = result.counterexample
    assert cex["shape"] == [1, 1]
    assert cex["inputs"] == {"mu": [[0.0]], "logvar": [[1.0]]}
    assert cex["returned"] == pytest.approx(-cex["expected"])


def test_wrong_reduction_counterexample_keeps_the_axis_that_shows_it():
    result = validate(numpy_impls.sum_not_batchmean, args="mu,logvar", reduction="batchmean")
    assert result.counterexample["shape"][0] == 2  # N = 1 would hide the missing 1/N


def test_clamping_counterexample_keeps_the_extreme_value():
    result = validate(numpy_impls.clamps_logvar, args="mu,logvar", reduction="batch")
    assert result.counterexample["inputs"]["logvar"] in ([[-30.0]], [[30.0]], [[-15.0]], [[15.0]])


def test_mutation_score_of_the_numpy_zoo_is_complete():
    killed = [
        fn.__name__
        for fn, a, r, _ in NP_MUTANTS
        if not validate(fn, args=a, reduction=r, examples=200).ok
    ]
    assert len(killed) == len(NP_MUTANTS)


# ---------------------------------------------------------------- torch


@pytest.fixture(scope="module")
def torch_zoo():
    pytest.importorskip("torch")
    from kl_zoo import torch_impls

    return torch_impls


@pytest.mark.torch
@pytest.mark.parametrize("index", range(11))
def test_correct_torch_implementation_passes(torch_zoo, index):
    fn, args, reduction = torch_zoo.CORRECT[index]
    result = validate(fn, args=args, reduction=reduction, backend="torch", examples=200)
    assert result.ok, f"{fn.__name__}: {result.report()}"


@pytest.mark.torch
@pytest.mark.parametrize("index", range(9))
def test_torch_mutant_is_caught_and_its_bug_named(torch_zoo, index):
    fn, args, reduction, bug = torch_zoo.MUTANTS[index]
    result = validate(fn, args=args, reduction=reduction, backend="torch", examples=200)
    assert not result.ok
    assert result.bug_class == bug, f"{fn.__name__}: {result.report()}"


@pytest.mark.torch
def test_torch_zoo_sizes_match_the_parametrization(torch_zoo):
    assert (len(torch_zoo.CORRECT), len(torch_zoo.MUTANTS)) == (11, 9)


@pytest.mark.torch
def test_torch_vae_line_passes_in_float32(torch_zoo):
    result = validate(
        torch_zoo.pytorch_examples_vae,
        args="mu,logvar",
        reduction="sum",
        backend="torch",
        dtype="float32",
    )
    assert result.ok, result.report()


@pytest.mark.torch
def test_torch_half_precision_is_caught_in_float32(torch_zoo):
    result = validate(
        torch_zoo.half_precision,
        args="mu,logvar",
        reduction="batch",
        backend="torch",
        dtype="float32",
    )
    assert result.bug_class == "precision_loss"
