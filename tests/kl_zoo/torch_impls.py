"""A zoo of torch KL implementations: torch.distributions, the classic VAE lines, mutants.

Same layout as :mod:`numpy_impls`: ``CORRECT`` holds ``(function, args,
reduction)``, ``MUTANTS`` holds ``(function, args, reduction, bug_class)``.
torch is imported inside each function, so importing this module never needs
torch; tests that use it call ``pytest.importorskip("torch")`` first.
"""

from __future__ import annotations

__all__ = ["CORRECT", "MUTANTS"]


def _dist():
    import torch.distributions as dist

    return dist


# ------------------------------------------------------------------ correct forms


def pytorch_examples_vae(mu, logvar):
    """The line from pytorch/examples' VAE (reduction: sum)."""
    import torch

    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def keras_style(mu, logvar):
    """The Keras example's form, in torch: per-sample sum, mean over the batch."""
    import torch

    kl = -0.5 * (1 + logvar - torch.square(mu) - torch.exp(logvar))
    return torch.mean(torch.sum(kl, dim=1))


def normal_kl_none(mu, std):
    d = _dist()
    q = d.Normal(mu, std)
    p = d.Normal(mu.new_zeros(mu.shape), mu.new_ones(mu.shape))
    return d.kl_divergence(q, p)


def normal_kl_sum_from_logvar(mu, logvar):
    d = _dist()
    q = d.Normal(mu, (0.5 * logvar).exp())
    p = d.Normal(mu.new_zeros(mu.shape), mu.new_ones(mu.shape))
    return d.kl_divergence(q, p).sum()


def normal_kl_mean_from_var(mu, var):
    d = _dist()
    q = d.Normal(mu, var.sqrt())
    p = d.Normal(0.0 * mu, 1.0 + 0.0 * mu)
    return d.kl_divergence(q, p).mean()


def normal_kl_batchmean_general(mu_q, std_q, mu_p, std_p):
    d = _dist()
    return d.kl_divergence(d.Normal(mu_q, std_q), d.Normal(mu_p, std_p)).sum(-1).mean()


def independent_kl(mu_q, std_q, mu_p, std_p):
    d = _dist()
    q = d.Independent(d.Normal(mu_q, std_q), 1)
    p = d.Independent(d.Normal(mu_p, std_p), 1)
    return d.kl_divergence(q, p)


def mvn_scale_tril(mu_q, scale_tril_q, mu_p, scale_tril_p):
    d = _dist()
    q = d.MultivariateNormal(mu_q, scale_tril=scale_tril_q)
    p = d.MultivariateNormal(mu_p, scale_tril=scale_tril_p)
    return d.kl_divergence(q, p)


def mvn_covariance_sum(mu_q, cov_q, mu_p, cov_p):
    d = _dist()
    q = d.MultivariateNormal(mu_q, covariance_matrix=cov_q)
    p = d.MultivariateNormal(mu_p, covariance_matrix=cov_p)
    return d.kl_divergence(q, p).sum()


def std_param_form(mu, std):
    import torch

    return torch.sum(-torch.log(std) + 0.5 * (std**2 + mu**2) - 0.5, dim=-1)


def var_param_form(mu, var):
    import torch

    return 0.5 * torch.sum(var + mu**2 - 1 - torch.log(var), dim=-1)


CORRECT = [
    (pytorch_examples_vae, "mu,logvar", "sum"),
    (keras_style, "mu,logvar", "batchmean"),
    (normal_kl_none, "mu,std", "none"),
    (normal_kl_sum_from_logvar, "mu,logvar", "sum"),
    (normal_kl_mean_from_var, "mu,var", "mean"),
    (normal_kl_batchmean_general, "mu_q,std_q,mu_p,std_p", "batchmean"),
    (independent_kl, "mu_q,std_q,mu_p,std_p", "batch"),
    (mvn_scale_tril, "mu_q,scale_tril_q,mu_p,scale_tril_p", "none"),
    (mvn_covariance_sum, "mu_q,cov_q,mu_p,cov_p", "sum"),
    (std_param_form, "mu,std", "batch"),
    (var_param_form, "mu,var", "batch"),
]

# ------------------------------------------------------------------ mutants


def logvar_passed_as_scale(mu, logvar):
    """Normal(mu, logvar): the log-variance used as the scale (validation off)."""
    d = _dist()
    q = d.Normal(mu, logvar, validate_args=False)
    p = d.Normal(0.0 * mu, 1.0 + 0.0 * mu, validate_args=False)
    return d.kl_divergence(q, p).sum(-1)


def var_passed_as_scale(mu, var):
    d = _dist()
    q = d.Normal(mu, var)
    p = d.Normal(0.0 * mu, 1.0 + 0.0 * mu)
    return d.kl_divergence(q, p).sum(-1)


def reversed_kl(mu_q, std_q, mu_p, std_p):
    d = _dist()
    return d.kl_divergence(d.Normal(mu_p, std_p), d.Normal(mu_q, std_q)).sum(-1)


def vae_no_minus(mu, logvar):
    import torch

    return 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def vae_mean_everything(mu, logvar):
    """Declared batchmean (the Keras convention), but torch.mean over all entries."""
    import torch

    return -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())


def half_precision(mu, logvar):
    import torch

    m, lv = mu.half(), logvar.half()
    return (-0.5 * torch.sum(1 + lv - m.pow(2) - lv.exp(), dim=-1)).to(mu.dtype)


def bfloat16_precision(mu, logvar):
    import torch

    m, lv = mu.bfloat16(), logvar.bfloat16()
    return (-0.5 * torch.sum(1 + lv - m.pow(2) - lv.exp(), dim=-1)).to(mu.dtype)


def clamped_logvar(mu, logvar):
    import torch

    logvar = torch.clamp(logvar, -20.0, 20.0)
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1)


def ignores_prior_std(mu_q, std_q, mu_p, std_p):
    d = _dist()
    return d.kl_divergence(d.Normal(mu_q, std_q), d.Normal(mu_p, 1.0 + 0.0 * std_p)).sum(-1)


MUTANTS = [
    (logvar_passed_as_scale, "mu,logvar", "batch", "scale_confusion"),
    (var_passed_as_scale, "mu,var", "batch", "scale_confusion"),
    (reversed_kl, "mu_q,std_q,mu_p,std_p", "batch", "reversed_kl"),
    (vae_no_minus, "mu,logvar", "sum", "sign_flip"),
    (vae_mean_everything, "mu,logvar", "batchmean", "wrong_reduction"),
    (half_precision, "mu,logvar", "batch", "precision_loss"),
    (bfloat16_precision, "mu,logvar", "batch", "precision_loss"),
    (clamped_logvar, "mu,logvar", "batch", "clamping"),
    (ignores_prior_std, "mu_q,std_q,mu_p,std_p", "batch", "ignored_prior_variance"),
]
