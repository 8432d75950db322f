"""Exercises of notebook 02 (the moon interpolation failure): the path between two codes, the
manifold distance of decoded images, the optimal decoder's fade under code noise (derived, then
predicted and run), and the VAE that the noisy-code loss trains."""

import math

import torch

from ..interpolation import lerp, optimal_fade_width
from ..losses import gaussian_kl, gaussian_nll, mse
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


def _check_decoder_std_prediction(fn, g=None) -> str:
    from . import answer_of, check_number

    lam, sigma = 0.05, 0.5
    got = check_number(
        answer_of(fn),
        lam**0.5,
        0.01,
        wrong={
            "variance-not-std": (
                lam,
                "that is s^2, the decoder's variance; the question asks for its standard deviation s.",
            ),
            "code-noise": (
                sigma,
                "that is sigma, the std of the encoder's noise on the code (the sampled z); the decoder's std s "
                "is set by the penalty lambda, not by the code noise.",
            ),
            "lost-factor-2": (
                (2 * lam) ** 0.5,
                "multiply the -ELBO by 2 s^2: the KL's (1/2)|f(x)|^2 becomes s^2 |f(x)|^2, which must equal "
                "lambda |f(x)|^2, so s^2 = lambda.",
            ),
        },
        explain="Multiply the -ELBO by 2 s^2 and match its two terms that depend on f and g to the loss's.",
    )
    # the measurement: 2 s^2 (-ELBO) - L over random images, reconstructions and codes; a constant means one minimiser
    g = g if g is not None else torch.Generator().manual_seed(6)
    x, recon = torch.rand(2, 1000, 64, generator=g, dtype=torch.float64)
    mu = 2 * torch.randn(1000, 2, generator=g, dtype=torch.float64)

    def spread(s: float) -> float:
        neg_elbo = gaussian_nll(recon, x, sigma=s) + gaussian_kl(mu, torch.full_like(mu, math.log(sigma**2)))
        gap = 2 * s**2 * neg_elbo - (mse(recon, x) + lam * mu.pow(2).sum(1))
        return float(gap.max() - gap.min())

    return (
        f"you predicted {got:.3g}; on 1,000 random (image, reconstruction, code) triples of 64 pixels and 2 code "
        f"dimensions, 2 s^2 (-ELBO) - L stays one constant with s = sqrt(lambda) = {lam**0.5:.4f} (spread "
        f"{spread(lam**0.5):.0e}, float64 rounding), so the two losses have the same minimiser; with s = sigma = "
        f"{sigma} it spreads by {spread(sigma):.3g}"
    )


register(
    "02.5",
    "predict the decoder std of the VAE that the noisy-code loss trains",
    checker=_check_decoder_std_prediction,
    hint=(
        "Multiply the -ELBO by 2 s^2: which of its terms depend on the encoder f and the decoder g, and which are "
        "constants?",
        "The reconstruction term becomes the squared error with weight 1, as in L; the KL's (1/2)|f(x)|^2 must "
        "become the penalty lambda |f(x)|^2.",
    ),
    kind="predict",
    solution=(
        "def predicted_decoder_std():\n    return 0.05**0.5  # 2 s^2 x (1/2)|f(x)|^2 = lambda |f(x)|^2, so s^2 = lambda"
    ),
    explanation=(
        "Multiplied by 2 s^2, the -ELBO is E|x - g(f(x) + sigma eps)|^2 + s^2 |f(x)|^2 plus terms free of f and "
        "g; it equals the noisy-code loss, plus a constant, when s^2 = lambda: s = sqrt(0.05) = 0.22. The code "
        "noise sigma is the encoder's std and the penalty weight lambda is the decoder's variance: a noisy-code "
        "autoencoder is a fixed-variance VAE, so what section 5 proved of its optimal decoder holds for that VAE."
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
        M("variance-not-std", "gave the decoder's variance s^2 = lambda, not its std", "the std is sqrt(lambda)."),
        M("code-noise", "took the code noise sigma for the decoder's std", "sigma is the encoder's std; s^2 = lambda."),
        M("lost-factor-2", "matched s^2 to 2 lambda (lost the KL's 1/2)", "2 s^2 x (1/2)|f(x)|^2 = lambda |f(x)|^2."),
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
