"""Exercises of notebook 04 (the ELBO derivation)."""

import math

import torch

from ..losses import gaussian_kl, log_mean_exp
from . import Feedback, case, register, register_prediction


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
    "04.7",
    "closed-form KL(q || N(0, I)) (derive)",
    reference=gaussian_kl,
    cases=_kl_cases,
    hint=(
        "Both distributions factorise over dimensions: derive one KL per dimension, then combine them.",
        "For one dimension, write log q(z) - log p(z) with the two Gaussian log-densities and take its "
        "expectation under q: you need E_q[(z - mu)^2] and E_q[z^2]; remember that logvar is the log of the variance.",
        "Sum over the latent dimension only: one KL per example.",
    ),
    kind="derive",
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
    "04.3",
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
    "04.1",
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
    "04.5",
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


def _weight_moment_reference(M, Q):
    R = 2 * M - Q
    if torch.linalg.eigvalsh(0.5 * (R + R.T))[0] <= 0:
        return torch.tensor(float("inf"), dtype=M.dtype)  # the integral of p^2 / q diverges
    return torch.linalg.det(M) / torch.sqrt(torch.linalg.det(Q) * torch.linalg.det(R))


def _weight_moment_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(6)
    A = torch.randn(4, 4, generator=g, dtype=torch.float64)
    M4 = A @ A.T + 0.5 * torch.eye(4, dtype=torch.float64)  # a correlated posterior precision
    M2 = torch.tensor([[2.0, 0.8], [0.8, 1.0]], dtype=torch.float64)
    return [
        case(torch.eye(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64), label="q equal to the posterior: 1"),
        case(M2, 0.5 * M2, label="a q twice as wide as the posterior in every direction (finite)"),
        case(M4, torch.diag(1 / torch.linalg.inv(M4).diagonal()), label="a diagonal q with the marginal variances"),
        case(
            torch.diag(torch.tensor([1.0, 4.0], dtype=torch.float64)),
            torch.diag(torch.tensor([1.0, 9.0], dtype=torch.float64)),
            label="independent coordinates, q too narrow in one (9 > 2 x 4): infinite",
        ),
        case(M2, 3 * M2, label="q narrower than the posterior in EVERY direction (2M - Q = -M): infinite"),
    ]


register(
    "04.4",
    "when do importance weights have finite variance? (derive)",
    reference=_weight_moment_reference,
    cases=_weight_moment_cases,
    atol=1e-8,
    rtol=1e-6,
    hint=(
        "E_q[w^2] / p(x)^2 is the integral of p(z | x)^2 / q(z): write the exponent of that ratio as one "
        "quadratic form in z - m.",
        "A Gaussian integral of exp(-(z - m)^T R (z - m) / 2) is finite only when R is positive definite, and then "
        "(2 pi)^(k/2) / sqrt(det R); collect the normalising constants of p(z | x)^2 and q.",
        "Test the condition with the eigenvalues of R (torch.linalg.eigvalsh), not with its determinant: two "
        "negative eigenvalues make a positive determinant.",
    ),
    kind="derive",
    explanation=(
        "p(z | x)^2 / q(z) is proportional to exp(-(z - m)^T (2M - Q)(z - m) / 2), so the integral is finite "
        "only if 2M - Q is positive definite, and then equals det M / sqrt(det Q det(2M - Q)). A q narrower "
        "than the posterior (Q > 2M along some direction) gives weights of infinite variance; a wider one only "
        "a finite factor."
    ),
)


