"""Variational autoencoders: the model, its loss (the negative ELBO) and the IWAE bound on log p(x).

Kingma & Welling 2013 (arXiv:1312.6114), Rezende et al. 2014 (arXiv:1401.4082); the conditional
model of Sohn et al. 2015; the importance-weighted bound of Burda et al. 2015 (arXiv:1509.00519).

Reduction convention (the course's): every loss term is in **nats per image**, i.e. summed over
pixels and over latent dimensions, then averaged over the batch. ``beta`` multiplies the KL term
only (Higgins et al. 2017), so ``beta=1`` is the true negative ELBO.

The models keep the course's model contract (``vae_course.models``): ``code(x)`` is the posterior
mean, ``decode(z)`` returns **logits** ``l`` of shape (B, 1, H, W) and ``to_image(l) = sigmoid(l)``.
Under the Bernoulli likelihood p(x|z) = prod_i Bernoulli(x_i; sigmoid(l_i)); under the Gaussian
one p(x|z) = N(x; sigmoid(l), sigma^2 I) (the mean is squashed into [0, 1] like the images).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..losses import bce_with_logits, gaussian_kl, gaussian_nll, log_mean_exp, log_normal
from ..ops import check_images
from . import device_of, eval_mode, reconstruct

LIKELIHOODS = ("bernoulli", "gaussian")


class VAEOutput(NamedTuple):
    """What a VAE's (or CVAE's) forward pass returns: decoder logits, posterior parameters and
    the sample."""

    recon: Tensor  # (B, 1, H, W) decoder logits
    mu: Tensor  # (B, D) posterior mean
    logvar: Tensor  # (B, D) posterior log-variance
    z: Tensor  # (B, D) reparameterized sample z = mu + exp(logvar / 2) * eps


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    """z = mu + sigma * eps with sigma = exp(logvar / 2), eps ~ N(0, I): a sample of
    N(mu, diag sigma^2) that is a differentiable function of (mu, logvar)."""
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps


def one_hot(c: Tensor, n_classes: int) -> Tensor:
    """Integer classes (B,) -> float one-hot rows (B, n_classes); row b has a 1 in column c_b."""
    c = torch.as_tensor(c)
    if c.dim() != 1 or c.dtype.is_floating_point or c.dtype == torch.bool:
        raise ValueError(f"expected integer classes of shape (B,), got {c.dtype} of shape {tuple(c.shape)}")
    if len(c) and (c.min() < 0 or c.max() >= n_classes):
        raise ValueError(f"classes must be in 0..{n_classes - 1}, got {int(c.min())}..{int(c.max())}")
    return F.one_hot(c.long(), n_classes).float()


class Encoder(nn.Module):
    """q(z | x, [c]): an MLP from a flattened image (plus an optional condition) to (mu, logvar)."""

    def __init__(self, in_dim: int, latent_dim: int, hidden: int, cond_dim: int = 0) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim + cond_dim, hidden), nn.ReLU())
        self.mu = nn.Linear(hidden, latent_dim)
        self.logvar = nn.Linear(hidden, latent_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)  # (B, hidden)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    """p(x | z, [c]): an MLP from a latent (plus an optional condition) to pixel logits, with
    ``layers`` hidden layers of width ``hidden`` (1: Kingma & Welling's decoder; 2 draws sharper
    samples for about a quarter more compute on MNIST)."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: int, cond_dim: int = 0, layers: int = 1) -> None:
        super().__init__()
        if layers < 1:
            raise ValueError(f"the decoder needs at least 1 hidden layer, got layers={layers}")
        body: list[nn.Module] = [nn.Linear(latent_dim + cond_dim, hidden), nn.ReLU()]
        for _ in range(layers - 1):
            body += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.net = nn.Sequential(*body, nn.Linear(hidden, out_dim))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)  # (B, out_dim) logits


