"""Exercises of notebook 01 (autoencoders)."""

from __future__ import annotations

import functools

import torch

from vae_course import losses
from vae_course.exercises import Misconception, add_misconceptions, case, register, register_prediction

from ..pca import pca_reconstruct


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
    "01.3",
    "PCA reconstruction",
    reference=lambda x, k: pca_reconstruct(x, k),
    cases=_pca_cases,
    atol=1e-4,
    rtol=1e-3,
    hint=(
        "PCA describes the data around its mean: what do you do to the data before anything else, and undo at the end?",
        "The principal directions come from a singular value decomposition of the centred data; which "
        "factor holds them as rows?",
        "Reconstruct by projecting onto the span of the top k directions (coordinates, then back), then "
        "add the mean again.",
    ),
    kind="implement",
    explanation=(
        "The top-k right singular vectors of the centred data span the best k-dimensional subspace in "
        "squared error (Eckart-Young); projecting onto it and adding the mean back is the optimal linear "
        "reconstruction."
    ),
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
    "01.1",
    "Bernoulli reconstruction loss from logits (derive)",
    reference=losses.bce_with_logits,
    cases=_bce_cases,
    atol=1e-4,
    rtol=1e-4,
    hint=(
        "Write -log p(x | l) for one pixel with p = sigmoid(l), and simplify it until only l and x appear.",
        "log(1 + e^l) overflows for large l: PyTorch has a stable function for exactly this expression.",
        "One loss per image: reduce over every dimension except the batch dimension.",
    ),
    kind="derive",
    explanation=(
        "With p = sigmoid(l), -[x log p + (1 - x) log(1 - p)] simplifies to softplus(l) - x l, which "
        "never takes the log of a rounded probability and so stays finite for any logit."
    ),
)


def _logit_grads_reference(logits, x):
    p = torch.sigmoid(logits)
    return p - x, 2 * (p - x) * p * (1 - p)


def _bce_grad_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(5)
    x = (torch.rand(4, 1, 6, 6, generator=g) > 0.5).float()
    return [
        case(torch.randn(4, 1, 6, 6, generator=g) * 3, x, label="a batch of 4 binary 6x6 images, random logits"),
        case(torch.zeros(2, 1, 3, 3), torch.ones(2, 1, 3, 3), label="logit 0 (p = 1/2), every pixel on"),
        case(
            torch.tensor([[[[40.0, -40.0]]]]),
            torch.tensor([[[[0.0, 1.0]]]]),
            label="confident and wrong: logits of +-40",
        ),
        case(torch.randn(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g), label="grey targets in [0, 1]"),
    ]


register(
    "01.2",
    "the gradients of two losses with respect to a logit (derive)",
    reference=_logit_grads_reference,
    cases=_bce_grad_cases,
    atol=1e-6,
    rtol=1e-4,
    hint=(
        "For the Bernoulli loss, differentiate your 01.1 expression for one pixel with respect to l; write "
        "the result with sigmoid(l) where you can.",
        "For the squared error (sigmoid(l) - x)^2, use the chain rule; the derivative of sigmoid can be "
        "written with sigmoid itself (differentiate 1 / (1 + e^-l)).",
        "Return the two as a tuple (Bernoulli first), each with the shape of logits.",
    ),
    kind="derive",
    solution=(
        "def logit_grads(logits, x):\n"
        "    p = torch.sigmoid(logits)\n"
        "    return p - x, 2 * (p - x) * p * (1 - p)  # Bernoulli loss; squared error through the sigmoid"
    ),
    explanation=(
        "d/dl [softplus(l) - x l] = sigmoid(l) - x: the predicted probability minus the target, as large as the "
        "error however confident the logit. Through the sigmoid, the squared error's gradient carries the extra "
        "factor sigmoid'(l) = p (1 - p), which vanishes for a confident logit: at l = -40 with x = 1 it is about "
        "1e-17, so a pixel that is confidently wrong barely moves under squared error on sigmoid outputs, and "
        "moves at full speed under the Bernoulli loss."
    ),
)


