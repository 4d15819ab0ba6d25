"""A downstream test file: check your own KL code with ``assert_kl_correct``.

Run ``pytest examples/test_my_kl.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from elbo_check.testing import assert_kl_correct


def my_kl(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """The textbook VAE KL term, summed over the batch."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))


def my_buggy_kl(mu: np.ndarray, logvar: np.ndarray) -> np.ndarray:
    """The same line with its leading minus sign dropped: a classic bug."""
    return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))


def test_my_kl_is_correct() -> None:
    assert_kl_correct(my_kl, args="mu,logvar", reduction="sum", examples=200)


def test_my_buggy_kl_is_caught() -> None:
    with pytest.raises(AssertionError, match="sign flip"):
        assert_kl_correct(my_buggy_kl, args="mu,logvar", reduction="sum", examples=200)