class _ImageVAE(nn.Module):
    """What the VAE and the CVAE share: the model contract's to_image, and sampling z."""

    latent_dim: int

    def to_image(self, logits: Tensor) -> Tensor:
        """Decoder logits -> pixel means sigmoid(logits) in [0, 1]."""
        return torch.sigmoid(logits)

    @torch.no_grad()
    def init_output_bias(self, images: Tensor, eps: float = 1e-3) -> None:
        """Start the decoder at the data's mean image: set the bias of its last layer to
        logit(mean over ``images`` (N, 1, H, W)), clamped to [eps, 1 - eps].

        At step 0 the decoder then already draws the average image (the no-latent baseline of
        notebook 06), and training spends its steps on how images differ from it: on MNIST-5k a
        VAE reaches a given -ELBO in fewer epochs. The weights are untouched.
        """
        check_images(images, (self.image_size, self.image_size), "images for init_output_bias")
        mean = images.float().mean(dim=0).flatten().clamp(eps, 1 - eps)  # (H*W,)
        last = self.decoder.net[-1]
        last.bias.copy_(torch.logit(mean).to(last.bias))

    @staticmethod
    def _sample_z(mu: Tensor, logvar: Tensor, eps: Tensor | None, detach_z: bool) -> Tensor:
        z = reparameterize(mu, logvar, eps)
        # detach_z: the sample's value stays, but no gradient reaches (mu, logvar) through it
        # (what the score-function estimator of notebook 05 needs)
        return z.detach() if detach_z else z


class VAE(_ImageVAE):
    """A one-hidden-layer MLP VAE (the architecture of Kingma & Welling's MNIST experiments).

    Args:
        image_size: side H = W of the square one-channel images.
        latent_dim: D, the number of latent dimensions.
        hidden: width of the hidden layer of the encoder and of the decoder.
        decoder_layers: hidden layers of the decoder (1, the default, is Kingma & Welling's
            architecture; 2 draws sharper samples).

    ``forward(x, eps=None, detach_z=False)``: ``eps`` fixes the noise of z = mu + sigma * eps;
    ``detach_z=True`` cuts the gradient path from z back to the encoder (the score-function
    estimator's setting in notebook 05; the pathwise estimator is the default).
    """

    def __init__(self, image_size: int = 28, latent_dim: int = 2, hidden: int = 256, decoder_layers: int = 1) -> None:
        super().__init__()
        if latent_dim < 1 or hidden < 1 or image_size < 1:
            raise ValueError(
                f"sizes must be positive, got image_size={image_size}, latent_dim={latent_dim}, hidden={hidden}"
            )
        self.image_size = image_size
        self.latent_dim = latent_dim
        n_pixels = image_size * image_size
        self.encoder = Encoder(n_pixels, latent_dim, hidden)
        self.decoder = Decoder(latent_dim, n_pixels, hidden, layers=decoder_layers)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior parameters (mu, logvar), each (B, D), of images x (B, 1, H, W)."""
        check_images(x, (self.image_size, self.image_size), "images for VAE.encode")
        return self.encoder(x.flatten(1))  # x.flatten(1): (B, H*W)

    def code(self, x: Tensor) -> Tensor:
        """The model contract's deterministic code: the posterior mean mu (B, D)."""
        return self.encode(x)[0]

    def decode(self, z: Tensor) -> Tensor:
        """Decoder logits (B, 1, H, W) for latents z (B, D); ``to_image`` gives pixel means."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"VAE.decode expected latents of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        s = self.image_size
        return self.decoder(z).view(-1, 1, s, s)  # (B, H*W) -> (B, 1, H, W)

    def forward(self, x: Tensor, eps: Tensor | None = None, detach_z: bool = False) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = self._sample_z(mu, logvar, eps, detach_z)
        return VAEOutput(self.decode(z), mu, logvar, z)

    def reconstruct(self, x: Tensor) -> Tensor:
        """Images in [0, 1] decoded at the posterior mean of x, in eval mode, without gradients."""
        return reconstruct(self, x)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n images (n, 1, H, W) in [0, 1]: pixel means to_image(decode(z)) for z ~ N(0, I)."""
        z = torch.randn(n, self.latent_dim, generator=generator).to(device_of(self))
        with eval_mode(self):
            return self.to_image(self.decode(z))


