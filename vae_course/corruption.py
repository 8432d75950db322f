"""Corruptions: what a denoising autoencoder (Vincent et al. 2008) learns to undo, and the code
noise that makes each code claim a neighbourhood (notebook 02's remedy).

All are pure functions: they return a new tensor and never modify their input. Each takes an
optional ``torch.Generator`` so a figure can be repeated exactly; without one they use torch's
global generator (which ``fit`` seeds). The random numbers are drawn on the generator's device
and moved to the input's device, so a CPU generator works with CUDA inputs.
"""

from __future__ import annotations

import torch
from torch import Tensor

KINDS = ("mask", "gaussian", "salt_pepper")


def _rand(shape: torch.Size, like: Tensor, generator: torch.Generator | None, normal: bool = False) -> Tensor:
    device = generator.device if generator is not None else like.device
    draw = torch.randn if normal else torch.rand
    return draw(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def _check_fraction(fraction: float, what: str = "fraction") -> float:
    fraction = float(fraction)
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"{what} must be in [0, 1], got {fraction}")
    return fraction


def random_mask(x: Tensor, fraction: float, generator: torch.Generator | None = None) -> Tensor:
    """Boolean mask shaped like x (B, ...), True on exactly round(fraction * D) entries of each
    example (D = entries per example), chosen uniformly at random, independently per example."""
    fraction = _check_fraction(fraction)
    if x.dim() < 2:
        raise ValueError(f"expected a batch (B, ...) with at least 2 dimensions, got {tuple(x.shape)}")
    b, d = x.shape[0], x[0].numel()
    k = int(round(fraction * d))
    scores = _rand(torch.Size((b, d)), x.float() if not x.is_floating_point() else x, generator)
    ranks = scores.argsort(dim=1).argsort(dim=1)  # (B, D): each entry's rank, a random permutation
    return (ranks < k).reshape(x.shape)


def mask_noise(x: Tensor, fraction: float, generator: torch.Generator | None = None) -> Tensor:
    """Masking noise: set exactly round(fraction * D) randomly chosen entries of each example to 0
    (Vincent et al. 2008, section 2.3). fraction=0 returns a copy of x, fraction=1 all zeros."""
    return x.masked_fill(random_mask(x, fraction, generator), 0.0)


def gaussian_noise(x: Tensor, std: float, generator: torch.Generator | None = None, clip: bool = True) -> Tensor:
    """Additive isotropic Gaussian noise: x + std * eps, eps ~ N(0, I).

    clip=True (default) clamps the result to [0, 1], so the corrupted image is still a valid
    image (and a valid target for a Bernoulli loss); clip=False keeps the exact Gaussian model.
    """
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    noisy = x + std * _rand(x.shape, x, generator, normal=True)
    return noisy.clamp(0.0, 1.0) if clip else noisy


def salt_and_pepper(x: Tensor, fraction: float, generator: torch.Generator | None = None) -> Tensor:
    """Salt-and-pepper noise: exactly round(fraction * D) entries of each example set to 0 or 1
    (each with probability 1/2) (Vincent et al. 2008, section 2.3)."""
    mask = random_mask(x, fraction, generator)
    salt = _rand(x.shape, x, generator) < 0.5
    return torch.where(mask, salt.to(x.dtype), x)


def code_noise(z: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """Gaussian noise on a code: z + std * eps, eps ~ N(0, I). Differentiable in z, so it can
    sit inside training: the decoder must then answer for a whole neighbourhood of each code."""
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    return z + std * _rand(z.shape, z, generator, normal=True)


def corrupt(x: Tensor, kind: str, level: float, generator: torch.Generator | None = None) -> Tensor:
    """One entry point for the noise-level explorer: kind "mask" (level = fraction zeroed),
    "gaussian" (level = std, clipped to [0, 1]) or "salt_pepper" (level = fraction)."""
    if kind == "mask":
        return mask_noise(x, level, generator)
    if kind == "gaussian":
        return gaussian_noise(x, level, generator)
    if kind == "salt_pepper":
        return salt_and_pepper(x, level, generator)
    raise ValueError(f"unknown corruption {kind!r}; choose one of {KINDS}")
