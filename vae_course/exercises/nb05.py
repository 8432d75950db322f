"""Exercises of notebook 05 (gradient estimators)."""

import torch

from ..estimators import Cosine, Square, pathwise, score_function, theory_variance
from ..estimators import straight_through as _straight_through
from ..wake_sleep import dream_nll
from . import Feedback, case, register

D64 = torch.float64


def _estimator_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(0)
    return [
        case(
            Square(),
            torch.tensor([0.5, -1.0, 0.3], dtype=D64),
            torch.tensor([1.0, 0.5, 2.0], dtype=D64),
            torch.randn(6, 3, generator=g, dtype=D64),
            label="f = sum z^2, 3 dimensions, 6 samples",
        ),
        case(
            Cosine(2.0),
            torch.tensor([0.7], dtype=D64),
            torch.tensor([0.3], dtype=D64),
            torch.randn(5, 1, generator=g, dtype=D64),
            label="f = cos(2 z), 1 dimension, 5 samples",
        ),
        case(
            Square(),
            torch.tensor([1.0, 2.0], dtype=D64),
            torch.tensor([0.5, 0.5], dtype=D64),
            torch.zeros(2, 2, dtype=D64),
            label="eps = 0 (z = mu exactly)",
        ),
        case(
            Cosine(1.0),
            torch.tensor([3.0], dtype=D64),
            torch.tensor([4.0], dtype=D64),
            torch.randn(4, 1, generator=g, dtype=D64),
            label="f = cos(z) with a wide q (sigma = 4)",
        ),
    ]


register(
    "05.1",
    "score-function estimates",
    cases=_estimator_cases,
    reference=lambda f, mu, sigma, eps: tuple(score_function(f, mu, sigma, eps)),
    atol=1e-8,
    rtol=1e-6,
    hint=(
        "The score-function estimator weights f(z) by the gradient of log q with respect to the "
        "parameters: first draw z from the noise you are given.",
        "Differentiate log N(z; mu, sigma^2) by hand with respect to mu and to sigma, then write the "
        "results in terms of eps.",
        "Mind the shapes: f gives one value per sample, and it has to multiply a gradient per sample.",
    ),
    kind="implement",
    explanation=(
        "grad E_q[f] = E_q[f(z) grad log q(z)], and with z = mu + sigma eps the scores are eps / sigma "
        "for mu and (eps^2 - 1) / sigma for sigma, so the estimate of each sample is f(z) times them."
    ),
)

register(
    "05.2",
    "pathwise estimates",
    cases=_estimator_cases,
    reference=lambda f, mu, sigma, eps: tuple(pathwise(f, mu, sigma, eps)),
    atol=1e-8,
    rtol=1e-6,
    hint=(
        "Write z as a function of mu, sigma and the fixed noise, and differentiate f through it (the chain rule).",
        "autograd can give you f'(z) for every sample at once if z is a leaf that requires gradients and "
        "you differentiate the sum.",
        "dz/dmu is 1 and dz/dsigma is eps.",
    ),
    kind="implement",
    explanation=(
        "With z = mu + sigma eps, d f(z)/d mu = f'(z) and d f(z)/d sigma = f'(z) eps: the gradient goes "
        "through the sample, which is why its variance is usually far lower than the score function's."
    ),
)


def _check_straight_through(fn, g=None):
    g = g if g is not None else torch.Generator().manual_seed(2)
    for shape, label in (((6,), "a vector of 6"), ((3, 4), "a (3, 4) batch of codes")):
        soft = torch.randn(*shape, generator=g).requires_grad_(True)
        hard = torch.round(soft.detach() * 2) / 2  # a fake quantizer: nearest multiple of 0.5
        out = fn(soft, hard)
        if not isinstance(out, torch.Tensor) or out.shape != hard.shape:
            raise Feedback(
                f"on {label} the result should be a tensor of shape {tuple(hard.shape)}, "
                f"got {getattr(out, 'shape', type(out).__name__)}"
            )
        if not torch.allclose(out.detach(), hard, atol=1e-6):
            raise Feedback(
                f"on {label} the forward value should equal `hard` (the quantized code); "
                f"it differs by up to {(out.detach() - hard).abs().max().item():.3g}"
            )
        if not out.requires_grad:
            raise Feedback(
                f"on {label} no gradient can flow back: the result does not depend on `soft` "
                "in the graph (did you return `hard` or detach everything?)",
                misconception="no-gradient-path",
            )
        upstream = torch.randn(*shape, generator=g)
        (grad,) = torch.autograd.grad(out, soft, upstream)
        if not torch.allclose(grad, upstream, atol=1e-6):
            cancelled = torch.allclose(grad, torch.zeros_like(grad), atol=1e-6)
            raise Feedback(
                f"on {label} the gradient reaching `soft` should equal the upstream gradient "
                f"(identity), but it differs by up to {(grad - upstream).abs().max().item():.3g}"
                + (
                    ": it is 0, as if the correction's gradient cancelled soft's (is it detached?)" if cancelled else ""
                ),
                misconception="no-detach" if cancelled else "",
            )
    ref = _straight_through(soft, hard)
    assert torch.equal(ref.detach(), hard)
    return "forward value is the hard code, backward is the identity"


