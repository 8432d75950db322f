"""Exercises of notebook 06 (variational autoencoders)."""

import functools
import math

import torch

from ..losses import log_mean_exp
from ..models.vae import reparameterize
from . import Misconception, add_misconceptions, case, register, register_prediction


def _reparam_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(0)
    mu, logvar, eps = (torch.randn(4, 3, generator=g) for _ in range(3))
    return [
        case(mu, logvar, eps, label="a batch of 4 posteriors in 3 dimensions"),
        case(mu, torch.zeros(4, 3), eps, label="logvar = 0 (sigma = 1): z = mu + eps"),
        case(mu, torch.full((4, 3), -20.0), eps, label="logvar = -20 (sigma ~ 0): z ~ mu"),
        case(
            torch.zeros(2, 2),
            torch.log(torch.tensor([[4.0, 9.0], [1.0, 0.25]])),
            torch.ones(2, 2),
            label="mu = 0, variances 4, 9, 1, 0.25, eps = 1: z = sigma",
        ),
    ]


register(
    "06.1",
    "the reparameterization trick",
    reference=reparameterize,
    cases=_reparam_cases,
    hint=(
        "The encoder gives the log of the variance; what must multiply eps is the standard deviation.",
        "Going from a log-variance to a standard deviation is a halving inside an exponential.",
    ),
    kind="implement",
    explanation=(
        "z = mu + sigma eps with sigma = exp(logvar / 2) has the law N(mu, sigma^2) and is differentiable"
        " in mu and logvar, so gradients reach the encoder through the sample."
    ),
)


def _lme_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(1)
    return [
        case(torch.randn(10, 5, generator=g), label="K = 10 log weights for 5 images"),
        case(torch.randn(1, 3, generator=g), label="K = 1 (the bound is the log weight itself)"),
        case(torch.full((100, 2), -1000.0), label="log weights of -1000 (exp underflows to 0)"),
        case(torch.tensor([[800.0], [799.0], [-5.0]]), label="log weights up to 800 (exp overflows)"),
    ]


register(
    "06.5",
    "a stable log-mean-exp for the IWAE bound",
    reference=log_mean_exp,
    cases=_lme_cases,
    atol=1e-4,
    hint=(
        "This is 04.3's stable log-mean-exp: if you wrote it there, reuse the idea.",
        "Shift by the largest log-weight before exponentiating, add it back after the log, and account for the 1/K.",
    ),
    kind="implement",
    explanation=(
        "The IWAE bound is log (1/K) sum_k w_k computed from log-weights; shifting by the maximum keeps "
        "every exponent at most 0, so it is finite even when the log-weights are in the hundreds."
    ),
)


def _kl_grad_reference(mu, logvar):
    return mu.clone(), 0.5 * (logvar.exp() - 1)


def _kl_grad_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(8)
    return [
        case(torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g), label="a batch of 5 random (mu, logvar)"),
        case(torch.zeros(2, 4), torch.zeros(2, 4), label="q equal to the prior: both gradients 0"),
        case(
            torch.tensor([[1.0, -2.0]]),
            torch.tensor([[-6.0, 2.0]]),
            label="a very narrow and a wide dimension (logvar -6 and 2)",
        ),
    ]


register(
    "06.2",
    "the gradient of the KL term (derive)",
    reference=_kl_grad_reference,
    cases=_kl_grad_cases,
    hint=(
        "Start from the closed-form KL of 04.7, one dimension at a time; each entry of mu and logvar "
        "appears in exactly one term.",
        "Differentiate with respect to mu, then with respect to logvar (the variance is exp(logvar)); "
        "the constant -1 drops out.",
    ),
    kind="derive",
    solution=(
        "def kl_gradients(mu, logvar):\n"
        "    # d/dmu and d/dlogvar of 0.5 * sum(mu^2 + exp(logvar) - 1 - logvar)\n"
        "    return mu, 0.5 * (logvar.exp() - 1)"
    ),
    explanation=(
        "KL = 0.5 sum(mu^2 + e^logvar - 1 - logvar), so dKL/dmu = mu (a spring pulling every mean to 0) and "
        "dKL/dlogvar = (e^logvar - 1) / 2 (zero at unit variance, and pushing a narrow posterior wider). "
        "The reconstruction term pulls the other way; the ELBO's optimum balances the two."
    ),
)


