"""Gradient estimators for d/dphi E_{q_phi(z)}[f(z)], q = N(mu, diag sigma^2), z = mu + sigma * eps.

* Score function (log-derivative, REINFORCE; Williams 1992):
      grad = E_q[(f(z) - b) grad_phi log q(z)],   grad_mu log q = eps / sigma,
      grad_sigma log q = (eps^2 - 1) / sigma.  Unbiased for any b that does not depend on z.
* Pathwise (reparameterization; Kingma & Welling 2013, Rezende et al. 2014):
      grad_mu = E[f'(z)],   grad_sigma = E[f'(z) eps].   Needs f differentiable.

Both functions below return the *per-sample* estimates (one row per eps), so their mean is the
gradient estimate and their variance is the estimator's variance.

Closed-form variances are given for separable test functions f(z) = sum_j h(z_j) with h(z) = z^2
(:class:`Square`) or h(z) = cos(omega z) (:class:`Cosine`), built from a handful of Gaussian
moments of h (see :meth:`Square.moments`). For the score estimator of mu_1 with baseline b,
writing R = sum_{j>=2} h(z_j) (independent of eps_1):

    sigma_1^2 E[g^2] = E[h_1^2 eps^2] + 2 (E R - b) E[h_1 eps^2] + E[(R - b)^2]
    Var g = E[g^2] - (d E[h_1] / d mu_1)^2

and for sigma_1 the same with eps^2 -> (eps^2 - 1)^2 (and E[(eps^2 - 1)^2] = 2). A constant b
removes only R's mean: the score estimator's variance grows with the dimension, the pathwise
one's does not (f separable). The per-coordinate baseline b_j = f(z with z_j reset to mu_j)
(``baseline="coordinate"``) depends only on the other coordinates, so it stays unbiased, and for
a separable f it cancels R exactly: what is left is the one-dimensional variance with the
constant baseline h(mu_j).

Also here: the ELBO of the course's VAE (``vae_course.models.vae.VAE`` with a Gaussian decoder)
with its encoder gradient estimated either way, with an optional per-example baseline
(:func:`vae_surrogate_loss`), and the straight-through estimator for discrete codes, in any
number of independent codes (:func:`bernoulli_grads`). The histogram figure of notebook 05 is
``vae_course.plots.estimator_histograms``. Wake-sleep, which trains the encoder without any of
these estimators, is ``vae_course.wake_sleep`` (a learning rule with its own objective, not a
gradient estimator: a module of its own).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from .losses import gaussian_kl, log_normal
from .models.vae import VAE, reconstruction_nll
from .ops import straight_through

DTYPE = torch.float64


class Grads(NamedTuple):
    """Per-sample gradient estimates: mu (n, D) and sigma (n, D)."""

    mu: Tensor
    sigma: Tensor


class Moments(NamedTuple):
    """Gaussian moments of a scalar h(z), z = mu + sigma eps, eps ~ N(0, 1), per dimension."""

    h: Tensor  # E[h]
    h2: Tensor  # E[h^2]
    h_e2: Tensor  # E[h eps^2]
    h2_e2: Tensor  # E[h^2 eps^2]
    h_s2: Tensor  # E[h (eps^2 - 1)^2]
    h2_s2: Tensor  # E[h^2 (eps^2 - 1)^2]
    dh2: Tensor  # E[h'(z)^2]
    dh2_e2: Tensor  # E[h'(z)^2 eps^2]
    grad_mu: Tensor  # d E[h] / d mu
    grad_sigma: Tensor  # d E[h] / d sigma


class Square:
    """f(z) = sum_j (z_j - k)^2.  E f = sum ((mu - k)^2 + sigma^2): gradient (2 (mu - k), 2 sigma).

    ``center`` k shifts the parabola (Mohamed et al. 2020, Figure 2, vary it); k = 0 is z^2.
    """

    def __init__(self, center: float = 0.0) -> None:
        self.center = float(center)
        self.name = "z^2" if self.center == 0 else f"(z - {self.center:g})^2"

    def pointwise(self, z: Tensor) -> Tensor:
        """h(z) = (z - k)^2 elementwise."""
        return (z - self.center).pow(2)

    def __call__(self, z: Tensor) -> Tensor:
        return self.pointwise(z).sum(-1)

    def moments(self, mu: Tensor, sigma: Tensor) -> Moments:
        """Expand (z - k)^2 = a^2 + 2 a sigma eps + sigma^2 eps^2 (a = mu - k) and use
        E[eps^n] = (n-1)!! (n even)."""
        mu = mu - self.center  # only the distance to the centre matters
        m2, s2 = mu**2, sigma**2
        return Moments(
            h=m2 + s2,
            h2=m2**2 + 6 * m2 * s2 + 3 * s2**2,
            h_e2=m2 + 3 * s2,
            h2_e2=m2**2 + 18 * m2 * s2 + 15 * s2**2,
            h_s2=2 * m2 + 10 * s2,
            h2_s2=2 * m2**2 + 60 * m2 * s2 + 78 * s2**2,
            dh2=4 * (m2 + s2),
            dh2_e2=4 * (m2 + 3 * s2),
            grad_mu=2 * mu,
            grad_sigma=2 * sigma,
        )


class Cosine:
    """f(z) = sum_j cos(omega z_j): periodic; the score estimator can beat the pathwise one.

    Moments from the characteristic function of eps: with phi(t) = exp(-t^2/2),
    E[e^{i t eps}] = phi, E[eps^2 e^{i t eps}] = (1 - t^2) phi, E[eps^4 e^{i t eps}] = (t^4 - 6t^2 + 3) phi,
    and cos^2 = (1 + cos 2.)/2, sin^2 = (1 - cos 2.)/2.
    """

    def __init__(self, omega: float = 1.0) -> None:
        self.omega = float(omega)
        self.name = f"cos({self.omega:g} z)"  # the frequency in every title and printout

    def pointwise(self, z: Tensor) -> Tensor:
        """h(z) = cos(omega z) elementwise."""
        return torch.cos(self.omega * z)

    def __call__(self, z: Tensor) -> Tensor:
        return self.pointwise(z).sum(-1)

    def moments(self, mu: Tensor, sigma: Tensor) -> Moments:
        w = self.omega
        t1, t2 = w * sigma, 2 * w * sigma  # the "t" of the characteristic function for cos(w z), cos(2 w z)
        p1, p2 = torch.exp(-(t1**2) / 2), torch.exp(-(t2**2) / 2)
        c1, c2, s1 = torch.cos(w * mu), torch.cos(2 * w * mu), torch.sin(w * mu)
        return Moments(
            h=c1 * p1,
            h2=0.5 * (1 + c2 * p2),
            h_e2=c1 * (1 - t1**2) * p1,
            h2_e2=0.5 * (1 + c2 * (1 - t2**2) * p2),
            h_s2=c1 * (t1**4 - 4 * t1**2 + 2) * p1,
            h2_s2=0.5 * (2 + c2 * (t2**4 - 4 * t2**2 + 2) * p2),
            dh2=0.5 * w**2 * (1 - c2 * p2),
            dh2_e2=0.5 * w**2 * (1 - c2 * (1 - t2**2) * p2),
            grad_mu=-w * s1 * p1,
            grad_sigma=-w * t1 * c1 * p1,
        )


def _params(mu, sigma) -> tuple[Tensor, Tensor]:
    mu = torch.as_tensor(mu, dtype=DTYPE).reshape(-1)
    sigma = torch.as_tensor(sigma, dtype=DTYPE).reshape(-1)
    if sigma.numel() == 1 and mu.numel() > 1:
        sigma = sigma.expand_as(mu)
    if mu.numel() == 1 and sigma.numel() > 1:
        mu = mu.expand_as(sigma)
    if mu.shape != sigma.shape:
        raise ValueError(f"mu and sigma must have the same length, got {mu.numel()} and {sigma.numel()}")
    if (sigma <= 0).any():
        raise ValueError(f"sigma must be > 0 everywhere, got min {sigma.min().item():.3g}")
    return mu, sigma


def sample_eps(n: int, dim: int, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise eps (n, dim) in float64."""
    return torch.randn(n, dim, generator=generator, dtype=DTYPE)


