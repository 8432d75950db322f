"""Exercises of notebook 03 (denoising autoencoders)."""

from __future__ import annotations

import torch
from torch import Tensor

from vae_course.denoising import (
    best_linear_denoiser,
    gaussian_best_copy_slope,
    pixel_retrieval_rate,
    ring_linear_error_ratio,
)
from vae_course.exercises import Feedback, case, register, register_prediction


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
                "return a new tensor (e.g. x.clone() or x * mask)",
                misconception="in-place",
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
                "per image, not an independent coin per pixel)",
                misconception="coin-per-pixel" if 0 < fraction < 1 else "",
            )
        kept = y != 0
        if not torch.equal(y[kept], x[kept]):
            raise Feedback(f"with fraction={fraction}, pixels that are not masked must keep their values")
    y = fn(x, 0.5)
    if torch.equal(y[0] == 0, y[1] == 0) and torch.equal(y[0] == 0, y[2] == 0):
        raise Feedback(
            "images 0, 1 and 2 got the same mask: draw a different mask for each image",
            misconception="one-mask-for-batch",
        )
    if torch.equal(fn(x, 0.5) == 0, y == 0):
        raise Feedback("two calls gave identical masks: the mask must be random")
    return "exact fraction per image, a different random mask per image and per call, input untouched"


register(
    "03.6",
    "Masking noise",
    checker=_check_mask_noise,
    solved_by=("mask_noise",),
    hint=(
        "Exactly k = round(fraction * D) pixels of each image must become 0, chosen at random: a random "
        "order of the pixels gives them.",
        "Sorting a row of random numbers gives a random permutation; take its first k positions.",
        "Work on a flattened copy so that the input is not changed, and restore the shape at the end.",
    ),
    solution=(
        "def my_mask_noise(x, fraction):\n"
        "    flat = x.flatten(1).clone()  # (B, D)\n"
        "    k = round(fraction * flat.shape[1])\n"
        "    order = torch.rand(flat.shape).argsort(dim=1)  # a random permutation per image\n"
        "    flat.scatter_(1, order[:, :k], 0.0)  # zero its first k positions\n"
        "    return flat.reshape(x.shape)"
    ),
    kind="implement",
    explanation=(
        "Ranking D uniform random numbers per image gives a uniformly random subset of exactly k "
        "positions; zeroing those on a copy is masking noise with an exact fraction."
    ),
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
    "03.7",
    "Loss on the masked pixels only (MAE)",
    reference=masked_mse,
    cases=_masked_cases,
    hint=(
        "A boolean mask can weight the squared errors: what number does True become?",
        "One loss per example: reduce over everything except the batch dimension.",
    ),
    kind="implement",
    explanation=(
        "Multiplying the squared error by the mask keeps only the masked entries, so the loss measures "
        "how well the model fills in what it could not see, not how well it copies what it could."
    ),
)


def _check_identity_mse(fn, g=None) -> str:
    from . import answer_of, check_number

    g = g if g is not None else torch.Generator().manual_seed(7)
    got = check_number(
        answer_of(fn),
        0.06,
        0.003,
        wrong={
            "every masked pixel": (
                0.3,
                "a masked pixel costs something only if it was ink: zeroing a pixel that was already 0 "
                "changes nothing.",
            ),
            "ink only": (0.2, "that is the fraction of ink pixels; only the masked ones among them are wrong."),
        },
        explain="A pixel is wrong only if it was ink (value 1) AND it was masked; those two events are independent.",
    )
    x = (torch.rand(256, 784, generator=g) < 0.2).float()
    keep = torch.rand(256, 784, generator=g).argsort(dim=1) >= round(0.3 * 784)
    measured = ((x * keep - x) ** 2).mean().item()
    return f"you predicted {got:.3g}; 256 random binary images with 20% ink measure {measured:.4f}"


register(
    "03.2",
    "predict the loss of a denoiser that just copies its input",
    checker=_check_identity_mse,
    hint=(
        "Which pixels does the copy get wrong, and by how much each?",
        "Masking sets a pixel to 0. For which clean values does that change the pixel, and do masking and ink "
        "depend on each other?",
    ),
    kind="predict",
    solution="def predicted_copy_mse():\n    return 0.3 * 0.2  # masked AND ink: each such pixel is off by 1",
    explanation=(
        "The copy is wrong exactly on the masked ink pixels, each by 1, so its mean squared error is "
        "P(masked) P(ink) = 0.3 x 0.2 = 0.06. A denoiser must beat this baseline to have learnt anything; "
        "and since the loss on unmasked pixels is 0 for the copy, a loss on masked pixels only (03.7) "
        "measures just the filling in."
    ),
)