register(
    "05.3",
    "straight-through estimator",
    checker=_check_straight_through,
    solved_by=("straight_through",),
    hint=(
        "You want two things at once: the forward value of the hard code and the gradient of the soft one.",
        "Start from the soft value and add a correction that is invisible to autograd.",
    ),
    solution="def straight_through_yours(soft, hard):\n    return soft + (hard - soft).detach()",
    kind="implement",
    explanation=(
        "soft + (hard - soft).detach() equals hard in the forward pass, and its gradient is that of soft,"
        " because the detached bracket is a constant for autograd."
    ),
)


def _baseline_variance_reference(mu, sigma, b):
    return float(theory_variance(Square(), [float(mu)], [float(sigma)], "score", "mu", float(b))[0])


def _baseline_variance_cases():
    return [
        case(0.0, 1.0, 0.0, label="mu = 0, sigma = 1, no baseline"),
        case(1.0, 1.0, 0.0, label="mu = 1, sigma = 1, no baseline (section 2's formula)"),
        case(1.0, 1.0, 2.0, label="mu = 1, sigma = 1, b = E[f] = 2"),
        case(1.0, 1.0, 4.0, label="mu = 1, sigma = 1, b = 4"),
        case(2.0, 0.5, 1.0, label="mu = 2, sigma = 0.5, b = 1"),
        case(-1.5, 2.0, 10.0, label="mu = -1.5, sigma = 2, b = 10"),
    ]


register(
    "05.4",
    "variance of the score estimator with a baseline (derive)",
    reference=_baseline_variance_reference,
    cases=_baseline_variance_cases,
    atol=1e-6,
    rtol=1e-6,
    hint=(
        "Write one sample of the estimator as a polynomial in eps, with the baseline b subtracted from f.",
        "The variance is E[sample^2] minus the squared mean; expand and keep the even powers of eps (the "
        "odd moments of a standard normal vanish).",
        "You need E eps^2, E eps^4 and E eps^6 of a standard normal; the mean of the estimator is the true gradient.",
    ),
    kind="derive",
    explanation=(
        "Expanding the squared sample and using E eps^2 = 1, E eps^4 = 3, E eps^6 = 15 gives a variance "
        "that is a quadratic in b: a good baseline removes most of it, and the estimator's mean does not "
        "change."
    ),
)


def _sleep_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(3)
    return [
        case(
            torch.randn(6, 3, generator=g),
            torch.randn(6, 3, generator=g),
            torch.randn(6, 3, generator=g),
            label="6 dreams, 3 latent dimensions",
        ),
        case(torch.zeros(2, 2), torch.zeros(2, 2), torch.zeros(2, 2), label="z = mu = 0, unit variance"),
        case(
            torch.tensor([[1.0, -2.0]]),
            torch.tensor([[0.5, -1.0]]),
            torch.tensor([[-2.0, 1.0]]),
            label="one dream, unequal variances",
        ),
        case(torch.randn(4, 1, generator=g), torch.zeros(4, 1), torch.zeros(4, 1), label="q = N(0, 1), 1-D"),
    ]


