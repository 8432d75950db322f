"""Loss functions shared across the course, as pure functions of tensors.

Reduction convention (the course's one convention, stated once): a loss returns one value per
example, summed over pixels / latent dimensions, shape (B,). Averaging over the batch is the
caller's ``.mean()``. Summed-over-pixels values are nats per image; see notebook 06 for what
``reduction='mean'`` over pixels does instead.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


def _same_shape(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{what}: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")


def mse(recon: Tensor, x: Tensor) -> Tensor:
    """Squared error per example: sum_i (recon_i - x_i)^2 over all non-batch dimensions. (B,)"""
    _same_shape(recon, x, "mse(recon, x)")
    return (recon - x).pow(2).flatten(1).sum(dim=1)


def bce_with_logits(logits: Tensor, x: Tensor) -> Tensor:
    """Bernoulli negative log-likelihood per example from decoder logits l:

    -log p(x | l) = sum_i -[x_i log sigmoid(l_i) + (1 - x_i) log(1 - sigmoid(l_i))]. (B,)

    For x in {0, 1} this is an exact likelihood; for grey levels in (0, 1) it is a cross-entropy
    whose minimum (at sigmoid(l) = x) is the entropy of x, not zero.
    """
    _same_shape(logits, x, "bce_with_logits(logits, x)")
    if x.min() < 0 or x.max() > 1:
        raise ValueError("bce_with_logits needs targets in [0, 1]; scale the images first")
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def gaussian_nll(mean: Tensor, x: Tensor, sigma: float = 1.0) -> Tensor:
    """-log N(x; mean, sigma^2 I) per example = ||x - mean||^2 / (2 sigma^2) + D/2 log(2 pi sigma^2). (B,)

    With sigma fixed this is a scaled MSE plus a constant: sigma^2 sets the weight of the
    reconstruction term against the KL term.
    """
    _same_shape(mean, x, "gaussian_nll(mean, x)")
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    d = x[0].numel()
    return mse(mean, x) / (2 * sigma**2) + 0.5 * d * (LOG_2PI + 2 * math.log(sigma))


def gaussian_kl_terms(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu_j, exp(logvar_j)) || N(0, 1)) for each latent dimension j, the shape of mu:
    0.5 * (mu_j^2 + exp(logvar_j) - 1 - logvar_j)."""
    _same_shape(mu, logvar, "gaussian_kl(mu, logvar)")
    return 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) per example: the sum of ``gaussian_kl_terms``
    over the last dimension, 0.5 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j). (B,)

    (Halving each term before the sum gives the same floating-point numbers as halving the sum:
    a factor of 2 is exact.)"""
    return gaussian_kl_terms(mu, logvar).sum(dim=-1)


def log_normal(x: Tensor, mu: Tensor | float = 0.0, logvar: Tensor | float = 0.0) -> Tensor:
    """log N(x; mu, diag exp(logvar)) summed over the last dimension:
    -0.5 * sum_j (log 2 pi + logvar_j + (x_j - mu_j)^2 / exp(logvar_j))."""
    mu = torch.as_tensor(mu, dtype=x.dtype, device=x.device)
    logvar = torch.as_tensor(logvar, dtype=x.dtype, device=x.device)
    return -0.5 * (LOG_2PI + logvar + (x - mu).pow(2) / logvar.exp()).sum(dim=-1)


def log_mean_exp(values: Tensor, dim: int = 0) -> Tensor:
    """log((1/K) sum_k exp(values_k)) along ``dim`` without overflow or underflow:
    logsumexp(values) - log K (logsumexp subtracts the max inside). Used by importance
    sampling (04) and the IWAE bound (06)."""
    if values.dim() < 1 or values.shape[dim] < 1:
        raise ValueError(f"expected log weights with K >= 1 entries along dim {dim}, got {tuple(values.shape)}")
    return torch.logsumexp(values, dim=dim) - math.log(values.shape[dim])


def effective_sample_size(log_weights: Tensor, dim: int = 0) -> Tensor:
    """Kish's effective sample size (sum_s w_s)^2 / sum_s w_s^2 of importance weights given in log
    space, along ``dim``: S for equal weights, 1 when one weight dominates. Computed as
    exp(2 logsumexp(log w) - logsumexp(2 log w)), so weights of e^-1000 are fine."""
    if log_weights.dim() < 1 or log_weights.shape[dim] < 1:
        raise ValueError(f"expected log weights with S >= 1 entries along dim {dim}, got {tuple(log_weights.shape)}")
    return (2 * torch.logsumexp(log_weights, dim=dim) - torch.logsumexp(2 * log_weights, dim=dim)).exp()
