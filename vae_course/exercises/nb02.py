"""Exercises of notebook 02 (the moon interpolation failure): the path between two codes, the
manifold distance of decoded images, where the midpoint of two prior codes falls, and the optimal
decoder's fade under code noise (derived, then predicted and run)."""

import math

import torch

from ..interpolation import lerp, optimal_fade_width
from ..moons import manifold_distance, render_moons
from . import case, register, register_prediction


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
    hint=(
        "Each point of the path is a weighted mix of the two codes; what weights give the endpoints exactly?",
        "Make all the mixing weights at once as a column and let broadcasting build the (steps, D) result.",
    ),
    kind="implement",
    explanation=(
        "The path (1 - t) z0 + t z1 for t evenly spaced in [0, 1] starts at z0 and ends at z1 exactly; a "
        "column of t values broadcasts against the (D,) codes."
    ),
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
    atol=1e-3,  # float32 torch.cdist loses ~2e-4 near distance 0: a right answer must pass
    rtol=1e-3,
    hint=(
        "You need the distance of every image to every reference: what shape does that table have?",
        "Flatten the images, then insert a singleton dimension in each operand so that broadcasting pairs them up.",
        "Reduce over the pixels with a mean (RMS, like 00.1), then keep the smallest over the references.",
    ),
    kind="implement",
    explanation=(
        "Broadcasting (N, 1, D) against (1, P, D) gives the pixel differences of every pair; the mean of the "
        "squares over pixels, the minimum over references and a square root give the RMS distance to the "
        "nearest one."
    ),
)


def _check_midpoint_prediction(fn, g=None) -> str:
    from . import answer_of, check_number

    g = g if g is not None else torch.Generator().manual_seed(6)
    got = check_number(
        answer_of(fn),
        0.5,
        0.02,
        wrong={
            "no shrinkage": (
                1.0,
                "the midpoint is an average of two independent codes, and averaging shrinks: the two halves "
                "do not point the same way, so their lengths do not add up.",
            ),
            "halved length": (
                0.25,
                "that would be the midpoint of z and a copy of z scaled by 0; for independent codes the "
                "variances of the two halves add: Var((z0 + z1)/2) = (1 + 1)/4 per coordinate.",
            ),
        },
        explain="Per coordinate, the midpoint (z0 + z1) / 2 has variance (Var z0 + Var z1) / 4.",
    )
    z0, z1 = torch.randn(2, 20000, 16, generator=g)
    ratio = ((z0 + z1) / 2).pow(2).sum(1).mean() / z0.pow(2).sum(1).mean()
    # what it means: how many prior codes are as close to the origin as a typical midpoint
    inside = {}
    for d in (16, 2):
        prior = torch.randn(20000, d, generator=g).pow(2).sum(1)  # |z|^2 of prior codes
        inside[d] = float((prior <= d / 2).double().mean())  # a typical midpoint has |z|^2 = D / 2
    return (
        f"you predicted {got:.3g}; 20,000 pairs of 16-dimensional codes measure {ratio.item():.3f}. What it means: "
        f"in 16 dimensions only {inside[16]:.0%} of prior codes lie as close to the origin as a typical midpoint "
        "(|z|^2 <= D/2), so a straight path between two prior codes dips inside the shell where they lie, through "
        "codes the decoder rarely saw (one reason for spherical interpolation, White 2016). In this notebook's 2-D "
        f"code plane the same ratio holds, but {inside[2]:.0%} of prior codes lie that close: the midpoint is "
        "ordinary there, so the 2-D failures of this notebook are not this effect"
    )


