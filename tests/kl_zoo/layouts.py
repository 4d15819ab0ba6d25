"""Correct and buggy KL code in the layouts of real projects: (N, C, H, W), (D, N), a shared log-std.

``CORRECT`` holds ``(function, args, reduction, layout)`` that must pass;
``BUGGY`` holds ``(function, args, reduction, layout, bug_class)``.
Plain module: importing it only defines functions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["BUGGY", "CORRECT"]


def latent_diffusion_kl(mean, logvar):
    """A latent-diffusion autoencoder's posterior KL: sum over dims [1, 2, 3]."""
    var = np.exp(logvar)
    return 0.5 * np.sum(np.power(mean, 2) + var - 1.0 - logvar, axis=(1, 2, 3))


def latent_diffusion_kl_mean(mean, logvar):
    return np.mean(0.5 * np.sum(mean**2 + np.exp(logvar) - 1.0 - logvar, axis=(1, 2, 3)))


def batch_last_kl(mu, logvar):
    """Columns are samples: (D, N) arrays, as in some Gaussian-process and graph codes."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=0)


def shared_log_std_kl(mu_q, log_std_q, mu_p, log_std_p):
    """A policy's KL with a (D,) log-std shared by the batch (PPO-style)."""
    var_q, var_p = np.exp(2 * log_std_q), np.exp(2 * log_std_p)
    return np.sum(log_std_p - log_std_q + (var_q + (mu_q - mu_p) ** 2) / (2 * var_p) - 0.5, axis=-1)


def latent_diffusion_sums_two_axes(mean, logvar):
    """Sums over [2, 3] only, then over the batch: a wrong axis set."""
    return 0.5 * np.sum(mean**2 + np.exp(logvar) - 1.0 - logvar, axis=(2, 3)).sum(0)


CORRECT = [
    (latent_diffusion_kl, "mu,logvar", "batch", "N C H W"),
    (latent_diffusion_kl_mean, "mu,logvar", "batchmean", "N C H W"),
    (batch_last_kl, "mu,logvar", "batch", "D N"),
    (shared_log_std_kl, "mu_q,logstd_q:D,mu_p,logstd_p:D", "batch", "N D"),
]

BUGGY = [
    (latent_diffusion_sums_two_axes, "mu,logvar", "batch", "N C H W", "wrong_shape"),
]
