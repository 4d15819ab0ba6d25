"""A zoo of numpy Bernoulli and Categorical KL implementations: correct forms and mutants.

``CORRECT`` holds ``(function, args, reduction, layout)``; ``MUTANTS`` holds
``(function, args, reduction, layout, bug_class)``.  Each mutant is a bug seen
in discrete-latent VAE code: ``log(0)`` giving nan, an ε that biases, logits
read as probabilities, a softmax over the wrong axis, ...
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, xlogy

__all__ = ["CORRECT", "MUTANTS"]


def _softplus(x):
    return np.logaddexp(0.0, x)


# ------------------------------------------------------------------ correct forms


def cat_uniform_xlogy(probs_q):
    """KL(Cat(q) ‖ Uniform) per row with xlogy (layout "N K", reduction batch)."""
    k = probs_q.shape[-1]
    return np.sum(xlogy(probs_q, probs_q) + probs_q * np.log(k), axis=-1)


def cat_uniform_eps(probs_q):
    """The Gumbel-softmax VAE line: Σ q log(q·K + 1e-10) (layout "N K", sum)."""
    k = probs_q.shape[-1]
    return np.sum(probs_q * np.log(probs_q * k + 1e-10))


def cat_logits_pair(logits_q, logits_p):
    """Per latent unit, from stable log-softmax (layout "N D K", none)."""
    lq = log_softmax(logits_q, axis=-1)
    lp = log_softmax(logits_p, axis=-1)
    return np.sum(np.exp(lq) * (lq - lp), axis=-1)


def cat_logits_uniform_batch(logits_q):
    """Summed over the latent units per row (layout "N D K", batch)."""
    lq = log_softmax(logits_q, axis=-1)
    return np.sum(np.exp(lq) * (lq + np.log(logits_q.shape[-1])), axis=(-2, -1))


def cat_probs_clamped(probs_q, probs_p):
    """Clamped at 1e-8 before the logs (layout "N K", sum): within the ε allowance."""
    q = np.clip(probs_q, 1e-8, None)
    p = np.clip(probs_p, 1e-8, None)
    return np.sum(probs_q * (np.log(q) - np.log(p)))


def cat_classes_first(probs_q):
    """Classes on the first axis, batch last (layout "K N", none)."""
    k = probs_q.shape[0]
    return np.sum(xlogy(probs_q, probs_q * k), axis=0)


def cat_learned_prior(logits_q, logits_p):
    """A prior's logits shared by the batch: ``--args logits_q,logits_p:K`` (layout "N K", batchmean)."""
    lq = log_softmax(logits_q, axis=-1)
    lp = log_softmax(logits_p, axis=-1)
    return np.sum(np.exp(lq) * (lq - lp)) / logits_q.shape[0]


def bern_xlogy(probs_q, probs_p):
    """The closed form with xlogy (layout "N D", none)."""
    return (
        xlogy(probs_q, probs_q)
        - xlogy(probs_q, probs_p)
        + xlogy(1 - probs_q, 1 - probs_q)
        - xlogy(1 - probs_q, 1 - probs_p)
    )


def bern_logits(logits_q, logits_p):
    """From logits with softplus (log σ(l) = −softplus(−l)), summed per row (batch)."""
    q = 1.0 / (1.0 + np.exp(-logits_q))
    t1 = q * (_softplus(-logits_p) - _softplus(-logits_q))
    t0 = (1 - q) * (_softplus(logits_p) - _softplus(logits_q))
    return np.sum(t1 + t0, axis=-1)


def bern_uniform_eps(probs_q):
    """KL(Bernoulli(q) ‖ Bernoulli(½)) with an ε of 1e-8 in the logs (layout "N D", sum)."""
    q = probs_q
    return np.sum(q * np.log(2 * q + 1e-8) + (1 - q) * np.log(2 * (1 - q) + 1e-8))


# ------------------------------------------------------------------ mutants


def cat_log_zero(probs_q):
    """``q * log(q * K)``: nan at a zero probability."""
    return np.sum(probs_q * np.log(probs_q * probs_q.shape[-1]), axis=-1)


def bern_naive(probs_q, probs_p):
    """The textbook line without xlogy: nan at q = 0 and q = 1."""
    q, p = probs_q, probs_p
    return q * np.log(q / p) + (1 - q) * np.log((1 - q) / (1 - p))


def bern_logits_naive(logits_q):
    """σ, then the logs: 1 − σ(40) rounds to 0, and log 0 · 0 is nan."""
    q = 1.0 / (1.0 + np.exp(-logits_q))
    return np.sum(q * np.log(2 * q) + (1 - q) * np.log(2 * (1 - q)), axis=-1)


def cat_big_eps(probs_q):
    """``log(q + 1e-3)``: an ε that biases the result."""
    k = probs_q.shape[-1]
    return np.sum(probs_q * (np.log(probs_q + 1e-3) + np.log(k)), axis=-1)


