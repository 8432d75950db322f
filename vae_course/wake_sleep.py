"""Wake-sleep (Hinton, Dayan, Frey & Neal 1995): how a recognition model was trained before AEVB.

The same two networks as the course's VAE (``vae_course.models.vae.VAE``): an encoder
q_phi(z|x) = N(mu(x), diag exp(logvar(x))) and a decoder p_theta(x|z), with the prior p(z) = N(0, I).
Wake-sleep trains them with two *separate* objectives, one per network:

* **wake phase** (decoder): take a data point x, draw z ~ q_phi(z|x) and hold it fixed; ascend

      Delta theta  propto  grad_theta log p_theta(x, z) = grad_theta log p_theta(x | z)

  (p(z) has no parameters). This is a one-sample estimate of the ELBO's gradient in theta: the
  decoder is trained exactly as in AEVB.
* **sleep phase** (encoder): "dream" a pair from the model, z ~ p(z), x ~ p_theta(x|z), both held
  fixed; ascend

      Delta phi  propto  grad_phi log q_phi(z | x),

  which minimises E_{p_theta(x)} KL(p_theta(z|x) || q_phi(z|x)): the encoder learns to predict the
  dreamed z from the dreamed x. That is the KL in the *other* direction from the ELBO's
  KL(q || p(z|x)), averaged over dreams rather than data. No gradient flows through a sample, so
  wake-sleep needs neither of notebook 05's estimators; the price is that the encoder does not
  ascend the ELBO, and early in training it learns from dreams that look nothing like the data.

The wake loss only reaches the decoder (z is drawn without a gradient path) and the sleep loss
only the encoder (the dream is drawn without one), so their sum can be minimised with one
optimizer and ``vae_course.fit``: :func:`wake_sleep_loss`. Kingma & Welling (2013, Figure 2)
compare it with AEVB on MNIST; notebook 05 repeats that comparison at a small scale, scored by
:func:`elbo_and_iwae`.

Reference: G. E. Hinton, P. Dayan, B. J. Frey, R. M. Neal, *The "wake-sleep" algorithm for
unsupervised neural networks*, Science 268 (1995) 1158-1161.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .losses import log_normal
from .models import device_of
from .models.vae import LIKELIHOODS, VAE, importance_bounds, reconstruction_nll, reparameterize


def dream_nll(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """The sleep phase's loss: -log q(z | x) = -log N(z; mu, diag exp(logvar)), batch mean (scalar).

    z (B, D): the dreamed latents; mu, logvar (B, D): the encoder's output on the dreamed images.
    Per example 1/2 sum_j [log 2 pi + logvar_j + (z_j - mu_j)^2 / exp(logvar_j)].
    """
    if not (z.shape == mu.shape == logvar.shape) or z.dim() != 2:
        raise ValueError(
            f"z, mu and logvar must all have shape (B, D), got {tuple(z.shape)}, {tuple(mu.shape)}, "
            f"{tuple(logvar.shape)}"
        )
    return -log_normal(z, mu, logvar).mean()


def sample_images(logits: Tensor, likelihood: str = "bernoulli", sigma: float = 1.0) -> Tensor:
    """Draw x ~ p(x | z) from decoder logits (B, 1, H, W): binary pixels (Bernoulli) or
    sigmoid(logits) + sigma * noise (Gaussian). Uses torch's global generator."""
    if likelihood == "bernoulli":
        return torch.bernoulli(torch.sigmoid(logits))
    if likelihood == "gaussian":
        return torch.sigmoid(logits) + sigma * torch.randn_like(logits)
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


def wake_loss(model: VAE, x: Tensor, likelihood: str = "bernoulli", sigma: float = 1.0) -> Tensor:
    """Wake phase: -log p(x | z) with z ~ q(z|x) drawn without a gradient path (batch mean).

    Its gradient reaches the decoder only."""
    with torch.no_grad():
        mu, logvar = model.encode(x)  # (B, D) each
        z = reparameterize(mu, logvar)  # (B, D), a constant for the decoder
    return reconstruction_nll(model.decode(z), x, likelihood, sigma).mean()


def sleep_loss(model: VAE, n: int, likelihood: str = "bernoulli", sigma: float = 1.0) -> Tensor:
    """Sleep phase: dream n pairs z ~ N(0, I), x ~ p(x|z) (no gradient), return -log q(z | x).

    Its gradient reaches the encoder only."""
    if n < 1:
        raise ValueError(f"the sleep phase needs at least one dream, got n={n}")
    with torch.no_grad():
        z = torch.randn(n, model.latent_dim, device=device_of(model))  # (n, D)
        x = sample_images(model.decode(z), likelihood, sigma)  # (n, 1, H, W)
    mu, logvar = model.encode(x)
    return dream_nll(z, mu, logvar)


def wake_sleep_loss(likelihood: str = "bernoulli", sigma: float = 1.0):
    """A ``loss_fn(model, x, y)`` for :func:`vae_course.fit`: wake loss on the batch plus sleep loss
    on as many dreams. The two terms touch disjoint parameters, so one optimizer step is one wake
    step for the decoder and one sleep step for the encoder."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")

    def loss_fn(model: VAE, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        wake = wake_loss(model, x, likelihood, sigma)
        sleep = sleep_loss(model, len(x), likelihood, sigma)
        return {"loss": wake + sleep, "wake": wake.detach(), "sleep": sleep.detach()}

    return loss_fn


class Bounds(NamedTuple):
    """Test scores in nats per image (higher is better): the ELBO and the IWAE bound with k samples."""

    elbo: float
    iwae: float


@torch.no_grad()
def elbo_and_iwae(
    model: VAE,
    x: Tensor,
    k: int = 50,
    likelihood: str = "bernoulli",
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
) -> Bounds:
    """The ELBO (the mean of k one-sample estimates) and the importance-weighted bound L_k on
    log p(x), both from the same k log-weights (``models.vae.importance_bounds``), averaged over x.

    Used to score any model with an encoder and a decoder, however it was trained: for wake-sleep
    the encoder is the proposal of the importance sampler, as for AEVB.
    """
    elbo, iwae = importance_bounds(
        model, x, k, likelihood=likelihood, sigma=sigma, batch_size=len(x), generator=generator
    )
    return Bounds(elbo.mean().item(), iwae.mean().item())
