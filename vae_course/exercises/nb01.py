"""Exercises of notebook 01 (autoencoders)."""

from __future__ import annotations

import torch

from vae_course import losses
from vae_course.exercises import case, register

from ..models.ae import pca_reconstruct


def _pca_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(1)
    plane = torch.randn(50, 2, generator=g) @ torch.randn(2, 6, generator=g) + 1.0
    return [
        case(torch.rand(40, 10, generator=g), 3, label="40 random points in 10-D, k=3"),
        case(torch.rand(30, 5, generator=g) * 5 + 2, 1, label="30 points far from the origin, k=1"),
        case(torch.rand(20, 4, generator=g), 4, label="k equal to the dimension (exact reconstruction)"),
        case(plane, 2, label="points on a 2-D plane in 6-D, k=2 (exact reconstruction)"),
    ]


register(
    "01.1",
    "PCA reconstruction",
    reference=lambda x, k: pca_reconstruct(x, k),
    cases=_pca_cases,
    atol=1e-4,
    rtol=1e-3,
    hint="centre the data (subtract the mean of each column), take the top-k right singular "
    "vectors V_k (torch.linalg.svd), project: mean + (x - mean) @ V_k.T @ V_k.",
)


def _bce_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(2)
    return [
        case(
            torch.randn(4, 1, 8, 8, generator=g),
            torch.rand(4, 1, 8, 8, generator=g),
            label="random logits, grey-level targets",
        ),
        case(
            torch.randn(3, 1, 8, 8, generator=g) * 3,
            torch.rand(3, 1, 8, 8, generator=g).round(),
            label="binary targets",
        ),
        case(
            torch.tensor([[[[60.0, -60.0]]], [[[-60.0, 60.0]]]]),
            torch.tensor([[[[1.0, 0.0]]], [[[1.0, 0.0]]]]),
            label="very large logits (+-60): naive log(sigmoid) gives inf here",
        ),
        case(torch.zeros(2, 1, 2, 2), torch.full((2, 1, 2, 2), 0.5), label="zero logits"),
    ]


register(
    "01.2",
    "Bernoulli reconstruction loss from logits",
    reference=losses.bce_with_logits,
    cases=_bce_cases,
    atol=1e-4,
    rtol=1e-4,
    hint="per pixel: softplus(l) - x * l (softplus(l) = log(1 + e^l), torch.nn.functional.softplus "
    "is stable for large |l|); then sum over every dimension except the batch one.",
)
