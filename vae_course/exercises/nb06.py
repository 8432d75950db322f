"""Exercises of notebook 06 (variational autoencoders)."""

import torch

from ..losses import log_mean_exp
from ..models.vae import reparameterize
from . import case, register


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
    hint="sigma is the standard deviation, exp(logvar / 2), not the variance exp(logvar); z = mu + sigma * eps.",
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
    "06.2",
    "a stable log-mean-exp for the IWAE bound",
    reference=log_mean_exp,
    cases=_lme_cases,
    atol=1e-4,
    hint="subtract the largest log weight m before exponentiating, add it back after the log "
    "(or use torch.logsumexp), and divide by K inside the log: subtract log K.",
)