def cat_logits_as_probs(logits_q):
    """The logits used as probabilities (no softmax)."""
    return np.sum(logits_q * np.log(logits_q * logits_q.shape[-1]), axis=-1)


def cat_probs_as_logits(probs_q):
    """Probabilities passed through softmax again."""
    lq = log_softmax(probs_q, axis=-1)
    return np.sum(np.exp(lq) * (lq + np.log(probs_q.shape[-1])), axis=-1)


def cat_softmax_latent_axis(logits_q):
    """log-softmax over the latent axis D instead of the classes K (layout "N D K")."""
    lq = log_softmax(logits_q, axis=1)
    return np.sum(np.exp(lq) * (lq + np.log(logits_q.shape[-1])), axis=(-2, -1))


def cat_reversed(probs_q, probs_p):
    """KL(p‖q): inf where q has a zero."""
    return np.sum(xlogy(probs_p, probs_p) - xlogy(probs_p, probs_q), axis=-1)


def cat_sign_flip(probs_q, probs_p):
    """−KL."""
    return np.sum(xlogy(probs_q, probs_p) - xlogy(probs_q, probs_q), axis=-1)


def cat_negative_entropy(probs_q):
    """Σ q log q = −H(q): the log K of the uniform prior is missing."""
    return np.sum(xlogy(probs_q, probs_q), axis=-1)


def bern_mean_not_sum(probs_q, probs_p):
    """The mean over latent units where the sum per row is asked for."""
    return np.mean(bern_xlogy(probs_q, probs_p), axis=-1)


def cat_clipped_logits(logits_q):
    """Logits clipped to [-30, 30] first: right except at large logits."""
    lq = log_softmax(np.clip(logits_q, -30.0, 30.0), axis=-1)
    return np.sum(np.exp(lq) * (lq + np.log(logits_q.shape[-1])), axis=-1)


def bern_beta_weighted(probs_q):
    """β = 4 applied inside the KL helper."""
    q = probs_q
    return 4.0 * np.sum(xlogy(q, 2 * q) + xlogy(1 - q, 2 * (1 - q)), axis=-1)


def cat_rejects_zeros(probs_q):
    """Raises on an exact zero, a valid probability."""
    if np.any(probs_q == 0):
        raise ValueError("probabilities must be positive")
    return cat_uniform_xlogy(probs_q)


def cat_in_bits(probs_q, probs_p):
    """log2 where the natural log is meant."""
    return np.sum(probs_q * np.log2(np.clip(probs_q, 1e-30, None) / probs_p), axis=-1)


def bern_prior_unused(probs_q, probs_p):
    """The prior argument accepted but unused: KL against Bernoulli(½)."""
    q = probs_q
    return np.sum(xlogy(q, 2 * q) + xlogy(1 - q, 2 * (1 - q)), axis=-1)


CORRECT = [
    (cat_uniform_xlogy, "probs_q", "batch", "N K"),
    (cat_uniform_eps, "probs_q", "sum", "N K"),
    (cat_logits_pair, "logits_q,logits_p", "none", "N D K"),
    (cat_logits_uniform_batch, "logits_q", "batch", "N D K"),
    (cat_probs_clamped, "probs_q,probs_p", "sum", "N K"),
    (cat_classes_first, "probs_q", "none", "K N"),
    (cat_learned_prior, "logits_q,logits_p:K", "batchmean", "N K"),
    (bern_xlogy, "probs_q,probs_p", "none", None),
    (bern_logits, "logits_q,logits_p", "batch", None),
    (bern_uniform_eps, "probs_q", "sum", None),
]

MUTANTS = [
    (cat_log_zero, "probs_q", "batch", "N K", "log_zero_nan"),
    (bern_naive, "probs_q,probs_p", "none", None, "log_zero_nan"),
    (bern_logits_naive, "logits_q", "batch", None, "log_zero_nan"),
    (cat_big_eps, "probs_q", "batch", "N K", "epsilon_bias"),
    (cat_logits_as_probs, "logits_q", "batch", "N K", "logits_as_probs"),
    (cat_probs_as_logits, "probs_q", "batch", "N K", "probs_as_logits"),
    (cat_softmax_latent_axis, "logits_q", "batch", "N D K", "softmax_wrong_axis"),
    (cat_reversed, "probs_q,probs_p", "batch", "N K", "reversed_kl"),
    (cat_sign_flip, "probs_q,probs_p", "batch", "N K", "sign_flip"),
    (cat_negative_entropy, "probs_q", "batch", "N K", "additive_constant"),
    (bern_mean_not_sum, "probs_q,probs_p", "batch", None, "wrong_reduction"),
    (cat_clipped_logits, "logits_q", "batch", "N K", "clamping"),
    (bern_beta_weighted, "probs_q", "batch", None, "constant_factor"),
    (cat_rejects_zeros, "probs_q", "batch", "N K", "raises"),
    (cat_in_bits, "probs_q,probs_p", "batch", "N K", "constant_factor"),
    (bern_prior_unused, "probs_q,probs_p", "batch", None, "ignored_prior"),
]
