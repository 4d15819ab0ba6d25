"""The new diagnoses, each on a realistic mutant, with the exact wording of the message."""

from __future__ import annotations

import math

import numpy as np
import pytest

from elbo_check import validate

LOG_2PI = math.log(2 * math.pi)


def _elems(mu, logvar):
    return -0.5 * (1 + logvar - mu**2 - np.exp(logvar))


def beta_weighted(mu, logvar):
    return 0.5 * np.sum(_elems(mu, logvar), axis=-1)  # β = ½ folded into the helper


def per_pixel_mnist(mu, logvar):
    return np.sum(_elems(mu, logvar)) / 784


def per_batch_and_pixel(mu, logvar):
    return np.sum(_elems(mu, logvar)) / (mu.shape[0] * 64 * 64 * 3)


def unhalved_log_term(mu_q, logvar_q, mu_p, logvar_p):
    return np.sum(
        (logvar_p - logvar_q)
        + 0.5 * (np.exp(logvar_q - logvar_p) + (mu_q - mu_p) ** 2 / np.exp(logvar_p) - 1),
        axis=-1,
    )


def plus_one_for_minus_one(mu, logvar):
    return 0.5 * np.sum(mu**2 + np.exp(logvar) - logvar + 1.0, axis=-1)


def density_constant_kept(mu, logvar):
    return np.sum(_elems(mu, logvar), axis=-1) + 0.5 * LOG_2PI * mu.shape[-1]


def free_bits(mu, logvar):
    return np.sum(np.maximum(_elems(mu, logvar), 0.25), axis=-1)


def free_nats(mu, logvar):
    return np.maximum(np.sum(_elems(mu, logvar), axis=-1), 2.0)


def sampled(mu, logvar):
    z = mu + np.exp(0.5 * logvar) * np.random.standard_normal(mu.shape)
    return np.sum(-0.5 * ((z - mu) ** 2 / np.exp(logvar) + logvar) + 0.5 * z**2, axis=-1)


def sampled_with_a_fixed_seed(mu, logvar):
    eps = np.random.default_rng(0).standard_normal((8, *mu.shape))
    z = mu + np.exp(0.5 * logvar) * eps
    return np.mean(np.sum(-0.5 * (eps**2 + logvar) + 0.5 * z**2, axis=-1), axis=0)


def logstd_as_logvar_and_clipped(mu, logstd):
    lv = np.clip(logstd, -20.0, 2.0)  # then read as a log-variance
    return -0.5 * np.sum(1 + lv - mu**2 - np.exp(lv), axis=-1)


def var_as_std_and_sign_flip(mu, var):
    return -np.sum(0.5 * (var**2 + mu**2 - 1.0) - np.log(var), axis=-1)


CASES = [
    (beta_weighted, "mu,logvar", "batch", "constant_factor",
     "constant factor: the output is c·KL(q‖p) with c = 1/2 (a β weight, as in β-VAE or KL annealing)"),
    (per_pixel_mnist, "mu,logvar", "sum", "constant_factor",
     "constant factor: the output is c·KL(q‖p) with c = 1/784: a division by 784 = 28·28, a typical pixel count"),
    (per_batch_and_pixel, "mu,logvar", "sum", "constant_factor",
     "constant factor: the output is c·KL(q‖p) with c = 1/12288: a division by 12288 = 64·64·3, a typical "
     "pixel count (applied to the sum divided by the batch size N (a scalar), while --reduction sum means "
     "the sum over all entries (a scalar)); with the reduction, the factor is 1/N (the batch size) times 1/12288"),
    (unhalved_log_term, "mu_q,logvar_q,mu_p,logvar_p", "batch", "log_term_not_halved",
     "log term not halved: the function uses log σp² − log σq² where ½(log σp² − log σq²) is meant "
     "(e.g. `lv_p - lv_q` inside a sum that halves only the other terms)"),
    (plus_one_for_minus_one, "mu,logvar", "batch", "additive_constant",
     "additive constant: the output is KL(q‖p) + c·D + c0 with c = 1 per latent dimension "
     "(a constant dropped from one log-density, or a wrong ±1)"),
    (density_constant_kept, "mu,logvar", "batch", "additive_constant",
     "additive constant: the output is KL(q‖p) + c·D + c0 with c = ½·log 2π, a log-density constant "
     "≈ 0.9189 per latent dimension (a constant dropped from one log-density, or a wrong ±1)"),
    (free_bits, "mu,logvar", "batch", "output_floor",
     "output floor (free bits): each latent dimension's KL is replaced by max(KL_d, λ) with λ = 1/4 "
     "before the reduction; below λ the value (and its gradient) is not the KL"),
    (free_nats, "mu,logvar", "batch", "output_floor",
     "output floor (free nats): the function returns max(KL, λ) per output with λ = 2; below λ the "
     "value (and its gradient) is not the KL"),
    (logstd_as_logvar_and_clipped, "mu,logstd", "batch", "two_bugs",
     "two bugs at once: (1) 'logstd' clipped to [-20, 2]; (2) 'logstd' (log σ) used as if it held "
     "logvar (log σ²)"),
    (var_as_std_and_sign_flip, "mu,var", "batch", "two_bugs",
     "two bugs at once: (1) 'var' (σ²) used as if it held std (σ); (2) sign flip: −KL"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0].__name__)
def test_each_new_diagnosis_names_its_bug_in_exact_words(case):
    fn, args, reduction, bug, message = case
    result = validate(fn, args=args, reduction=reduction, examples=400)
    assert result.bug_class == bug, result.report()
    assert result.diagnosis == message


def test_a_random_estimate_is_a_monte_carlo_estimate_with_its_bias_and_standard_error():
    np.random.seed(0)
    result = validate(sampled, "mu,logvar", "batch", examples=200, isolation="thread")
    assert result.bug_class == "monte_carlo_estimate"
    assert result.diagnosis.startswith(
        "Monte-Carlo estimate: the output is random for identical inputs (two calls on the same "
        "batch differ by up to "
    )
    assert "over 64 identical rows its error has mean " in result.diagnosis
    assert "(standard error): a sampled estimate, not the closed-form KL" in result.diagnosis


def test_a_seeded_estimate_is_caught_by_identical_rows_that_differ():
    result = validate(sampled_with_a_fixed_seed, "mu,logvar", "batch", examples=200)
    assert result.bug_class == "monte_carlo_estimate"
    assert result.diagnosis.startswith(
        "Monte-Carlo estimate: identical rows of one batch get different values (up to "
    )
    assert "a fixed seed makes the calls repeatable" in result.diagnosis


def test_a_clamp_message_lists_only_the_inputs_where_the_function_is_wrong():
    result = validate(clamp_at_20, "mu,logvar", "batch")
    assert result.bug_class == "clamping"
    assert "wrong at logvar = 30 (" in result.diagnosis
    assert "but not" not in result.diagnosis


def clamp_at_20(mu, logvar):
    return np.sum(_elems(mu, np.clip(logvar, -30.0, 20.0)), axis=-1)