def _eps(eps, dim: int, generator) -> Tensor:
    if isinstance(eps, int):
        return sample_eps(eps, dim, generator)
    eps = torch.as_tensor(eps, dtype=DTYPE)
    if eps.dim() != 2 or eps.shape[1] != dim:
        raise ValueError(f"expected eps of shape (n, {dim}) or an int n, got {tuple(eps.shape)}")
    return eps


def exact_grad(f, mu, sigma) -> tuple[Tensor, Tensor]:
    """The true gradient (d/dmu, d/dsigma) of E_q[f(z)] for a separable f with ``moments``."""
    mu, sigma = _params(mu, sigma)
    m = f.moments(mu, sigma)
    return m.grad_mu, m.grad_sigma


def score_function(
    f: Callable[[Tensor], Tensor],
    mu,
    sigma,
    eps: Tensor | int,
    baseline: float | str | None = None,
    generator: torch.Generator | None = None,
    group: int | None = None,
) -> Grads:
    """Per-sample score-function estimates (f(z) - b) * grad log q(z), z = mu + sigma eps.

    Args:
        f: maps z (n, D) to values (n,); need not be differentiable.
        eps: noise (n, D), or an int n to draw it from ``generator``.
        baseline: None (b = 0), a number, "loo": the leave-one-out mean of the other samples'
            f values (independent of sample i, so the estimate stays unbiased; needs n >= 2; with
            ``group`` = K the samples are split into consecutive groups of K, a batch of K samples
            each, and the mean is over the K - 1 others of the same group), or
            "coordinate": for the gradient of coordinate j, b_j = f(z with z_j reset to mu_j), which
            depends only on the other coordinates' noise (independent of eps_j: still unbiased) and
            cancels it for a separable f. Costs D more evaluations of f.
    """
    mu, sigma = _params(mu, sigma)
    eps = _eps(eps, len(mu), generator)
    with torch.no_grad():
        fz = f(mu + sigma * eps)  # (n,)
    if fz.shape != (len(eps),):
        raise ValueError(f"f must map z (n, D) to (n,), got output of shape {tuple(fz.shape)}")
    if baseline is None:
        b = torch.zeros(len(fz), 1, dtype=DTYPE)
    elif baseline == "loo":
        k = len(fz) if group is None else int(group)
        if k < 2 or len(fz) % k:
            raise ValueError(
                f"the leave-one-out baseline needs groups of at least 2 samples that divide n = {len(fz)}, got {k}"
            )
        fg = fz.view(-1, k)  # (n / K, K): one batch of K samples a row
        b = ((fg.sum(1, keepdim=True) - fg) / (k - 1)).reshape(-1, 1)
    elif baseline == "coordinate":
        z = mu + sigma * eps  # (n, D)
        cols = []
        with torch.no_grad():
            for j in range(len(mu)):
                z_j = z.clone()
                z_j[:, j] = mu[j]  # coordinate j at its mean, the others as sampled
                cols.append(f(z_j))
        b = torch.stack(cols, 1)  # (n, D): one baseline per sample and coordinate
    elif isinstance(baseline, str):
        raise ValueError(f"baseline must be None, a number, 'loo' or 'coordinate', got {baseline!r}")
    else:
        b = torch.full((len(fz), 1), float(baseline), dtype=DTYPE)
    weight = fz[:, None] - b  # (n, 1) or (n, D)
    return Grads(mu=weight * eps / sigma, sigma=weight * (eps**2 - 1) / sigma)


