"""Exercises of notebook 00 (start here): a first taste of the check machinery."""

import math

import torch

from ..moons import PhaseBank, phase_label, render_moons, rms_distance
from . import case, register, register_prediction


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
    hint=(
        "One number per image: which dimensions do you average over, and which one must you keep?",
        "Work on the squared differences; flattening each image to one row makes every pixel of an "
        "image lie along a single dimension.",
        "The root comes last, after the mean, so that two images differing by 1 everywhere are at distance 1.",
    ),
    kind="implement",
    explanation=(
        "Squaring, averaging over the pixels of each image and taking the root gives the RMS per image; "
        "flattening to (N, H*W) lets one mean over dim 1 cover every pixel, whatever H and W are."
    ),
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
    hint=(
        "Scale the phase so that the class centres fall on whole numbers.",
        "Then pick the nearest whole number; what must happen to a phase just below 1?",
        "The classes go round a circle: class n_classes is class 0 again (think of the remainder), and "
        "labels are integers.",
    ),
    kind="implement",
    explanation=(
        "Multiplying by n_classes puts the class centres on the integers, rounding picks the nearest, and"
        " the remainder modulo n_classes wraps a phase near 1 (a new moon again) back to class 0."
    ),
)


def _check_rms_prediction(fn, g=None) -> str:
    from . import answer_of, check_number

    g = g if g is not None else torch.Generator().manual_seed(3)
    got = check_number(
        answer_of(fn),
        (1 / 6) ** 0.5,
        0.01,
        wrong={
            "variance of one": (
                (1 / 12) ** 0.5,
                "that is the spread of ONE uniform pixel; a difference of two independent pixels has the "
                "variances of both, and its mean is 0.",
            ),
            "mean gap": (1 / 3, "1/3 is the mean absolute difference E|a - b|; RMS averages the squares first."),
            "no root": (1 / 6, "that is the mean squared difference; RMS takes its square root."),
        },
        explain="Write E[(a - b)^2] for two independent U(0, 1) pixels as Var(a - b) + (E[a - b])^2.",
    )
    measured = rms_distance(torch.rand(64, 1, 28, 28, generator=g), torch.rand(64, 1, 28, 28, generator=g))
    return f"you predicted {got:.4f}; 64 pairs of random 28x28 images measure {measured.mean().item():.4f}"


register(
    "00.3",
    "predict the distance between two random images",
    checker=_check_rms_prediction,
    hint=(
        "Many pixels make the RMS settle on the square root of the expected squared difference of ONE pixel pair.",
        "For independent a and b, E[(a - b)^2] = Var(a) + Var(b) + (E a - E b)^2; a U(0, 1) pixel has variance 1/12.",
    ),
    kind="predict",
    solution="def predicted_rms():\n    return (1 / 6) ** 0.5  # sqrt(1/12 + 1/12): two independent U(0, 1) pixels",
    explanation=(
        "The mean of a - b is 0 and its variance is 1/12 + 1/12 = 1/6, so the mean squared difference is 1/6 "
        "and, averaged over many pixels, the RMS distance is sqrt(1/6), about 0.408. Random images are "
        "all about equally far from each other: pixel distance says little about what an image shows."
    ),
)


def noisy_moon_distance(g=None, noise=0.1, size=28, n=200) -> float:
    """The experiment of 00.4: the median manifold distance of n rendered moons at random phases with
    Gaussian pixel noise of standard deviation ``noise`` (clipped to [0, 1], as the renderer does)."""
    g = g if g is not None else torch.Generator().manual_seed(0)
    x = render_moons(torch.rand(n, generator=g), size=size, noise=noise, generator=g)
    return PhaseBank(size=size, n_phases=720).distance(x).median().item()


register_prediction(
    "00.4",
    "predict how far pixel noise pushes a moon off the manifold",
    experiment=noisy_moon_distance,
    form="number",
    tol=0.01,
    hint=(
        "Adding independent noise of standard deviation 0.1 to every pixel moves an image by an RMS distance "
        "of 0.1, before anything else happens to it. What else happens to a pixel after the noise is added?",
        "About half of the image is the black background outside the disc: what does clipping to [0, 1] do "
        "to the noise on a pixel that is exactly 0?",
        "For noise n ~ N(0, s^2), E[max(n, 0)^2] is half of E[n^2]. Average the squared distance over the "
        "two halves of the image, then take the root.",
    ),
    solution=(
        "def predicted_noisy_distance():\n"
        "    s, disc = 0.1, 0.5  # noise level; the disc covers about half of the image\n"
        "    return (disc * s**2 + (1 - disc) * s**2 / 2) ** 0.5  # clipping halves the background's noise"
    ),
    explain=(
        "Clipping removes the negative half of the noise on the black background (half the image) and part "
        "of it on the dark side of the disc, so the distance is below the noise's 0.1; the nearest moon of "
        "the bank absorbs a little more"
    ),
    explanation=(
        "Noise of standard deviation s moves each pixel by s in RMS, but the renderer clips to [0, 1]: on the "
        "background (value 0, about half of the image) only the positive half survives, E[max(n, 0)^2] = s^2 / 2. "
        "So the squared distance is about (1/2) s^2 + (1/2) s^2 / 2, and the distance about 0.87 s: 0.087 at "
        "s = 0.1. Clipping on the disc's dark side (value 0.08) takes a little more."
    ),
)


