"""Exercises of notebook 04 (the ELBO derivation)."""

import math

import torch

from ..losses import gaussian_kl, log_mean_exp
from . import Feedback, case, register


def _kl_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(0)
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
    hint=(
        "Both distributions factorise over dimensions: compute one KL per dimension, then combine them.",
        "For one dimension, expand E_q[log q - log p] using E_q[z^2] = mu^2 + sigma^2; remember that "
        "logvar is the log of the variance.",
        "Sum over the latent dimension only: one KL per example.",
    ),
    kind="implement",
    explanation=(
        "Per dimension, KL(N(mu, s^2) || N(0, 1)) = (mu^2 + s^2 - 1 - log s^2) / 2, and independent "
        "dimensions add, so the sum over the last axis gives one KL per example."
    ),
)


def _check_log_mean_exp(fn, g=None):
    g = g if g is not None else torch.Generator().manual_seed(1)
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
                "exponentiating large or very negative numbers directly over- or underflows",
                misconception="no-shift",
            )
        if not torch.allclose(got.double(), expected, atol=1e-5, rtol=1e-6):
            i = int((got.double() - expected).abs().argmax())
            summed = torch.allclose(got.double(), expected + math.log(len(values)), atol=1e-5, rtol=1e-6)
            summed = summed and len(values) > 1
            raise Feedback(
                f"on input ({label}) entry {i} is {got[i].item():.10g}; expected {expected[i].item():.10g}"
                + (f", log {len(values)} too much: that is log SUM exp; a mean divides by S" if summed else ""),
                misconception="sum-not-mean" if summed else "",
            )
    return f"stable on {len(cases)} inputs, including exp under- and overflow"


register(
    "04.1",
    "log of a mean of weights, stably",
    checker=_check_log_mean_exp,
    solved_by=("log_mean_exp",),
    hint=(
        "exp of a large log-weight overflows and exp of a very negative one underflows: shift the values "
        "before exponentiating.",
        "Shifting by the largest value m makes the biggest term exactly 1; add m back after the log.",
        "A mean is a sum divided by S: inside the log that becomes a subtraction.",
    ),
    solution="def log_mean_exp_yours(values):\n    return torch.logsumexp(values, dim=0) - math.log(values.shape[0])",
    kind="implement",
    explanation=(
        "log mean exp(v) = m + log sum exp(v - m) - log S with m = max v: every exponent is at most 0, "
        "and the largest term is 1, so nothing overflows and the log never sees 0."
    ),
)


def _kl_discrete_reference(p, q):
    terms = torch.where(p > 0, p * (p.log() - q.log()), torch.zeros_like(p))
    return terms.sum(dim=-1)


def _kl_discrete_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(2)
    a = torch.rand(4, 5, generator=g, dtype=torch.float64) + 0.05
    b = torch.rand(4, 5, generator=g, dtype=torch.float64) + 0.05
    return [
        case(
            torch.tensor([0.5, 0.25, 0.2, 0.05], dtype=torch.float64),
            torch.full((4,), 0.25, dtype=torch.float64),
            label="the weather example: p = (0.5, 0.25, 0.2, 0.05), q uniform",
        ),
        case(
            torch.full((4,), 0.25, dtype=torch.float64),
            torch.tensor([0.5, 0.25, 0.2, 0.05], dtype=torch.float64),
            label="the other direction: KL(q || p)",
        ),
        case(
            torch.tensor([0.3, 0.7], dtype=torch.float64),
            torch.tensor([0.3, 0.7], dtype=torch.float64),
            label="q = p: KL is 0",
        ),
        case(
            torch.tensor([0.0, 0.6, 0.4], dtype=torch.float64),
            torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64),
            label="p(x) = 0 for one outcome: that term is 0",
        ),
        case(
            torch.tensor([0.0, 1.0], dtype=torch.float64),
            torch.tensor([0.0, 1.0], dtype=torch.float64),
            label="p(x) = q(x) = 0 for one outcome: still 0, not NaN",
        ),
        case(a / a.sum(-1, keepdim=True), b / b.sum(-1, keepdim=True), label="a batch of 4 pairs over 5 outcomes"),
    ]


register(
    "04.3",
    "KL between two discrete distributions",
    reference=_kl_discrete_reference,
    cases=_kl_discrete_cases,
    atol=1e-8,
    rtol=1e-6,
    hint=(
        "KL is an expectation under p of a log ratio: write it as a sum over outcomes.",
        "Where p is 0 the term is 0 by convention, but floating point computes 0 times minus infinity: "
        "select those terms away instead of multiplying.",
    ),
    kind="implement",
    explanation=(
        "KL(p || q) = sum_x p(x) log(p(x) / q(x)); terms with p(x) = 0 contribute nothing, so they are "
        "replaced by 0 explicitly, which also avoids the NaN of 0 * log 0."
    ),
)