def pathwise(
    f: Callable[[Tensor], Tensor], mu, sigma, eps: Tensor | int, generator: torch.Generator | None = None
) -> Grads:
    """Per-sample pathwise (reparameterization) estimates: d f(mu + sigma eps) / d(mu, sigma).

    One backward pass through z: for each row, dz f = f'(z); then d/dmu = f'(z), d/dsigma = f'(z) eps.
    """
    mu, sigma = _params(mu, sigma)
    eps = _eps(eps, len(mu), generator)
    z = (mu + sigma * eps).requires_grad_(True)  # (n, D)
    fz = f(z)
    if fz.shape != (len(eps),):
        raise ValueError(f"f must map z (n, D) to (n,), got output of shape {tuple(fz.shape)}")
    (dz,) = torch.autograd.grad(fz.sum(), z)  # rows are independent, so row i is f'(z_i)
    return Grads(mu=dz, sigma=dz * eps)


def optimal_baseline(f, mu, sigma, wrt: str = "mu") -> Tensor:
    """The constant b minimising the score estimator's variance for component j:
    b* = E[f w^2] / E[w^2] with w = eps_j (wrt mu) or eps_j^2 - 1 (wrt sigma). Returns (D,)."""
    mu, sigma = _params(mu, sigma)
    m = f.moments(mu, sigma)
    rest = m.h.sum() - m.h  # E R, the other dimensions
    if wrt == "mu":
        return m.h_e2 + rest
    if wrt == "sigma":
        return (m.h_s2 + 2 * rest) / 2
    raise ValueError(f"wrt must be 'mu' or 'sigma', got {wrt!r}")


