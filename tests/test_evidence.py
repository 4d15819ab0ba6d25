"""Numeric evidence: declared records, honest z-tests, loud failures, skips that never pass.

False alarms: every evidence line runs at ``EVIDENCE_ALPHA / EVIDENCE_LINES``
(family rate 1e-7 over the planned lines, a plan this module enforces).  Seeds
are fixed, so the repeated runs below repeat the same events: this module adds
at most 1e-7 to the suite-wide budget (see tests/test_mc.py).
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sympy as sp

import derivations
from elbo_check.cli import main
from elbo_check.errors import EvidenceError
from elbo_check.evidence import (
    EVIDENCE_ALPHA,
    EVIDENCE_LINES,
    EvidenceLine,
    NumericCheck,
    Relation,
    Status,
    collect_evidence,
    elbo_bounds,
    evidence_slugs,
    gaussian_kl,
    registered_checks,
    reparameterization,
    run_check,
    run_checks,
)
from elbo_check.mc import MCEstimate
from elbo_check.models import LinearGaussianModel

KEYS = {
    "name",
    "point",
    "closed_form",
    "estimate",
    "se",
    "z",
    "passed",
    "status",
    "relation",
    "reason",
    "alpha",
    "n",
    "seed",
}
SHIPPED_MODULES = (gaussian_kl, elbo_bounds, reparameterization)
SLUGS = evidence_slugs()


def _shipped_records() -> dict[str, tuple[NumericCheck[Any], ...]]:
    """Every tuple of records the shipped record modules export, by name."""
    out = {}
    for module in SHIPPED_MODULES:
        for name in module.__all__:
            value = getattr(module, name)
            if isinstance(value, tuple) and value and isinstance(value[0], NumericCheck):
                out[name] = value
    return out


SHIPPED = _shipped_records()


# ----------------------------------------------------------------------------- the library passes


def test_the_existing_closed_form_derivations_declare_evidence() -> None:
    assert set(SLUGS) >= {
        "gaussian-kl-univariate",
        "gaussian-kl-standard-prior",
        "gaussian-kl-diagonal",
        "gaussian-kl-full-covariance",
        "elbo-decomposition",
    }


@pytest.mark.parametrize("slug", SLUGS)
def test_every_declaring_slug_yields_passing_evidence(slug: str) -> None:
    lines = collect_evidence(slug)
    assert len(lines) == sum(check.lines for check in registered_checks(slug)) >= 1
    for line in lines:
        assert line.passed, line.format_text()
        if line.relation is Relation.EQUAL:  # a strict bound sits many standard errors away
            assert abs(line.z) < 5.0
        assert line.se > 0.0
        assert line.alpha == pytest.approx(EVIDENCE_ALPHA / EVIDENCE_LINES)


@pytest.mark.parametrize(
    "name",
    ["REPARAMETERIZATION", "REPARAMETERIZATION_GRADIENT", "FULL_COVARIANCE_GAUSSIAN_KL_K8"],
)
def test_the_new_identities_agree_with_monte_carlo_within_their_error_bars(name: str) -> None:
    lines = run_checks(SHIPPED[name])
    assert len(lines) >= 2
    for line in lines:
        assert line.passed, line.format_text()
        assert abs(line.z) < 5.0
        assert 0.0 < line.se < 0.02


def test_the_reparameterization_records_cover_three_functions_at_two_points() -> None:
    labels = {fn.label for fn in reparameterization.TEST_FUNCTIONS}
    assert labels == {"z²", "sin z", "exp(z/2)"}
    assert sum(check.lines for check in SHIPPED["REPARAMETERIZATION"]) == 6


def test_the_general_k_record_compares_at_k_8() -> None:
    (check,) = SHIPPED["FULL_COVARIANCE_GAUSSIAN_KL_K8"]
    assert {point.dim for point in check.points} == {8}
    assert all(point.describe()["k"] == 8.0 for point in check.points)


def test_iwae_ordering_holds_strictly_and_is_resolved_on_both_sides() -> None:
    upper, lower = elbo_bounds.IWAE_ORDERING
    assert (upper.relation, lower.relation) == (Relation.AT_MOST, Relation.AT_LEAST)
    lines = run_checks(elbo_bounds.IWAE_ORDERING)
    assert all(line.passed for line in lines), [line.format_text() for line in lines]
    for line in lines[:2]:  # IWAE_2 below log p(x) by many standard errors
        assert line.z < -20.0
    for line in lines[2:]:  # and above the ELBO by many
        assert line.z > 20.0


def test_claiming_the_wrong_iwae_ordering_fails() -> None:
    upper, lower = elbo_bounds.IWAE_ORDERING
    reversed_upper = dataclasses.replace(upper, relation=Relation.AT_LEAST)  # IWAE_2 >= log p(x)
    reversed_lower = dataclasses.replace(lower, relation=Relation.AT_MOST)  # IWAE_2 <= ELBO
    for line in run_checks((reversed_upper, reversed_lower)):
        assert line.failed, line.format_text()
        assert "FAIL" in line.format_text()


def test_iwae_with_the_posterior_as_proposal_is_exactly_log_p_x() -> None:
    model = LinearGaussianModel.random(latent_dim=2, obs_dim=4, seed=3)
    x = model.sample(seed=4)[1]
    mean, cov = model.posterior(x)
    est = elbo_bounds.iwae_mc(model, x, mean, cov, 2, 2_000, 0)
    assert est.estimate == pytest.approx(model.log_marginal(x), abs=1e-9)


def test_the_planned_bonferroni_family_covers_every_declared_and_shipped_line() -> None:
    registered = {id(c): c for slug in SLUGS for c in registered_checks(slug)}
    shipped = {id(c): c for records in SHIPPED.values() for c in records}
    total = sum(c.lines for c in (registered | shipped).values())
    assert total <= EVIDENCE_LINES, "raise EVIDENCE_LINES: the Bonferroni plan is exceeded"
    assert EVIDENCE_ALPHA < 1e-6


def test_slugs_without_numeric_evidence_give_an_empty_list() -> None:
    assert collect_evidence("gaussian-moments") == []
    assert collect_evidence("") == []
    assert registered_checks("no-such-derivation") == ()


# ----------------------------------------------------------------------------- output forms


def test_json_form_has_exactly_the_documented_keys_and_types() -> None:
    (line,) = collect_evidence("gaussian-kl-full-covariance")
    data = line.to_dict()
    assert set(data) == KEYS
    assert isinstance(data["name"], str)
    assert all(isinstance(k, str) and isinstance(v, float) for k, v in data["point"].items())
    for key in ("closed_form", "estimate", "se", "z", "alpha"):
        assert isinstance(data[key], float)
    assert isinstance(data["passed"], bool)
    assert (data["status"], data["relation"], data["reason"]) == ("passed", "=", "")
    assert isinstance(data["n"], int)
    assert isinstance(data["seed"], int)
    assert json.loads(json.dumps(data)) == data


def test_text_form_shows_point_closed_form_estimate_error_bar_and_verdict() -> None:
    (line,) = collect_evidence("gaussian-kl-univariate", seed=4)
    text = line.format_text()
    assert "\n" not in text
    for piece in ("m1=0.3", "s2=1.3", "closed form", "±", "z=", "pass", "seed=4"):
        assert piece in text


def test_a_bound_reads_as_an_inequality_and_says_one_sided() -> None:
    line = run_check(elbo_bounds.IWAE_ORDERING[0])[0]
    assert "≤ bound" in line.format_text()
    assert "one-sided" in line.format_text()
    assert line.to_dict()["relation"] == "≤"


def test_evidence_is_deterministic_for_a_seed_and_changes_with_it() -> None:
    first = collect_evidence("gaussian-kl-diagonal", seed=1)
    again = collect_evidence("gaussian-kl-diagonal", seed=1)
    other = collect_evidence("gaussian-kl-diagonal", seed=2)
    assert first == again
    assert first[0].estimate != other[0].estimate
    assert first[0].closed_form == other[0].closed_form


def test_elbo_decomposition_compares_both_sides_of_the_identity() -> None:
    elbo_line, gap_line = collect_evidence("elbo-decomposition")
    assert "ELBO" in elbo_line.name
    assert "KL" in gap_line.name
    assert gap_line.closed_form > 0.0  # log p(x) - ELBO(q) = KL(q || posterior)
    assert elbo_line.point == gap_line.point


# ----------------------------------------------------------------------------- failures are loud


def _shifted(
    check: NumericCheck[Any], factor: float = 1.0, shift: float = 0.0
) -> NumericCheck[Any]:
    """The record with a wrong reference value: ``factor * value + shift``."""
    real = check.closed_form
    return dataclasses.replace(check, closed_form=lambda point: factor * real(point) + shift)


@pytest.mark.parametrize(
    "records", ["UNIVARIATE_GAUSSIAN_KL", "STANDARD_PRIOR_GAUSSIAN_KL", "DIAGONAL_GAUSSIAN_KL"]
)
def test_a_closed_form_missing_its_minus_one_half_fails_loudly(records: str) -> None:
    (check,) = SHIPPED[records]
    (line,) = run_check(_shifted(check, shift=0.5))
    assert line.failed
    assert "FAIL" in line.format_text()
    assert line.to_dict()["passed"] is False


@pytest.mark.parametrize(
    "records", ["FULL_COVARIANCE_GAUSSIAN_KL", "FULL_COVARIANCE_GAUSSIAN_KL_K8"]
)
def test_a_full_covariance_closed_form_off_by_five_percent_fails(records: str) -> None:
    lines = run_checks(_shifted(c, factor=1.05) for c in SHIPPED[records])
    assert all(line.failed for line in lines)  # MC resolves about 1.5 %


def test_a_wrong_elbo_closed_form_fails_both_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    real = LinearGaussianModel.elbo

    def without_entropy_constant(
        self: LinearGaussianModel, x: object, m: object, S: object
    ) -> float:
        return real(self, x, m, S) - 0.5 * self.latent_dim  # dropped the "+1" in log(2πe)

    monkeypatch.setattr(LinearGaussianModel, "elbo", without_entropy_constant)
    lines = collect_evidence("elbo-decomposition")
    assert [line.failed for line in lines] == [True, True]


def test_a_reparameterization_with_the_variance_for_the_scale_fails() -> None:
    def wrong(point: Any, n: int, seed: int) -> MCEstimate:
        from scipy import stats

        from elbo_check.mc import expectation_mc

        return expectation_mc(lambda e: (point.mu + point.sigma**2 * e) ** 2, stats.norm(), n, seed)

    check = dataclasses.replace(reparameterization.REPARAMETERIZATION[0], estimator=wrong)
    assert [line.failed for line in run_check(check)] == [True, True]  # sigma = 0.8 and 1.7


# ----------------------------------------------------------------------------- skips never pass


def _estimate(point: Any, n: int, seed: int) -> MCEstimate:
    return MCEstimate(estimate=1.0, se=0.01, n=n, seed=seed, method="plain")


def _record(**changes: Any) -> NumericCheck[Any]:
    base: NumericCheck[Any] = NumericCheck(
        name="toy", closed_form=lambda point: 1.0, estimator=_estimate, points=({"a": 1.0},)
    )
    return dataclasses.replace(base, **changes)


def test_the_toy_record_passes_so_the_skips_below_are_the_changes_alone() -> None:
    (line,) = run_check(_record())
    assert line.passed
    assert line.status is Status.PASSED


def _nan_estimate(point: Any, n: int, seed: int) -> MCEstimate:
    return MCEstimate(estimate=math.nan, se=0.1, n=n, seed=seed, method="plain")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"requires": ("no_such_module_for_elbo_check",)}, "needs no_such_module_for_elbo_check"),
        ({"closed_form": lambda point: math.log(-1.0)}, "the reference value raised ValueError"),
        ({"closed_form": lambda point: math.nan}, "the reference value is nan"),
        ({"estimator": lambda point, n, seed: 1 / 0}, "the estimator raised ZeroDivisionError"),
        ({"estimator": lambda point, n, seed: 1.0}, "returned float, not an MCEstimate"),
        ({"estimator": _nan_estimate}, "is nan"),
        ({"points": (object(),)}, "describing the point raised EvidenceError"),
    ],
)
def test_a_record_that_cannot_run_is_skipped_with_its_reason_and_never_passes(
    changes: dict[str, Any], reason: str
) -> None:
    (line,) = run_check(_record(**changes))
    assert line.status is Status.SKIPPED
    assert line.skipped
    assert not line.passed
    assert not line.failed
    assert reason in line.reason
    assert line.format_text().endswith(f"skipped ({line.reason})")
    data = line.to_dict()
    assert (data["passed"], data["status"]) == (False, "skipped")


def test_a_skipped_line_is_a_note_not_a_failure_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    module = importlib.import_module(derivations.REGISTRY["gaussian-kl-standard-prior"])
    monkeypatch.setattr(module, "EVIDENCE", (_record(requires=("no_such_module_for_elbo_check",)),))
    code = main(["prove", "--evidence", "gaussian-kl-standard-prior"])
    captured = capsys.readouterr()
    assert code == 0
    assert "skipped (needs no_such_module_for_elbo_check" in captured.out
    assert "note: numeric evidence skipped" in captured.err
    assert "pass" not in captured.out.split("evidence:")[1]


def test_a_module_declaring_something_else_as_evidence_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = importlib.import_module(derivations.REGISTRY["gaussian-kl-standard-prior"])
    monkeypatch.setattr(module, "EVIDENCE", ("compare with kl_mc",))
    with pytest.raises(EvidenceError, match="not a NumericCheck"):
        registered_checks("gaussian-kl-standard-prior")


@pytest.mark.parametrize(
    "changes",
    [{"points": ()}, {"points": [{"a": 1.0}]}, {"draws": 1}, {"draws": True}, {"name": ""}],
)
def test_a_malformed_record_is_rejected_when_declared(changes: dict[str, Any]) -> None:
    with pytest.raises(EvidenceError):
        _record(**changes)


def test_declaring_records_imports_neither_numpy_nor_sympy() -> None:
    code = (
        "import sys\n"
        "import elbo_check.evidence.gaussian_kl, elbo_check.evidence.elbo_bounds\n"
        "import elbo_check.evidence.reparameterization\n"
        "print(sorted({'numpy', 'scipy', 'sympy'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


# ----------------------------------------------------------------------------- ties to the proofs


def _by_name(expr: sp.Expr, names: list[str]) -> list[sp.Symbol]:
    symbols = {s.name: s for s in expr.free_symbols}
    assert set(symbols) == set(names), (sorted(symbols), names)
    return [symbols[n] for n in names]


def _points(check: NumericCheck[Any], names: list[str], extra: int = 4) -> list[dict[str, float]]:
    """The record's own points plus a few random ones (scales positive)."""
    rng = np.random.default_rng(0)
    out = [dict(p) for p in check.points]
    for _ in range(extra):
        out.append(
            {n: float(rng.uniform(0.2, 2.0) if n.startswith("s") else rng.normal()) for n in names}
        )
    return out


