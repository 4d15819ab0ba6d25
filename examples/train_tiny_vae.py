"""A tiny torch VAE trained for a few steps on synthetic data, with ``gaussian_kl`` as its KL term.

Run ``python examples/train_tiny_vae.py`` (needs torch).
"""

from __future__ import annotations

import torch

from elbo_check import gaussian_kl


def main(steps: int = 20) -> list[float]:
    torch.manual_seed(0)
    data = torch.rand(256, 16)
    encoder = torch.nn.Linear(16, 2 * 4)
    decoder = torch.nn.Linear(4, 16)
    params = [*encoder.parameters(), *decoder.parameters()]
    opt = torch.optim.Adam(params, lr=1e-2)
    losses = []
    for _ in range(steps):
        mu, logvar = encoder(data).chunk(2, dim=-1)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        logits = decoder(z)
        recon = torch.nn.functional.binary_cross_entropy_with_logits(logits, data, reduction="sum")
        loss = (recon + gaussian_kl(mu, logvar, reduction="sum")) / data.shape[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


if __name__ == "__main__":
    history = main()
    print(f"loss {history[0]:.3f} -> {history[-1]:.3f}")