def theory_variance(
    f, mu, sigma, estimator: str, wrt: str = "mu", baseline: float | str = 0.0, group: int | None = None
) -> Tensor:
    """Closed-form variance of ONE sample of the estimator, per component: (D,).

    Args:
        f: :class:`Square` or :class:`Cosine` (anything with ``moments``), f(z) = sum_j h(z_j).
        estimator: "score" or "pathwise". wrt: "mu" or "sigma".
        baseline: a constant, or "coordinate" (score only; see :func:`score_function`): then
            f(z) - b_j = h(z_j) - h(mu_j), the other coordinates cancel, and the variance is the
            one-dimensional one with the constant baseline h(mu_j); or "loo" with ``group`` = K
            (the leave-one-out mean of the K - 1 other samples of a batch of K): the baseline b_i is
            independent of sample i with mean E[f] and variance Var[f] / (K - 1), so

                Var_loo = Var_{b = E f} + Var[f] E[w^2] / ((K - 1) sigma^2),

            w = eps (wrt mu, E w^2 = 1) or eps^2 - 1 (wrt sigma, E w^2 = 2): the price of
            estimating the baseline, which vanishes only as K grows.
    """
    mu, sigma = _params(mu, sigma)
    m = f.moments(mu, sigma)
    if wrt not in ("mu", "sigma"):
        raise ValueError(f"wrt must be 'mu' or 'sigma', got {wrt!r}")
    grad = m.grad_mu if wrt == "mu" else m.grad_sigma
    if estimator == "pathwise":
        second = m.dh2 if wrt == "mu" else m.dh2_e2
        return second - grad**2
    if estimator != "score":
        raise ValueError(f"estimator must be 'score' or 'pathwise', got {estimator!r}")
    var_h = m.h2 - m.h**2
    if baseline == "loo":
        if group is None or group < 2:
            raise ValueError(f"the leave-one-out baseline needs a group of at least 2 samples, got {group!r}")
        at_mean = theory_variance(f, mu, sigma, "score", wrt, float(m.h.sum()))
        w2 = 1.0 if wrt == "mu" else 2.0
        return at_mean + var_h.sum() * w2 / ((group - 1) * sigma**2)
    if baseline == "coordinate":
        rest_mean = -f.pointwise(mu)  # R - b_j = -h(mu_j), a constant
        rest_sq = rest_mean**2
    elif isinstance(baseline, str):
        raise ValueError(f"baseline must be a number, 'loo' or 'coordinate', got {baseline!r}")
    else:
        rest_mean = m.h.sum() - m.h - baseline  # E[R - b]
        rest_sq = (var_h.sum() - var_h) + rest_mean**2  # E[(R - b)^2], R = sum of the other dims
    if wrt == "mu":
        second = (m.h2_e2 + 2 * rest_mean * m.h_e2 + rest_sq) / sigma**2
    else:
        second = (m.h2_s2 + 2 * rest_mean * m.h_s2 + 2 * rest_sq) / sigma**2
    return second - grad**2


class EstimatorStats(NamedTuple):
    """Measured vs theoretical variance of both estimators of d E f / d mu_0, plus the samples."""

    score_samples: Tensor
    pathwise_samples: Tensor
    score_var: float
    pathwise_var: float
    score_theory: float
    pathwise_theory: float
    exact: float


def compare_estimators(f, mu: float, sigma: float, n: int = 4000, seed: int = 0) -> EstimatorStats:
    """Draw n samples of both estimators of d E_q f / d mu for 1-D q = N(mu, sigma^2), same eps."""
    eps = sample_eps(n, 1, torch.Generator().manual_seed(seed))
    s = score_function(f, [mu], [sigma], eps).mu[:, 0]
    p = pathwise(f, [mu], [sigma], eps).mu[:, 0]
    return EstimatorStats(
        s,
        p,
        float(s.var()),
        float(p.var()),
        float(theory_variance(f, [mu], [sigma], "score")[0]),
        float(theory_variance(f, [mu], [sigma], "pathwise")[0]),
        float(exact_grad(f, [mu], [sigma])[0][0]),
    )