def finite_variance_experiment(g=None, r=0.7) -> str:
    """The experiment of 04.6: a 2-D posterior N(m, [[1, r], [r, 1]]) and two diagonal proposals centred on m,
    the mean-field q (the ELBO's optimum, variances 1 / M_jj = 1 - r^2) and the marginal q (variances
    (M^-1)_jj = 1). Which give importance weights of finite variance? Exact: the smallest eigenvalue of
    2M - Q decides (exercise 04.4): (1 - 2|r|) / (1 - r^2) for the mean-field q, 2 / (1 + |r|) - 1 for the
    marginal q. Returns (a) only the mean-field q's, (b) only the marginal q's, (c) both, (d) neither."""
    from ..lvm import importance_weight_moment

    cov = torch.tensor([[1.0, r], [r, 1.0]], dtype=torch.float64)
    M = torch.linalg.inv(cov)
    finite = {
        name: importance_weight_moment(cov, torch.diag(v)).min_eig > 0
        for name, v in (("mean-field", 1 / M.diagonal()), ("marginal", cov.diagonal()))
    }
    return {(True, False): "a", (False, True): "b", (True, True): "c"}.get(
        (finite["mean-field"], finite["marginal"]), "d"
    )


register_prediction(
    "04.6",
    "predict which proposal's weights have finite variance",
    experiment=finite_variance_experiment,
    form="choice",
    options={
        "a": "only the mean-field q's: it is the closer to the posterior in KL(q || p), the ELBO's own measure, "
        "but importance sampling is judged by the integral of p^2 / q, which punishes a q that is too narrow.",
        "b": "only the marginal q's: with M = [[1, -r], [-r, 1]] / (1 - r^2), 2M - diag(M) has eigenvalues "
        "(1 +- 2r) / (1 - r^2), negative for |r| > 1/2 (here r = 0.7); the marginal q (Q = I) leaves 2M - I with "
        "eigenvalues 2 / (1 +- r) - 1, positive for every |r| < 1.",
        "c": "both: at r = 0.7, above 1/2, 2M - diag(M) has the eigenvalue (1 - 2r) / (1 - r^2) < 0, so the "
        "narrower, mean-field q's weights have infinite variance.",
        "d": "neither: the wider, marginal q keeps 2M - I positive definite for every correlation |r| < 1 "
        "(its eigenvalues are 2 / (1 +- r) - 1).",
    },
    hint=(
        "Your 04.5 says how the mean-field variances compare with the posterior's marginal variances: "
        "which q is narrower?",
        "Your 04.4 says which mismatch makes the weights' variance infinite: a q too narrow or a q too wide?",
    ),
    solution='def predicted_finite_variance():\n    return "b"  # the narrower q fails 2M - Q > 0 first',
    explain=(
        "The next cells measure what this means for the estimate: effective sample sizes of both proposals "
        "for correlations from 0 to 0.9, then on section 3's models at every k"
    ),
    explanation=(
        "Maximising the ELBO minimises KL(q || p(z | x)), which rewards a q that stays inside the posterior; "
        "importance sampling's variance is the integral of p^2 / q, which rewards a q that covers it. The "
        "mean-field optimum has variances 1 - r^2, below the marginal variances 1, so it fails the condition "
        "2M - Q > 0 first: for |r| > 1/2 its weights have infinite variance, the marginal q's never do."
    ),
)


def _ppca_kl_reference(eigenvalues, sigma):
    return 0.5 * torch.log(eigenvalues / sigma**2).clamp_min(0).sum()


def _ppca_kl_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(7)
    lam = torch.rand(16, generator=g, dtype=torch.float64).pow(3).sort(descending=True).values * 2
    return [
        case(torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64), 0.5, label="eigenvalues (4, 1, 0.25), sigma = 0.5"),
        case(
            torch.tensor([9.0, 2.0, 0.5, 0.1], dtype=torch.float64),
            1.0,
            label="eigenvalues (9, 2, 0.5, 0.1), sigma = 1",
        ),
        case(
            torch.tensor([0.3, 0.2], dtype=torch.float64), 1.0, label="every eigenvalue below sigma^2: nothing active"
        ),
        case(lam, 0.3, label="16 random eigenvalues (sorted), sigma = 0.3"),
    ]


