"""Discrete-latent KL terms, one right and one with the classic log(0) bug.

Check them with ``elbo-check validate`` (see docs/validate.md)::

    elbo-check validate examples/discrete_kl.py:kl_bernoulli --args probs_q,probs_p --reduction none
    elbo-check validate examples/discrete_kl.py:kl_categorical --args logits_q --reduction batch --layout "N D K"
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, xlogy

__all__ = ["kl_bernoulli", "kl_categorical"]


def kl_bernoulli(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """KL(Bernoulli(q) || Bernoulli(p)) per unit, with 0 log 0 = 0 (right)."""
    return xlogy(q, q) - xlogy(q, p) + xlogy(1 - q, 1 - q) - xlogy(1 - q, 1 - p)


def kl_categorical(logits: np.ndarray) -> np.ndarray:
    """KL(Cat(softmax(logits)) || Uniform(K)), summed over the latent axis (buggy: log(0) gives nan)."""
    probs = np.exp(log_softmax(logits, axis=-1))
    k = logits.shape[-1]
    return np.sum(probs * np.log(probs * k), axis=(-2, -1))