# --------------------------------------------------------------------------- a VAE, both ways
def vae_surrogate_loss(
    model: VAE,
    x: Tensor,
    estimator: str = "pathwise",
    sigma_x: float = 0.1,
    baseline: Tensor | float | str | None = None,
    eps: Tensor | None = None,
) -> dict[str, Tensor]:
    """A loss whose gradient is an estimate of -grad ELBO, by the chosen estimator.

    ELBO = E_q[log p(x|z)] - KL(q || N(0, I)) with a Gaussian decoder, p(x|z) =
    N(x; sigmoid(decode(z)), sigma_x^2 I); the KL is analytic in both cases, only the
    reconstruction term's encoder gradient differs:
    * "pathwise": backpropagate through z = mu + sigma eps.
    * "score": z is detached (``model(x, detach_z=True)``); the encoder gets
      (log p(x|z) - b) * grad log q(z|x) from the surrogate -(log p(x|z) - b).detach() * log q(z|x).
      The decoder's gradient is the same. ``baseline``: None (b = 0), a number or a (B,) tensor, or
      "mean": b = log p(x | z = mu(x)), the decoder's fit at the posterior mean, one per example
      (it does not depend on the sample's eps, so the estimate stays unbiased; one more decode).
    Returns {"loss": surrogate (scalar), "neg_elbo": the one-sample -ELBO estimate (B-mean)}.
    """
    if estimator not in ("pathwise", "score"):
        raise ValueError(f"estimator must be 'pathwise' or 'score', got {estimator!r}")
    out = model(x, eps=eps, detach_z=(estimator == "score"))
    log_lik = -reconstruction_nll(out.recon, x, "gaussian", sigma_x)  # (B,)
    kl = gaussian_kl(out.mu, out.logvar)  # (B,)
    neg_elbo = (kl - log_lik).mean()
    if estimator == "pathwise":
        return {"loss": neg_elbo, "neg_elbo": neg_elbo.detach()}
    # log q(z|x) with z fixed: its gradient w.r.t. (mu, logvar) is the score
    log_q = log_normal(out.z, out.mu, out.logvar)  # (B,)
    if isinstance(baseline, str):
        if baseline != "mean":
            raise ValueError(f"baseline must be None, a number, a (B,) tensor or 'mean', got {baseline!r}")
        with torch.no_grad():
            b = -reconstruction_nll(model.decode(out.mu), x, "gaussian", sigma_x)  # (B,)
    else:
        b = 0.0 if baseline is None else baseline
    surrogate = -((log_lik.detach() - b) * log_q).mean() - log_lik.mean() + kl.mean()
    return {"loss": surrogate, "neg_elbo": neg_elbo.detach()}


def encoder_gradient_samples(
    model: VAE,
    x: Tensor,
    estimator: str,
    n: int,
    sigma_x: float = 0.1,
    seed: int = 0,
    baseline: Tensor | float | str | None = None,
) -> Tensor:
    """n independent estimates of d(-ELBO)/d(encoder parameters) on the batch x: (n, P)."""
    g = torch.Generator().manual_seed(seed)
    params = list(model.encoder.parameters())
    rows = []
    for _ in range(n):
        eps = torch.randn(len(x), model.latent_dim, generator=g)
        loss = vae_surrogate_loss(model, x, estimator, sigma_x, baseline, eps)["loss"]
        grads = torch.autograd.grad(loss, params)
        rows.append(torch.cat([gr.reshape(-1) for gr in grads]))
    return torch.stack(rows)  # (n, P)


