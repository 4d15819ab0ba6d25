"""The target runs in a worker process: crashes, hangs, floods and forks become verdicts.

Every hostile target lives in ``tests/kl_zoo/hostile.py`` as a module-level
function, so the validator sends it to its worker process by name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from kl_zoo import hostile

from elbo_check import validate

ROOT = Path(__file__).resolve().parent.parent


def _validate(fn, **kw):
    kw.setdefault("examples", 40)
    return validate(fn, args="mu,logvar", reduction="batch", **kw)


def test_a_module_level_function_runs_in_a_worker_process():
    result = _validate(hostile.vae_batch)
    assert result.ok, result.report()
    assert result.convention["isolation"] == "process"


def test_a_lambda_falls_back_to_the_thread_runner():
    result = _validate(lambda mu, lv: hostile.vae_batch(mu, lv))
    assert result.ok
    assert result.convention["isolation"] == "thread"


def test_os_exit_in_the_target_is_a_crashed_verdict():
    result = _validate(hostile.exits)
    assert not result.ok
    assert result.bug_class == "crashed"
    assert "crashed (exit code 3)" in result.diagnosis


@pytest.mark.parametrize(("fn", "signum"), [(hostile.aborts, 6), (hostile.segfaults, 11)])
def test_a_target_killed_by_a_signal_is_a_crashed_verdict_naming_it(fn, signum):
    result = _validate(fn)
    assert result.bug_class == "crashed"
    assert f"crashed (signal {signum})" in result.diagnosis


def test_a_c_call_holding_the_gil_is_stopped_by_the_timeout():
    t0 = time.monotonic()
    result = _validate(hostile.c_level_hang, timeout=1.0)
    elapsed = time.monotonic() - t0
    assert result.bug_class == "timeout"
    assert "did not return within 1 s" in result.diagnosis
    # the call itself would run for days; anything short of that proves the kill
    assert elapsed < 120


def test_a_result_far_larger_than_expected_is_refused_unread():
    result = _validate(hostile.huge_result)
    assert result.bug_class == "wrong_shape"
    assert "refused unread" in result.diagnosis
    assert "\n" not in result.diagnosis


def test_a_fifty_million_element_list_is_refused_without_converting_it():
    result = _validate(hostile.huge_list)
    assert result.bug_class == "wrong_shape"
    assert "refused unread" in result.diagnosis


def test_reading_a_result_whose_array_conversion_loops_is_under_the_timeout():
    result = _validate(hostile.looping_array, timeout=1.0)
    assert result.bug_class == "timeout"


def test_printing_megabytes_is_captured_at_the_fd_level_and_shown_truncated(capfd):
    result = _validate(hostile.prints_a_lot)
    assert result.ok
    (warning,) = [w for w in result.warnings if "printed" in w]
    assert len(warning) < 300
    assert "xxxx" in warning
    out, err = capfd.readouterr()
    assert "xxxx" not in out + err
    assert "to fd 2" not in out + err


def _write_target(tmp_path: Path, body: str) -> str:
    path = tmp_path / "target_kl.py"
    path.write_text(textwrap.dedent(body))
    return f"{path}:kl"


def _cli(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "elbo_check", "validate", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_the_json_on_stdout_survives_a_target_that_writes_to_fd_1(tmp_path):
    target = _write_target(
        tmp_path,
        """
        import os, sys
        import numpy as np
        def kl(mu, logvar):
            os.write(1, b'{"ok": "corrupted"}\\n')
            sys.__stdout__.write("more\\n")
            return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)
        """,
    )
    done = _cli(target, "--args", "mu,logvar", "--reduction", "batch", "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["ok"] is True
    assert any("printed" in w for w in data["warnings"])


def test_a_forked_child_that_carries_on_cannot_hold_our_pipes(tmp_path):
    target = _write_target(
        tmp_path,
        """
        import os
        import numpy as np
        def kl(mu, logvar):
            if os.fork() == 0:
                os.execvp("sleep", ["sleep", "300"])
            return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)
        """,
    )
    t0 = time.monotonic()
    done = _cli(
        target, "--args", "mu,logvar", "--reduction", "batch", "--examples", "40", timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        time.monotonic() - t0 < 120
    )  # subprocess.run waited for EOF on our pipes: no child held them


def test_a_cli_target_that_aborts_exits_1_with_the_crashed_verdict(tmp_path):
    target = _write_target(tmp_path, "import os\ndef kl(mu, logvar):\n    os.abort()\n")
    done = _cli(target, "--args", "mu,logvar", "--reduction", "batch", "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["bug_class"] == "crashed"
    assert "crashed (signal 6)" in data["diagnosis"]


def test_a_cli_target_that_fails_to_import_is_a_usage_error_from_the_worker(tmp_path):
    target = _write_target(
        tmp_path, "raise ImportError('no such thing')\ndef kl(mu, logvar): ...\n"
    )
    done = _cli(target, "--args", "mu,logvar", "--reduction", "batch")
    assert done.returncode == 2
    assert "no such thing" in done.stderr
    assert "Traceback" not in done.stderr


def test_printing_megabytes_in_the_thread_fallback_is_counted_not_kept():
    result = _validate(lambda mu, lv: hostile.prints_a_lot(mu, lv), isolation="thread")
    assert result.ok
    (warning,) = [w for w in result.warnings if "printed" in w]
    assert "the function printed " in warning
    assert len(warning) < 300