@functools.cache
def linear_ae_experiment(n=1438, k=4, epochs=800, dataset="digits") -> float:
    """The experiment of 01.4: train notebook 01's linear autoencoder (no ReLU, code size k) by
    full-batch gradient descent with step 0.12 / (top eigenvalue) on the first n centred training
    images for ``epochs`` steps (the notebook's LINEAR_EPOCHS), with the notebook's
    ``pca.linear_ae_descent``, and return its training squared error per image (summed over pixels).
    The global random state of the caller is left as it was. Deterministic, so it runs once per
    process and arguments (the check, a re-run of it and the tests share it)."""
    from .. import data
    from ..models.ae import MLPAutoencoder
    from ..pca import linear_ae_descent

    x = data.load(dataset, "train")[0][:n]
    xc = x - x.mean(dim=0)  # (n, 1, H, W), centred as in the notebook
    X = xc.flatten(1).double()
    lr = 0.12 / torch.linalg.eigvalsh(X.T @ X / len(X))[-1].item()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MLPAutoencoder(x.shape[-1], k, hidden=(), linear=True, output="identity")
    enc, dec = model.encoder[1], model.decoder[0]
    weights, _ = linear_ae_descent(xc, (enc.weight, enc.bias, dec.weight, dec.bias), epochs, lr)
    with torch.no_grad():
        for p, w in zip((enc.weight, enc.bias, dec.weight, dec.bias), weights):
            p.copy_(w)
        return losses.mse(model(xc).recon, xc).mean().item()


def _spectrum(n=1438, dataset="digits"):
    from .. import data

    x = data.load(dataset, "train")[0][:n].flatten(1).double()
    xc = x - x.mean(0)
    return torch.linalg.eigvalsh(xc.T @ xc / len(xc)).flip(0)  # (D,) covariance eigenvalues, largest first


register_prediction(
    "01.4",
    "predict the linear autoencoder's error from PCA's eigenvalues",
    experiment=linear_ae_experiment,
    form="number",
    tol=0.03,
    hint=(
        "Section 5 says where the trained linear autoencoder ends: on PCA's top-4 subspace. What is left of a "
        "centred image after projecting it there?",
        "The average squared length of the part of the data along one principal direction is that direction's "
        "eigenvalue; the directions are orthogonal, so these add.",
        "You need two printed numbers of the cell above: the total variance and the first four eigenvalues.",
    ),
    solution=(
        "def predicted_linear_error():\n"
        "    total, top = 4.699, [0.698, 0.63, 0.555, 0.397]  # printed above (digits, all 1438 training images)\n"
        "    return total - sum(top)  # the variance along the discarded directions"
    ),
    explain=(
        "The best rank-4 reconstruction keeps the variance along the top 4 principal directions and loses the "
        "rest: its squared error per image is the sum of the discarded eigenvalues (Eckart-Young), and gradient "
        "descent on the linear autoencoder gets there"
    ),
    explanation=(
        "A centred image's squared length averages to the total variance, the sum of all eigenvalues; projecting "
        "onto the top-k principal subspace keeps the first k of them, so the error per image is the sum of the "
        "others. The linear autoencoder trained with squared error reaches that subspace, so its training "
        "error is that number, predicted before any training."
    ),
)


def pca_test_error(k=2, dataset="digits") -> float:
    """The experiment of 01.5: PCA with k components fitted on all training images, its test squared
    error per image (summed over pixels, averaged over the test images), as notebook 01's section 6 measures it."""
    from .. import data

    x_train, x_test = data.load(dataset, "train")[0], data.load(dataset, "test")[0]
    return losses.mse(pca_reconstruct(x_test, k, fit_on=x_train), x_test).mean().item()


