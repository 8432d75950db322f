"""Autoencoders: an encoder squeezes x into a code z, a decoder rebuilds x from z.

    z = f_phi(x)   (encoder, the bottleneck has ``latent_dim`` numbers)
    x_hat = g_theta(z)   (decoder)

trained by minimising a reconstruction loss (``losses.mse`` or ``losses.bce_with_logits``).

The models keep the course's model contract (``vae_course.models``): ``code(x)`` is z,
``decode(z)`` is the decoder's raw output and ``to_image`` turns that into pixels. What the raw
output (``recon`` in ``AEOutput``) means is set by the ``output`` argument:

* ``"logits"`` (default): ``recon`` is the decoder's raw output, read as Bernoulli logits; train
  with ``losses.bce_with_logits(out.recon, x)``; the image is ``sigmoid(recon)``.
* ``"sigmoid"``: ``recon = sigmoid(raw)``, pixel values in (0, 1); train with ``losses.mse``.
* ``"identity"``: ``recon`` is the raw output, pixel values on an unbounded scale; train with
  ``losses.mse``. With ``linear=True`` this is the linear autoencoder that spans PCA's subspace
  (Bourlard & Kamp 1988; Baldi & Hornik 1989).

``model.to_image(recon)`` turns any of the three into images in [0, 1]; ``model.reconstruct(x)``
does encode, decode and ``to_image`` in one call, without gradients.

The PCA baseline that a linear AE matches is in ``vae_course.pca``; notebook 03's denoising
figures (``denoising_rows``, ``code_sensitivity``) are in ``vae_course.denoising``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..ops import check_images
from . import reconstruct

OUTPUTS = ("logits", "sigmoid", "identity")


class AEOutput(NamedTuple):
    """What an autoencoder's forward returns: the code ``z`` (B, latent_dim) and ``recon``
    (B, C, H, W), whose meaning (logits or values) is set by the model's ``output``."""

    z: Tensor
    recon: Tensor


def _check_output(output: str) -> str:
    if output not in OUTPUTS:
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    return output


def _check_sizes(image_size: int, latent_dim: int) -> tuple[int, int]:
    for name, value in (("image_size", image_size), ("latent_dim", latent_dim)):
        if not isinstance(value, numbers.Integral) or value < 1:
            hint = (
                " (the side of the square one-channel images, e.g. 28, not their shape)" if name == "image_size" else ""
            )
            raise ValueError(f"{name} must be a positive integer{hint}, got {value!r}")
    return int(image_size), int(latent_dim)


class _Autoencoder(nn.Module):
    """Shared behaviour: input checks, code, decode, forward, to_image, reconstruct."""

    image_size: int
    latent_dim: int
    output: str
    encoder: nn.Module
    decoder: nn.Module

    @property
    def in_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images: (1, image_size, image_size)."""
        return (1, self.image_size, self.image_size)

    def encode(self, x: Tensor) -> Tensor:
        """x (B, C, H, W) -> code z (B, latent_dim)."""
        check_images(x, (self.image_size, self.image_size))
        return self.encoder(x)

    def code(self, x: Tensor) -> Tensor:
        """The model contract's deterministic code: for an autoencoder, z = encode(x)."""
        return self.encode(x)

    def decode(self, z: Tensor) -> Tensor:
        """code z (B, latent_dim) -> recon (B, C, H, W): logits or values, see ``output``."""
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes of shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        raw = self.decoder(z)
        return torch.sigmoid(raw) if self.output == "sigmoid" else raw

    def forward(self, x: Tensor) -> AEOutput:
        z = self.encode(x)
        return AEOutput(z=z, recon=self.decode(z))

    def to_image(self, recon: Tensor) -> Tensor:
        """recon -> image in [0, 1]: sigmoid of logits, or values clamped to [0, 1]."""
        if self.output == "logits":
            return torch.sigmoid(recon)
        return recon.clamp(0.0, 1.0)

    def reconstruct(self, x: Tensor) -> Tensor:
        """Images in [0, 1] rebuilt from x, in eval mode and without gradients."""
        return reconstruct(self, x)