def blank_image_distance(g=None, size=28) -> float:
    """The experiment of 00.5: the manifold distance of an all-black image."""
    return PhaseBank(size=size, n_phases=720).distance(torch.zeros(1, 1, size, size)).item()


register_prediction(
    "00.5",
    "predict the manifold distance of a blank image",
    experiment=blank_image_distance,
    form="number",
    tol=0.003,
    hint=(
        "Which moon of the bank is nearest to an all-black image, and what are its pixels?",
        "Outside the disc every moon is 0, like the blank image; inside it, the nearest moon's pixels all "
        "have the same value. What share of the image does the disc cover?",
        "The disc's radius is 0.8 of half the image side: its area, as a share of the square, is a short "
        "expression with pi.",
    ),
    solution=(
        "def predicted_blank_distance():\n"
        "    disc = math.pi * 0.8**2 / 4  # the disc's share of the square image\n"
        "    return 0.08 * math.sqrt(disc)  # the new moon: 0.08 on the disc, 0 elsewhere"
    ),
    explain=(
        "A blank image is nearer to the manifold than a typical real moon with pixel noise of σ = 0.1 (exercise "
        "00.4): the distance measures pixels, not whether an image shows a moon, so it needs the junk baselines of "
        "the next cell beside it"
    ),
    explanation=(
        "The nearest moon is the new moon, 0.08 on the disc and 0 outside. The disc covers pi (0.8)^2 / 4 = 0.50 "
        "of the image, so the RMS distance is 0.08 sqrt(0.50) = 0.057."
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "00.1",
        M(
            "no-root",
            "forgot the square root: mean squared difference",
            "that is the mean SQUARED difference: RMS takes the square root last.",
            lambda a, b: (a - b).pow(2).flatten(1).mean(1),
        ),
        M(
            "abs-not-square",
            "mean absolute difference instead of RMS",
            "that is the mean ABSOLUTE difference: RMS squares the differences, averages, then takes the root.",
            lambda a, b: (a - b).abs().flatten(1).mean(1),
        ),
        M(
            "sum-not-mean",
            "summed the squares (Euclidean norm), no average over pixels",
            "that is the Euclidean distance (a sum over pixels): RMS averages over the pixels.",
            lambda a, b: (a - b).pow(2).flatten(1).sum(1).sqrt(),
        ),
        M(
            "one-number-for-batch",
            "averaged over the whole batch: one number, not one per image",
            "you return one number for the whole batch: keep the batch dimension, one distance per image.",
            lambda a, b: (a - b).pow(2).mean().sqrt(),
        ),
    )
    add_misconceptions(
        "00.2",
        M(
            "floor-not-round",
            "truncated instead of rounding to the nearest class",
            "you round down: a phase just below a class centre belongs to that class; pick the NEAREST whole number.",
            lambda p, n_classes=8: torch.floor(torch.as_tensor(p) * n_classes).long() % n_classes,
        ),
        M(
            "no-wrap",
            "no wrap-around: a phase near 1 gets class n_classes",
            "a phase near 1 is a new moon again: class n_classes must wrap round to class 0.",
            lambda p, n_classes=8: torch.round(torch.as_tensor(p) * n_classes).long(),
        ),
        M(
            "float-labels",
            "labels left as floats",
            "labels are integers: convert the rounded values with .long().",
            lambda p, n_classes=8: torch.round(torch.as_tensor(p) * n_classes) % n_classes,
        ),
    )
    add_misconceptions(
        "00.3",
        M(
            "variance of one",
            "took the spread of one pixel, not of a difference",
            "a difference of two pixels adds both variances.",
        ),
        M("mean gap", "gave E|a - b| instead of the root mean square", "RMS averages the squares first."),
        M("no root", "gave the mean squared difference (no root)", "RMS takes the square root."),
    )


_mc()


def _mc_predictions():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "00.4",
        M(
            "no-clipping",
            "predicted the noise's own RMS, 0.1, ignoring the clipping",
            "the renderer clips to [0, 1]: on the black background half of the noise is cut off.",
            lambda: 0.1,
        ),
    )
    add_misconceptions(
        "00.5",
        M(
            "whole-image",
            "took the new moon's 0.08 as the distance, as if the disc filled the image",
            "outside the disc the new moon is 0, like the blank image: only the disc's pixels differ.",
            lambda: 0.08,
        ),
        M(
            "share-without-root",
            "multiplied 0.08 by the disc's share instead of its square root",
            "RMS averages SQUARED differences: the share multiplies 0.08^2, and the root comes last.",
            lambda: 0.08 * math.pi * 0.8**2 / 4,
        ),
    )


_mc_predictions()
