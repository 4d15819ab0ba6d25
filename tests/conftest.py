"""Shared test configuration: hypothesis profiles and optional-library markers.

Profiles
--------
``ci`` (the default) is derandomized: the same examples every run, so the
suite is deterministic.  ``thorough`` runs many more random examples locally::

    pytest --hypothesis-profile=thorough
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Plain ndarrays take numba's loop from a program's 16th call (ELBO_CHECK_JIT=auto);
# which engine a test meets would then depend on the tests before it.  The suite
# pins the numpy engine; tests of the loop select it (tests/test_kernel.py's
# ``jit`` path, tests/test_kernel_jit.py).
os.environ.setdefault("ELBO_CHECK_JIT", "off")

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=60,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("ci")


@pytest.fixture(autouse=True)
def _the_kernel_engine_is_left_as_found() -> Iterator[None]:
    """A test that leaves the numpy engine switched (a leak) errors, and the switch is undone."""
    from elbo_check.kernel import _kl

    before = (_kl._JitState.module, _kl._JitState.calls)
    yield
    after = (_kl._JitState.module, _kl._JitState.calls)
    if after[0] is not before[0]:
        _kl._JitState.module, _kl._JitState.calls = before
        pytest.fail(f"the test left the kernel's numpy engine switched: {after[0]!r}")