@pytest.mark.parametrize(
    ("module", "records", "names"),
    [
        ("derivations.gaussian_kl_univariate", "UNIVARIATE_GAUSSIAN_KL", ["m1", "s1", "m2", "s2"]),
        ("derivations.gaussian_kl_standard_prior", "STANDARD_PRIOR_GAUSSIAN_KL", ["mu", "sigma"]),
    ],
)
def test_the_numpy_closed_form_equals_the_proved_closed_form(
    module: str, records: str, names: list[str]
) -> None:
    expr = __import__(module, fromlist=["CLOSED_FORM"]).CLOSED_FORM
    fn = sp.lambdify(_by_name(expr, names), expr, modules="math")
    (check,) = SHIPPED[records]
    for point in _points(check, names):
        assert check.closed_form(point) == pytest.approx(fn(*[point[n] for n in names]), rel=1e-12)


def test_the_diagonal_numpy_closed_form_equals_the_proved_closed_form_at_d_3() -> None:
    from derivations.gaussian_kl_diagonal import closed_form

    names = ["mu1", "mu2", "mu3", "sigma1", "sigma2", "sigma3"]
    expr = closed_form(3)
    fn = sp.lambdify(_by_name(expr, names), expr, modules="math")
    (check,) = SHIPPED["DIAGONAL_GAUSSIAN_KL"]
    for point in _points(check, names):
        args = [point[n] for n in names]
        assert check.closed_form(point) == pytest.approx(fn(*args), rel=1e-12)