class MLPAutoencoder(_Autoencoder):
    """Fully connected autoencoder.

    encoder: Flatten -> [Linear -> ReLU] per hidden size -> Linear(latent_dim)
    decoder: [Linear -> ReLU] per hidden size (reversed) -> Linear(C*H*W) -> Unflatten

    Args:
        image_size: side of the square one-channel images: 8 for sklearn digits, 28 for MNIST.
        latent_dim: size of the bottleneck.
        hidden: widths of the hidden layers of the encoder (the decoder mirrors them);
            ``()`` gives a single linear map each way.
        linear: drop every nonlinearity (the whole model is then an affine map of x).
        output: "logits", "sigmoid" or "identity"; see the module docstring.

    ``encoder`` and ``decoder`` are plain ``nn.Sequential``s, so a notebook can write them out
    layer by layer and load this model's weights into its own copy.
    """

    def __init__(
        self,
        image_size: int = 8,
        latent_dim: int = 2,
        hidden: Sequence[int] = (128,),
        linear: bool = False,
        output: str = "logits",
    ):
        super().__init__()
        self.image_size, self.latent_dim = _check_sizes(image_size, latent_dim)
        self.hidden = tuple(int(h) for h in hidden)
        self.linear = bool(linear)
        self.output = _check_output(output)
        d = math.prod(self.in_shape)

        def act() -> list[nn.Module]:
            return [] if linear else [nn.ReLU()]

        enc: list[nn.Module] = [nn.Flatten()]  # (B, C, H, W) -> (B, C*H*W)
        width = d
        for h in self.hidden:
            enc += [nn.Linear(width, h), *act()]
            width = h
        enc.append(nn.Linear(width, latent_dim))
        self.encoder = nn.Sequential(*enc)

        dec: list[nn.Module] = []
        width = latent_dim
        for h in reversed(self.hidden):
            dec += [nn.Linear(width, h), *act()]
            width = h
        dec += [nn.Linear(width, d), nn.Unflatten(1, self.in_shape)]  # (B, C*H*W) -> (B, C, H, W)
        self.decoder = nn.Sequential(*dec)


def _conv_out(size: int) -> int:
    """Side after Conv2d(kernel 3, stride 2, padding 1): ceil(size / 2)."""
    return (size - 1) // 2 + 1


class ConvAutoencoder(_Autoencoder):
    """Small convolutional autoencoder for 8x8 or 28x28 (any size) images.

    encoder: [Conv2d(k3, s2, p1) -> ReLU] per channel count (each halves the side, rounding
    up: 8 -> 4 -> 2, 28 -> 14 -> 7) -> Flatten -> Linear(latent_dim)
    decoder: Linear -> Unflatten -> [ConvTranspose2d(k3, s2, p1) (+ ReLU)] in reverse, each
    with the ``output_padding`` that restores exactly the encoder's side at that level.

    Args:
        image_size: side of the square one-channel images.
        latent_dim: size of the bottleneck.
        channels: output channels of each encoder convolution.
        output: "logits", "sigmoid" or "identity"; see the module docstring.
    """

    def __init__(
        self, image_size: int = 8, latent_dim: int = 2, channels: Sequence[int] = (16, 32), output: str = "logits"
    ):
        super().__init__()
        self.image_size, self.latent_dim = _check_sizes(image_size, latent_dim)
        if len(channels) < 1:
            raise ValueError("channels needs at least one convolution, got ()")
        self.channels = tuple(int(c) for c in channels)
        self.output = _check_output(output)
        c_in, h, w = self.in_shape
        sizes = [(h, w)]
        for _ in self.channels:
            sizes.append((_conv_out(sizes[-1][0]), _conv_out(sizes[-1][1])))
        feat = (self.channels[-1], *sizes[-1])  # (C_last, H', W')

        enc: list[nn.Module] = []
        prev = c_in
        for c in self.channels:
            enc += [nn.Conv2d(prev, c, 3, stride=2, padding=1), nn.ReLU()]
            prev = c
        enc += [nn.Flatten(), nn.Linear(math.prod(feat), latent_dim)]  # (B, C', H', W') -> (B, D)
        self.encoder = nn.Sequential(*enc)

        dec: list[nn.Module] = [
            nn.Linear(latent_dim, math.prod(feat)),
            nn.ReLU(),
            nn.Unflatten(1, feat),
        ]  # (B, C'*H'*W') -> (B, C', H', W')
        outs = list(reversed(self.channels[:-1])) + [c_in]
        prev = self.channels[-1]
        for k, c in enumerate(outs):
            (hi, wi), (ho, wo) = sizes[-1 - k], sizes[-2 - k]
            pad = (ho - (2 * hi - 1), wo - (2 * wi - 1))  # ConvT side = 2*in - 1 + output_padding
            dec.append(nn.ConvTranspose2d(prev, c, 3, stride=2, padding=1, output_padding=pad))
            if k < len(outs) - 1:
                dec.append(nn.ReLU())
            prev = c
        self.decoder = nn.Sequential(*dec)
