"""JAX KL implementations (imported only when jax is installed)."""

from __future__ import annotations

import jax.numpy as jnp

__all__ = ["vae_batch", "vae_sign_flip"]


def vae_batch(mu, logvar):
    return -0.5 * jnp.sum(1 + logvar - mu**2 - jnp.exp(logvar), axis=-1)


def vae_sign_flip(mu, logvar):
    return 0.5 * jnp.sum(1 + logvar - mu**2 - jnp.exp(logvar))

