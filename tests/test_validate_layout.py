"""``--layout`` and per-role layouts: (N, C, H, W) latents, batch-last arrays, shared parameters."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from kl_zoo import layouts

from elbo_check import ValidationError, validate
from elbo_check.cli import main as cli_main
from elbo_check.testing import assert_kl_correct


def _id(case: tuple) -> str:
    return case[0].__name__


@pytest.mark.parametrize("case", layouts.CORRECT, ids=_id)
def test_correct_code_in_its_own_layout_passes(case):
    fn, args, reduction, layout = case
    result = validate(fn, args=args, reduction=reduction, layout=layout, examples=300)
    assert result.ok, result.report()
    assert result.convention["layout"] == layout


@pytest.mark.parametrize("case", layouts.BUGGY, ids=_id)
def test_buggy_code_in_its_own_layout_is_caught(case):
    fn, args, reduction, layout, bug = case
    result = validate(fn, args=args, reduction=reduction, layout=layout, examples=300)
    assert result.bug_class == bug, result.report()


def test_nchw_code_without_the_layout_flag_raises_with_a_hint_to_pass_it():
    result = validate(layouts.latent_diffusion_kl, args="mu,logvar", reduction="batch")
    assert result.bug_class == "raises"
    assert "pass --layout" in result.diagnosis


def test_the_json_convention_reports_the_layout_and_the_role_overrides():
    fn, args, reduction, layout = layouts.CORRECT[3]
    conv = validate(fn, args=args, reduction=reduction, layout=layout, examples=60).convention
    assert conv["layout"] == "N D"
    assert conv["role_layouts"] == {"logstd_q": "D", "logstd_p": "D"}


def test_a_shared_parameter_reaches_the_function_as_one_vector():
    shapes = []

    def kl(mu_q, logstd_q, mu_p, logstd_p):
        shapes.append((mu_q.shape, logstd_q.shape))
        return layouts.shared_log_std_kl(mu_q, logstd_q, mu_p, logstd_p)

    validate(kl, "mu_q,logstd_q:D,mu_p,logstd_p:D", "batch", examples=60, isolation="thread")
    assert all(len(m) == 2 and s == m[1:] for m, s in shapes)


def test_a_per_element_result_in_nchw_is_read_back_in_its_layout():
    def none(mean, logvar):
        return 0.5 * (mean**2 + np.exp(logvar) - 1.0 - logvar)

    assert validate(none, "mu,logvar", "none", layout="N C H W", examples=200).ok


def test_assert_kl_correct_takes_the_layout():
    assert_kl_correct(layouts.batch_last_kl, args="mu,logvar", reduction="batch", layout="D N")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"layout": "C H W"}, "needs the batch axis N"),
        ({"layout": "N N"}, "an axis name repeats"),
        ({"layout": "N"}, "at least one event axis"),
        ({"layout": "N C-H"}, "axis names separated by spaces"),
        ({"args": "mu,logvar:E"}, "expected the event axes D"),
        ({"args": "mu,sigma:D"}, "unknown role 'sigma'"),
        ({"args": "mu,logvar:D N C"}, "expected the event axes D"),
    ],
)
def test_bad_layouts_are_one_line_usage_errors(kwargs, words):
    kwargs = dict(kwargs)
    args = kwargs.pop("args", "mu,logvar")
    with pytest.raises(ValidationError, match=words) as info:
        validate(layouts.batch_last_kl, args=args, reduction="batch", **kwargs)
    assert "\n" not in str(info.value)


def test_full_covariance_refuses_another_layout():
    with pytest.raises(ValidationError, match="full covariance keeps"):
        validate(layouts.batch_last_kl, args="mu_q,cov_q", reduction="batch", layout="D N")


def test_the_cli_layout_flag_reaches_the_worker_and_the_json(tmp_path, capsys):
    path = tmp_path / "ldm.py"
    path.write_text(
        "import numpy as np\n"
        "def kl(mean, logvar):\n"
        "    return 0.5 * np.sum(mean**2 + np.exp(logvar) - 1.0 - logvar, axis=(1, 2, 3))\n"
    )
    argv = ["validate", f"{path}:kl", "--args", "mu,logvar", "--reduction", "batch",
            "--layout", "N C H W", "--format", "json", "--examples", "100"]  # fmt: skip
    assert cli_main(argv) == 0
    assert json.loads(capsys.readouterr().out)["convention"]["layout"] == "N C H W"


def test_the_cli_rejects_a_bad_layout_with_exit_2(tmp_path):
    path = tmp_path / "k.py"
    path.write_text("def kl(mu, logvar):\n    return 0.0\n")
    err = io.StringIO()
    argv = ["validate", f"{path}:kl", "--args", "mu,logvar", "--reduction", "sum", "--layout", "C"]
    assert cli_main(argv, out=io.StringIO(), err=err) == 2
    assert "--layout 'C'" in err.getvalue()


@pytest.mark.torch
def test_a_torch_latent_diffusion_kl_over_dims_1_2_3_passes_in_its_layout():
    pytest.importorskip("torch")
    from kl_zoo import torch_layouts

    result = validate(
        torch_layouts.ldm_kl, "mu,logvar", "batch", layout="N C H W", backend="torch", examples=200
    )
    assert result.ok, result.report()
    assert result.convention["isolation"] == "process"