register(
    "04.8",
    "the KL term of the best linear decoder (derive)",
    reference=_ppca_kl_reference,
    cases=_ppca_kl_cases,
    atol=1e-8,
    rtol=1e-6,
    hint=(
        "For the maximum-likelihood decoder, column j of W is u_j sqrt(lambda_j - sigma^2) where lambda_j > sigma^2 "
        "and zero otherwise (u_j: the data's eigenvectors), so the posterior factorises over j.",
        "For an active j the posterior precision is M_jj = 1 + (lambda_j - sigma^2) / sigma^2; the posterior mean is "
        "a multiple of u_j^T (x - b), whose square averages to lambda_j over the training images.",
        "Put the posterior mean's average square and the posterior variance into 04.7's KL per dimension: most terms "
        "cancel. A switched-off coordinate keeps the prior as its posterior.",
    ),
    kind="derive",
    explanation=(
        "For an active direction the posterior variance is sigma^2 / lambda_j and the mean's square averages to "
        "(lambda_j - sigma^2) / lambda_j, so 04.7's KL per dimension becomes (1/2) log(lambda_j / sigma^2); a "
        "switched-off direction keeps q = p(z), KL 0. Each direction above the noise costs half the log of its "
        "signal-to-noise ratio: the rate of reverse water-filling for a Gaussian source (Cover & Thomas, ch. 10)."
    ),
)


def bump_width_experiment(g=None, c=4.0) -> str:
    """The experiment of 04.2: a straight curve mu(z) = w z + b with bumps of width sigma (the linear-Gaussian
    model with a 1-D latent in 2-D, p(x) = N(b, w w^T + sigma^2 I)), scored on held-out data from itself with the
    bump width sigma / c, sigma and c sigma. Exact: the expected log-density of N(b, S) under N(b, T) is
    -(d log 2 pi + log det S + tr(S^-1 T)) / 2. Returns the order, best first: (a) sigma / c best; (b) sigma
    best, sigma / c second; (c) sigma best, c sigma second; (d) sigma best, the other two within 0.1 nats."""
    w = torch.tensor([[1.0], [0.5]], dtype=torch.float64)  # the curve's direction, as long as a moon
    sigma = 0.08  # the moons' noise
    truth = w @ w.T + sigma**2 * torch.eye(2, dtype=torch.float64)

    def held_out(s):
        cov = w @ w.T + s**2 * torch.eye(2, dtype=torch.float64)
        return -0.5 * (2 * math.log(2 * math.pi) + torch.logdet(cov) + torch.trace(torch.linalg.solve(cov, truth)))

    narrow, fitted, wide = (held_out(s).item() for s in (sigma / c, sigma, c * sigma))
    if narrow > fitted:
        return "a"
    if abs(narrow - wide) < 0.1:
        return "d"
    return "b" if narrow > wide else "c"


