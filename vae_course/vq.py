"""Notebook 08's module: how a VQ-VAE uses its codebook over a data set, and the code explorer.

* ``encode_indices``: the code-index grids of a data set; ``codebook_usage``: counts, perplexity and
  dead codes over it;
* ``code_positions`` and ``code_footprint``: where one code is used, and what it draws.

The models the notebook reads are re-exported here, so the notebook reaches every name as
``vq.NAME``: the quantizer and the VQ-VAE (``vae_course.models.vq``) and the PixelCNN prior over
the code grid (``vae_course.models.pixelcnn``).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from . import losses
from .models import device_of, eval_mode, map_batches
from .models.pixelcnn import CodePrior, MaskedConv2d, prior_loss
from .models.vq import (
    VQVAE,
    VectorQuantizer,
    VQOutput,
    VQVAEOutput,
    code_counts,
    codebook_loss,
    commitment_loss,
    dead_codes,
    kmeans,
    nearest_code,
    perplexity,
    vqvae_loss,
)

__all__ = [
    "losses",
    "CodePrior",
    "MaskedConv2d",
    "prior_loss",
    "VQVAE",
    "VectorQuantizer",
    "VQOutput",
    "VQVAEOutput",
    "code_counts",
    "codebook_loss",
    "commitment_loss",
    "dead_codes",
    "kmeans",
    "nearest_code",
    "perplexity",
    "vqvae_loss",
    "UsageStats",
    "encode_indices",
    "codebook_usage",
    "code_positions",
    "code_footprint",
]


class UsageStats(NamedTuple):
    """Codebook usage over a data set."""

    counts: Tensor  # (K,) int64
    perplexity: float  # effective number of codes in use
    dead: int  # number of codes never used


def encode_indices(model: VQVAE, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Code-index grids (N, H', W') of a set of images, in eval mode, in batches (no codebook updates)."""
    return map_batches(model, model.code_indices, images, batch_size)


def codebook_usage(model: VQVAE, images: Tensor) -> UsageStats:
    """Counts, perplexity and dead codes (never the nearest code of any position) over ``images``."""
    counts = code_counts(encode_indices(model, images), model.num_codes)
    return UsageStats(counts, float(perplexity(counts)), int((counts == 0).sum()))


def code_positions(indices: Tensor, code: int, scale: int = 1) -> Tensor:
    """Where ``code`` is used: a bool mask (B, H'*scale, W'*scale) from index grids (B, H', W').

    ``scale`` blows each grid cell up to the pixels it covers (4 for the course's VQVAE)."""
    if indices.dim() != 3:
        raise ValueError(f"expected index grids (B, H', W'), got {tuple(indices.shape)}")
    mask = indices == code
    return mask.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2)


@torch.no_grad()
def code_footprint(model: VQVAE, code: int, background: int, grid: tuple[int, int] = (7, 7)) -> Tensor:
    """What one code draws: decode a grid filled with ``background`` with ``code`` at its centre.

    Returns (2, 1, H, W): the background-only image and the one with the code placed, so the
    difference is the code's contribution."""
    if not 0 <= code < model.num_codes:
        raise ValueError(f"code must lie in [0, {model.num_codes - 1}], got {code}")
    g = torch.full((2, *grid), background, dtype=torch.long, device=device_of(model))
    g[1, grid[0] // 2, grid[1] // 2] = code
    with eval_mode(model):
        return model.to_image(model.decode_indices(g)).cpu()
