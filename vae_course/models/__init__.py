"""The course's models, and the one contract they all keep.

Modules: ``ae`` autoencoders and the PCA baseline (01-03); ``vae`` the VAE, the conditional VAE,
the ELBO and the IWAE bound (05-07); ``vq`` the vector quantizer, the VQ-VAE and a PixelCNN prior
over its codes (08).

The contract (every model: ``MLPAutoencoder``, ``ConvAutoencoder``, ``VAE``, ``CVAE``, ``VQVAE``)::

    model.code(x)          -> z        the deterministic code of images x (B, 1, H, W):
                                       z itself for an AE, the posterior mean mu for a VAE,
                                       the quantized grid z_q for a VQ-VAE
    model.decode(z)        -> logits   the decoder's raw output (B, 1, H, W), the thing the loss
                                       is computed on: Bernoulli logits for every model except an
                                       AE built with ``output="sigmoid"`` or ``"identity"``
    model.to_image(logits) -> images   pixel values in [0, 1]: sigmoid(logits) (clamped values for
                                       those two AE variants)
    model.reconstruct(x)   -> images   to_image(decode(code(x))), in eval mode, without gradients

(the CVAE takes the class as a second argument of ``code`` and ``decode``). Constructors name
their sizes alike: ``image_size`` (the side of the square one-channel images, where the model
needs it), ``latent_dim``, ``hidden``.

The functions below use only the contract, so they work for any unconditional model:
``eval_mode`` (a context manager), ``encode_images``, ``decode_codes`` and ``decode_point``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor, nn


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``with eval_mode(model): ...`` runs the block in eval mode (dropout off, batch-norm and
    codebook statistics frozen) and restores the model's previous mode afterwards, even when the
    block raises."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@runtime_checkable
class Model(Protocol):
    """The model contract as a type: what ``MLPAutoencoder``, ``ConvAutoencoder``, ``VAE``, ``CVAE``
    and ``VQVAE`` all provide (the CVAE's methods take the class as one more argument, ``*cond``)."""

    image_size: int  # the side of the square one-channel images
    latent_dim: int  # the count of numbers in one image's code

    def code(self, x: Tensor, *cond: Tensor) -> Tensor: ...
    def decode(self, z: Tensor, *cond: Tensor) -> Tensor: ...
    def to_image(self, logits: Tensor) -> Tensor: ...
    def reconstruct(self, x: Tensor, *cond: Tensor) -> Tensor: ...


@torch.no_grad()
def reconstruct(model: Model, x: Tensor, *cond: Tensor) -> Tensor:
    """``to_image(decode(code(x)))`` in eval mode, without gradients: every model's ``reconstruct``
    (the CVAE passes its classes as ``cond`` to ``code`` and ``decode``)."""
    with eval_mode(model):
        return model.to_image(model.decode(model.code(x, *cond), *cond))


def device_of(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (the CPU for a model without parameters)."""
    p = next(model.parameters(), None)
    return torch.device("cpu") if p is None else p.device


@torch.no_grad()
def map_batches(
    model: nn.Module,
    fn: Callable[..., Tensor | tuple[Tensor, ...]],
    inputs: Tensor | tuple[Tensor, ...],
    batch_size: int = 1000,
) -> Tensor | tuple[Tensor, ...]:
    """The course's one batched inference loop: ``fn`` applied to ``batch_size`` rows of ``inputs``
    at a time (a tensor, or a tuple of tensors sliced alike and passed as arguments), moved to the
    model's device, in eval mode, without gradients. The outputs (a tensor, or a tuple of tensors)
    are concatenated along the first dimension on the CPU."""
    inputs = inputs if isinstance(inputs, tuple) else (inputs,)
    dev = device_of(model)
    outs = []
    with eval_mode(model):
        for i in range(0, len(inputs[0]), batch_size):
            out = fn(*(t[i : i + batch_size].to(dev) for t in inputs))
            outs.append(tuple(o.cpu() for o in out) if isinstance(out, tuple) else out.cpu())
    if outs and isinstance(outs[0], tuple):
        return tuple(torch.cat(parts) for parts in zip(*outs))
    return torch.cat(outs)


def encode_images(model: nn.Module, images: Tensor, batch_size: int = 1000) -> Tensor:
    """Codes ``model.code(images)`` (N, ...) of images (N, 1, H, W), in eval mode, in batches,
    returned on the CPU."""
    return map_batches(model, model.code, images, batch_size)


@torch.no_grad()
def decode_codes(model: nn.Module, codes: Tensor) -> Tensor:
    """Images (N, 1, H, W) in [0, 1] decoded from codes (N, ...): ``to_image(decode(codes))``,
    in eval mode, returned on the CPU."""
    with eval_mode(model):
        return model.to_image(model.decode(codes.to(device_of(model)))).cpu()


def decode_point(model: nn.Module, z: Sequence[float] | Tensor) -> Tensor:
    """The image (H, W) in [0, 1] decoded at one latent point z (``latent_dim`` numbers): what a
    z-slider explorer shows."""
    z = torch.as_tensor(z, dtype=torch.float32).reshape(1, -1)  # (1, D)
    if z.shape[1] != model.latent_dim:
        raise ValueError(f"expected {model.latent_dim} latent values (the model's latent_dim), got {z.shape[1]}")
    code_shape = getattr(model, "code_shape", (model.latent_dim,))  # a VQ-VAE's code is a grid (D, H', W')
    return decode_codes(model, z.reshape(1, *code_shape))[0, 0]
