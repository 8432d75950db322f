"""Exercises of notebook 08 (VQ-VAE): nearest-code lookup, codebook perplexity, straight-through."""

import torch

from ..models.vq import nearest_code, perplexity
from . import Feedback, case, compare, register


def _nearest_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(0)
    codebook = torch.randn(16, 4, generator=g)
    on_codes = codebook[torch.tensor([3, 0, 15, 7])] + 1e-3
    return [
        case(torch.randn(50, 4, generator=g), codebook, label="50 random vectors, 16 codes in 4-D"),
        case(on_codes, codebook, label="4 vectors sitting on codes 3, 0, 15, 7"),
        case(torch.randn(5, 2, generator=g), torch.randn(1, 2, generator=g), label="a codebook of one code"),
        case(
            torch.tensor([[1.0, 0.0]]),
            torch.tensor([[10.0, 0.0], [0.9, 0.5]]),
            label="z = (1, 0), codes (10, 0) and (0.9, 0.5): the largest dot product is NOT the nearest",
        ),
        case(
            torch.tensor([[0.0, 0.0], [100.0, 100.0]]),
            torch.tensor([[1.0, 1.0], [-1.0, -1.0], [50.0, 60.0]]),
            label="vectors at the origin and far away",
        ),
    ]


register(
    "08.1",
    "the nearest code",
    reference=nearest_code,
    cases=_nearest_cases,
    hint="compute the squared distance from every vector to every code, a (N, K) matrix "
    "(torch.cdist, or ||z||^2 - 2 z e^T + ||e||^2), then argmin over the codes (dim=1).",
)


def _perplexity_reference(counts: torch.Tensor) -> float:
    return float(perplexity(counts))


def _perplexity_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(1)
    return [
        case(torch.randint(0, 50, (64,), generator=g), label="random counts for 64 codes"),
        case(torch.full((8,), 5), label="8 codes used 5 times each (perplexity 8)"),
        case(torch.tensor([0, 12, 0, 0]), label="one code takes everything (perplexity 1)"),
        case(torch.tensor([3, 0, 1, 0, 0, 4]), label="counts with unused codes (0 log 0 counts as 0)"),
        case(torch.tensor([1000000, 1]), label="one huge count and one tiny one"),
    ]


register(
    "08.3",
    "codebook perplexity",
    reference=_perplexity_reference,
    cases=_perplexity_cases,
    hint="turn counts into probabilities p = counts / counts.sum() (as floats), keep only p > 0 "
    "(0 log 0 = 0, but log(0) is -inf and 0 * -inf is NaN), then exp(-(p * log p).sum()).",
)


def _check_straight_through(fn, g=None) -> str:
    g = g if g is not None else torch.Generator().manual_seed(2)
    z_e = torch.randn(3, 4, 2, 2, generator=g).requires_grad_(True)
    z_q = torch.randn(3, 4, 2, 2, generator=g).requires_grad_(True)
    out = fn(z_e, z_q)
    if not isinstance(out, torch.Tensor):
        raise Feedback(f"your function should return a tensor, it returned a {type(out).__name__}")
    compare(out, z_q.detach(), where="the forward value (it should equal z_q)")
    if not out.requires_grad:
        raise Feedback("the result carries no gradient: it must stay connected to z_e (did you detach z_e?)")
    w = torch.randn(3, 4, 2, 2, generator=g)
    (out * w).sum().backward()
    if z_e.grad is None:
        raise Feedback(
            "no gradient reaches z_e: the straight-through estimator must pass the upstream "
            "gradient to the encoder output unchanged"
        )
    compare(z_e.grad, w, where="the gradient reaching z_e (it should equal the upstream gradient)")
    if z_q.grad is not None and z_q.grad.abs().max() > 0:
        raise Feedback(
            "a gradient reaches z_q through your function: the codebook must be trained by the "
            "codebook loss, not through this path (stop the gradient of z_q - z_e)"
        )
    return "value z_q, gradient copied to z_e, none to z_q"


register(
    "08.2",
    "the straight-through estimator",
    checker=_check_straight_through,
    solved_by=("straight_through",),
    hint="z_e + (z_q - z_e).detach(): in the forward pass z_e cancels, in the backward pass the "
    "detached bracket is a constant, so d out / d z_e is the identity.",
)