register(
    "02.5",
    "predict how far the midpoint of a straight path falls inside the prior",
    checker=_check_midpoint_prediction,
    hint=(
        "E||z||^2 for a standard normal code in D dimensions is D: compute the same for the midpoint, per coordinate.",
        "The two codes are independent: the variance of a sum of independent variables is the sum of the variances.",
    ),
    kind="predict",
    solution="def predicted_midpoint_ratio():\n    return 0.5  # Var((z0 + z1) / 2) = (1 + 1) / 4 per coordinate",
    explanation=(
        "Each coordinate of (z0 + z1) / 2 has variance 1/4 + 1/4 = 1/2, so the midpoint's squared norm is "
        "half a typical code's, whatever the dimension D. In high dimensions nearly all prior codes sit "
        "near the shell of radius sqrt(D), so the straight path dips to radius sqrt(D/2): through codes "
        "the decoder rarely saw in training. In two dimensions |z|^2 is spread widely (a chi-square with 2 "
        "degrees of freedom) and about 4 in 10 prior codes lie inside radius 1, so there the midpoint is not "
        "atypical."
    ),
)


def optimal_half_moon_weight(t, r):
    """g*'s weight of the second image at the point t of the straight path, r = |z1 - z0| / sigma."""
    return torch.sigmoid((t - 0.5) * r**2)


def _weight_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(8)
    t = torch.linspace(0, 1, 11, dtype=torch.float64)
    return [
        case(t, 3.0, label="t = 0, 0.1, ..., 1 and codes 3 sigma apart"),
        case(t, 1.0, label="codes one sigma apart (the clouds overlap a lot)"),
        case(torch.rand(7, generator=g, dtype=torch.float64), 5.0, label="7 random t, codes 5 sigma apart"),
        case(torch.tensor([0.5], dtype=torch.float64), 2.0, label="the midpoint t = 0.5"),
    ]


register(
    "02.3",
    "derive the optimal decoder's weight along the straight path",
    reference=optimal_half_moon_weight,
    cases=_weight_cases,
    atol=1e-6,
    rtol=1e-5,
    hint=(
        "Write the point of the path as z0 + t (z1 - z0) and expand both squared distances in the weights "
        "of section 5; which terms are the same in numerator and denominator?",
        "A softmax over two options is a logistic function of the difference of its two arguments.",
        "Only the ratio of the code distance to sigma should survive; check your answer at t = 1/2, where the "
        "two training images are equally likely.",
    ),
    kind="derive",
    solution=(
        "def half_moon_weight(t, r):\n"
        "    # |z(t) - z0|^2 - |z(t) - z1|^2 = (t^2 - (1 - t)^2) L^2 = (2t - 1) L^2, divided by 2 sigma^2\n"
        "    return torch.sigmoid((t - 0.5) * r**2)"
    ),
    explanation=(
        "On z(t) = z0 + t (z1 - z0) the squared distances are t^2 L^2 and (1 - t)^2 L^2; their difference "
        "is (2t - 1) L^2, and the two-way softmax of section 5 is a logistic function of it divided by "
        "2 sigma^2: w1(t) = sigmoid((t - 1/2) r^2) with r = L / sigma. The fade is centred at the midpoint "
        "and its steepness grows with the square of the codes' distance in noise units."
    ),
)