def _bce_floor(g=None):
    """The experiment of 06.3: the BCE floor (entropy of the grey levels) of MNIST-5k's 1000 test
    digits, mean nats per image: what the notebook's section-5 cell prints with the course's data."""
    from .. import data
    from ..diagnostics import bernoulli_entropy

    x_test, _ = data.load("mnist5k", "test")
    return bernoulli_entropy(x_test).mean().item()


register_prediction(
    "06.3",
    "predict the BCE of a perfect reconstruction",
    experiment=_bce_floor,
    form="number",
    tol=15.0,
    hint=(
        "A pixel that is exactly 0 or exactly 1 contributes nothing to the floor; only the grey ones do.",
        "Estimate two things: how many of a digit's 784 pixels are grey (neither black nor white), and what "
        "H(x_i) is on average for such a pixel (its largest possible value is log 2).",
        "Re-read the paragraph on grey levels just above, then look again at the test digits of section 4: "
        "where along a stroke does the grey sit?",
    ),
    solution=(
        "def floor_prediction():\n"
        "    # about 100 of the 784 pixels are grey (the edges of the strokes), each with an entropy of a few\n"
        "    # tenths of a nat (log 2 = 0.69 at most): roughly 100 x 0.45\n"
        "    return 45.0"
    ),
    explanation=(
        "A perfect reconstruction sets sigma(l_i) = x_i and pays H(x_i) per pixel, not 0. MNIST's background "
        "and stroke cores are (nearly) 0 or 1 and cost (almost) nothing; the anti-aliased edges of the strokes, about "
        "100 pixels a digit, are grey and cost up to log 2 = 0.69 nats each: the floor is a few dozen nats per "
        "image, a large share of any reconstruction loss on grey levels."
    ),
    explain=(
        "The experiment is what the notebook's next cell prints with the course's data (the mean entropy of "
        "the grey levels of MNIST-5k's 1000 test digits; another DATASET gives the notebook another number): "
        "only the grey edge pixels, about 100 of 784, pay much, each at most log 2 nats."
    ),
)


@functools.cache
def _mean_reduction_outcome():
    """The experiment of 06.4, as section 5 runs it: the small latent-20 VAE (hidden 128) trained on the
    4000 MNIST-5k training digits for 4 epochs (Adam, 3e-3, seed 0) on reduction='mean' + a summed KL,
    i.e. (recon + 784 KL) / 784. (c) when no unit keeps a KL above 0.1 nats; otherwise (b) when the
    rate is below half of the summed (true ELBO) model's, (a) when it is not. Deterministic (seed 0, one
    thread), so it runs once per process; the caller's random state and thread count are left alone."""
    from .. import data, fit
    from ..diagnostics import posterior_means, units_by_kl
    from ..models.vae import VAE, elbo_loss, vae_loss_fn
    from ..seeding import seeded, threads
    from ..train import adam

    x_train, y_train = data.load("mnist5k", "train")
    x_test, _ = data.load("mnist5k", "test")
    n_pixels = x_train[0].numel()

    def train(loss_fn):
        with threads(1):
            with seeded(0):
                model = VAE(image_size=x_train.shape[-1], latent_dim=20, hidden=128)
            fit(model, loss_fn, (x_train[:4000], y_train[:4000]), 4, optimizer=adam(3e-3), seed=0, progress=False)
            return units_by_kl(*posterior_means(model.cpu().eval(), x_test))

    def mean_reduction(model, x, y):
        r = elbo_loss(model(x), x, beta=n_pixels)
        return {"loss": r["loss"] / n_pixels}

    units = train(mean_reduction)
    if units.count == 0:
        return "c"
    return "b" if units.kl.sum() < train(vae_loss_fn()).kl.sum() / 2 else "a"


