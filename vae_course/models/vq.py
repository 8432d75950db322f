"""Vector quantization and the VQ-VAE (van den Oord, Vinyals & Kavukcuoglu 2017, arXiv:1711.00937).

An encoder maps an image to a grid of vectors ``z_e`` (B, D, H, W). Each vector is replaced by
its nearest entry of a learned codebook ``e`` (K, D): ``z_q = e[k]``, ``k = argmin_j ||z_e - e_j||``.
The argmin has no gradient, so the *straight-through estimator* (Bengio et al. 2013,
arXiv:1308.3432) copies the decoder's gradient with respect to ``z_q`` onto ``z_e``:
``z_q_st = z_e + sg[z_q - z_e]`` (forward value ``z_q``, backward identity).

The model keeps the course's model contract (``vae_course.models``): ``code(x)`` is the quantized
grid ``z_q``, ``decode(z_q)`` returns logits, ``to_image`` is the sigmoid.

The loss has three terms, each training a different part::

    L = recon(x, dec(z_q_st))              # decoder and (through the estimator) encoder
      + ||sg[z_e] - e||^2                  # codebook loss: moves the codes towards the encodings
      + beta * ||z_e - sg[e]||^2           # commitment loss: keeps the encoder near its codes

with ``beta = 0.25`` as in the paper. Every loss here follows the course convention: one value per
example, summed over the non-batch dimensions (shape (B,)); the caller takes ``.mean()``.

Codebook health: a code that no encoding selects receives no gradient and stays unused for ever
(a *dead code*). :class:`VectorQuantizer` exposes the usual remedies as keyword options:
``init="kmeans"`` (k-means on the first batch's encodings), ``reset_dead=True`` (replace codes
unused for ``reset_every`` steps by random current encodings, as in Jukebox, Dhariwal et al.
2020, arXiv:2005.00341; see also Lancucki et al. 2020, arXiv:2005.08520) and ``ema=True``
(exponential-moving-average codebook updates instead of the codebook loss, Appendix A.1 of the
paper; Razavi et al. 2019, arXiv:1906.00446).

The PixelCNN prior over the code grid is in ``vae_course.models.pixelcnn``; codebook usage over a
data set and the code explorer of notebook 08 in ``vae_course.vq``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .. import losses
from ..ops import check_images, straight_through
from . import reconstruct

__all__ = [
    "nearest_code",
    "straight_through",
    "codebook_loss",
    "commitment_loss",
    "code_counts",
    "perplexity",
    "dead_codes",
    "kmeans",
    "VQOutput",
    "VectorQuantizer",
    "VQVAEOutput",
    "VQVAE",
    "vqvae_loss",
]


# --------------------------------------------------------------------------- pure functions
def _check_pair(z: Tensor, codebook: Tensor) -> None:
    if z.dim() != 2 or codebook.dim() != 2:
        raise ValueError(
            f"expected vectors (N, D) and a codebook (K, D), got {tuple(z.shape)} and {tuple(codebook.shape)}"
        )
    if z.shape[1] != codebook.shape[1]:
        raise ValueError(
            f"vectors have dimension {z.shape[1]} but codes have dimension "
            f"{codebook.shape[1]}: expected (N, D) and (K, D) with the same D"
        )


def nearest_code(z: Tensor, codebook: Tensor) -> Tensor:
    """Index of the nearest code for each vector: ``argmin_k ||z_n - e_k||^2``.

    Uses ``||z||^2 - 2 z.e + ||e||^2`` (one matrix product, no (N, K, D) tensor).
    Args: z (N, D), codebook (K, D). Returns int64 indices (N,); ties go to the lower index.
    """
    _check_pair(z, codebook)
    d = z.pow(2).sum(1, keepdim=True) - 2 * z @ codebook.t() + codebook.pow(2).sum(1)  # (N, K)
    return d.argmin(dim=1)


def codebook_loss(z_e: Tensor, z_q: Tensor) -> Tensor:
    """``||sg[z_e] - z_q||^2`` per example (B,): trains only the codebook entries in ``z_q``."""
    return (z_e.detach() - z_q).pow(2).flatten(1).sum(dim=1)


def commitment_loss(z_e: Tensor, z_q: Tensor) -> Tensor:
    """``||z_e - sg[z_q]||^2`` per example (B,): trains only the encoder (weighted by beta outside)."""
    return (z_e - z_q.detach()).pow(2).flatten(1).sum(dim=1)


def code_counts(indices: Tensor, num_codes: int) -> Tensor:
    """How many times each of the ``num_codes`` codes occurs in ``indices`` (any shape): (K,) int64."""
    if indices.numel() and (indices.min() < 0 or indices.max() >= num_codes):
        raise ValueError(
            f"indices must lie in [0, {num_codes - 1}], got values from {int(indices.min())} to {int(indices.max())}"
        )
    return torch.bincount(indices.reshape(-1).long(), minlength=num_codes)


def perplexity(counts: Tensor) -> Tensor:
    """``exp(H(p))`` with ``p = counts / sum(counts)`` and ``0 log 0 = 0``: the effective number of
    codes in use (1 when one code takes everything, K when all K are used equally)."""
    if counts.dim() != 1:
        raise ValueError(f"expected per-code counts of shape (K,), got {tuple(counts.shape)}")
    p = counts.double() / counts.sum().clamp_min(1)
    entropy = -torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p)).sum()
    return entropy.exp().to(torch.get_default_dtype())


def dead_codes(counts: Tensor) -> Tensor:
    """Indices of the codes that were never used (count 0), int64 (n_dead,)."""
    return (counts == 0).nonzero().flatten()


def kmeans(x: Tensor, k: int, iters: int = 10, generator: torch.Generator | None = None) -> Tensor:
    """Lloyd's k-means on rows of x (N, D); returns k centroids (k, D). A cluster that empties
    keeps its previous centroid. Starts from k distinct random rows (with repeats if N < k)."""
    if x.dim() != 2 or len(x) == 0:
        raise ValueError(f"expected a non-empty matrix (N, D), got {tuple(x.shape)}")
    dev = x.device
    if len(x) >= k:
        start = torch.randperm(len(x), generator=generator)[:k].to(dev)
    else:
        start = torch.randint(len(x), (k,), generator=generator).to(dev)
    c = x[start].clone()
    for _ in range(iters):
        assign = nearest_code(x, c)
        sums = torch.zeros_like(c).index_add_(0, assign, x)
        n = torch.bincount(assign, minlength=k).to(x.dtype)
        c = torch.where(n[:, None] > 0, sums / n.clamp_min(1)[:, None], c)
    return c


# --------------------------------------------------------------------------- the quantizer
class VQOutput(NamedTuple):
    """What the quantizer returns."""

    z_q: Tensor  # (B, D, H, W) straight-through quantized vectors (value = codes)
    indices: Tensor  # (B, H, W) int64 index of the chosen code at each position
    codebook_loss: Tensor  # (B,) ||sg[z_e] - e||^2
    commitment_loss: Tensor  # (B,) ||z_e - sg[e]||^2 (unweighted; beta is applied in the loss)
    counts: Tensor  # (K,) how often each code was chosen in this batch
    perplexity: Tensor  # () exp(entropy) of this batch's code usage


class VectorQuantizer(nn.Module):
    """Nearest-neighbour quantization of (B, D, H, W) vectors with a codebook of ``num_codes`` x ``code_dim``.

    Args:
        num_codes: K, the codebook size.
        code_dim: D, the dimension of each code (the encoder's output channels).
        beta: weight of the commitment loss (0.25 in van den Oord et al. 2017).
        init: ``"uniform"`` (codes drawn from U(-1/K, 1/K), the common naive choice) or
            ``"kmeans"`` (k-means on the encodings of the first training batch).
        ema: update the codebook by exponential moving averages of the encodings assigned to
            each code (decay ``decay``) instead of by the codebook loss's gradient.
        reset_dead: every ``reset_every`` training steps, move each code that no encoding chose
            in that window onto a random encoding of the current batch.
    """

    def __init__(
        self,
        num_codes: int = 64,
        code_dim: int = 16,
        *,
        beta: float = 0.25,
        init: str = "uniform",
        kmeans_iters: int = 10,
        ema: bool = False,
        decay: float = 0.99,
        eps: float = 1e-5,
        reset_dead: bool = False,
        reset_every: int = 20,
    ) -> None:
        super().__init__()
        if init not in ("uniform", "kmeans"):
            raise ValueError(f"init must be 'uniform' or 'kmeans', got {init!r}")
        if num_codes < 1 or code_dim < 1:
            raise ValueError(f"num_codes and code_dim must be >= 1, got {num_codes} and {code_dim}")
        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta
        self.init, self.kmeans_iters = init, kmeans_iters
        self.ema, self.decay, self.eps = ema, decay, eps
        self.reset_dead, self.reset_every = reset_dead, reset_every
        self.codebook = nn.Parameter(
            torch.empty(num_codes, code_dim).uniform_(-1 / num_codes, 1 / num_codes), requires_grad=not ema
        )
        self.register_buffer("initialised", torch.tensor(init == "uniform"))
        self.register_buffer("ema_count", torch.ones(num_codes))
        self.register_buffer("ema_sum", self.codebook.detach().clone())
        self.register_buffer("window_counts", torch.zeros(num_codes, dtype=torch.long))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("codes_reset", torch.zeros((), dtype=torch.long))  # total over training

    def extra_repr(self) -> str:
        return (
            f"num_codes={self.num_codes}, code_dim={self.code_dim}, beta={self.beta}, "
            f"init={self.init!r}, ema={self.ema}, reset_dead={self.reset_dead}"
        )

    def lookup(self, indices: Tensor) -> Tensor:
        """Code vectors for a grid of indices (B, H, W) -> (B, D, H, W)."""
        return self.codebook[indices].permute(0, 3, 1, 2)  # (B, H, W, D) -> (B, D, H, W)

    def _check_encodings(self, z_e: Tensor) -> None:
        if z_e.dim() != 4 or z_e.shape[1] != self.code_dim:
            raise ValueError(f"expected encodings of shape (B, {self.code_dim}, H, W), got {tuple(z_e.shape)}")

    def nearest_indices(self, z_e: Tensor) -> Tensor:
        """Indices (B, H, W) of the nearest codes to encodings z_e (B, D, H, W). Changes nothing, in
        either mode: no k-means start, no EMA update, no dead-code reset (``forward`` does those)."""
        self._check_encodings(z_e)
        b, d, h, w = z_e.shape
        flat = z_e.detach().permute(0, 2, 3, 1).reshape(-1, d)  # (B*H*W, D), one row per grid position
        return nearest_code(flat, self.codebook.detach()).view(b, h, w)

    def forward(self, z_e: Tensor) -> VQOutput:
        self._check_encodings(z_e)
        b, d, h, w = z_e.shape
        flat = z_e.permute(0, 2, 3, 1).reshape(-1, d)  # (B*H*W, D), one row per grid position
        if self.training and not bool(self.initialised):
            self._set_codes(kmeans(flat.detach(), self.num_codes, self.kmeans_iters))
            self.initialised.fill_(True)
        idx = nearest_code(flat.detach(), self.codebook.detach())  # (B*H*W,)
        counts = code_counts(idx, self.num_codes)
        if self.training:
            if self.ema:
                self._ema_update(flat.detach(), idx, counts)
            self.window_counts += counts
            self.steps += 1
            if self.reset_dead and int(self.steps) % self.reset_every == 0:
                self.reset_dead_codes(flat.detach(), self.window_counts)
                self.window_counts.zero_()
        z_q = self.lookup(idx.view(b, h, w))  # (B, D, H, W)
        return VQOutput(
            z_q=straight_through(z_e, z_q),
            indices=idx.view(b, h, w),
            codebook_loss=codebook_loss(z_e, z_q),
            commitment_loss=commitment_loss(z_e, z_q),
            counts=counts,
            perplexity=perplexity(counts),
        )

    @torch.no_grad()
    def _set_codes(self, codes: Tensor) -> None:
        self.codebook.data.copy_(codes)
        self.ema_sum.copy_(codes)
        self.ema_count.fill_(1.0)

    @torch.no_grad()
    def _ema_update(self, flat: Tensor, idx: Tensor, counts: Tensor) -> None:
        """N_k <- g N_k + (1-g) n_k;  m_k <- g m_k + (1-g) sum_{i: k_i = k} z_i;  e_k = m_k / N_k
        (N_k Laplace-smoothed so a rarely used code does not divide by ~0)."""
        g = self.decay
        self.ema_count.mul_(g).add_(counts.to(flat.dtype), alpha=1 - g)
        sums = torch.zeros_like(self.ema_sum).index_add_(0, idx, flat)
        self.ema_sum.mul_(g).add_(sums, alpha=1 - g)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.eps) / (n + self.num_codes * self.eps) * n
        self.codebook.data.copy_(self.ema_sum / smoothed[:, None])

    @torch.no_grad()
    def reset_dead_codes(self, flat: Tensor, counts: Tensor) -> int:
        """Move every code with ``counts == 0`` onto a random row of ``flat`` (N, D). Returns how many."""
        dead = dead_codes(counts)
        if len(dead) == 0 or len(flat) == 0:
            return 0
        pick = torch.randint(len(flat), (len(dead),), device=flat.device)
        self.codebook.data[dead] = flat[pick].to(self.codebook.dtype)
        self.ema_sum[dead] = flat[pick].to(self.ema_sum.dtype)
        self.ema_count[dead] = 1.0
        self.codes_reset += len(dead)
        return len(dead)


# --------------------------------------------------------------------------- the VQ-VAE
class VQVAEOutput(NamedTuple):
    """What the VQ-VAE returns; the loss is computed from these by :func:`vqvae_loss`."""

    recon: Tensor  # (B, 1, H, W) decoder logits (``to_image`` gives the image)
    z_e: Tensor  # (B, D, H', W') encoder output
    z_q: Tensor  # (B, D, H', W') quantized (straight-through) vectors fed to the decoder
    indices: Tensor  # (B, H', W') code indices
    codebook_loss: Tensor  # (B,)
    commitment_loss: Tensor  # (B,)
    perplexity: Tensor  # () of this batch


class VQVAE(nn.Module):
    """A small convolutional VQ-VAE: 28x28 images -> a 7x7 grid of codes (8x8 -> 2x2) -> images.

    Encoder: two stride-2 4x4 convolutions (H -> H/4) and a 1x1 convolution to ``code_dim``.
    Decoder: a 3x3 convolution and two stride-2 transposed convolutions back to H (logits).
    Extra keyword arguments (``init``, ``ema``, ``reset_dead``, ...) go to :class:`VectorQuantizer`.

    ``image_size`` (28) is the side of the images the model is meant for: it sets ``code_shape``
    and ``latent_dim`` (the model contract's sizes, used by ``decode_point``). The convolutions
    themselves take any side divisible by 4, so one model also encodes 8x8 digits (a 2x2 grid).
    """

    def __init__(
        self,
        num_codes: int = 64,
        code_dim: int = 16,
        hidden: int = 32,
        beta: float = 0.25,
        image_size: int = 28,
        **quantizer_options,
    ) -> None:
        super().__init__()
        if image_size < 4 or image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 (two stride-2 convolutions), got {image_size}")
        self.image_size = image_size
        self.encoder = nn.Sequential(
            nn.Conv2d(1, hidden, 4, 2, 1),
            nn.ReLU(),  # (B, h, H/2, W/2)
            nn.Conv2d(hidden, 2 * hidden, 4, 2, 1),
            nn.ReLU(),  # (B, 2h, H/4, W/4)
            nn.Conv2d(2 * hidden, code_dim, 1),  # (B, D, H/4, W/4)
        )
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta=beta, **quantizer_options)
        self.decoder = nn.Sequential(
            nn.Conv2d(code_dim, 2 * hidden, 3, 1, 1),
            nn.ReLU(),  # (B, 2h, H/4, W/4)
            nn.ConvTranspose2d(2 * hidden, hidden, 4, 2, 1),
            nn.ReLU(),  # (B, h, H/2, W/2)
            nn.ConvTranspose2d(hidden, 1, 4, 2, 1),  # (B, 1, H, W) logits
        )

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    @property
    def code_shape(self) -> tuple[int, int, int]:
        """(D, H/4, W/4): the shape of one image's code z_q, for images of side ``image_size``."""
        return (self.quantizer.code_dim, self.image_size // 4, self.image_size // 4)

    @property
    def latent_dim(self) -> int:
        """The count of numbers in one image's code z_q: D * (image_size / 4)^2."""
        return math.prod(self.code_shape)

    def encode(self, x: Tensor) -> Tensor:
        """Images (B, 1, H, W) with H, W divisible by 4 -> encodings z_e (B, D, H/4, W/4)."""
        check_images(x, name="images for VQVAE.encode")
        if x.shape[2] % 4 or x.shape[3] % 4:
            raise ValueError(f"expected images of shape (B, 1, H, W) with H and W divisible by 4, got {tuple(x.shape)}")
        return self.encoder(x)

    def code_indices(self, x: Tensor) -> Tensor:
        """The grid (B, H/4, W/4) of the nearest codes' indices for images x; changes nothing."""
        return self.quantizer.nearest_indices(self.encode(x))

    def code(self, x: Tensor) -> Tensor:
        """The model contract's deterministic code: the quantized grid z_q (B, D, H/4, W/4), with the
        straight-through gradient to the encoder. Side-effect free in either mode (no EMA update, no
        dead-code reset): the same numbers as ``quantizer(encode(x)).z_q`` in eval mode."""
        z_e = self.encode(x)
        return straight_through(z_e, self.quantizer.lookup(self.quantizer.nearest_indices(z_e)))

    def decode(self, z_q: Tensor) -> Tensor:
        """Quantized vectors (B, D, H', W') -> logits (B, 1, 4H', 4W')."""
        return self.decoder(z_q)

    def decode_indices(self, indices: Tensor) -> Tensor:
        """A grid of code indices (B, H', W') -> logits (B, 1, 4H', 4W')."""
        return self.decode(self.quantizer.lookup(indices))

    def to_image(self, logits: Tensor) -> Tensor:
        """Decoder logits -> images in [0, 1]."""
        return torch.sigmoid(logits)

    def reconstruct(self, x: Tensor) -> Tensor:
        """Images in [0, 1] rebuilt from the nearest codes of x, in eval mode (no codebook updates)."""
        return reconstruct(self, x)

    def forward(self, x: Tensor) -> VQVAEOutput:
        z_e = self.encode(x)
        q = self.quantizer(z_e)
        return VQVAEOutput(self.decode(q.z_q), z_e, q.z_q, q.indices, q.codebook_loss, q.commitment_loss, q.perplexity)


def vqvae_loss(model: VQVAE, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
    """The VQ-VAE objective, batch mean of ``-log p(x | z_q) + ||sg[z_e] - e||^2 + beta ||z_e - sg[e]||^2``.

    The reconstruction term is the Bernoulli cross-entropy on the decoder's logits (summed over
    pixels; it does not saturate the way a squared error through a sigmoid does). With
    ``ema=True`` the codebook loss is reported but not added: the codebook follows moving averages.

    Returns the terms by name for :func:`vae_course.train.fit`: loss, bce, the squared error
    ``mse`` summed over pixels (the course's reconstruction error), codebook, commitment
    (unweighted) and the batch perplexity.
    """
    out = model(x)
    bce = losses.bce_with_logits(out.recon, x).mean()
    cb = out.codebook_loss.mean()
    commit = out.commitment_loss.mean()
    loss = bce + model.quantizer.beta * commit
    if not model.quantizer.ema:  # with EMA updates the codebook is not trained by gradient
        loss = loss + cb
    return {
        "loss": loss,
        "bce": bce.detach(),
        "mse": losses.mse(model.to_image(out.recon), x).mean().detach(),
        "codebook": cb.detach(),
        "commitment": commit.detach(),
        "perplexity": out.perplexity,
    }
