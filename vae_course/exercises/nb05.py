"""Exercises of notebook 05 (gradient estimators)."""

import torch

from ..estimators import Cosine, Square, bernoulli_estimator_errors, score_function, theory_variance
from ..estimators import straight_through as _straight_through
from . import Feedback, Misconception, add_misconceptions, case, register, register_prediction

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
    "05.5",
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
    "05.2",
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


def _loo_variance_reference(mu, sigma, K):
    return float(theory_variance(Square(), [float(mu)], [float(sigma)], "score", "mu", "loo", group=int(K))[0])


def _loo_variance_cases():
    return [
        case(1.0, 1.0, 2, label="mu = 1, sigma = 1, a batch of 2"),
        case(1.0, 1.0, 20, label="mu = 1, sigma = 1, a batch of 20"),
        case(0.0, 1.0, 4, label="mu = 0, sigma = 1, a batch of 4"),
        case(2.0, 0.5, 3, label="mu = 2, sigma = 0.5, a batch of 3"),
        case(-1.5, 2.0, 8, label="mu = -1.5, sigma = 2, a batch of 8"),
    ]


register(
    "05.3",
    "the leave-one-out baseline from a small batch (derive)",
    reference=_loo_variance_reference,
    cases=_loo_variance_cases,
    atol=1e-6,
    rtol=1e-6,
    hint=(
        "Write f_i - b_i as (f_i - E f) - (b_i - E f): the first part is what a perfect baseline leaves, the "
        "second is the baseline's own error.",
        "b_i is built from the other samples only, so it is independent of eps_i: expand the square and see "
        "which cross term has mean zero.",
        "The baseline's error is the mean of K - 1 independent copies of f minus E f; its variance is "
        "Var[f] / (K - 1), and Var[z^2] needs E z^4 of a normal with mean mu.",
    ),
    solution=(
        "def loo_score_variance(mu, sigma, K):\n"
        "    b = mu**2 + sigma**2                                                # the ideal baseline E[f]\n"
        "    second = mu**4 + 18 * mu**2 * sigma**2 + 15 * sigma**4 - 2 * b * (mu**2 + 3 * sigma**2) + b**2\n"
        "    ideal = second / sigma**2 - 4 * mu**2                               # 05.2 at b = E[f]\n"
        "    var_f = 4 * mu**2 * sigma**2 + 2 * sigma**4                         # Var[z^2]\n"
        "    return ideal + var_f / ((K - 1) * sigma**2)"
    ),
    kind="derive",
    explanation=(
        "With f_i - b_i = (f_i - E f) - (b_i - E f) and b_i independent of eps_i, the cross term vanishes and "
        "E[(b_i - E f)^2 eps_i^2] = Var[f] / (K - 1): the variance is that of the ideal baseline E f plus "
        "Var[f] / ((K - 1) sigma^2). A batch of 2 pays the whole Var[f] / sigma^2; only a large batch makes the "
        "leave-one-out baseline as good as knowing E f."
    ),
)


_NO_BASELINE = ("score", "straight_through", "concrete")


def _lowest_error_letter(g=None):
    """Which of the three estimators without a baseline has the lowest one-sample MSE on 05's Bernoulli
    example (exact values)."""
    errors = bernoulli_estimator_errors(lambda z: (z - 0.45) ** 2, theta=0.3, temperature=1.0)
    best = min(_NO_BASELINE, key=lambda name: errors[name].mse)
    return "abc"[_NO_BASELINE.index(best)]


register_prediction(
    "05.4",
    "predict which estimator without a baseline has the lowest error on one Bernoulli code",
    experiment=_lowest_error_letter,
    form="choice",
    options={
        "a": "the score function is unbiased, but without a baseline it multiplies f's whole level, about 0.25, "
        "by a zero-mean score: its variance, 0.015, is three times warm Concrete's error.",
        "b": "straight-through uses the slope of f at the sampled point: its mean is 2.5 times the gradient (a bias "
        "of +150 %) and its variance, 0.06, the largest of the three.",
        "c": "at T = 1 the relaxed sample is close enough to the hard one for this gentle f: a bias of about 8 % "
        "of the gradient and a variance of about 0.005, the lowest error of the three (a baselined score "
        "function, in the next cell, beats it).",
    },
    hint=(
        "Mean squared error is bias squared plus variance: which of the three is unbiased, and how large are "
        "the others' biases?",
        "Without a baseline the score function multiplies f's whole level (about 0.25) by z - p; "
        "straight-through's expectation is written above: compare it with the exact gradient.",
        "At T = 1 the relaxed sample y varies smoothly and f is a gentle parabola: how far is f(y) from f(z)?",
    ),
    solution='def error_prediction():\n    return "c"',
    explanation=(
        "With one code f takes two values, 0.2025 and 0.3025. Without a baseline the score function multiplies "
        "about 0.25 by z - p: unbiased, variance 0.015. Straight-through's mean is 2.5 times the gradient (a bias of "
        "+150 %), with variance 0.06. Concrete at T = 1 evaluates f at a relaxed y close enough to z for this "
        "smooth f: a bias of about 8 % of the gradient and variance 0.005, the lowest error of the three. The "
        "score function with the baseline E f (variance about 5e-5) beats all three: a biased estimator earns its "
        "bias only where every unbiased one is much noisier."
    ),
    explain="(The experiment computes each estimator's bias and variance exactly, by two-point sums and an integral)",
)


add_misconceptions(
    "05.3",
    Misconception(
        "baseline-noise-ignored",
        "treated the leave-one-out mean as if it were E[f] exactly",
        "the leave-one-out mean is random: its variance Var[f] / (K - 1) adds to the estimate's, and vanishes "
        "only as K grows.",
        lambda mu, sigma, K: _loo_variance_reference(mu, sigma, 10**12),
    ),
    Misconception(
        "k-not-k-minus-1",
        "divided Var[f] by K, not by the K - 1 samples the baseline averages",
        "sample i is left out: the baseline averages K - 1 samples, not K.",
        lambda mu, sigma, K: (
            _loo_variance_reference(mu, sigma, 10**12) + (4 * mu**2 * sigma**2 + 2 * sigma**4) / (K * sigma**2)
        ),
    ),
)
add_misconceptions(
    "05.4",
    Misconception(
        "chose (a)",
        "predicted the score function without a baseline (unbiased means lowest error)",
        "unbiased, but without a baseline it carries f's whole level as noise: three times warm Concrete's error.",
    ),
    Misconception(
        "chose (b)",
        "predicted straight-through (slope information means low error)",
        "straight-through's mean is 2.5 times the gradient here (a bias of +150 %), and it is the noisiest of "
        "the three.",
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():

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
        "05.5",
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
        "05.2",
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


_mc()
