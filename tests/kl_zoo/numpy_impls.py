"""A zoo of numpy KL implementations: correct forms and mutants with known bugs.

``CORRECT`` lists ``(function, args, reduction)`` that must pass; ``MUTANTS``
lists ``(function, args, reduction, bug_class)`` that must fail with that
diagnosis.  The bugs are the ones seen in real projects' issue trackers.
Plain module: importing it has no side effects beyond defining functions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CORRECT", "MUTANTS"]


def _vae_terms(mu, logvar):
    return 1 + logvar - mu**2 - np.exp(logvar)


# ------------------------------------------------------------------ correct forms


def vae_sum(mu, logvar):
    """The pytorch/examples VAE line, in numpy."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))


def vae_none(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - np.exp(logvar))


def vae_batch(mu, logvar):
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)


def keras_batchmean(z_mean, z_log_var):
    """The Keras VAE example: mean over the batch of the per-sample sum."""
    kl_loss = -0.5 * (1 + z_log_var - np.square(z_mean) - np.exp(z_log_var))
    return np.mean(np.sum(kl_loss, axis=1))


def vae_mean(mu, logvar):
    return np.mean(-0.5 * (1 + logvar - mu**2 - np.exp(logvar)))


def std_form(mu, std):
    return np.sum(np.log(1 / std) + (std**2 + mu**2) / 2 - 0.5, axis=1)


def var_form(mu, var):
    return 0.5 * np.sum(var + mu**2 - 1 - np.log(var), axis=-1)


def logstd_form(mu, logstd):
    return np.sum(0.5 * (np.exp(2 * logstd) + mu**2 - 1) - logstd)


def general_logvar(mu_q, logvar_q, mu_p, logvar_p):
    return 0.5 * np.sum(
        logvar_p - logvar_q + (np.exp(logvar_q) + (mu_q - mu_p) ** 2) / np.exp(logvar_p) - 1,
        axis=-1,
    )


def general_std_expanded(mu_q, std_q, mu_p, std_p):
    """Algebraically equal, with the square expanded: μq² − 2μqμp + μp²."""
    mean_term = (mu_q**2 - 2 * mu_q * mu_p + mu_p**2) / (2 * std_p**2)
    return np.log(std_p / std_q) + std_q**2 / (2 * std_p**2) + mean_term - 0.5


def general_var_ratio(mu_q, var_q, mu_p, var_p):
    ratio = var_q / var_p
    return np.sum(0.5 * (ratio - 1 - np.log(ratio) + (mu_q - mu_p) ** 2 / var_p))


def _full_kl(mu_q, cov_q, mu_p, cov_p):
    d = mu_q.shape[-1]
    lp = np.linalg.cholesky(cov_p)
    lq = np.linalg.cholesky(cov_q)
    tr = np.trace(np.linalg.solve(cov_p, cov_q), axis1=-2, axis2=-1)
    diff = mu_p - mu_q
    quad = np.sum(diff * np.linalg.solve(cov_p, diff[..., None])[..., 0], axis=-1)
    ld_p = 2 * np.sum(np.log(np.diagonal(lp, axis1=-2, axis2=-1)), axis=-1)
    ld_q = 2 * np.sum(np.log(np.diagonal(lq, axis1=-2, axis2=-1)), axis=-1)
    return 0.5 * (tr + quad - d + ld_p - ld_q)


def full_cov(mu_q, cov_q, mu_p, cov_p):
    return _full_kl(mu_q, cov_q, mu_p, cov_p)


def full_tril_sum(mu_q, scale_tril_q, mu_p, scale_tril_p):
    cq = scale_tril_q @ np.swapaxes(scale_tril_q, -1, -2)
    cp = scale_tril_p @ np.swapaxes(scale_tril_p, -1, -2)
    return np.sum(_full_kl(mu_q, cq, mu_p, cp))


