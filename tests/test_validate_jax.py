"""``--backend jax``: jax arrays in float64 (``jax_enable_x64``), in the worker process and in a thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from elbo_check import validate

jax = pytest.importorskip("jax")
from kl_zoo import jax_impls  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("isolation", ["process", "thread"])
def test_a_correct_jax_kl_passes_in_float64(isolation):
    result = validate(
        jax_impls.vae_batch, "mu,logvar", "batch", backend="jax", examples=200, isolation=isolation
    )
    assert result.ok, result.report()
    assert result.convention.backend == "jax"
    assert not any("float32" in w for w in result.warnings)


def test_the_inputs_reach_a_jax_function_as_float64():
    seen = []

    def kl(mu, logvar):
        seen.append(str(mu.dtype))
        return jax_impls.vae_batch(mu, logvar)

    assert validate(kl, "mu,logvar", "batch", backend="jax", examples=40, isolation="thread").ok
    assert set(seen) == {"float64"}


def test_a_jax_sign_flip_is_named():
    result = validate(jax_impls.vae_sign_flip, "mu,logvar", "sum", backend="jax", examples=200)
    assert result.bug_class == "sign_flip"


def test_the_cli_runs_a_jax_target(tmp_path):
    path = tmp_path / "jax_kl.py"
    path.write_text(
        "import jax.numpy as jnp\n"
        "def kl(mu, logvar):\n"
        "    return -0.5 * jnp.sum(1 + logvar - mu**2 - jnp.exp(logvar), axis=-1)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "elbo_check", "validate", f"{path}:kl", "--args", "mu,logvar",
            "--reduction", "batch", "--backend", "jax", "--format", "json", "--examples", "100"]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["convention"]["backend"] == "jax"
