"""A held-out corpus of realistic KL code: the bugs real VAE, diffusion and RL code ships.

Written the way such code is written in training scripts (β weights, per-pixel
normalisation, free bits, sampled estimates, shared log-std parameters,
(N, C, H, W) latents), not to fit the validator's mutants.  It was written
before the diagnoses it measures, and is not used to tune them.

``BUGS`` holds ``(function, args, reduction, layout, expected bug_class)``;
``CORRECT`` holds ``(function, args, reduction, layout)``.  Plain module:
importing it only defines functions.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["BUGS", "CORRECT"]

LOG_2PI = math.log(2 * math.pi)


def _vae_kl_elems(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - np.exp(logvar))


# ------------------------------------------------------------------ bugs


def beta_vae_loss_kl(mu, logvar):
    """β-VAE: the KL term comes back already weighted by β = 4."""
    beta = 4.0
    kld = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)
    return beta * kld.mean()


def kl_per_pixel(mu, logvar):
    """Normalised by the MNIST image size to match a per-pixel reconstruction loss."""
    n_pixels = 28 * 28
    return np.sum(_vae_kl_elems(mu, logvar)) / n_pixels


def kl_per_batch_and_pixel(mu, logvar):
    """Divided by batch size times image size (CIFAR: 32·32·3)."""
    batch = mu.shape[0]
    return np.sum(_vae_kl_elems(mu, logvar)) / (batch * 32 * 32 * 3)


def kl_annealed(mu, logvar):
    """A KL warm-up weight of 0.1 applied inside the KL helper."""
    weight = 0.1
    return weight * np.sum(_vae_kl_elems(mu, logvar), axis=-1)


def gaussian_kl_log_term_not_halved(mean1, logvar1, mean2, logvar2):
    """Diffusion-style normal KL with the log-variance difference left unhalved."""
    return (
        logvar2
        - logvar1
        + 0.5 * (np.exp(logvar1 - logvar2) + (mean1 - mean2) ** 2 * np.exp(-logvar2) - 1.0)
    )


def kl_via_entropy_with_a_lost_constant(mu, logvar):
    """KL = cross-entropy − entropy, with the entropy's log 2π forgotten."""
    cross_entropy = 0.5 * np.sum(LOG_2PI + mu**2 + np.exp(logvar), axis=-1)
    entropy = 0.5 * np.sum(1.0 + logvar, axis=-1)  # missing + log 2π per dimension
    return cross_entropy - entropy


def kl_free_bits_per_dim(mu, logvar):
    """Free bits: each latent dimension's KL is floored at λ = 0.5 nats."""
    kl_dims = _vae_kl_elems(mu, logvar)
    return np.sum(np.maximum(kl_dims, 0.5), axis=1)


def kl_free_nats(mu, logvar):
    """Free nats on the per-sample KL: max(KL, 3)."""
    return np.maximum(np.sum(_vae_kl_elems(mu, logvar), axis=1), 3.0)


def kl_single_sample(mu, logvar):
    """A one-sample Monte-Carlo estimate log q(z) − log p(z), z ~ q."""
    std = np.exp(0.5 * logvar)
    z = mu + std * np.random.standard_normal(mu.shape)
    log_q = -0.5 * (((z - mu) / std) ** 2 + logvar + LOG_2PI)
    log_p = -0.5 * (z**2 + LOG_2PI)
    return np.sum(log_q - log_p, axis=1)


def kl_seeded_samples(mu, logvar):
    """A Monte-Carlo estimate with 16 samples from a generator seeded inside."""
    rng = np.random.default_rng(1234)
    std = np.exp(0.5 * logvar)
    eps = rng.standard_normal((16, *mu.shape))
    z = mu + std * eps
    log_q = -0.5 * (eps**2 + logvar + LOG_2PI)
    log_p = -0.5 * (z**2 + LOG_2PI)
    return np.mean(np.sum(log_q - log_p, axis=-1), axis=0)


def policy_kl_log_std_as_log_var_clipped(mu_q, log_std_q, mu_p, log_std_p):
    """Policy KL: log σ used as log σ², and the log-std clipped to [-20, 2]."""
    log_std_q = np.clip(log_std_q, -20.0, 2.0)
    log_std_p = np.clip(log_std_p, -20.0, 2.0)
    var_q, var_p = np.exp(log_std_q), np.exp(log_std_p)
    return np.sum(
        0.5 * (log_std_p - log_std_q) + (var_q + (mu_q - mu_p) ** 2) / (2 * var_p) - 0.5, axis=-1
    )


def kl_std_read_as_var_with_eps(mu, sigma):
    """σ passed where the code expects σ², with an ε inside the log."""
    var = sigma  # the encoder returns a standard deviation
    return 0.5 * np.sum(mu**2 + var - 1.0 - np.log(var + 1e-5), axis=-1)


def vae_kl_sign_flipped_nchw(mean, logvar):
    """A latent-diffusion KL with the leading minus dropped."""
    return 0.5 * np.sum(1 + logvar - mean**2 - np.exp(logvar), axis=(1, 2, 3))


def kl_mean_over_dims(mu, logvar):
    """Averaged over the latent dimensions, declared as a per-sample sum."""
    return np.mean(_vae_kl_elems(mu, logvar), axis=-1)


def kl_batch_last_var_as_std(mu, var):
    """(D, N) arrays; the variance is used where the code wants σ."""
    std = var
    return np.sum(0.5 * (std**2 + mu**2 - 1.0) - np.log(std), axis=0)


def policy_kl_reversed(mu_old, log_std_old, mu_new, log_std_new):
    """Trust-region KL written as KL(new‖old) where KL(old‖new) is declared."""
    var_old, var_new = np.exp(2 * log_std_old), np.exp(2 * log_std_new)
    return np.sum(
        log_std_old - log_std_new + (var_new + (mu_new - mu_old) ** 2) / (2 * var_old) - 0.5,
        axis=-1,
    )