def _linear_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(9)
    a = torch.randn(4, 4, generator=g, dtype=torch.float64)
    b = torch.randn(3, 2, generator=g, dtype=torch.float64)
    return [
        case(torch.diag(torch.tensor([3.0, 1.0, 0.0], dtype=torch.float64)), 1.0, label="Sigma = diag(3, 1, 0), std 1"),
        case(a @ a.T, 0.5, label="a random 4x4 covariance, std 0.5"),
        case(b @ b.T, 2.0, label="a rank-2 3x3 covariance, std 2"),
        case(2.09 * torch.eye(2, dtype=torch.float64), 0.5, label="Sigma = a multiple of I (2x2), std 0.5"),
    ]


register(
    "03.3",
    "derive the best linear denoiser",
    reference=lambda cov, std: best_linear_denoiser(cov, std),
    cases=_linear_cases,
    atol=1e-6,
    rtol=1e-5,
    solved_by=("best_linear_denoiser",),
    hint=(
        "Centre everything, write the expected squared error of W x~ as a function of the matrix W, and set "
        "its gradient in W to zero.",
        "You need two second moments: E[x~ x~^T] and E[x x~^T]. The noise is independent of x and has mean 0.",
        "Check your formula on a diagonal Sigma: each direction should be shrunk by its own factor, "
        "between 0 (pure noise) and 1 (no noise).",
    ),
    kind="derive",
    solution=(
        "def linear_denoiser(cov, std):\n"
        "    # E[x x~^T] = Sigma, E[x~ x~^T] = Sigma + std^2 I; W E[x~ x~^T] = E[x x~^T]\n"
        "    eye = torch.eye(len(cov), dtype=cov.dtype)\n"
        "    return cov @ torch.linalg.inv(cov + std**2 * eye)"
    ),
    explanation=(
        "For centred x and x~ = x + std eps, E|x - W x~|^2 = tr(Sigma) - 2 tr(W Sigma) + tr(W (Sigma + std^2 I) "
        "W^T); its gradient in W, -2 Sigma + 2 W (Sigma + std^2 I), vanishes at W = Sigma (Sigma + std^2 I)^-1 "
        "(the Wiener filter). In the eigenbasis of Sigma it shrinks a direction of variance lambda by "
        "lambda / (lambda + std^2): it keeps the directions where the data vary and damps the others. For "
        "Gaussian data it is E[x | x~], the best denoiser of all."
    ),
)


register_prediction(
    "03.4",
    "predict how much the best linear denoiser helps on the ring",
    experiment=ring_linear_error_ratio,
    form="number",
    tol=0.02,
    hint=(
        "Your 03.3 needs only the ring's covariance: the eight centres are spread evenly round the circle, "
        "so what is the average of cos^2 over them, and what does the spread of each bump add?",
        "With Sigma = c I the denoiser shrinks every direction by the same factor; the error of the "
        "shrunk input, per direction, is a short expression in c and the noise variance.",
    ),
    solution=(
        "def predicted_linear_ratio():\n"
        "    c = 2.0**2 / 2 + 0.3**2  # the ring's covariance is c I\n"
        "    return c / (c + 0.5**2)  # error of the shrunk input over the noisy input's, per direction"
    ),
    explain=(
        "The ring's covariance is c I with c = R^2 / 2 + s^2 = 2.09; the best linear map shrinks towards "
        "the centre by c / (c + sigma^2) and leaves the error at that same fraction of the noise's, "
        "about 0.89. It barely helps: seen through its mean and covariance alone, the ring is a broad blob "
        "whose variance per direction is eight times the noise's, so shrinking towards its centre gains "
        "little. A denoiser that knows the bumps pulls each point to its nearest one instead (the cell "
        "after the check)."
    ),
    explanation=(
        "Eight evenly spaced centres on a circle of radius R average cos^2 = 1/2, so the ring's covariance is "
        "(R^2 / 2 + s^2) I = 2.09 I. With Sigma = c I, W = c / (c + sigma^2) I, and the error per direction "
        "is c sigma^2 / (c + sigma^2) against the input's sigma^2: the ratio c / (c + sigma^2) = 0.89. The "
        "data are not Gaussian, so the best denoiser is not linear: a DAE that learns the bumps beats it by far."
    ),
)


def _best_copy_slope_choice(g=None) -> str:
    """The experiment of 03.1: the copy slope c of the best denoiser of Gaussian data with the 8x8
    training digits' mean and covariance, Gaussian noise of std 0.3 (not clipped), as a letter."""
    from vae_course import data

    g = g if g is not None else torch.Generator().manual_seed(6)
    x_train, _ = data.load("digits", "train")
    c = gaussian_best_copy_slope(x_train, 0.3, generator=g)
    return "a" if c < 0.05 else ("b" if c < 0.5 else "c")