register_prediction(
    "01.5",
    "predict the best linear 2-number code's test error",
    experiment=pca_test_error,
    form="number",
    tol=0.1,
    hint=(
        "01.4 predicted the error of the best code of 4 numbers from the eigenvalues; the same reasoning works for 2.",
        "On the images PCA was fitted on, its error with k components is the sum of the eigenvalues it "
        "discards; the test images are new, so expect a number close to it, not equal.",
        "You need three printed numbers of section 5: the total variance and the first two eigenvalues.",
    ),
    solution=(
        "def predicted_pca_error():\n"
        "    total, top = 4.699, [0.698, 0.63]  # printed in section 5 (digits, all 1438 training images)\n"
        "    return total - sum(top)  # the variance along the 62 discarded directions"
    ),
    explain=(
        "On the training images PCA's error with 2 components is the sum of the 62 discarded eigenvalues; on "
        "test images it is close to that. Eckart-Young makes the training value the floor of every linear "
        "(affine) 2-number code on those images, not of a nonlinear decoder, whose reconstructions from 2 numbers "
        "can lie on a curved surface: the next cell measures how far below it the autoencoder goes"
    ),
    explanation=(
        "A centred training image's squared length averages to the total variance; PCA with 2 components keeps "
        "the first two eigenvalues' worth and loses the rest, 4.699 - 0.698 - 0.630 = 3.371 per image on the "
        "training images, and the test images, which PCA was not fitted on, lose about as much (3.299). By "
        "Eckart-Young no linear encoder and decoder with 2 numbers does better; the nonlinear autoencoder is not "
        "bound by it, and its 2 numbers do better (section 6 prints by how much)."
    ),
)


@functools.cache
def untrained_probe_accuracy(dataset="digits", seed=0) -> float:
    """The experiment of 01.6: the test accuracy of notebook 01's linear probe (standardise, then logistic
    regression) on the 2-number codes of an untrained encoder of the course's shape (hidden 256, 128), built
    with torch's seed ``seed`` as the notebook builds it. The caller's random state is left as it was."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from .. import data
    from ..models.ae import MLPAutoencoder

    (x_train, y_train), (x_test, y_test) = data.load(dataset, "train"), data.load(dataset, "test")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = MLPAutoencoder(x_train.shape[-1], 2, (256, 128), output="logits").eval()
    with torch.no_grad():
        z_train, z_test = model.encode(x_train), model.encode(x_test)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return float(clf.fit(z_train, y_train).score(z_test, y_test))


def _untrained_probe_outcome():
    """01.6's answer: (a) below 0.15 (about chance, 0.1), (c) 0.6 or more, (b) in between."""
    acc = untrained_probe_accuracy()
    return "a" if acc < 0.15 else "c" if acc >= 0.6 else "b"


