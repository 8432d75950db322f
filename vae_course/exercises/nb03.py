"""Exercises of notebook 03 (denoising autoencoders)."""

from __future__ import annotations

import torch
from torch import Tensor

from vae_course.exercises import Feedback, case, register


def _check_mask_noise(fn, g=None) -> str:
    """Masking noise is random, so check its properties rather than exact values."""
    g = g if g is not None else torch.Generator().manual_seed(0)
    x = torch.rand(32, 1, 8, 8, generator=g) * 0.9 + 0.1  # no zero pixels, so zeros mark the mask
    for fraction in (0.0, 0.25, 0.5, 1.0):
        before = x.clone()
        y = fn(x, fraction)
        if not torch.equal(x, before):
            raise Feedback(
                f"with fraction={fraction} your function changed its input x in place; "
                "return a new tensor (e.g. x.clone() or x * mask)"
            )
        if not isinstance(y, Tensor) or y.shape != x.shape:
            got = tuple(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise Feedback(f"with fraction={fraction}, expected a tensor of shape {tuple(x.shape)}, got {got}")
        zeros = (y == 0).flatten(1).sum(1)
        want = round(fraction * 64)
        if not torch.all(zeros == want):
            bad = int((zeros != want).nonzero()[0])
            raise Feedback(
                f"with fraction={fraction} on 8x8 images, every image should have exactly {want} "
                f"zeroed pixels, but image {bad} has {int(zeros[bad])} (draw a random permutation "
                "per image, not an independent coin per pixel)"
            )
        kept = y != 0
        if not torch.equal(y[kept], x[kept]):
            raise Feedback(f"with fraction={fraction}, pixels that are not masked must keep their values")
    y = fn(x, 0.5)
    if torch.equal(y[0] == 0, y[1] == 0) and torch.equal(y[0] == 0, y[2] == 0):
        raise Feedback("images 0, 1 and 2 got the same mask: draw a different mask for each image")
    if torch.equal(fn(x, 0.5) == 0, y == 0):
        raise Feedback("two calls gave identical masks: the mask must be random")
    return "exact fraction per image, a different random mask per image and per call, input untouched"


register(
    "03.1",
    "Masking noise",
    checker=_check_mask_noise,
    solved_by=("mask_noise",),
    hint="for each image draw torch.rand(D), take the positions of its k = round(fraction * D) "
    "smallest values (argsort) and zero them; work on a flattened copy x.flatten(1).clone().",
)


def masked_mse(recon: Tensor, x: Tensor, mask: Tensor) -> Tensor:
    """MAE-style loss: squared error summed over the masked entries only, per example (B,)."""
    return ((recon - x).pow(2) * mask).flatten(1).sum(dim=1)


def _masked_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(3)
    r, x = torch.rand(4, 1, 8, 8, generator=g), torch.rand(4, 1, 8, 8, generator=g)
    return [
        case(r, x, torch.rand(4, 1, 8, 8, generator=g) < 0.75, label="random images, 75 % masked"),
        case(r, x, torch.zeros(4, 1, 8, 8, dtype=torch.bool), label="nothing masked (loss 0)"),
        case(r, x, torch.ones(4, 1, 8, 8, dtype=torch.bool), label="everything masked (plain summed MSE)"),
        case(r[:1], x[:1], torch.rand(1, 1, 8, 8, generator=g) < 0.5, label="a batch of one image"),
    ]


register(
    "03.2",
    "Loss on the masked pixels only (MAE)",
    reference=masked_mse,
    cases=_masked_cases,
    hint="square the error, multiply by the mask (True counts as 1), then sum over every "
    "dimension except the batch one: .flatten(1).sum(dim=1).",
)