def full_std_prior(mu, cov):
    d = mu.shape[-1]
    eye = np.broadcast_to(np.eye(d), cov.shape)
    return _full_kl(mu, cov, np.zeros_like(mu), eye)


CORRECT = [
    (vae_sum, "mu,logvar", "sum"),
    (vae_none, "mu,logvar", "none"),
    (vae_batch, "mu,logvar", "batch"),
    (keras_batchmean, "mu,logvar", "batchmean"),
    (vae_mean, "mu,logvar", "mean"),
    (std_form, "mu,std", "batch"),
    (var_form, "mu,var", "batch"),
    (logstd_form, "mu,logstd", "sum"),
    (general_logvar, "mu_q,logvar_q,mu_p,logvar_p", "batch"),
    (general_std_expanded, "mu_q,std_q,mu_p,std_p", "none"),
    (general_var_ratio, "mu_q,var_q,mu_p,var_p", "sum"),
    (full_cov, "mu_q,cov_q,mu_p,cov_p", "none"),
    (full_tril_sum, "mu_q,scale_tril_q,mu_p,scale_tril_p", "sum"),
    (full_std_prior, "mu_q,cov_q", "batch"),
]

# ------------------------------------------------------------------ mutants


def sign_flip(mu, logvar):
    return 0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))


def missing_half(mu, logvar):
    return -np.sum(1 + logvar - mu**2 - np.exp(logvar))


def missing_constant(mu, logvar):
    return -0.5 * np.sum(logvar - mu**2 - np.exp(logvar), axis=-1)


def plus_mu_squared(mu, logvar):
    return -0.5 * np.sum(1 + logvar + mu**2 - np.exp(logvar), axis=-1)


def std_used_as_logvar(mu, std):
    """Passed σ, but the code is the logvar formula."""
    return -0.5 * np.sum(1 + std - mu**2 - np.exp(std), axis=-1)


def log_std_for_log_var(mu, std):
    """log σ where log σ² is needed."""
    return -0.5 * np.sum(1 + np.log(std) - mu**2 - std**2, axis=-1)


def var_term_uses_std(mu, logvar):
    """exp(0.5·logvar) where exp(logvar) is needed."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(0.5 * logvar))


def var_used_as_std(mu, var):
    return -0.5 * np.sum(1 + np.log(var**2) - mu**2 - var**2, axis=-1)


def logstd_used_as_logvar(mu, logstd):
    return -0.5 * np.sum(1 + logstd - mu**2 - np.exp(logstd), axis=-1)


def var_squared(mu, logvar):
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar) ** 2, axis=-1)


def mean_over_latent_dims(mu, logvar):
    """Declared 'batch' (sum over dims), but averages over dims."""
    return -0.5 * np.mean(1 + logvar - mu**2 - np.exp(logvar), axis=-1)


def sum_over_batch_axis(mu, logvar):
    """Declared 'batch', but sums over axis 0."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=0)