register_prediction(
    "01.6",
    "predict the linear probe's accuracy on an untrained encoder's codes",
    experiment=_untrained_probe_outcome,
    form="choice",
    options={
        "a": "an untrained network is not a random code: it is a fixed continuous map, so images close in pixels "
        "get close codes, and images of one digit are often close in pixels.",
        "b": "a fixed random continuous map keeps part of the pixels' neighbourhoods, so a probe reads some class "
        "information from two random features; training arranges the codes to rebuild the images and keeps "
        "much more (section 7 prints both).",
        "c": "the architecture alone does not do the work here: the trained codes beat the untrained ones by a "
        "wide margin (section 7 prints both).",
    },
    hint=(
        "An untrained encoder has random weights, but it is still a fixed function: the same image always gets "
        "the same code, and two similar images get similar codes.",
        "Are two 0s usually closer to each other in pixels than a 0 and a 1? What does a continuous map do to "
        "such distances?",
    ),
    solution='def junk_probe_prediction():\n    return "b"',
    explanation=(
        "A randomly initialised encoder is a fixed continuous map: nearby images get nearby codes, and images of "
        "the same digit are often nearby in pixels, so two random features already separate some classes. That "
        "is why a probe's accuracy is read beside its junk baseline, not beside chance: the trained codes' gain "
        "over the untrained ones is what training bought."
    ),
    explain="(The check builds the untrained encoder itself, with seed 0, and probes its codes.)",
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    def no_centring(x, k):
        v = torch.linalg.svd(x, full_matrices=False).Vh[:k]
        return x @ v.T @ v

    def mean_not_added_back(x, k):
        c = x - x.mean(0)
        v = torch.linalg.svd(c, full_matrices=False).Vh[:k]
        return c @ v.T @ v

    add_misconceptions(
        "01.3",
        M(
            "no-centring",
            "ran the SVD on uncentred data",
            "PCA works around the mean: subtract it before the SVD and add it back at the end.",
            no_centring,
        ),
        M(
            "mean-not-added-back",
            "centred the data but never added the mean back",
            "your reconstruction is centred: add the mean back at the end.",
            mean_not_added_back,
        ),
    )
    softplus = torch.nn.functional.softplus
    add_misconceptions(
        "01.1",
        M(
            "sign-flipped",
            "returned the log-likelihood, not its negative",
            "a loss is the NEGATIVE log-likelihood: your values have the wrong sign.",
            lambda l, x: (x * l - softplus(l)).flatten(1).sum(1),
        ),
        M(
            "mean-not-sum",
            "averaged over the pixels instead of summing",
            "the log-likelihood of an image is a SUM over its pixels, not a mean.",
            lambda l, x: (softplus(l) - x * l).flatten(1).mean(1),
        ),
    )
    sig = torch.sigmoid
    add_misconceptions(
        "01.2",
        M(
            "sign-flipped",
            "gradients with the wrong sign (x - sigmoid(l))",
            "check the sign: increasing the logit of a pixel that is off must increase the loss.",
            lambda l, x: (x - sig(l), 2 * (x - sig(l)) * sig(l) * (1 - sig(l))),
        ),
        M(
            "no-chain-rule",
            "differentiated the squared error with respect to the output, not the logit",
            "the squared error depends on l through sigmoid(l): multiply by the sigmoid's derivative (chain rule).",
            lambda l, x: (sig(l) - x, 2 * (sig(l) - x)),
        ),
    )

    def spectrum_value(f):
        return lambda: f(_spectrum())

    add_misconceptions(
        "01.4",
        M(
            "kept-not-discarded",
            "summed the kept eigenvalues (the variance the code keeps)",
            "the top eigenvalues are what the code KEEPS; the error is what it discards.",
            spectrum_value(lambda lam: lam[:4].sum().item()),
        ),
        M(
            "per-pixel",
            "divided by the number of pixels (a mean, not a sum over pixels)",
            "the course's squared error is summed over the pixels of an image, not averaged.",
            spectrum_value(lambda lam: lam[4:].sum().item() / len(lam)),
        ),
    )

    add_misconceptions(
        "01.5",
        M(
            "kept-not-discarded",
            "summed the two kept eigenvalues (the variance the code keeps)",
            "the top two eigenvalues are what the code KEEPS; the error is what it discards.",
            spectrum_value(lambda lam: lam[:2].sum().item()),
        ),
        M(
            "four-components",
            "gave 01.4's answer, the error of a 4-number code",
            "section 6 compares codes of 2 numbers: two fewer principal directions are kept than in 01.4.",
            spectrum_value(lambda lam: lam[4:].sum().item()),
        ),
        M(
            "per-pixel",
            "divided by the number of pixels (a mean, not a sum over pixels)",
            "the course's squared error is summed over the pixels of an image, not averaged.",
            spectrum_value(lambda lam: lam[2:].sum().item() / len(lam)),
        ),
    )


_mc()


add_misconceptions(
    "01.6",
    Misconception(
        "chose (a)",
        "predicted chance: an untrained network's codes carry no class information",
        "random weights still make a fixed continuous map: similar images get similar codes.",
    ),
    Misconception(
        "chose (c)",
        "predicted that the architecture alone gives codes as good as the trained ones",
        "the untrained codes keep some class information, far less than the trained ones.",
    ),
)