# --------------------------------------------------------------------------- discrete codes
def bernoulli_grads(
    f: Callable[[Tensor], Tensor], theta: float, n: int, seed: int = 0, dim: int = 1, temperature: float = 0.5
) -> dict[str, Tensor | float]:
    """Gradient of E[F(z)], F(z) = sum_j f(z_j), z_j ~ Bernoulli(sigmoid(theta)) independently for
    j = 1..dim, w.r.t. theta_1 (the first coordinate's parameter): exact, score, straight-through and
    the Concrete (Gumbel-softmax) relaxation at ``temperature``.

    exact = p (1 - p) (f(1) - f(0)); score samples F(z) (z_1 - p) (d log p(z_1) / d theta_1 = z_1 - p:
    the whole F, the other coordinates included, multiplies it); score_baseline samples
    (F(z) - E F) (z_1 - p), the score estimator with the constant baseline E F = dim E f(z_j) (exact
    here; a leave-one-out mean of a batch estimates it): still unbiased, and it removes F's level,
    leaving the other coordinates' fluctuations; straight-through samples
    f'(z_1) p (1 - p): the hard sample is used forward, and the backward pass pretends z_1 were p
    (biased: it differentiates f at the sampled point; the other coordinates do not enter).
    Concrete (Maddison et al. 2017; Jang et al. 2017; binary case): with logistic noise
    l = log u - log(1 - u), u ~ U(0, 1), the hard sample is z = 1[theta - l > 0] (probability p) and its
    relaxation y = sigmoid((theta - l) / temperature) (-> z as temperature -> 0); the estimate is the
    pathwise gradient of f(y), f'(y) y (1 - y) / temperature: biased for the discrete objective (f is
    evaluated at y, not z), less so as the temperature falls, while its variance grows like 1 / temperature.
    The same u drives all three. f acts elementwise.
    """
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    theta_t = torch.tensor(float(theta), dtype=DTYPE, requires_grad=True)
    p = torch.sigmoid(theta_t)
    u = torch.rand(n, dim, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)
    hard = (u < p.detach()).to(DTYPE)  # (n, dim) samples in {0, 1}
    with torch.no_grad():
        fz = f(hard).sum(1)  # (n,) F(z)
        score = fz * (hard[:, 0] - p)
        f1, f0 = f(torch.ones(1, dtype=DTYPE)), f(torch.zeros(1, dtype=DTYPE))
        exact = float(p * (1 - p) * (f1 - f0))
        score_baseline = (fz - dim * (p * f1 + (1 - p) * f0)) * (hard[:, 0] - p)
    # straight-through: the forward value is the hard sample, the backward pass treats z as p,
    # so each sample's gradient is f'(z_i1) * dp/dtheta (f acts elementwise)
    z_st = straight_through(p.expand(n), hard[:, 0]).detach().requires_grad_(True)
    (df,) = torch.autograd.grad(f(z_st).sum(), z_st)
    st = df * (p * (1 - p)).detach()
    # Concrete: u < p  <=>  l = logit(u) < theta, so y = sigmoid((theta - l) / T) relaxes the same z
    with torch.no_grad():
        logistic = torch.log(u[:, 0]) - torch.log1p(-u[:, 0])  # (n,)
        y = torch.sigmoid((theta_t - logistic) / temperature)  # (n,)
    y_leaf = y.clone().requires_grad_(True)
    (dfdy,) = torch.autograd.grad(f(y_leaf).sum(), y_leaf)  # (n,) f'(y_i): the samples are independent
    concrete = dfdy * y * (1 - y) / temperature  # chain rule: dy/dtheta = y (1 - y) / T
    return {
        "exact": exact,
        "score": score,
        "score_baseline": score_baseline,
        "straight_through": st,
        "concrete": concrete,
    }


class EstimatorError(NamedTuple):
    """How far one-sample gradient estimates are from the exact gradient."""

    bias: float  # mean - exact
    bias_se: float  # standard error of that mean
    variance: float  # variance of one estimate
    mse: float  # E[(estimate - exact)^2] = bias^2 + variance, for one sample


def estimator_error(samples: Tensor, exact: float) -> EstimatorError:
    """Bias, variance and mean squared error of one-sample estimates (n,) of a scalar ``exact``.
    With an average of m samples the MSE is bias^2 + variance / m: a biased estimator with a small
    variance wins for small m, an unbiased one for m > variance gap / bias^2."""
    samples = samples.detach().to(DTYPE).reshape(-1)
    bias = float(samples.mean()) - float(exact)
    var = float(samples.var())
    return EstimatorError(bias, math.sqrt(var / len(samples)), var, bias**2 + var)


