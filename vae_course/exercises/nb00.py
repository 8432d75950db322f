"""Exercises of notebook 00 (start here): a first taste of the check machinery."""

import torch

from ..moons import phase_label, render_moons, rms_distance
from . import case, register


def _rms_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(0)
    a = torch.rand(4, 1, 8, 8, generator=g)
    moons = render_moons([0.1, 0.3, 0.5])
    return [
        case(a, torch.rand(4, 1, 8, 8, generator=g), label="two random batches of 4 images 8x8"),
        case(a, a.clone(), label="an image batch and an exact copy (distance 0)"),
        case(moons, moons.flip(0), label="three 28x28 moons against the same moons reversed"),
        case(torch.zeros(1, 1, 5, 5), torch.ones(1, 1, 5, 5), label="all-black vs all-white 5x5 (distance 1)"),
    ]


register(
    "00.1",
    "RMS pixel distance",
    reference=rms_distance,
    cases=_rms_cases,
    hint="subtract, square, average over every pixel of each image (not over the batch), "
    "then take the square root; the result has shape (N,).",
)


def _label_cases(g=None):
    return [
        case(torch.tensor([0.0, 0.25, 0.5, 0.75]), label="the four principal phases"),
        case(torch.tensor([0.97, 0.01, 0.06, 0.2]), label="phases near the new moon and between classes"),
        case(
            torch.rand(50, generator=g if g is not None else torch.Generator().manual_seed(1)), label="50 random phases"
        ),
        case(torch.tensor([0.3, 0.6]), n_classes=4, label="n_classes=4"),
    ]


register(
    "00.2",
    "phase to class label",
    reference=phase_label,
    cases=_label_cases,
    hint="multiply by n_classes, round to the nearest integer, and wrap around with % n_classes "
    "so that a phase near 1 is a new moon (class 0); return int64 (torch.long).",
)
