"""Posterior collapse and two remedies: KL warm-up and free bits (notebook 09).

Collapse: q(z_j | x) = N(0, 1) for every x, so KL_j = 0 and z_j carries nothing about x. A decoder
that can model x without z (an autoregressive one) reaches a good likelihood that way, and the KL
term of the ELBO then has no reason to let any unit move.

* **KL warm-up** (Bowman et al. 2016, arXiv:1511.06349; Sønderby et al. 2016): minimise
  recon + beta_t KL with beta_t rising linearly from 0 to 1 over the first steps, so the encoder
  learns to carry information before the KL's pull is felt in full.
* **Free bits** (Kingma et al. 2016, arXiv:1606.04934, eq. 15): a floor lambda under each unit's KL,
  averaged over the batch:  recon + sum_j max(lambda, E_batch[KL_j]).  Below the floor the KL term
  has zero gradient, so nothing pushes a unit's KL under lambda nats.

Both change the *training* objective; a model is judged by the true ELBO (beta = 1, no floor).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .losses import gaussian_kl_terms
from .models.vae import reconstruction_nll


def free_bits_kl(mu: Tensor, logvar: Tensor, lam: float) -> Tensor:
    """sum_j max(lam, mean_b KL(q(z_bj | x_b) || N(0, 1))): the free-bits KL term, a scalar (nats per image).

    mu, logvar: (B, D). The gradient of unit j's term is zero when its batch-mean KL is below ``lam``."""
    if lam < 0:
        raise ValueError(f"the free-bits floor lam must be >= 0 nats, got {lam}")
    kl_j = gaussian_kl_terms(mu, logvar).mean(dim=0)  # (D,) batch mean per unit
    return torch.clamp(kl_j, min=lam).sum()


def warmup_beta(step: int, warmup_steps: int) -> float:
    """beta_t = min(1, t / T): the KL weight at training step t of a linear warm-up over T steps."""
    if warmup_steps <= 0:
        return 1.0
    return min(1.0, step / warmup_steps)


def collapse_loss_fn(
    warmup_steps: int = 0, free_bits: float = 0.0
) -> Callable[[nn.Module, Tensor, Tensor | None], dict[str, Tensor]]:
    """A ``fit`` loss: recon + beta_t * KL, or recon + free-bits KL when ``free_bits`` > 0.

    beta_t follows ``warmup_beta`` over the training steps (counted only in training mode with
    gradients on, so ``evaluate`` does not advance it). The reported ``recon`` and ``kl`` are the true
    ELBO's terms (nats per image), whatever the training objective."""
    state = {"step": 0}

    def loss_fn(model: nn.Module, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        out = model(x)
        recon = reconstruction_nll(out.recon, x).mean()
        kl_terms = gaussian_kl_terms(out.mu, out.logvar)  # (B, D)
        kl = kl_terms.sum(dim=1).mean()
        training = model.training and torch.is_grad_enabled()
        if free_bits > 0:
            objective = recon + free_bits_kl(out.mu, out.logvar, free_bits)
        else:
            objective = recon + warmup_beta(state["step"], warmup_steps) * kl
        if training:
            state["step"] += 1
        if not training:  # evaluation: the true negative ELBO
            objective = recon + kl
        return {"loss": objective, "recon": recon.detach(), "kl": kl.detach()}

    loss_fn.state = state  # type: ignore[attr-defined]
    return loss_fn
