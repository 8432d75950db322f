"""Exercises of notebook 01 (autoencoders)."""

from __future__ import annotations

import torch

from vae_course import losses
from vae_course.exercises import case, register

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
    "01.1",
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
    "01.2",
    "Bernoulli reconstruction loss from logits",
    reference=losses.bce_with_logits,
    cases=_bce_cases,
    atol=1e-4,
    rtol=1e-4,
    hint=(
        "Write -log p(x | l) for one pixel with p = sigmoid(l), and simplify it until only l and x appear.",
        "log(1 + e^l) overflows for large l: PyTorch has a stable function for exactly this expression.",
        "One loss per image: reduce over every dimension except the batch dimension.",
    ),
    kind="implement",
    explanation=(
        "With p = sigmoid(l), -[x log p + (1 - x) log(1 - p)] simplifies to softplus(l) - x l, which "
        "never takes the log of a rounded probability and so stays finite for any logit."
    ),
)


def _bce_grad_reference(logits, x):
    return torch.sigmoid(logits) - x


def _bce_grad_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(5)
    x = (torch.rand(4, 1, 6, 6, generator=g) > 0.5).float()
    return [
        case(torch.randn(4, 1, 6, 6, generator=g) * 3, x, label="a batch of 4 binary 6x6 images, random logits"),
        case(torch.zeros(2, 1, 3, 3), torch.ones(2, 1, 3, 3), label="logit 0 (p = 1/2), every pixel on"),
        case(
            torch.tensor([[[[40.0, -40.0]]]]),
            torch.tensor([[[[0.0, 1.0]]]]),
            label="confident and wrong: logits of +-40 (the gradient must stay finite)",
        ),
        case(torch.randn(3, 1, 4, 4, generator=g), torch.rand(3, 1, 4, 4, generator=g), label="grey targets in [0, 1]"),
    ]


register(
    "01.3",
    "the gradient of the Bernoulli loss with respect to a logit (derive)",
    reference=_bce_grad_reference,
    cases=_bce_grad_cases,
    hint=(
        "Differentiate your 01.2 expression for one pixel, softplus(l) - x l, with respect to l.",
        "The derivative of softplus is a function you know from logistic regression.",
    ),
    kind="derive",
    solution="def bce_logit_grad(logits, x):\n    return torch.sigmoid(logits) - x  # d/dl [softplus(l) - x l]",
    explanation=(
        "d/dl softplus(l) = e^l / (1 + e^l) = sigmoid(l), so the gradient is sigmoid(l) - x: the predicted "
        "probability minus the target, bounded by 1 in size however wrong the logit is. That is why the "
        "loss from logits trains stably where the log of a saturated sigmoid would not."
    ),
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
        "01.1",
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
        "01.2",
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
    add_misconceptions(
        "01.3",
        M(
            "sign-flipped",
            "gradient with the wrong sign (x - sigmoid(l))",
            "check the sign: increasing the logit of a pixel that is off must increase the loss.",
            lambda l, x: x - torch.sigmoid(l),
        ),
        M(
            "target-dropped",
            "forgot the -x l term: sigmoid(l) alone",
            "the loss has a -x l term too: its derivative does not vanish.",
            lambda l, x: torch.sigmoid(l),
        ),
    )


_mc()
