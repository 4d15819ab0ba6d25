"""One typed definition each: bug classes, reductions, backends, quantities, results."""

from __future__ import annotations

import argparse
import importlib
import json

import numpy as np
import pytest

import elbo_check
from elbo_check import validate
from elbo_check._validate import BugClass, ConventionInfo, Counterexample, ValidationResult
from elbo_check._validate._cli import add_arguments
from elbo_check._validate._diagnose import BUG_CLASSES
from elbo_check._validate._roles import REDUCTIONS
from elbo_check._validate._types import BackendName, Reduction, bug_class_table

SUBMODULES = [
    "_api", "_auto", "_axes", "_call", "_cli", "_core", "_diagnose", "_layout", "_reference",
    "_result", "_roles", "_runner", "_search", "_shrink", "_target", "_types", "_worker",
]  # fmt: skip


def sign_flip(mu, logvar):
    return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))


def test_the_bug_class_list_is_the_enum():
    assert [b.value for b in BugClass] == list(BUG_CLASSES)


def test_the_reductions_and_backends_come_from_their_enums():
    assert tuple(r.value for r in Reduction) == REDUCTIONS
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    backend = next(a for a in parser._actions if a.dest == "backend")
    assert list(backend.choices) == ["auto", *(b.value for b in BackendName)]
    assert backend.default == "auto"


def test_a_bug_class_is_an_enum_that_compares_and_serialises_as_its_string():
    result = validate(sign_flip, "mu,logvar", "sum", examples=40)
    assert result.bug_class is BugClass.SIGN_FLIP
    assert result.bug_class == "sign_flip"
    assert json.loads(result.to_json())["bug_class"] == "sign_flip"


def test_result_parts_are_typed_and_still_read_like_dicts():
    result = validate(sign_flip, "mu,logvar", "sum", examples=40)
    assert isinstance(result, ValidationResult)
    assert isinstance(result.counterexample, Counterexample)
    assert isinstance(result.convention, ConventionInfo)
    assert result.counterexample["inputs"] == result.counterexample.inputs
    assert result.convention["args"] == ["mu", "logvar"]
    assert dict(result.convention)["layout"] == "N D"


def test_the_public_function_is_a_plain_function_and_the_types_are_re_exported():
    assert callable(elbo_check.validate)
    assert elbo_check.ValidationResult is ValidationResult


def test_the_docs_table_is_generated_from_the_enum():
    from pathlib import Path

    docs = Path(__file__).resolve().parent.parent / "docs" / "validate.md"
    assert bug_class_table() in docs.read_text()


@pytest.mark.parametrize("name", SUBMODULES)
def test_every_validator_module_defines_what_its_all_names(name):
    module = importlib.import_module(f"elbo_check._validate.{name}")
    assert module.__all__
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"