def sum_not_batchmean(mu, logvar):
    """Declared 'batchmean', but forgets to divide by N."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar))


def factor_one_over_d(mu, logvar):
    """Declared 'sum', but a mean over dims sneaks in: a factor 1/D."""
    return np.sum(np.mean(-0.5 * (1 + logvar - mu**2 - np.exp(logvar)), axis=1))


def batch_not_none(mu, logvar):
    """Declared 'none', but sums over dims."""
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=1)


def mean_not_batchmean(mu, logvar):
    """Declared 'batchmean', but divides by N·D."""
    return np.mean(-0.5 * (1 + logvar - mu**2 - np.exp(logvar)))


def reversed_direction(mu_q, logvar_q, mu_p, logvar_p):
    return general_logvar(mu_p, logvar_p, mu_q, logvar_q)


def ignores_prior_mean(mu_q, logvar_q, mu_p, logvar_p):
    return general_logvar(mu_q, logvar_q, np.zeros_like(mu_p), logvar_p)


def ignores_prior_variance(mu_q, logvar_q, mu_p, logvar_p):
    return general_logvar(mu_q, logvar_q, mu_p, np.zeros_like(logvar_p))


def clamps_logvar(mu, logvar):
    """A 'stability hack': clip logvar to [-10, 10]."""
    logvar = np.clip(logvar, -10, 10)
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)


def clips_mu(mu, logvar):
    mu = np.clip(mu, -50, 50)
    return -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)


def eps_in_log(mu, std):
    return -0.5 * np.sum(1 + np.log(std**2 + 1e-8) - mu**2 - std**2, axis=-1)


def float16_inside(mu, logvar):
    mu16, lv16 = mu.astype(np.float16), logvar.astype(np.float16)
    out = -0.5 * np.sum(1 + lv16 - mu16**2 - np.exp(lv16), axis=-1)
    return out.astype(mu.dtype)


def float32_inside(mu, logvar):
    mu32, lv32 = mu.astype(np.float32), logvar.astype(np.float32)
    return (-0.5 * np.sum(1 + lv32 - mu32**2 - np.exp(lv32), axis=-1)).astype(np.float64)


def full_swapped_trace(mu_q, cov_q, mu_p, cov_p):
    d = mu_q.shape[-1]
    tr = np.trace(np.linalg.solve(cov_q, cov_p), axis1=-2, axis2=-1)
    diff = mu_p - mu_q
    quad = np.sum(diff * np.linalg.solve(cov_p, diff[..., None])[..., 0], axis=-1)
    return 0.5 * (tr + quad - d + np.linalg.slogdet(cov_p)[1] - np.linalg.slogdet(cov_q)[1])


def full_logdet_without_half(mu_q, cov_q, mu_p, cov_p):
    d = mu_q.shape[-1]
    tr = np.trace(np.linalg.solve(cov_p, cov_q), axis1=-2, axis2=-1)
    diff = mu_p - mu_q
    quad = np.sum(diff * np.linalg.solve(cov_p, diff[..., None])[..., 0], axis=-1)
    return 0.5 * (tr + quad - d) + np.linalg.slogdet(cov_p)[1] - np.linalg.slogdet(cov_q)[1]


def full_transposed_tril(mu_q, scale_tril_q, mu_p, scale_tril_p):
    cq = np.swapaxes(scale_tril_q, -1, -2) @ scale_tril_q
    cp = scale_tril_p @ np.swapaxes(scale_tril_p, -1, -2)
    return _full_kl(mu_q, cq, mu_p, cp)


def full_inverted(mu_q, cov_q, mu_p, cov_p):
    d = mu_q.shape[-1]
    tr = np.trace(cov_p @ cov_q, axis1=-2, axis2=-1)
    diff = mu_p - mu_q
    quad = np.sum(diff * np.linalg.solve(cov_p, diff[..., None])[..., 0], axis=-1)
    return 0.5 * (tr + quad - d + np.linalg.slogdet(cov_p)[1] - np.linalg.slogdet(cov_q)[1])


def full_reversed(mu_q, cov_q, mu_p, cov_p):
    return _full_kl(mu_p, cov_p, mu_q, cov_q)



def beta_weighted_kl(mu, logvar):
    """β = 0.25 folded into the KL helper."""
    return 0.25 * np.sum(_vae_terms(mu, logvar) * -0.5, axis=-1)


def kl_over_image_size(mu, logvar):
    """Divided by 32·32 to match a per-pixel reconstruction term."""
    return -0.5 * np.sum(_vae_terms(mu, logvar)) / 1024


def log_term_unhalved(mu_q, logvar_q, mu_p, logvar_p):
    return np.sum(
        logvar_p - logvar_q
        + 0.5 * ((np.exp(logvar_q) + (mu_q - mu_p) ** 2) / np.exp(logvar_p) - 1),
        axis=-1,
    )


def plus_one_constant(mu, logvar):
    return 0.5 * np.sum(mu**2 + np.exp(logvar) - logvar + 1.0, axis=-1)


def free_bits_floor(mu, logvar):
    return np.sum(np.maximum(-0.5 * _vae_terms(mu, logvar), 0.1), axis=-1)


def seeded_sample_estimate(mu, logvar):
    eps = np.random.default_rng(42).standard_normal((4, *mu.shape))
    z = mu + np.exp(0.5 * logvar) * eps
    return np.mean(np.sum(-0.5 * (eps**2 + logvar) + 0.5 * z**2, axis=-1), axis=0)


def std_as_var_and_missing_half(mu, std):
    return np.sum(mu**2 + std - 1.0 - np.log(std), axis=-1)

MUTANTS = [
    (sign_flip, "mu,logvar", "sum", "sign_flip"),
    (missing_half, "mu,logvar", "sum", "missing_half"),
    (missing_constant, "mu,logvar", "batch", "missing_constant"),
    (plus_mu_squared, "mu,logvar", "batch", "plus_mu_squared"),
    (std_used_as_logvar, "mu,std", "batch", "scale_confusion"),
    (log_std_for_log_var, "mu,std", "batch", "scale_confusion"),
    (var_term_uses_std, "mu,logvar", "sum", "scale_confusion"),
    (var_used_as_std, "mu,var", "batch", "scale_confusion"),
    (logstd_used_as_logvar, "mu,logstd", "batch", "scale_confusion"),
    (var_squared, "mu,logvar", "batch", "scale_confusion"),
    (mean_over_latent_dims, "mu,logvar", "batch", "wrong_reduction"),
    (sum_over_batch_axis, "mu,logvar", "batch", "wrong_reduction"),
    (sum_not_batchmean, "mu,logvar", "batchmean", "wrong_reduction"),
    (factor_one_over_d, "mu,logvar", "sum", "wrong_reduction"),
    (batch_not_none, "mu,logvar", "none", "wrong_reduction"),
    (mean_not_batchmean, "mu,logvar", "batchmean", "wrong_reduction"),
    (reversed_direction, "mu_q,logvar_q,mu_p,logvar_p", "batch", "reversed_kl"),
    (ignores_prior_mean, "mu_q,logvar_q,mu_p,logvar_p", "batch", "ignored_prior_mean"),
    (ignores_prior_variance, "mu_q,logvar_q,mu_p,logvar_p", "batch", "ignored_prior_variance"),
    (clamps_logvar, "mu,logvar", "batch", "clamping"),
    (clips_mu, "mu,logvar", "batch", "clamping"),
    (eps_in_log, "mu,std", "batch", "clamping"),
    (float16_inside, "mu,logvar", "batch", "precision_loss"),
    (float32_inside, "mu,logvar", "batch", "precision_loss"),
    (full_swapped_trace, "mu_q,cov_q,mu_p,cov_p", "none", "swapped_trace"),
    (full_logdet_without_half, "mu_q,cov_q,mu_p,cov_p", "none", "logdet_without_half"),
    (full_transposed_tril, "mu_q,scale_tril_q,mu_p,scale_tril_p", "none", "transposed_matrix"),
    (full_inverted, "mu_q,cov_q,mu_p,cov_p", "none", "inverted_matrix"),
    (full_reversed, "mu_q,cov_q,mu_p,cov_p", "none", "reversed_kl"),
    (beta_weighted_kl, "mu,logvar", "batch", "constant_factor"),
    (kl_over_image_size, "mu,logvar", "sum", "constant_factor"),
    (log_term_unhalved, "mu_q,logvar_q,mu_p,logvar_p", "batch", "log_term_not_halved"),
    (plus_one_constant, "mu,logvar", "batch", "additive_constant"),
    (free_bits_floor, "mu,logvar", "batch", "output_floor"),
    (seeded_sample_estimate, "mu,logvar", "batch", "monte_carlo_estimate"),
    (std_as_var_and_missing_half, "mu,std", "batch", "two_bugs"),
]
