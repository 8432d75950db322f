"""Exercises of notebook 02 (the moon interpolation failure): the path between two codes, the
manifold distance of decoded images, and how monotonically a path's decoded phase moves."""

import torch

from ..interpolation import lerp, manifold_distance, phase_monotonicity
from ..moons import render_moons
from . import case, register


def _lerp_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(2)
    return [
        case(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0]), 5, label="z0=(0, 0), z1=(1, 2), 5 steps"),
        case(torch.randn(2, generator=g), torch.randn(2, generator=g), 11, label="two random 2-D codes, 11 steps"),
        case(torch.randn(16, generator=g), torch.randn(16, generator=g), 7, label="two random 16-D codes, 7 steps"),
        case(torch.tensor([3.0, -1.0]), torch.tensor([-3.0, 1.0]), 2, label="steps=2: only the two ends"),
        case(torch.tensor([0.5, 0.5]), torch.tensor([0.5, 0.5]), 4, label="z0 equal to z1 (a path that stands still)"),
    ]


register(
    "02.1",
    "the straight path between two codes",
    reference=lerp,
    cases=_lerp_cases,
    hint="make t = torch.linspace(0, 1, steps) as a column (steps, 1) and broadcast: (1 - t) * z0 + t * z1 "
    "has shape (steps, D), starts exactly at z0 and ends exactly at z1.",
)


def _distance_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(3)
    bank = render_moons(torch.arange(36) / 36, size=12)  # (36, 1, 12, 12)
    return [
        case(torch.rand(5, 1, 12, 12, generator=g), bank, label="5 random 12x12 images against 36 rendered moons"),
        case(bank[[3, 20]], bank, label="two images that are in the bank (distance 0)"),
        case((bank[[9]] + bank[[18]]) / 2, bank, label="a cross-fade of a half and a full moon"),
        case(
            torch.zeros(2, 1, 4, 4),
            torch.ones(1, 1, 4, 4),
            label="black images against a bank of one white image (distance 1)",
        ),
    ]


register(
    "02.2",
    "manifold distance to the nearest reference",
    reference=manifold_distance,
    cases=_distance_cases,
    atol=1e-4,
    rtol=1e-3,
    hint="flatten both to (N, D) and (P, D); the mean squared difference between every image and every "
    "reference is an (N, P) table (broadcast x[:, None, :] - r[None, :, :]); take the minimum over "
    "the references (dim=1), then the square root.",
)


def _monotonicity_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(4)
    return [
        case(torch.linspace(0.5, 0.25, 11), 0.5, 0.25, label="a clean walk from 0.5 to 0.25"),
        case(torch.tensor([0.5, 0.3, 0.4, 0.25]), 0.5, 0.25, label="0.5 -> 0.3 -> 0.4 -> 0.25 (one step back)"),
        case(torch.tensor([0.25, 0.3, 0.5]), 0.5, 0.25, label="a path going the wrong way"),
        case(torch.tensor([0.9, 0.97, 0.02, 0.1]), 0.9, 0.1, label="a walk across the new moon (0.97 -> 0.02)"),
        case(torch.full((6,), 0.3), 0.5, 0.25, label="a path that stands still"),
        case(torch.rand(20, generator=g), 0.5, 0.25, label="20 random phases"),
    ]


register(
    "02.3",
    "monotonicity of a path's decoded phase",
    reference=phase_monotonicity,
    cases=_monotonicity_cases,
    atol=1e-6,
    rtol=1e-5,
    hint="steps d = circular_phase_difference(phases[1:], phases[:-1]); the direction s is the sign of "
    "circular_phase_difference(end, start); return (s * d).clamp(min=0).sum() / d.abs().sum() as a "
    "float, and 1.0 when the path never moves.",
)