register_prediction(
    "02.4",
    "predict how much of the path the optimal decoder spends mid-fade",
    experiment=lambda g=None: optimal_fade_width(3.0),
    form="number",
    tol=0.03,
    hint=(
        "Use your result of 02.3: for which t is the weight between 0.1 and 0.9?",
        "Solve sigmoid(a) = 0.9 for a, then the same for 0.1; the path is symmetric about its midpoint.",
    ),
    solution=(
        "def predicted_fade_width():\n"
        "    # sigmoid((t - 1/2) r^2) = 0.9 at t - 1/2 = log(9) / r^2; twice that, for r = 3\n"
        "    return 2 * math.log(9) / 3**2"
    ),
    explain=(
        "The weight is sigmoid((t - 1/2) r^2), which is 0.9 where (t - 1/2) r^2 = log 9, so the 10-90 % "
        "stretch is 2 log 9 / r^2 of the path: about half of it at r = 3, a quarter at r = 4.2, and it "
        "shrinks with the square of the distance in noise units."
    ),
    explanation=(
        "From 02.3, w1(t) = sigmoid((t - 1/2) r^2); it passes 0.1 and 0.9 at t - 1/2 = -+ log 9 / r^2, so "
        "the optimum spends 2 log 9 / r^2 of the path mid-fade: 0.49 at r = 3. Codes farther apart, in "
        "units of the noise, give a sharper switch, never a new image."
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    def _pixels(images, refs):  # (N, P) squared pixel differences summed, and the pixel count
        a, b = images.reshape(len(images), -1).double(), refs.reshape(len(refs), -1).double()
        return (a[:, None] - b[None]).pow(2).sum(-1), a.shape[1]

    add_misconceptions(
        "02.1",
        M(
            "end-left-out",
            "spaced t as arange(steps) / steps: the path stops one step short of z1",
            "your path never reaches z1: t must run from 0 to 1 with both ends included (steps points, "
            "steps - 1 gaps).",
            lambda z0, z1, steps: z0 + (torch.arange(steps, dtype=z0.dtype)[:, None] / steps) * (z1 - z0),
        ),
        M(
            "weights-swapped",
            "weighted z0 by t and z1 by 1 - t: the path runs backwards",
            "your path starts at z1 and ends at z0: z0's weight must be 1 at t = 0.",
            lambda z0, z1, steps: torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None] * (z0 - z1) + z1,
        ),
    )
    add_misconceptions(
        "02.2",
        M(
            "sum-not-mean",
            "summed the squares over pixels (Euclidean distance), not their mean",
            "that is the Euclidean distance: the RMS distance averages the squares over the pixels.",
            lambda images, refs: _pixels(images, refs)[0].min(1).values.sqrt().float(),
        ),
        M(
            "no-root",
            "left out the square root (mean squared distance)",
            "that is the mean SQUARED difference: the RMS distance takes the root last.",
            lambda images, refs: (_pixels(images, refs)[0] / _pixels(images, refs)[1]).min(1).values.float(),
        ),
        M(
            "mean-over-references",
            "averaged the distances over the references instead of taking the nearest",
            "the manifold distance is the distance to the NEAREST reference: a minimum, not a mean.",
            lambda images, refs: (_pixels(images, refs)[0] / _pixels(images, refs)[1]).sqrt().mean(1).float(),
        ),
    )
    add_misconceptions(
        "02.5",
        M(
            "no shrinkage",
            "thought the midpoint keeps a typical code's length",
            "averaging independent codes shrinks them.",
        ),
        M("halved length", "halved the variance twice (ratio 1/4)", "the variances of the two halves add."),
    )
    add_misconceptions(
        "02.3",
        M(
            "no-half-in-exponent",
            "dropped the 2 of 2 sigma^2 (a fade twice as steep)",
            "the Gaussian's exponent is |z - z_i|^2 / (2 sigma^2): keep its 2.",
            lambda t, r: torch.sigmoid((2 * t - 1) * r**2),
        ),
        M(
            "full-moon-weight",
            "gave the weight of the first image (sign flipped)",
            "that is the weight of z0's image; the exercise asks for z1's, which grows with t.",
            lambda t, r: torch.sigmoid((0.5 - t) * r**2),
        ),
        M(
            "r-not-squared",
            "made the logit linear in L / sigma",
            "the squared distances bring L^2 / sigma^2, not L / sigma.",
            lambda t, r: torch.sigmoid((t - 0.5) * r),
        ),
    )
    add_misconceptions(
        "02.4",
        M(
            "no-half-in-exponent",
            "dropped the 2 of 2 sigma^2: predicted log 9 / r^2",
            "with the Gaussian's 2 sigma^2 kept, the stretch is twice as long.",
            lambda: math.log(9) / 9,
        ),
        M(
            "r-not-squared",
            "took the fade width as 2 log 9 / r, capped at the whole path",
            "the logit grows with r^2, so at r = 3 the fade is far shorter than the path.",
            lambda: 1.0,
        ),
    )


_mc()
