"""torch KL code in the (N, C, H, W) layout (imported only when torch is installed)."""

from __future__ import annotations

import torch

__all__ = ["ldm_kl"]


def ldm_kl(mean, logvar):
    """The latent-diffusion posterior KL, as written there: a sum over dims [1, 2, 3]."""
    var = torch.exp(logvar)
    return 0.5 * torch.sum(torch.pow(mean, 2) + var - 1.0 - logvar, dim=[1, 2, 3])
