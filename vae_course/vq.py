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
    "encodings",
    "codebook_usage",
    "revival_causes",
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


def encodings(model: VQVAE, images: Tensor, batch_size: int = 1000) -> Tensor:
    """The encoder's vectors of a set of images, one row per grid position: (N * H' * W', D), in eval mode."""
    z = map_batches(model, model.encode, images, batch_size)  # (N, D, H', W')
    return z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])


def revival_causes(z: Tensor, old_codebook: Tensor, new_codebook: Tensor, old_counts: Tensor) -> dict[str, Tensor]:
    """Why codes that no vector picked before are picked now, in the order the causes are tried.

    ``z`` (N, D) are the vectors now, ``old_codebook`` and ``new_codebook`` (K, D) the codebook before
    and now, ``old_counts`` (K,) how often each code was picked before (0: dead). A code is *revived*
    when it was dead and the vectors pick it from the new codebook. Each revived code falls in exactly
    one of three bool masks (K,):

    * ``"vectors"``: the vectors pick it from the *old* codebook already: they moved into its cell;
    * ``"own_move"``: they pick it once only that code takes its new place: the code moved to them;
    * ``"neighbours"``: only with the other codes' new places as well: its cell grew as they moved.
    """
    k = old_codebook.shape[0]
    if old_codebook.shape != new_codebook.shape or old_counts.shape != (k,):
        raise ValueError(
            f"expected two codebooks (K, D) and counts (K,), got {tuple(old_codebook.shape)}, "
            f"{tuple(new_codebook.shape)} and {tuple(old_counts.shape)}"
        )
    revived = (old_counts == 0) & (code_counts(nearest_code(z, new_codebook), k) > 0)
    vectors = revived & (code_counts(nearest_code(z, old_codebook), k) > 0)
    own_move = torch.zeros_like(revived)
    for code in (revived & ~vectors).nonzero().flatten().tolist():
        book = old_codebook.clone()
        book[code] = new_codebook[code]  # only this code in its new place
        own_move[code] = bool((nearest_code(z, book) == code).any())
    return {"vectors": vectors, "own_move": own_move, "neighbours": revived & ~vectors & ~own_move}


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