register_prediction(
    "06.4",
    "predict what reduction='mean' does to a VAE",
    experiment=_mean_reduction_outcome,
    form="choice",
    options={
        "a": "Adam does ignore the overall 1/784, but not the ratio inside the loss: the KL weighs 784 times "
        "more against the reconstruction than in the ELBO, and that changes the optimum, not only the step size.",
        "b": "the intuition of most tutorials, and wrong at this weight: a unit is worth keeping only if the "
        "reconstruction it buys exceeds 784 times its KL, and here no unit's information is worth that much.",
        "c": "with beta = 784 every unit costs more KL than the reconstruction it buys is worth: all of them "
        "collapse onto the prior, and the decoder draws one image, about the average digit, for every input.",
    },
    hint=(
        "Write the loss as a constant times (recon + beta KL) and read off beta; then forget the constant.",
        "A latent unit stays active only while the reconstruction it buys (in nats) is worth more than beta "
        "times the KL it costs. How many nats of reconstruction does one unit buy, at best, on a digit?",
        "Re-read section 6's first paragraph on what a large beta does to each unit (it comes later in the "
        "notebook, but its argument needs nothing from there).",
    ),
    solution='def reduction_prediction():\n    return "c"',
    explanation=(
        "reduction='mean' divides the reconstruction by 784 pixels and leaves the summed KL alone: the objective "
        "is (recon + 784 KL) / 784, a beta-VAE with beta = 784. Adam removes the overall 1/784, not the ratio. "
        "A unit survives only if the reconstruction it buys exceeds 784 times its KL; the whole model buys "
        "about 55 nats over the mean image with a KL of about 13, so no unit is worth it: complete posterior "
        "collapse, not a blurrier model."
    ),
    explain="(The check trains the section's small model with that loss itself, a few seconds, and counts its units.)",
)


MOON_PAIRS = ((0.1, 0.4), (0.6, 0.9), (0.2, 0.45), (0.55, 0.8))  # section 8's four paths (phases of their ends)


@functools.cache
def _moon_middle_outcome():
    """The experiment of 06.6, as section 8 runs it on its first seed: the moon VAE of
    ``train.train_moon_vae(0)`` (1000 moons, latent 2, 40 epochs), straight paths of 21 steps between
    the posterior means of the four pairs of real moons, each image read by ``check_moons``. The
    middle third of a path is its 9 steps 6-14 (t from 0.3 to 0.7): 36 images. (a) when more than
    half of them pass, (b) when fewer than a tenth do, (c) otherwise. Deterministic (seed 0, one
    thread); the model is cached, so the notebook's section 8 reuses it."""
    from ..interpolation import lerp
    from ..moons import PhaseBank, check_moons, render_moons
    from ..train import train_moon_vae

    model, _ = train_moon_vae(0)
    paths = []
    with torch.no_grad():
        for p0, p1 in MOON_PAIRS:
            mu = model.encode(render_moons([p0, p1], size=16))[0]
            paths.append(model.to_image(model.decode(lerp(mu[0], mu[1], 21))))
    real = check_moons(torch.cat(paths), PhaseBank(16)).real.view(len(MOON_PAIRS), 21)
    middle = real[:, 6:15].float().mean().item()
    return "a" if middle > 0.5 else "b" if middle < 0.1 else "c"


