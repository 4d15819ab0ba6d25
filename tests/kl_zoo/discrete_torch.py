"""A zoo of torch Bernoulli and Categorical KL implementations (same layout as :mod:`discrete_impls`).

torch is imported inside each function, so importing this module never needs
torch; tests that use it call ``pytest.importorskip("torch")`` first.
"""

from __future__ import annotations

import math

__all__ = ["CORRECT", "MUTANTS"]


def _torch():
    import torch

    return torch


# ------------------------------------------------------------------ correct forms


def dist_categorical_logits(logits_q, logits_p):
    """torch.distributions: KL(Categorical(logits) ‖ Categorical(logits)) per unit."""
    from torch.distributions import Categorical, kl_divergence

    return kl_divergence(Categorical(logits=logits_q), Categorical(logits=logits_p))


def dist_categorical_probs_uniform(probs_q):
    """torch.distributions against a uniform Categorical, one KL per row."""
    from torch.distributions import Categorical, kl_divergence

    torch = _torch()
    return kl_divergence(Categorical(probs=probs_q), Categorical(logits=torch.zeros_like(probs_q)))


def dist_bernoulli_probs(probs_q, probs_p):
    """torch.distributions: KL(Bernoulli ‖ Bernoulli), summed over all entries."""
    from torch.distributions import Bernoulli, kl_divergence

    return kl_divergence(Bernoulli(probs=probs_q), Bernoulli(probs=probs_p)).sum()


def f_kl_div_uniform(probs_q):
    """F.kl_div(log p, q) against the uniform prior (sum)."""
    torch = _torch()
    k = probs_q.shape[-1]
    log_p = torch.full_like(probs_q, -math.log(k))
    return torch.nn.functional.kl_div(log_p, probs_q, reduction="sum")


def gumbel_vae_line(logits_q):
    """The Gumbel-softmax VAE line: softmax, then q·log(q·K + 1e-20), mean over units."""
    torch = _torch()
    q = torch.softmax(logits_q, dim=-1)
    k = logits_q.shape[-1]
    return torch.sum(q * torch.log(q * k + 1e-20), dim=-1).mean()


def bernoulli_logsigmoid(logits_q):
    """KL(Bernoulli(σ(l)) ‖ Bernoulli(½)) from logsigmoid, summed per row."""
    torch = _torch()
    F = torch.nn.functional
    q = torch.sigmoid(logits_q)
    return torch.sum(
        q * F.logsigmoid(logits_q) + (1 - q) * F.logsigmoid(-logits_q) + math.log(2), dim=-1
    )


# ------------------------------------------------------------------ mutants


def log_q_over_p(probs_q, probs_p):
    """``q * torch.log(q / p)``: nan at a zero probability."""
    torch = _torch()
    return torch.sum(probs_q * torch.log(probs_q / probs_p), dim=-1)


def softmax_over_batch(logits_q):
    """softmax over dim 0 (the batch) of an (N, K) tensor."""
    torch = _torch()
    q = torch.softmax(logits_q, dim=0)
    k = logits_q.shape[-1]
    return torch.sum(q * torch.log(q * k + 1e-20), dim=-1)


def bernoulli_probs_from_logits_as_probs(logits_q, logits_p):
    """The logits passed where probabilities are expected."""
    torch = _torch()
    q, p = logits_q, logits_p
    return torch.sum(q * torch.log(q / p) + (1 - q) * torch.log((1 - q) / (1 - p)), dim=-1)


def big_eps_clamp(probs_q, probs_p):
    """Probabilities clamped at 1e-2 before the logs."""
    torch = _torch()
    q = probs_q.clamp(min=1e-2)
    p = probs_p.clamp(min=1e-2)
    return torch.sum(probs_q * (torch.log(q) - torch.log(p)), dim=-1)


CORRECT = [
    (dist_categorical_logits, "logits_q,logits_p", "none", "N D K"),
    (dist_categorical_probs_uniform, "probs_q", "none", "N K"),
    (dist_bernoulli_probs, "probs_q,probs_p", "sum", None),
    (f_kl_div_uniform, "probs_q", "sum", "N K"),
    (gumbel_vae_line, "logits_q", "mean", "N D K"),
    (bernoulli_logsigmoid, "logits_q", "batch", None),
]

MUTANTS = [
    (log_q_over_p, "probs_q,probs_p", "batch", "N K", "log_zero_nan"),
    (softmax_over_batch, "logits_q", "batch", "N K", "softmax_wrong_axis"),
    (bernoulli_probs_from_logits_as_probs, "logits_q,logits_p", "batch", None, "logits_as_probs"),
    (big_eps_clamp, "probs_q,probs_p", "batch", "N K", "epsilon_bias"),
]