def bernoulli_estimator_errors(
    f: Callable[[Tensor], Tensor], theta: float, temperature: float = 0.5, n_grid: int = 200_000
) -> dict[str, EstimatorError]:
    """Exact bias, variance and MSE of one sample of each estimator of :func:`bernoulli_grads` (one code).

    Score (with and without the baseline E f) and straight-through take two values (z = 0 with
    probability 1 - p, z = 1 with p): their
    moments are sums of two terms. Concrete is a smooth function of u ~ U(0, 1): its first two
    moments are integrals over u, done by the midpoint rule on ``n_grid`` points (the integrand is
    bounded and smooth, so the error is far below any sampling error). ``bias_se`` is 0 (exact)."""
    p = 1 / (1 + math.exp(-theta))
    t = torch.tensor([0.0, 1.0], dtype=DTYPE)
    ft = f(t)
    exact = p * (1 - p) * float(ft[1] - ft[0])
    prob = torch.tensor([1 - p, p], dtype=DTYPE)
    t_leaf = t.clone().requires_grad_(True)
    (dft,) = torch.autograd.grad(f(t_leaf).sum(), t_leaf)  # f'(0), f'(1)
    mean_f = float(prob @ ft)
    values = {
        "score": ft * (t - p),
        "score_baseline": (ft - mean_f) * (t - p),
        "straight_through": dft * p * (1 - p),
    }
    out = {}
    for name, v in values.items():
        mean, second = float((prob * v).sum()), float((prob * v**2).sum())
        out[name] = EstimatorError(mean - exact, 0.0, second - mean**2, (mean - exact) ** 2 + second - mean**2)
    u = (torch.arange(n_grid, dtype=DTYPE) + 0.5) / n_grid  # midpoints of (0, 1)
    y = torch.sigmoid((theta - (torch.log(u) - torch.log1p(-u))) / temperature)
    y_leaf = y.clone().requires_grad_(True)
    (dfdy,) = torch.autograd.grad(f(y_leaf).sum(), y_leaf)
    g = dfdy * y * (1 - y) / temperature
    mean, var = float(g.mean()), float(g.pow(2).mean() - g.mean() ** 2)
    out["concrete"] = EstimatorError(mean - exact, 0.0, var, (mean - exact) ** 2 + var)
    return out


class DifferenceRatio(NamedTuple):
    """||mean_a - mean_b||^2 over what sampling noise alone predicts, and its null distribution."""

    ratio: float  # observed; 1 on average if both estimators are unbiased for the same vector
    quantiles: tuple[float, ...]  # of the ratio under that hypothesis, at the levels asked for
    effective_dims: float  # (tr C)^2 / tr(C^2): the number of independent chi^2_1 terms it averages


def squared_difference_ratio(
    a: Tensor, b: Tensor, levels: tuple[float, ...] = (0.005, 0.995), draws: int = 20_000, seed: int = 0
) -> DifferenceRatio:
    """Do two samples of vector estimates, a (n_a, P) and b (n_b, P), have the same mean?

    d = mean_a - mean_b has covariance C = Cov_a / n_a + Cov_b / n_b if both estimate the same vector
    (and mean E d = 0), so E ||d||^2 = tr C and R = ||d||^2 / tr C has mean 1. Under a Gaussian
    approximation d ~ N(0, C), R = sum_i lambda_i chi^2_1 / sum_i lambda_i over the eigenvalues lambda of C,
    which are those of the small Gram matrix Y Y^T, Y = [A_c / sqrt(n_a (n_a - 1)); B_c / sqrt(n_b (n_b - 1))]
    (A_c, B_c centred; C = Y^T Y). The quantiles are drawn by Monte Carlo from that distribution. A bias
    beta adds ||beta||^2 / tr C to R's mean. Its spread depends on the effective number of dimensions
    (tr C)^2 / tr(C^2): few when one estimator's noise lies in a few directions."""
    a, b = a.detach().to(DTYPE), b.detach().to(DTYPE)
    na, nb = len(a), len(b)
    if na < 2 or nb < 2 or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"need two samples (n >= 2) of the same width, got {tuple(a.shape)} and {tuple(b.shape)}")
    ya, yb = (a - a.mean(0)) / math.sqrt(na * (na - 1)), (b - b.mean(0)) / math.sqrt(nb * (nb - 1))
    Y = torch.cat([ya, yb])  # (na + nb, P): C = Y^T Y
    lam = torch.linalg.eigvalsh(Y @ Y.T).clamp_min(0)  # (na + nb,) the nonzero eigenvalues of C
    tr = lam.sum()
    ratio = float((a.mean(0) - b.mean(0)).pow(2).sum() / tr)
    g = torch.Generator().manual_seed(seed)
    null = (torch.randn(draws, len(lam), generator=g, dtype=DTYPE).pow(2) @ lam) / tr  # (draws,)
    q = torch.quantile(null, torch.tensor(levels, dtype=DTYPE))
    return DifferenceRatio(ratio, tuple(float(v) for v in q), float(tr**2 / lam.pow(2).sum()))