register_prediction(
    "04.2",
    "predict which wrong bump width costs more",
    experiment=bump_width_experiment,
    form="choice",
    options={
        "a": "sigma / 4 best: narrower bumps pile their density onto the curve, but the points lie around it, at "
        "a distance of about sigma, where a bump of width sigma / 4 has almost no density left.",
        "b": "fitted sigma best, then sigma / 4, then 4 sigma: a narrow bump keeps the density near the data, "
        "but the points off the curve by about sigma are 4 of its widths away, and the squared distance is "
        "divided by its variance, 16 times too small.",
        "c": "fitted sigma best, then 4 sigma, then sigma / 4: across the curve, scoring points of spread sigma "
        "with a bump of width c sigma costs the KL (1/c^2 - 1 + log c^2) / 2 nats, 6.11 for c = 1/4 and 0.92 "
        "for c = 4.",
        "d": "fitted sigma best, the other two alike: a factor 4 is not symmetric; the squared distance divided "
        "by (c sigma)^2 grows like 1/c^2 as the bump narrows, while a wider bump pays only its log c^2 / 2.",
    },
    hint=(
        "Look at one direction across the curve: the points are spread with standard deviation sigma around "
        "it, and the model scores them with a Gaussian of width c sigma. Section 1 has a name for the nats lost.",
        "The average log-density of N(0, sigma^2) data under N(0, c^2 sigma^2) is "
        "-log(c sigma) - 1/(2 c^2) + const: compare c = 1/4 with c = 4.",
    ),
    solution='def predicted_bump_order():\n    return "c"  # too narrow costs 1/(2c^2) per direction, too wide log c',
    explain=(
        "The experiment computes a straight curve's expected held-out log-likelihood exactly; the next cell "
        "measures the fitted curve of the moons with the same three widths"
    ),
    explanation=(
        "Across the curve the points lie about sigma from it. Scored by a bump of width c sigma, each direction "
        "loses the KL (1/c^2 - 1 + log c^2) / 2 nats: a bump 4 times too narrow puts the typical point 4 of "
        "its widths out, where the Gaussian's squared exponent has grown 16-fold (6.11 nats); one 4 times too "
        "wide only spreads its mass thinner (0.92 nats). Too confident a model is punished harder than a "
        "vague one."
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "04.3",
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
        "04.1",
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
        "04.5",
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
        "04.7",
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

    add_misconceptions(
        "04.5",
        M(
            "variance-not-log",
            "returned the variances, not their logs",
            "the function returns LOG-variances s_j.",
            lambda W, sigma: 1 / (1 + (W**2).sum(0) / sigma**2),
        ),
    )

    def no_condition(M, Q):
        return torch.linalg.det(M) / torch.sqrt(torch.linalg.det(Q) * torch.linalg.det(2 * M - Q))

    add_misconceptions(
        "04.4",
        M(
            "no-condition",
            "used the closed form without checking that 2M - Q is positive definite",
            "the Gaussian integral is finite only when 2M - Q is positive definite (test its eigenvalues): "
            "otherwise the second moment is infinite.",
            no_condition,
        ),
        M(
            "swapped-roles",
            "swapped the posterior and the proposal (2Q - M)",
            "the integrand is p^2 / q: the POSTERIOR's precision is doubled, the proposal's subtracted.",
            lambda M, Q: _weight_moment_reference(Q, M),
        ),
    )
    add_misconceptions(
        "04.6",
        M("chose (a)", "thought the ELBO's optimum is the safer proposal", "a q too narrow makes 2M - Q indefinite."),
        M("chose (c)", "thought both proposals keep finite variance", "the narrower q fails it for |r| > 1/2."),
        M("chose (d)", "thought neither proposal keeps finite variance", "the wider q passes for every |r| < 1."),
    )
    add_misconceptions(
        "04.2",
        M("chose (a)", "thought narrower bumps always score higher", "points sigma off the curve get no density."),
        M("chose (b)", "thought blurring costs more than sharpening", "too narrow costs 1/(2c^2) a direction."),
        M("chose (d)", "thought a factor 4 either way costs the same", "too wide pays only log c per direction."),
    )

    add_misconceptions(
        "04.8",
        M(
            "every-direction",
            "summed (1/2) log(lambda_j / sigma^2) over every direction, also those below the noise",
            "a direction with lambda_j < sigma^2 is switched off: its posterior is the prior and its KL is 0, not "
            "negative.",
            lambda lam, sigma: 0.5 * torch.log(lam / sigma**2).sum(),
        ),
        M(
            "sigma-not-squared",
            "divided by sigma, not sigma^2",
            "lambda_j is a variance: compare it with the noise variance sigma^2.",
            lambda lam, sigma: 0.5 * torch.log(lam / sigma).clamp_min(0).sum(),
        ),
        M(
            "missing-half",
            "left out the factor 1/2",
            "04.7's KL carries a factor 1/2 in every term.",
            lambda lam, sigma: torch.log(lam / sigma**2).clamp_min(0).sum(),
        ),
    )


_mc()
