"""Auto mode searches argument orders, role families, layouts and reductions."""

from __future__ import annotations

import numpy as np
import pytest

from elbo_check import validate


def _terms(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - np.exp(logvar))


def logvar_first(logvar, mu):
    return _terms(mu, logvar).sum(-1)


def prior_first(mu_p, logvar_p, mu_q, logvar_q):
    return 0.5 * np.sum(
        logvar_p - logvar_q + (np.exp(logvar_q) + (mu_q - mu_p) ** 2) / np.exp(logvar_p) - 1,
        axis=-1,
    )


def std_then_means(std_q, std_p, mu_q, mu_p):
    return np.mean(
        np.sum(np.log(std_p / std_q) + (std_q**2 + (mu_q - mu_p) ** 2) / (2 * std_p**2) - 0.5, -1)
    )


def batch_last(mu, logvar):
    return _terms(mu, logvar).sum(0)


def twice_the_kl(mu, logvar):
    return 2 * _terms(mu, logvar).sum()


@pytest.mark.parametrize(
    ("fn", "args", "reduction", "layout"),
    [
        (logvar_first, ["logvar", "mu"], "batch", "N D"),
        (prior_first, ["mu_p", "logvar_p", "mu_q", "logvar_q"], "batch", "N D"),
        (std_then_means, ["std_q", "std_p", "mu_q", "mu_p"], "batchmean", "N D"),
        (batch_last, ["mu", "logvar"], "batch", "D N"),
    ],
)
def test_auto_finds_the_argument_order_layout_and_reduction(fn, args, reduction, layout):
    result = validate(fn, args="auto", reduction="auto", examples=200)
    assert result.ok, result.report()
    assert result.convention.args == args
    assert result.convention.reduction == reduction
    assert result.convention.layout == layout


def test_auto_says_when_more_than_one_convention_fits():
    def only_mu(mu, logvar):  # ignores logvar at logvar = 0? no: a plain correct KL
        return _terms(mu, logvar).sum(-1)

    result = validate(only_mu, args="auto", reduction="auto", examples=100)
    assert result.ok
    assert not any("more than one" in w for w in result.warnings)


def test_auto_reports_a_formula_bug_under_the_closest_convention():
    result = validate(twice_the_kl, args="auto", reduction="auto", examples=200)
    assert not result.ok
    assert result.bug_class == "missing_half"
    assert "--reduction sum" in result.diagnosis


def test_auto_with_given_roles_and_layout_only_searches_the_reduction():
    result = validate(batch_last, args="mu,logvar", reduction="auto", layout="D N", examples=100)
    assert result.ok
    assert result.convention.reduction == "batch"


def test_auto_reports_an_axis_error_with_a_layout_hint():
    def nchw(mean, logvar):
        return _terms(mean, logvar).sum(axis=(1, 2, 3))

    result = validate(nchw, args="auto", reduction="auto", examples=50)
    assert result.bug_class == "raises"
    assert "pass --layout" in result.diagnosis
