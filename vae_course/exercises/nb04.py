"""Exercises of notebook 04 (the ELBO derivation)."""

import torch

from ..losses import gaussian_kl, log_mean_exp
from . import Feedback, case, register


def _kl_cases():
    g = torch.Generator().manual_seed(0)
    return [
        case(
            torch.randn(5, 3, generator=g),
            torch.randn(5, 3, generator=g),
            label="a batch of 5 random (mu, logvar) in 3 dimensions",
        ),
        case(torch.zeros(2, 4), torch.zeros(2, 4), label="q equal to the prior (mu = 0, logvar = 0: KL 0)"),
        case(torch.tensor([[2.0, -1.0]]), torch.zeros(1, 2), label="unit variance, mu = (2, -1): KL = |mu|^2 / 2"),
        case(
            torch.zeros(1, 3),
            torch.tensor([[-4.0, 0.0, 3.0]]),
            label="mu = 0, logvar = (-4, 0, 3): only the variance penalty",
        ),
        case(torch.randn(1, 1, generator=g), torch.randn(1, 1, generator=g), label="one example, one dimension"),
    ]


register(
    "04.2",
    "closed-form KL(q || N(0, I))",
    reference=gaussian_kl,
    cases=_kl_cases,
    hint="per dimension 0.5 * (mu^2 + exp(logvar) - 1 - logvar), then sum over the last dimension "
    "(not the batch): the result has one value per example, shape (B,).",
)


def _check_log_mean_exp(fn):
    g = torch.Generator().manual_seed(1)
    cases = [
        (torch.randn(10, 4, generator=g, dtype=torch.float64), "10 random log-weights for 4 inputs"),
        (
            torch.full((3, 2), -1000.0, dtype=torch.float64) + torch.tensor([[0.0], [1.0], [2.0]], dtype=torch.float64),
            "log-weights near -1000 (exp underflows to 0: subtract the max first)",
        ),
        (torch.full((5, 1), 800.0, dtype=torch.float64), "log-weights of 800 (exp overflows to inf)"),
        (torch.tensor([[0.5, -2.0]], dtype=torch.float64), "a single sample (S = 1): the answer is the input"),
    ]
    for values, label in cases:
        expected = log_mean_exp(values, dim=0)
        got = fn(values.clone())
        if not isinstance(got, torch.Tensor):
            raise Feedback(f"on input ({label}) your result should be a torch.Tensor, got {type(got).__name__}")
        if got.shape != expected.shape:
            raise Feedback(
                f"on input ({label}) your result has shape {tuple(got.shape)}; expected "
                f"{tuple(expected.shape)}: average over the samples (dim 0), one value per input"
            )
        if not torch.isfinite(got).all():
            raise Feedback(
                f"on input ({label}) your result contains {got[~torch.isfinite(got)][0].item()}: "
                "exponentiating large or very negative numbers directly over- or underflows"
            )
        if not torch.allclose(got.double(), expected, atol=1e-5, rtol=1e-6):
            i = int((got.double() - expected).abs().argmax())
            raise Feedback(f"on input ({label}) entry {i} is {got[i].item():.10g}; expected {expected[i].item():.10g}")
    return f"stable on {len(cases)} inputs, including exp under- and overflow"


register(
    "04.1",
    "log of a mean of weights, stably",
    checker=_check_log_mean_exp,
    hint="log mean exp(v) = m + log mean exp(v - m) with m the max over dim 0 (torch.logsumexp does "
    "this); then subtract log S, not log of the number of inputs.",
)