class CVAE(_ImageVAE):
    """A conditional VAE (Sohn et al. 2015): q(z | x, c) and p(x | z, c) with a one-hot class c
    concatenated to the flattened image (encoder) and to the latent (decoder); p(z) = N(0, I).
    ``decoder_layers`` as for :class:`VAE`."""

    def __init__(
        self, image_size: int = 28, latent_dim: int = 2, hidden: int = 256, n_classes: int = 10, decoder_layers: int = 1
    ) -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {n_classes}")
        self.image_size = image_size
        self.latent_dim = latent_dim
        self.n_classes = n_classes
        n_pixels = image_size * image_size
        self.encoder = Encoder(n_pixels, latent_dim, hidden, cond_dim=n_classes)
        self.decoder = Decoder(latent_dim, n_pixels, hidden, cond_dim=n_classes, layers=decoder_layers)

    def one_hot(self, c: Tensor) -> Tensor:
        """Integer classes (B,) -> one-hot float (B, n_classes); one-hot input passes through."""
        c = torch.as_tensor(c)
        if c.dim() == 2 and c.shape[1] == self.n_classes:
            return c.float()
        return one_hot(c, self.n_classes)

    def encode(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, logvar) of q(z | x, c), each (B, D)."""
        check_images(x, (self.image_size, self.image_size), "images for CVAE.encode")
        c = self.one_hot(c).to(x.device)
        return self.encoder(torch.cat([x.flatten(1), c], dim=1))  # (B, H*W + C)

    def code(self, x: Tensor, c: Tensor) -> Tensor:
        """The model contract's deterministic code: the posterior mean mu of q(z | x, c), (B, D)."""
        return self.encode(x, c)[0]

    def decode(self, z: Tensor, c: Tensor) -> Tensor:
        """Logits (B, 1, H, W) of p(x | z, c)."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"CVAE.decode expected latents of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        c = self.one_hot(c).to(z.device)
        if len(c) != len(z):
            raise ValueError(f"CVAE.decode got {len(z)} latents but {len(c)} classes")
        s = self.image_size
        return self.decoder(torch.cat([z, c], dim=1)).view(-1, 1, s, s)  # (B, D + C) -> (B, 1, H, W)

    def forward(self, x: Tensor, c: Tensor, eps: Tensor | None = None, detach_z: bool = False) -> VAEOutput:
        mu, logvar = self.encode(x, c)
        z = self._sample_z(mu, logvar, eps, detach_z)
        return VAEOutput(self.decode(z, c), mu, logvar, z)

    def reconstruct(self, x: Tensor, c: Tensor) -> Tensor:
        """Images in [0, 1] decoded at the posterior mean of q(z | x, c), in eval mode."""
        return reconstruct(self, x, c)

    @torch.no_grad()
    def generate(
        self, classes: Tensor | list[int], z: Tensor | None = None, generator: torch.Generator | None = None
    ) -> Tensor:
        """Pixel means (N, 1, H, W) of p(x | z, c) for the given classes; z ~ N(0, I) unless given."""
        c = torch.as_tensor(classes)
        dev = device_of(self)
        if z is None:
            z = torch.randn(len(c), self.latent_dim, generator=generator)
        with eval_mode(self):
            return self.to_image(self.decode(z.to(dev), c.to(dev)))


# --------------------------------------------------------------------------- the ELBO
class ElboTerms(NamedTuple):
    """Per-example terms in nats, each (B,): -ELBO = recon + kl."""

    recon: Tensor  # -log p(x | z) at the sampled z
    kl: Tensor  # KL(q(z | x) || N(0, I)), closed form


def reconstruction_nll(logits: Tensor, x: Tensor, likelihood: str = "bernoulli", sigma: float = 1.0) -> Tensor:
    """-log p(x | z) per example (B,), from decoder logits, summed over pixels (nats per image)."""
    if likelihood == "bernoulli":
        return bce_with_logits(logits, x)
    if likelihood == "gaussian":
        return gaussian_nll(torch.sigmoid(logits), x, sigma)
    raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}")


def elbo_terms(out: VAEOutput, x: Tensor, likelihood: str = "bernoulli", sigma: float = 1.0) -> ElboTerms:
    """The two terms of the negative ELBO, per example:

    -ELBO(x) = E_q[-log p(x|z)] + KL(q(z|x) || p(z)),

    the expectation estimated with the one sample ``out.z``, the KL in closed form
    (0.5 * sum_j mu_j^2 + sigma_j^2 - 1 - log sigma_j^2).
    """
    return ElboTerms(reconstruction_nll(out.recon, x, likelihood, sigma), gaussian_kl(out.mu, out.logvar))


def elbo_loss(
    out: VAEOutput, x: Tensor, beta: float = 1.0, likelihood: str = "bernoulli", sigma: float = 1.0
) -> dict[str, Tensor]:
    """The (beta-)VAE objective for ``fit``, in nats per image averaged over the batch:

    loss = mean_b [ recon_b + beta * kl_b ],   elbo = -mean_b [ recon_b + kl_b ].

    Returns {"loss", "recon", "kl", "elbo"} (0-d tensors; only "loss" carries the gradient
    that matters). With beta = 1, loss = -elbo.
    """
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    t = elbo_terms(out, x, likelihood, sigma)
    recon, kl = t.recon.mean(), t.kl.mean()
    return {"loss": recon + beta * kl, "recon": recon.detach(), "kl": kl.detach(), "elbo": -(recon + kl).detach()}


def vae_loss_fn(beta: float = 1.0, likelihood: str = "bernoulli", sigma: float = 1.0):
    """A ``loss_fn(model, x, y)`` for :func:`vae_course.fit`; a CVAE is given the labels y."""

    def loss_fn(model: nn.Module, x: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        out = model(x, y) if isinstance(model, CVAE) else model(x)
        return elbo_loss(out, x, beta, likelihood, sigma)

    return loss_fn


# --------------------------------------------------------------------------- importance weighting
def log_weights(
    model: VAE | CVAE,
    x: Tensor,
    k: int,
    c: Tensor | None = None,
    likelihood: str = "bernoulli",
    sigma: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """log w_k = log p(x | z_k) + log p(z_k) - log q(z_k | x) for z_k ~ q(z | x): (K, B).

    eps is drawn as one (K, B, D) tensor, so with K = 1 it is the same draw as
    ``torch.randn_like(mu)`` in the forward pass (same generator state -> same sample).
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    mu, logvar = model.encode(x, c) if c is not None else model.encode(x)  # (B, D) each
    b, d = mu.shape
    eps = torch.randn(k, b, d, generator=generator).to(mu.device)  # (K, B, D)
    z = reparameterize(mu, logvar, eps)  # (K, B, D), mu and logvar broadcast over K
    flat = z.reshape(k * b, d)  # (K*B, D)
    logits = model.decode(flat, c.repeat(k)) if c is not None else model.decode(flat)  # (K*B, 1, H, W)
    xk = x.expand(k, *x.shape).reshape(k * b, *x.shape[1:])  # (K*B, 1, H, W), x repeated per sample
    log_px_z = -reconstruction_nll(logits, xk, likelihood, sigma).view(k, b)  # (K, B)
    log_pz = log_normal(z)  # (K, B)
    log_qz = log_normal(z, mu, logvar)  # (K, B)
    return log_px_z + log_pz - log_qz


