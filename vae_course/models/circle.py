"""A VAE whose latent lives on the circle S^1 (notebook 09: the moon story of notebook 02, closed).

The moon's phase is an angle: phase 0.99 is next to phase 0.01. A latent in R^2 with a N(0, I) prior
has no hole in the middle to respect that; a latent on the unit circle does, as in the hyperspherical
VAE of Davidson et al. 2018 (arXiv:1804.00891). The posterior is the **power spherical** distribution
(De Cao & Aziz 2020, arXiv:2006.04437) on S^{d-1} in R^d, mean direction mu (unit vector), concentration kappa >= 0:

    q(z) = C(kappa, d)^{-1} (1 + mu^T z)^kappa,   C = 2^(a+b) pi^b Gamma(a) / Gamma(a+b),
    a = (d-1)/2 + kappa,  b = (d-1)/2,

sampled by reparameterisation: t ~ Beta(a, b), w = 2t - 1, v uniform on S^{d-2}, y = (w, sqrt(1-w^2) v),
then the Householder reflection that maps e_1 to mu. The prior is uniform on the sphere, and

    KL(q || uniform) = log |S^{d-1}| - H[q],  H[q] = log C - kappa (log 2 + psi(a) - psi(a+b)),

with |S^1| = 2 pi for the circle.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..ops import check_images
from . import device_of, eval_mode, reconstruct
from .vae import Decoder


def _log_norm(kappa: Tensor, d: int) -> Tensor:
    a, b = (d - 1) / 2 + kappa, torch.as_tensor((d - 1) / 2, dtype=kappa.dtype)
    return (a + b) * math.log(2) + b * math.log(math.pi) + torch.lgamma(a) - torch.lgamma(a + b)


def power_spherical_log_prob(z: Tensor, mu: Tensor, kappa: Tensor) -> Tensor:
    """log q(z) for points z (B, d) on the sphere, mean directions mu (B, d), concentrations kappa (B,): (B,)."""
    d = mu.shape[-1]
    return kappa * torch.log1p((mu * z).sum(-1)) - _log_norm(kappa, d)


def power_spherical_entropy(kappa: Tensor, d: int) -> Tensor:
    """H[q] = log C(kappa, d) - kappa (log 2 + psi(a) - psi(a + b)) (nats), elementwise in kappa."""
    a, b = (d - 1) / 2 + kappa, (d - 1) / 2
    return _log_norm(kappa, d) - kappa * (math.log(2) + torch.digamma(a) - torch.digamma(a + b))


def sphere_log_area(d: int) -> float:
    """log of the surface area of S^{d-1} in R^d: log(2 pi^(d/2) / Gamma(d/2)) (log 2 pi for the circle)."""
    return math.log(2) + (d / 2) * math.log(math.pi) - math.lgamma(d / 2)


def power_spherical_kl_uniform(kappa: Tensor, d: int) -> Tensor:
    """KL(PowerSpherical(mu, kappa) || uniform on S^{d-1}) = log |S^{d-1}| - H[q], >= 0, 0 at kappa = 0."""
    return sphere_log_area(d) - power_spherical_entropy(kappa, d)


def power_spherical_rsample(mu: Tensor, kappa: Tensor) -> Tensor:
    """One reparameterised draw (B, d) per row of mu (B, d) (unit vectors) and kappa (B,)."""
    b_, d = mu.shape
    a, b = (d - 1) / 2 + kappa, torch.full_like(kappa, (d - 1) / 2)
    t = torch.distributions.Beta(a, b).rsample()  # (B,)
    w = 2 * t - 1  # cosine of the angle to mu
    v = F.normalize(torch.randn(b_, d - 1, device=mu.device, dtype=mu.dtype), dim=-1)  # (B, d-1) on S^{d-2}
    y = torch.cat([w[:, None], (1 - w.pow(2)).clamp(min=0).sqrt()[:, None] * v], dim=-1)  # (B, d) around e_1
    e1 = torch.zeros_like(mu)
    e1[:, 0] = 1
    u = F.normalize(e1 - mu, dim=-1)  # Householder vector: (I - 2 u u^T) e_1 = mu
    u = torch.where((e1 - mu).norm(dim=-1, keepdim=True) < 1e-6, torch.zeros_like(u), u)  # mu = e_1: no reflection
    return y - 2 * (y * u).sum(-1, keepdim=True) * u


class CircleOutput(NamedTuple):
    recon: Tensor  # decoder logits (B, 1, H, W)
    mu: Tensor  # mean direction (B, 2), unit vectors
    kappa: Tensor  # concentration (B,)
    z: Tensor  # the sample on the circle (B, 2)


class CircleVAE(nn.Module):
    """An MLP VAE with a latent on the unit circle: power spherical posterior, uniform prior.

    The encoder gives a 2-vector (its direction is mu) and kappa = softplus(.) + 1; the decoder is the
    course's MLP ``Decoder`` applied to the point (cos theta, sin theta). ``code(x)`` is mu."""

    latent_dim = 2

    def __init__(self, image_size: int = 16, hidden: int = 128, decoder_layers: int = 1) -> None:
        super().__init__()
        self.image_size = image_size
        n = image_size * image_size
        self.encoder = nn.Sequential(nn.Linear(n, hidden), nn.ReLU(), nn.Linear(hidden, 3))
        self.decoder = Decoder(2, n, hidden, layers=decoder_layers)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu (B, 2) unit vectors, kappa (B,)) for images x (B, 1, H, W)."""
        check_images(x, (self.image_size, self.image_size), "images for CircleVAE.encode")
        h = self.encoder(x.flatten(1))  # (B, 3)
        return F.normalize(h[:, :2], dim=-1), F.softplus(h[:, 2]) + 1.0

    def code(self, x: Tensor) -> Tensor:
        return self.encode(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        """Logits (B, 1, H, W) for points z (B, 2) (on the circle, or anywhere in the plane)."""
        s = self.image_size
        return self.decoder(z).view(-1, 1, s, s)

    def to_image(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits)

    def forward(self, x: Tensor) -> CircleOutput:
        mu, kappa = self.encode(x)
        z = power_spherical_rsample(mu, kappa)
        return CircleOutput(self.decode(z), mu, kappa, z)

    def reconstruct(self, x: Tensor) -> Tensor:
        return reconstruct(self, x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images from the uniform prior on the circle."""
        theta = 2 * math.pi * torch.rand(n, generator=generator)
        z = torch.stack([theta.cos(), theta.sin()], dim=1).to(device_of(self))
        with eval_mode(self):
            return self.to_image(self.decode(z))


def circle_elbo_loss(model: CircleVAE, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
    """A ``fit`` loss: -ELBO = BCE(x; decoder(z)) + KL(q || uniform on the circle), nats per image."""
    out = model(x)
    recon = F.binary_cross_entropy_with_logits(out.recon, x, reduction="none").flatten(1).sum(1).mean()
    kl = power_spherical_kl_uniform(out.kappa, 2).mean()
    return {"loss": recon + kl, "recon": recon.detach(), "kl": kl.detach()}


def geodesic(z0: Tensor, z1: Tensor, steps: int) -> Tensor:
    """Points (steps, 2) along the shorter arc of the unit circle from the direction of z0 to that of z1."""
    a0, a1 = torch.atan2(z0[1], z0[0]), torch.atan2(z1[1], z1[0])
    delta = torch.remainder(a1 - a0 + math.pi, 2 * math.pi) - math.pi  # in [-pi, pi)
    theta = a0 + delta * torch.linspace(0, 1, steps)
    return torch.stack([theta.cos(), theta.sin()], dim=1)
