"""The held-out corpus (``tests/kl_zoo/heldout.py``): realistic bugs get a specific bug class.

The issue's bar: at least 14 of the 17 real bugs get a specific diagnosis
(not ``wrong_value``) with the expected class, and every correct
implementation, in its own layout, passes.
"""

from __future__ import annotations

import pytest
from kl_zoo import heldout

from elbo_check import validate


def _id(case: tuple) -> str:
    return case[0].__name__


@pytest.fixture(scope="module")
def verdicts():
    return {
        fn.__name__: validate(fn, args=args, reduction=reduction, layout=layout).bug_class
        for fn, args, reduction, layout, _ in heldout.BUGS
    }


def test_the_corpus_holds_17_real_bugs():
    assert len(heldout.BUGS) == 17


def test_at_least_14_of_17_real_bugs_get_their_specific_bug_class(verdicts):
    named = [fn.__name__ for fn, *_, bug in heldout.BUGS if verdicts[fn.__name__] == bug]
    missed = {n: str(b) for n, b in verdicts.items() if n not in named}
    assert len(named) >= 14, missed


def test_no_real_bug_passes_as_correct(verdicts):
    assert all(b is not None for b in verdicts.values())


@pytest.mark.parametrize("case", heldout.CORRECT, ids=_id)
def test_every_correct_implementation_in_its_layout_passes(case):
    fn, args, reduction, layout = case
    result = validate(fn, args=args, reduction=reduction, layout=layout)
    assert result.ok, result.report()