@torch.no_grad()
def importance_bounds(
    model: VAE | CVAE,
    x: Tensor,
    k: int,
    c: Tensor | None = None,
    likelihood: str = "bernoulli",
    sigma: float = 1.0,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Two lower bounds on log p(x) per example, (B,) each in nats, from the same K log-weights:

    the ELBO, estimated by the mean of K one-sample estimates (1/K) sum_k log w_k, and the
    importance-weighted bound (Burda et al. 2015)

    L_K(x) = log (1/K) sum_k w_k = logsumexp_k(log w_k) - log K,   w_k = p(x, z_k) / q(z_k | x).

    L_1 is the (single-sample) ELBO; E[L_K] rises with K towards log p(x), and L_K >= the mean of
    the log w_k (Jensen). Computed with logsumexp (stable), ``batch_size`` images at a time so that
    K * batch_size decodes fit in memory (default: about 50,000 decodes per chunk).
    """
    if batch_size is None:
        batch_size = max(1, 50_000 // k)
    elbo, iwae = [], []
    with eval_mode(model):
        for i in range(0, len(x), batch_size):
            ci = None if c is None else c[i : i + batch_size]
            lw = log_weights(model, x[i : i + batch_size], k, ci, likelihood, sigma, generator)  # (K, b)
            elbo.append(lw.mean(dim=0))
            iwae.append(log_mean_exp(lw))
    return torch.cat(elbo), torch.cat(iwae)


def iwae_bound(
    model: VAE | CVAE,
    x: Tensor,
    k: int,
    c: Tensor | None = None,
    likelihood: str = "bernoulli",
    sigma: float = 1.0,
    batch_size: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """The importance-weighted lower bound L_K on log p(x) per example (B,), in nats (Burda et al.
    2015): the second of ``importance_bounds``."""
    return importance_bounds(model, x, k, c, likelihood, sigma, batch_size, generator)[1]