def _mean_field_reference(W, sigma):
    return -torch.log(1 + (W**2).sum(0) / sigma**2)


def _mean_field_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(4)
    return [
        case(torch.randn(12, 4, generator=g, dtype=torch.float64), 0.5, label="W: (12, 4), sigma = 0.5"),
        case(
            torch.randn(20, 3, generator=g, dtype=torch.float64), 2.0, label="W: (20, 3), sigma = 2 (a noisy decoder)"
        ),
        case(torch.zeros(5, 2, dtype=torch.float64), 1.0, label="W = 0: z does not affect x, q is the prior"),
        case(torch.eye(3, dtype=torch.float64) * 3, 1.0, label="W = 3 I: independent coordinates"),
    ]


register(
    "04.4",
    "the best mean-field variances (derive)",
    reference=_mean_field_reference,
    cases=_mean_field_cases,
    atol=1e-8,
    rtol=1e-6,
    hint=(
        "Write the terms of the ELBO that depend on the diagonal variances s_j = log S_jj only: a trace term, "
        "tr S and log det S.",
        "Differentiate with respect to one s_j and set the derivative to zero; (W^T W)_jj is the squared "
        "norm of column j of W.",
        "You should find that e^{s_j} is one over (1 + something): take the log.",
    ),
    kind="derive",
    explanation=(
        "Setting the derivative of the ELBO with respect to s_j to zero gives e^{s_j} = 1 / (1 + "
        "||W_j||^2 / sigma^2), the posterior precision's diagonal inverted: mean field matches the "
        "precision, not the covariance."
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "04.1",
        M(
            "no-shift",
            "exponentiated the log-weights directly (no max shift): overflow or underflow",
            "exp(800) is inf and exp(-1000) is 0 in floating point: subtract the largest value before "
            "exponentiating and add it back after the log.",
        ),
        M(
            "sum-not-mean",
            "took log sum exp (no division by the number of samples S)",
            "that is log SUM exp: a mean divides by S, so subtract log S.",
        ),
    )
    add_misconceptions(
        "04.3",
        M(
            "direction-swapped",
            "computed KL(q || p): the expectation under the wrong distribution",
            "that is KL(q || p): the KL is not symmetric; the expectation is under p, the first argument.",
            lambda p, q: _kl_discrete_reference(q, p),
        ),
        M(
            "nan-at-zero",
            "multiplied 0 by log 0 where p(x) = 0: NaN instead of a zero term",
            "where p(x) = 0 the term is 0 by convention, but 0 * log 0 is NaN in floating point: select those "
            "terms away (torch.where) instead of multiplying.",
            lambda p, q: (p * (p / q).log()).sum(-1),
        ),
    )
    add_misconceptions(
        "04.4",
        M(
            "posterior-covariance",
            "matched the diagonal of the posterior COVARIANCE, not the precision",
            "the mean-field optimum inverts the diagonal of the posterior precision; the diagonal of the "
            "covariance is larger where the latent dimensions are correlated.",
            lambda W, sigma: (
                torch.linalg.inv(torch.eye(W.shape[1], dtype=W.dtype) + W.T @ W / sigma**2).diagonal().log()
            ),
        ),
        M(
            "sigma-dropped",
            "left out the decoder's noise sigma^2 (as if sigma = 1)",
            "the likelihood's precision is 1 / sigma^2: it scales ||W_j||^2.",
            lambda W, sigma: -torch.log(1 + (W**2).sum(0)),
        ),
        M(
            "sign-flipped",
            "gave +log(1 + ||W_j||^2 / sigma^2): a variance above the prior's",
            "the data can only make q narrower than the prior: the log-variance is at most 0.",
            lambda W, sigma: torch.log(1 + (W**2).sum(0) / sigma**2),
        ),
    )

    def kl(mu, lv):
        return 0.5 * (mu.pow(2) + lv.exp() - 1 - lv).sum(-1)

    add_misconceptions(
        "04.2",
        M(
            "kl-sign",
            "KL with the wrong sign",
            "a KL divergence is never negative: check the sign of each term.",
            lambda mu, lv: -kl(mu, lv),
        ),
        M(
            "missing-half",
            "missing the factor 1/2",
            "each Gaussian term carries a factor 1/2.",
            lambda mu, lv: 2 * kl(mu, lv),
        ),
        M(
            "variance-for-logvar",
            "used the log-variance where the variance belongs (no exp)",
            "logvar is the LOG of the variance: the variance is exp(logvar).",
            lambda mu, lv: 0.5 * (mu.pow(2) + lv - 1 - lv.log()).sum(-1),
        ),
    )


_mc()
