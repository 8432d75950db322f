"""A PixelCNN prior over a grid of VQ-VAE code indices (van den Oord et al. 2016, arXiv:1606.05328):

    p(k) = prod_i p(k_i | k_<i)   in raster order,

fit to the code grids of the training set (``prior_loss`` with ``vae_course.fit``); a sampled grid,
decoded by the VQ-VAE (``VQVAE.decode_indices``), is a new image (notebook 08).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import device_of, eval_mode


class MaskedConv2d(nn.Conv2d):
    """A convolution that sees only pixels above, and to the left on the same row (PixelCNN).

    Mask ``"A"`` also hides the centre (first layer: a position must not see itself); mask
    ``"B"`` keeps it (later layers: the centre holds features of earlier positions only)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str) -> None:
        if mask_type not in ("A", "B") or kernel_size % 2 == 0:
            raise ValueError(f"need mask_type 'A' or 'B' and an odd kernel, got {mask_type!r}, {kernel_size}")
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        mask = torch.ones(kernel_size, kernel_size)
        c = kernel_size // 2
        mask[c, c + (mask_type == "B") :] = 0  # right of the centre (and the centre for "A")
        mask[c + 1 :] = 0  # rows below
        self.register_buffer("mask", mask[None, None])

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class CodePrior(nn.Module):
    """A small PixelCNN over a grid of code indices: ``p(k) = prod_i p(k_i | k_<i)`` in raster order.

    Embedding -> one masked-"A" convolution -> ``layers`` residual masked-"B" 3x3 convolutions ->
    1x1 convolution to K logits per position. No gating and no vertical/horizontal stacks (so it
    has PixelCNN's blind spot); on a 7x7 grid that is a small loss for a large saving in code.
    """

    def __init__(self, num_codes: int, hidden: int = 32, layers: int = 3, first_kernel: int = 5) -> None:
        super().__init__()
        self.num_codes = num_codes
        self.embed = nn.Embedding(num_codes, hidden)
        self.first = MaskedConv2d(hidden, hidden, first_kernel, "A")
        self.blocks = nn.ModuleList(MaskedConv2d(hidden, hidden, 3, "B") for _ in range(layers))
        self.out = nn.Conv2d(hidden, num_codes, 1)

    def forward(self, indices: Tensor) -> Tensor:
        """Indices (B, H, W) -> logits (B, K, H, W); position i's logits depend only on positions < i."""
        if indices.dim() != 3:
            raise ValueError(f"expected index grids (B, H, W), got {tuple(indices.shape)}")
        h = self.first(self.embed(indices).permute(0, 3, 1, 2))  # (B, hidden, H, W)
        for block in self.blocks:
            h = h + block(F.relu(h))
        return self.out(F.relu(h))

    def nll(self, indices: Tensor) -> Tensor:
        """``-log p(k)`` in nats per example (B,)."""
        return F.cross_entropy(self(indices), indices, reduction="none").flatten(1).sum(dim=1)

    @torch.no_grad()
    def sample(
        self, n: int, grid: tuple[int, int] = (7, 7), temperature: float = 1.0, generator: torch.Generator | None = None
    ) -> Tensor:
        """Draw n index grids (n, H, W), one position at a time in raster order."""
        dev = device_of(self)
        k = torch.zeros(n, *grid, dtype=torch.long, device=dev)
        with eval_mode(self):
            for i in range(grid[0]):
                for j in range(grid[1]):
                    probs = F.softmax(self(k)[:, :, i, j] / temperature, dim=1)  # (n, K)
                    k[:, i, j] = torch.multinomial(probs.cpu(), 1, generator=generator).flatten().to(dev)
        return k


def prior_loss(prior: CodePrior, indices: Tensor, y: Tensor | None = None) -> Tensor:
    """Mean negative log-likelihood (nats per grid) of index grids under the prior, for ``fit``."""
    return prior.nll(indices).mean()