def test_the_full_covariance_numpy_closed_form_equals_the_proved_one_at_k_3() -> None:
    from derivations.gaussian_kl_full_covariance import closed_form

    (check,) = SHIPPED["FULL_COVARIANCE_GAUSSIAN_KL"]
    pairs = [*check.points, gaussian_kl.random_gaussian_pair(3, seed=1)]
    for pair in pairs:
        args = [
            sp.Matrix(pair.mean_q),
            sp.Matrix(np.linalg.cholesky(np.array(pair.cov_q))),
            sp.Matrix(pair.mean_p),
            sp.Matrix(np.linalg.cholesky(np.array(pair.cov_p))),
        ]
        exact = float(sp.N(closed_form(*args), 30))
        assert check.closed_form(pair) == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("mu", [0.3, -1.2])
@pytest.mark.parametrize("sigma", [0.8, 1.7])
def test_the_density_quadrature_matches_the_known_gaussian_expectations(
    mu: float, sigma: float
) -> None:
    value, derivative = {}, {}
    for fn in reparameterization.TEST_FUNCTIONS:
        value[fn.label] = reparameterization.density_expectation(fn.f, mu, sigma)
        check = next(c for c in SHIPPED["REPARAMETERIZATION_GRADIENT"] if fn.label in c.name)
        derivative[fn.label] = check.closed_form(reparameterization.GaussianLocation(mu, sigma))
    damp = math.exp(-(sigma**2) / 2)
    assert value["z²"] == pytest.approx(mu**2 + sigma**2, rel=1e-10)
    assert value["sin z"] == pytest.approx(math.sin(mu) * damp, rel=1e-9)
    assert value["exp(z/2)"] == pytest.approx(math.exp(mu / 2 + sigma**2 / 8), rel=1e-10)
    assert derivative["z²"] == pytest.approx(2 * mu, rel=1e-7)
    assert derivative["sin z"] == pytest.approx(math.cos(mu) * damp, rel=1e-7)
    assert derivative["exp(z/2)"] == pytest.approx(value["exp(z/2)"] / 2, rel=1e-7)


# ----------------------------------------------------------------------------- docs/evidence.md

DOC = Path(__file__).resolve().parent.parent / "docs" / "evidence.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_the_evidence_doc_has_code_blocks() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_every_code_block_of_the_evidence_doc_runs(index: int) -> None:
    code = BLOCKS[index]
    for library in ("dask.distributed", "dask"):
        if re.search(rf"^(import|from) {re.escape(library)}\b", code, flags=re.M):
            pytest.importorskip(library)
    exec(compile(code, f"{DOC.name}[block {index}]", "exec"), {})


def test_the_documented_json_line_has_the_keys_of_to_dict() -> None:
    (block,) = re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert set(json.loads(block)) == KEYS


def test_format_text_marks_a_failure() -> None:
    line = EvidenceLine("KL", {"a": 1.0}, 1.0, 2.0, 0.01, 100.0, Status.FAILED, 1e-8, 100, 0)
    assert "FAIL" in line.format_text()
    assert np.isclose(line.to_dict()["z"], 100.0)