register_prediction(
    "03.1",
    "predict how much of the damage the best denoiser passes on",
    experiment=_best_copy_slope_choice,
    form="choice",
    options={
        "a": "a natural guess, and wrong: the best denoiser cannot remove noise that looks like the data. "
        "Where the noise moves a digit in a direction in which digits themselves vary, it cannot tell the "
        "damage from a slightly different digit, so it keeps part of that move.",
        "b": "most of the 64 pixel directions carry little of the digits' variance, and there the noise is "
        "removed; along the few directions in which digits vary a lot it cannot be told from the digit and "
        "is kept. On balance about a quarter of the noise reaches the output.",
        "c": "too much: the noise spreads evenly over all 64 directions, while the digits' variance sits in a "
        "few of them; in the many others the best denoiser removes almost all the noise.",
    },
    hint=(
        "Suppose the noise moves a digit in a direction in which digits themselves vary a lot (a stroke a "
        "little thicker). Could any denoiser tell that damage from a slightly different digit?",
        "The noise is spread evenly over the 64 pixel directions; the digits' variance is not: only about a "
        "dozen of their 64 principal directions vary more than the noise does (variance above 0.3^2). In "
        "how many directions can the noise be removed?",
    ),
    solution='def predicted_best_copy_slope():\n    return "b"',
    explanation=(
        "For Gaussian data the best denoiser is linear, r(v) = m + W (v - m), so r(x~) - r(x) = W (x~ - x) "
        "and c is the average over the data's principal directions of the share W keeps in each: near 1 "
        "where the digits vary much more than the noise, near 0 where they hardly vary. With the 8x8 digits' "
        "spectrum that average is about a quarter: c = 0 is not what the best denoiser does, and a low c is "
        "not by itself a good denoiser (a model that outputs the same image for every input has c = 0). "
        "Exercise 03.3 derives W."
    ),
    explain="The check draws the noise itself; the cell after it prints the same c beside the models' values.",
)


def _pixel_retrieval_choice(g=None) -> str:
    """The experiment of 03.5: top-1 retrieval of a damaged 8x8 test digit's clean original among the
    clean test digits, in pixel space, Gaussian noise of std 0.3 (clipped), 5 draws, as a letter."""
    from vae_course import data

    g = g if g is not None else torch.Generator().manual_seed(7)
    x_test, _ = data.load("digits", "test")
    rate = pixel_retrieval_rate(x_test, "gaussian", 0.3, generator=g)
    return "a" if rate < 0.1 else ("b" if rate < 0.6 else "c")