register_prediction(
    "06.6",
    "predict where a path between two VAE codes stops drawing real moons",
    experiment=lambda g=None: _moon_middle_outcome(),
    form="choice",
    options={
        "a": "The clouds do overlap, and the decoder is trained between the codes, but trained on samples of "
        "both neighbouring images at once: where their clouds overlap it learns the average of the two, and "
        "an average of two phases is no real moon.",
        "b": "Near each end the decoder draws (nearly) the end's own moon, in the middle it has been trained on "
        "codes of several phases at once and draws their average: a dim disc with a smeared terminator, which "
        "the block and brightness tests fail.",
        "c": "The passes are not spread along the path: they sit at the ends, near the real moons' codes, and "
        "the middle third, farthest from both, fails almost everywhere.",
    },
    hint=(
        "Where a point of the latent line lies inside the clouds of two images of different phases, the "
        "decoder was trained to reconstruct both from it. What single image minimises the sum of the two "
        "losses?",
        "Section 1 says points between two codes decode to 'something in between'. Is an average of two "
        "moon images of different phases a moon of an intermediate phase? (Notebook 02 measured it.)",
    ),
    solution='def path_prediction():\n    return "b"',
    explanation=(
        "The KL term makes the posterior clouds overlap, so the decoder is trained between codes, but a point "
        "that several clouds cover is trained to reconstruct all of their images at once, and the BCE's "
        "minimiser there is their pixel average: a blend of phases, not a moon of an intermediate phase. "
        "So a straight path stays real a few steps from each end (the VAE further than the AE) and fails in "
        "the middle; in-between content has to come from the data, or from a path that follows the codes "
        "(notebook 09)."
    ),
    explain="(The check trains the section's moon VAE of the first seed itself, a few seconds, and reads its paths.)",
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "06.1",
        M(
            "logvar-as-std",
            "scaled the noise by logvar, not exp(logvar / 2)",
            "logvar is the log of the variance: the standard deviation is exp(logvar / 2).",
            lambda mu, lv, eps=None: mu + lv * eps,
        ),
        M(
            "variance-not-std",
            "scaled the noise by the variance, not the standard deviation",
            "multiply eps by the standard deviation, exp(logvar / 2), not by the variance.",
            lambda mu, lv, eps=None: mu + lv.exp() * eps,
        ),
    )
    add_misconceptions(
        "06.5",
        M(
            "log-sum-exp",
            "forgot to subtract log K (a sum, not a mean)",
            "that is log SUM exp: a mean divides by K, so subtract log K.",
            lambda v, dim=0: torch.logsumexp(v, dim),
        ),
        M(
            "mean-of-logs",
            "averaged the log weights (the ELBO, not the IWAE bound)",
            "the mean of the logs is the ELBO: the IWAE bound is the log of the mean.",
            lambda v, dim=0: v.mean(dim),
        ),
    )
    add_misconceptions(
        "06.3",
        M(
            "perfect-is-zero",
            "predicted 0: thinks a perfect reconstruction has zero BCE on grey pixels",
            "a BCE on grey targets cannot reach 0: a pixel at 0.5 costs log 2 even when predicted exactly.",
            lambda: 0.0,
        ),
        M(
            "every-pixel-a-coin",
            "predicted 784 log 2: counted every pixel as maximally grey",
            "that counts every pixel as a coin flip at 0.5; the background and the cores of the strokes are "
            "(nearly) 0 or 1 and cost (almost) nothing.",
            lambda: 784 * math.log(2),
        ),
    )
    add_misconceptions(
        "06.2",
        M(
            "missing-half",
            "missing the 1/2 in the logvar gradient",
            "d/dlogvar of 1/2 (exp(logvar) - logvar) keeps the factor 1/2.",
            lambda mu, lv: (mu.clone(), lv.exp() - 1),
        ),
        M(
            "kl-sign",
            "gradient of the KL with the wrong sign",
            "the KL grows with |mu|: its gradient points away from 0.",
            lambda mu, lv: (-mu, -0.5 * (lv.exp() - 1)),
        ),
    )


_mc()


add_misconceptions(
    "06.4",
    Misconception(
        "chose (a)",
        "predicted that Adam's scale invariance makes the reduction irrelevant",
        "Adam ignores the overall scale of the loss, not the ratio of its two terms.",
    ),
    Misconception(
        "chose (b)",
        "predicted a blurrier but still informative model",
        "at beta = 784 no unit is worth its KL: the code carries nothing, not less.",
    ),
)


add_misconceptions(
    "06.6",
    Misconception(
        "chose (a)",
        "predicted that overlapping clouds make every point between two codes decode a real moon",
        "a point covered by the clouds of two phases is trained to reconstruct both: it decodes their average.",
    ),
    Misconception(
        "chose (c)",
        "predicted that the path's real images are spread evenly along it",
        "the real images sit near the ends; the middle third fails almost everywhere.",
    ),
)