register(
    "05.5",
    "the sleep phase's loss",
    reference=dream_nll,
    cases=_sleep_cases,
    hint=(
        "The sleep phase fits q to samples (z, x) dreamt by the model: it maximises log q(z | x) of the dreamt z.",
        "Write the log density of a diagonal Gaussian per dimension, with log of the variance given as logvar.",
        "Sum over latent dimensions, average over the batch, and remember the loss is minus the log-likelihood.",
    ),
    kind="implement",
    explanation=(
        "The sleep loss is the negative log-likelihood of the dreamt z under q: the Gaussian log density,"
        " summed over dimensions and averaged over the batch."
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    import math

    from . import Misconception as M
    from . import add_misconceptions

    def _fz(f, mu, sigma, eps):  # f at the samples, as a column (n, 1)
        return f(mu + sigma * eps).detach()[:, None]

    def _fprime(f, mu, sigma, eps):  # f'(z) at the samples (n, D)
        z = (mu + sigma * eps).detach().requires_grad_(True)
        return torch.autograd.grad(f(z).sum(), z)[0]

    add_misconceptions(
        "05.1",
        M(
            "no-minus-one",
            "gave the sigma score as eps^2 / sigma, without the -1 from the normaliser",
            "log q also holds -log sigma: its derivative adds -1 / sigma, so the sigma score is (eps^2 - 1) / sigma.",
            lambda f, mu, sigma, eps: (
                _fz(f, mu, sigma, eps) * eps / sigma,
                _fz(f, mu, sigma, eps) * eps**2 / sigma,
            ),
        ),
        M(
            "not-divided-by-sigma",
            "left out the 1 / sigma of both scores (differentiated in eps, not in the parameters)",
            "d log q / d mu = (z - mu) / sigma^2 = eps / sigma: the scores carry a factor 1 / sigma.",
            lambda f, mu, sigma, eps: (_fz(f, mu, sigma, eps) * eps, _fz(f, mu, sigma, eps) * (eps**2 - 1)),
        ),
    )
    add_misconceptions(
        "05.2",
        M(
            "sigma-grad-no-eps",
            "used f'(z) for the sigma gradient too, forgetting dz/dsigma = eps",
            "z = mu + sigma eps, so dz/dsigma = eps: the sigma gradient is f'(z) eps.",
            lambda f, mu, sigma, eps: (_fprime(f, mu, sigma, eps), _fprime(f, mu, sigma, eps)),
        ),
        M(
            "value-not-derivative",
            "used f(z) where its derivative f'(z) belongs",
            "the pathwise estimate differentiates f through z: f'(z), not f(z).",
            lambda f, mu, sigma, eps: (
                _fz(f, mu, sigma, eps).expand_as(eps),
                _fz(f, mu, sigma, eps) * eps,
            ),
        ),
    )
    add_misconceptions(
        "05.3",
        M(
            "no-gradient-path",
            "returned the hard code (or detached everything): no gradient reaches soft",
            "the result must stay in the graph of soft: start from soft and add a detached correction.",
        ),
        M(
            "no-detach",
            "wrote soft + (hard - soft) without detaching: the two soft terms cancel, gradient 0",
            "without .detach() the correction's gradient cancels soft's: detach the bracket (hard - soft).",
        ),
    )
    add_misconceptions(
        "05.4",
        M(
            "baseline-ignored",
            "gave the variance without a baseline, whatever b is",
            "the baseline changes each sample, (f - b) times the score, so it changes the variance (not the mean).",
            lambda mu, sigma, b: _baseline_variance_reference(mu, sigma, 0.0),
        ),
        M(
            "mean-not-subtracted",
            "gave E[sample^2], the second moment, not the variance",
            "the variance subtracts the squared mean, here the true gradient 2 mu: E[sample^2] - (2 mu)^2.",
            lambda mu, sigma, b: _baseline_variance_reference(mu, sigma, b) + (2 * float(mu)) ** 2,
        ),
    )

    def _log_q(z, mu, logvar):  # (B,) log N(z; mu, exp(logvar)) summed over dimensions
        return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp()).sum(-1)

    add_misconceptions(
        "05.5",
        M(
            "sign-flipped",
            "returned the log-likelihood log q(z | x), not its negative",
            "a loss is minimised: the sleep loss is MINUS the log-likelihood of the dreamt z.",
            lambda z, mu, logvar: _log_q(z, mu, logvar).mean(),
        ),
        M(
            "sum-over-batch",
            "summed over the batch instead of averaging",
            "one loss for the batch, as its mean over the dreams: divide the sum by the batch size.",
            lambda z, mu, logvar: -_log_q(z, mu, logvar).sum(),
        ),
        M(
            "no-constant",
            "left out the log 2 pi of the Gaussian density",
            "the Gaussian log density holds -log(2 pi) / 2 per dimension: it does not change the gradient, "
            "but the loss is the negative log-likelihood itself.",
            lambda z, mu, logvar: -(_log_q(z, mu, logvar) + 0.5 * z.shape[-1] * math.log(2 * math.pi)).mean(),
        ),
    )


_mc()