def kl_prior_variance_ignored(mu_q, logvar_q, mu_p, logvar_p):
    """A learned-prior KL whose prior variance (a shared (D,) vector) is dropped."""
    return 0.5 * np.sum(np.exp(logvar_q) + (mu_q - mu_p) ** 2 - 1.0 - logvar_q, axis=-1)


BUGS = [
    (beta_vae_loss_kl, "mu,logvar", "batchmean", None, "constant_factor"),
    (kl_per_pixel, "mu,logvar", "sum", None, "constant_factor"),
    (kl_per_batch_and_pixel, "mu,logvar", "sum", None, "constant_factor"),
    (kl_annealed, "mu,logvar", "batch", None, "constant_factor"),
    (gaussian_kl_log_term_not_halved, "mu_q,logvar_q,mu_p,logvar_p", "none", None, "log_term_not_halved"),
    (kl_via_entropy_with_a_lost_constant, "mu,logvar", "batch", None, "additive_constant"),
    (kl_free_bits_per_dim, "mu,logvar", "batch", None, "output_floor"),
    (kl_free_nats, "mu,logvar", "batch", None, "output_floor"),
    (kl_single_sample, "mu,logvar", "batch", None, "monte_carlo_estimate"),
    (kl_seeded_samples, "mu,logvar", "batch", None, "monte_carlo_estimate"),
    (policy_kl_log_std_as_log_var_clipped, "mu_q,logstd_q:D,mu_p,logstd_p:D", "batch", None, "two_bugs"),
    (kl_std_read_as_var_with_eps, "mu,std", "batch", None, "two_bugs"),
    (vae_kl_sign_flipped_nchw, "mu,logvar", "batch", "N C H W", "sign_flip"),
    (kl_mean_over_dims, "mu,logvar", "batch", None, "wrong_reduction"),
    (kl_batch_last_var_as_std, "mu,var", "batch", "D N", "scale_confusion"),
    (policy_kl_reversed, "mu_q,logstd_q,mu_p,logstd_p", "batch", None, "reversed_kl"),
    (kl_prior_variance_ignored, "mu_q,logvar_q,mu_p,logvar_p:D", "batch", None, "ignored_prior_variance"),
]  # fmt: skip

# ------------------------------------------------------------------ correct code


def ldm_posterior_kl(mean, logvar):
    """The latent-diffusion autoencoder's posterior KL, summed over [1, 2, 3]."""
    var = np.exp(logvar)
    return 0.5 * np.sum(np.power(mean, 2) + var - 1.0 - logvar, axis=(1, 2, 3))


def ldm_kl_loss_mean(mean, logvar):
    """Its loss: the per-sample KL averaged over the batch."""
    return np.sum(ldm_posterior_kl(mean, logvar)) / mean.shape[0]


def normal_kl_elementwise(mean1, logvar1, mean2, logvar2):
    """The diffusion codebases' elementwise normal KL."""
    return 0.5 * (
        -1.0
        + logvar2
        - logvar1
        + np.exp(logvar1 - logvar2)
        + ((mean1 - mean2) ** 2) * np.exp(-logvar2)
    )


def gp_batch_last_kl(mu, logvar):
    """Columns are data points: (D, N)."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=0)


def policy_kl_shared_log_std(mu_old, log_std_old, mu_new, log_std_new):
    """Diagonal-Gaussian policy KL with (D,) log-std parameters shared by the batch."""
    var_old, var_new = np.exp(2 * log_std_old), np.exp(2 * log_std_new)
    return np.sum(
        log_std_new - log_std_old + (var_old + (mu_old - mu_new) ** 2) / (2 * var_new) - 0.5,
        axis=-1,
    )


def learned_prior_kl(mu_q, logvar_q, mu_p, logvar_p):
    """A learned (D,) prior shared by the batch, broadcast against (N, D) posteriors."""
    return 0.5 * np.sum(
        logvar_p - logvar_q + (np.exp(logvar_q) + (mu_q - mu_p) ** 2) / np.exp(logvar_p) - 1,
        axis=-1,
    )


def nchw_per_element(mean, logvar):
    return 0.5 * (mean**2 + np.exp(logvar) - 1.0 - logvar)


def full_cov_kl(mu_q, cov_q, mu_p, cov_p):
    """Full covariance stays (N, D) means and (N, D, D) matrices."""
    d = mu_q.shape[-1]
    inv_p = np.linalg.inv(cov_p)
    diff = mu_p - mu_q
    return 0.5 * (
        np.trace(inv_p @ cov_q, axis1=-2, axis2=-1)
        + np.einsum("ni,nij,nj->n", diff, inv_p, diff)
        - d
        + np.linalg.slogdet(cov_p)[1]
        - np.linalg.slogdet(cov_q)[1]
    )


CORRECT = [
    (ldm_posterior_kl, "mu,logvar", "batch", "N C H W"),
    (ldm_kl_loss_mean, "mu,logvar", "batchmean", "N C H W"),
    (normal_kl_elementwise, "mu_q,logvar_q,mu_p,logvar_p", "none", "N C H W"),
    (gp_batch_last_kl, "mu,logvar", "batch", "D N"),
    (policy_kl_shared_log_std, "mu_q,logstd_q:D,mu_p,logstd_p:D", "batch", None),
    (learned_prior_kl, "mu_q,logvar_q,mu_p:D,logvar_p:D", "batch", None),
    (nchw_per_element, "mu,logvar", "none", "N C H W"),
    (full_cov_kl, "mu_q,cov_q,mu_p,cov_p", "batch", None),
]