register_prediction(
    "03.5",
    "predict how often a damaged digit's pixels find their clean original",
    experiment=_pixel_retrieval_choice,
    form="choice",
    options={
        "a": "judged by eye, and wrong: at std 0.3 the digits look ruined, but the lookup does not read the "
        "digit. It compares distances, and the noise adds about the same amount to every distance.",
        "b": "too low: the noise's squared size (the 'corrupted in' row of section 5's table) is larger than the "
        "squared distance between many pairs of similar digits, but it is added to the distance to every clean "
        "image alike, so it does not decide which one is nearest.",
        "c": "|x~ - x_j|^2 - |x~ - x|^2 = |x - x_j|^2 + 2 <n, x - x_j> for noise n: the noise's own size cancels, "
        "and only its component along the difference of two digits is left, one direction of 64. The original "
        "stays nearest unless another test image lies close to it.",
    },
    hint=(
        "The lookup does not read the digit: it picks the clean image at the smallest distance. Write the "
        "squared distance from x~ = x + n to its own original x and to another clean image x_j.",
        "Subtract the two. Which terms of the noise cancel, and what is left? How large is it next to "
        "|x - x_j|^2 for two different digits?",
    ),
    solution='def predicted_pixel_retrieval():\n    return "c"',
    explanation=(
        "|x~ - x_j|^2 - |x~ - x|^2 = |x - x_j|^2 + 2 <n, x - x_j>: the noise's squared size |n|^2 appears in "
        "both distances and cancels. What is left, <n, x - x_j>, has standard deviation 0.3 |x - x_j| for "
        "unclipped Gaussian noise of std 0.3, so the original loses to x_j with probability "
        "Phi(-|x - x_j| / 0.6): rarely, unless the two images are closer than about 1, near-duplicates. The "
        "identity holds for any damage n = x~ - x, but clipped noise is not zero-mean: on a blank pixel of x it can "
        "only add ink (n >= 0), so there n_i (x_i - x_j,i) = -n_i x_j,i <= 0, a systematic part of <n, x - x_j> that "
        "favours an x_j with ink where x has none, an inkier x_j. It did not stop the lookup here (the table's first "
        "row). The eye is a poor judge of what a nearest-neighbour lookup can do."
    ),
    explain="The check draws its own noise; the table below prints the same lookup as its first row.",
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "03.6",
        M(
            "coin-per-pixel",
            "masked each pixel by an independent coin: the fraction is right only on average",
            "an independent coin per pixel zeroes about the fraction, not exactly it: rank a random permutation "
            "per image and zero its first k positions.",
        ),
        M(
            "one-mask-for-batch",
            "drew one mask and applied it to every image of the batch",
            "every image needs its own random mask: draw the permutation per row.",
        ),
        M(
            "in-place",
            "zeroed the pixels of the input tensor itself",
            "masking in place changes the clean images the loss compares with: work on a copy.",
        ),
    )
    add_misconceptions(
        "03.7",
        M(
            "mean-not-sum",
            "averaged the masked squared errors over all pixels instead of summing them",
            "the loss is the squared error SUMMED over the masked pixels of each image, not a mean.",
            lambda recon, x, mask: ((recon - x).pow(2) * mask).flatten(1).mean(1),
        ),
        M(
            "mask-inverted",
            "summed the error over the pixels the model could see (the mask inverted)",
            "the mask marks the HIDDEN pixels: the loss counts those, where the model has to fill in.",
            lambda recon, x, mask: ((recon - x).pow(2) * ~mask).flatten(1).sum(1),
        ),
        M(
            "whole-image",
            "ignored the mask: plain summed squared error over every pixel",
            "the mask is not used: only the masked pixels should count.",
            lambda recon, x, mask: (recon - x).pow(2).flatten(1).sum(1),
        ),
    )
    add_misconceptions(
        "03.2",
        M(
            "every masked pixel",
            "counted every masked pixel as an error, ink or not",
            "only masked INK pixels are wrong.",
        ),
        M("ink only", "counted every ink pixel as an error, masked or not", "only the masked ink pixels are wrong."),
    )
    eye = lambda cov: torch.eye(len(cov), dtype=cov.dtype)  # noqa: E731
    add_misconceptions(
        "03.3",
        M(
            "noise-not-signal",
            "returned sigma^2 (Sigma + sigma^2 I)^-1, the share of the NOISE",
            "that matrix estimates the noise in x~; the denoiser keeps the rest, I minus it.",
            lambda cov, std: std**2 * torch.linalg.inv(cov + std**2 * eye(cov)),
        ),
        M(
            "std-not-variance",
            "added sigma instead of sigma^2 to the covariance",
            "the noise's covariance is sigma^2 I.",
            lambda cov, std: cov @ torch.linalg.inv(cov + std * eye(cov)),
        ),
    )
    c = 2.0**2 / 2 + 0.3**2
    add_misconceptions(
        "03.4",
        M(
            "noise-share",
            "gave sigma^2 / (c + sigma^2), the share of the noise",
            "that is how much the denoiser removes per unit of variance, not the error it leaves.",
            lambda: 0.5**2 / (c + 0.5**2),
        ),
        M(
            "bump-std-only",
            "took the data's covariance as the bumps' 0.3^2, forgetting the ring",
            "a linear denoiser sees the whole ring's spread, mostly from the circle itself.",
            lambda: 0.3**2 / (0.3**2 + 0.5**2),
        ),
        M(
            "std-not-variance",
            "added sigma instead of sigma^2",
            "the noise's variance is sigma^2 = 0.25.",
            lambda: c / (c + 0.5),
        ),
    )

    add_misconceptions(
        "03.1",
        M(
            "chose (a)",
            "predicted that the best denoiser passes none of the damage on (c = 0)",
            "noise along a direction in which the data vary looks like data: no denoiser can remove it all.",
        ),
        M(
            "chose (c)",
            "predicted that the best denoiser passes on most of the damage",
            "the noise spreads over all 64 directions; in most of them the digits hardly vary: there it is removed.",
        ),
    )
    add_misconceptions(
        "03.5",
        M(
            "chose (a)",
            "judged by eye that damaged digits cannot be matched to their originals",
            "the lookup compares distances; the noise adds about the same amount to every distance.",
        ),
        M(
            "chose (b)",
            "expected the noise's size to swamp the differences between digits",
            "|n|^2 appears in the distance to every clean image and cancels; only its part along x - x_j counts.",
        ),
    )


_mc()
