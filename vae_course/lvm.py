"""A linear-Gaussian latent variable model: the one LVM whose log p(x) and p(z|x) are exact.

    z ~ N(0, I_k),        x | z ~ N(W z + b, sigma^2 I_d),   W: (d, k), b: (d,)

Everything a VAE only estimates is available here in closed form, so notebook 04 uses it as
ground truth for the ELBO identity, importance sampling and the SGVB estimators.

* Marginal (a linear map of a Gaussian plus independent Gaussian noise is Gaussian):
  p(x) = N(x; b, C),  C = W W^T + sigma^2 I_d.
* Posterior (Bayes' rule; complete the square in z):
  log p(z|x) = -1/2 z^T M z + z^T W^T (x - b) / sigma^2 + const,  M = I_k + W^T W / sigma^2,
  so p(z|x) = N(z; M^{-1} W^T (x - b) / sigma^2,  M^{-1}).
* ELBO of a Gaussian q = N(m, S):
  E_q[log p(x|z)] = -d/2 log(2 pi sigma^2) - (||x - W m - b||^2 + tr(W^T W S)) / (2 sigma^2)
  E_q[log p(z)]   = -k/2 log(2 pi) - (m^T m + tr S) / 2
  H[q]            = k/2 (1 + log 2 pi) + 1/2 log det S
  ELBO = sum of the three;  and log p(x) = ELBO + KL(q || p(z|x)) holds exactly.

All computations run in float64: the identity is checked to ~1e-12.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .losses import LOG_2PI, log_mean_exp, log_normal

DTYPE = torch.float64


class Gaussian(NamedTuple):
    """A batch of Gaussians: mean (N, k) and covariance (N, k, k)."""

    mean: Tensor
    cov: Tensor


def diag_gaussian(mean: Tensor, logvar: Tensor) -> Gaussian:
    """The Gaussian N(mean, diag exp(logvar)) as a full-covariance ``Gaussian``. mean, logvar: (N, k)."""
    if mean.shape != logvar.shape:
        raise ValueError(f"mean and logvar must have the same shape, got {tuple(mean.shape)} and {tuple(logvar.shape)}")
    return Gaussian(mean, torch.diag_embed(logvar.exp()))


def _as_batch(x: Tensor, width: int, name: str) -> Tensor:
    x = torch.as_tensor(x, dtype=DTYPE)
    if x.dim() == 1:
        x = x[None]
    if x.dim() != 2 or x.shape[1] != width:
        raise ValueError(f"expected {name} of shape (N, {width}), got {tuple(x.shape)}")
    return x


class LinearGaussianLVM:
    """z ~ N(0, I_k), x | z ~ N(W z + b, sigma^2 I_d), with exact marginal and posterior.

    Args:
        W: (d, k) loading matrix. b: (d,) offset (default 0). sigma: observation noise std > 0.
    """

    def __init__(self, W: Tensor, b: Tensor | None = None, sigma: float = 1.0) -> None:
        W = torch.as_tensor(W, dtype=DTYPE)
        if W.dim() != 2:
            raise ValueError(f"W must be a (d, k) matrix, got shape {tuple(W.shape)}")
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.W = W
        self.d, self.k = W.shape
        self.b = torch.zeros(self.d, dtype=DTYPE) if b is None else torch.as_tensor(b, dtype=DTYPE)
        if self.b.shape != (self.d,):
            raise ValueError(f"b must have shape ({self.d},), got {tuple(self.b.shape)}")
        self.sigma = float(sigma)

    @classmethod
    def random(cls, d: int, k: int, sigma: float = 0.5, seed: int = 0, scale: float = 1.0) -> LinearGaussianLVM:
        """A model with W_ij ~ N(0, scale^2 / k) and b_i ~ N(0, 1), seeded."""
        g = torch.Generator().manual_seed(seed)
        W = torch.randn(d, k, generator=g, dtype=DTYPE) * scale / math.sqrt(k)
        b = torch.randn(d, generator=g, dtype=DTYPE)
        return cls(W, b, sigma)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Draw (x (n, d), z (n, k)) from the joint p(x, z)."""
        z = torch.randn(n, self.k, generator=generator, dtype=DTYPE)
        x = z @ self.W.T + self.b + self.sigma * torch.randn(n, self.d, generator=generator, dtype=DTYPE)
        return x, z

    # ------------------------------------------------------------------ densities
    def log_prior(self, z: Tensor) -> Tensor:
        """log N(z; 0, I_k), summed over the last dim: z (..., k) -> (...)."""
        return log_normal(z)

    def log_likelihood(self, x: Tensor, z: Tensor) -> Tensor:
        """log N(x; W z + b, sigma^2 I_d): x (N, d), z (..., N, k) -> (..., N)."""
        mean = z @ self.W.T + self.b  # (..., N, d)
        return log_normal(x, mean, 2 * math.log(self.sigma))

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x, z) = log p(x | z) + log p(z): x (N, d), z (..., N, k) -> (..., N)."""
        x = _as_batch(x, self.d, "x")
        return self.log_likelihood(x, z) + self.log_prior(z)

    def marginal_cov(self) -> Tensor:
        """C = W W^T + sigma^2 I_d, the covariance of p(x). (d, d)"""
        return self.W @ self.W.T + self.sigma**2 * torch.eye(self.d, dtype=DTYPE)

    def log_marginal(self, x: Tensor) -> Tensor:
        """Exact log p(x) = log N(x; b, W W^T + sigma^2 I): x (N, d) -> (N,)."""
        x = _as_batch(x, self.d, "x")
        return torch.distributions.MultivariateNormal(self.b, self.marginal_cov()).log_prob(x)

    def posterior(self, x: Tensor) -> Gaussian:
        """Exact p(z | x) = N(M^{-1} W^T (x - b) / sigma^2, M^{-1}), M = I + W^T W / sigma^2."""
        x = _as_batch(x, self.d, "x")
        M = torch.eye(self.k, dtype=DTYPE) + self.W.T @ self.W / self.sigma**2  # (k, k) precision
        cov = torch.linalg.inv(M)
        mean = (x - self.b) @ self.W @ cov / self.sigma**2  # (N, k); cov is symmetric
        return Gaussian(mean, cov.expand(len(x), self.k, self.k))

    def log_posterior(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(z | x): x (N, d), z (..., N, k) -> (..., N)."""
        post = self.posterior(x)
        return torch.distributions.MultivariateNormal(post.mean, post.cov).log_prob(z)

    # ------------------------------------------------------------------ the ELBO, exactly
    def _check_q(self, x: Tensor, q: Gaussian) -> tuple[Tensor, Tensor]:
        m = _as_batch(q.mean, self.k, "q.mean")
        S = torch.as_tensor(q.cov, dtype=DTYPE).expand(len(m), self.k, self.k)
        if len(m) != len(x):
            raise ValueError(f"q has {len(m)} means but x has {len(x)} rows")
        return m, S

    def elbo(self, x: Tensor, q: Gaussian) -> Tensor:
        """Exact ELBO(q) = E_q[log p(x|z)] + E_q[log p(z)] + H[q] for Gaussian q: (N,)."""
        x = _as_batch(x, self.d, "x")
        m, S = self._check_q(x, q)
        resid = x - m @ self.W.T - self.b  # (N, d)
        WtW = self.W.T @ self.W  # (k, k)
        tr_WtWS = (WtW * S).sum((-2, -1))  # tr(W^T W S) since both symmetric
        e_loglik = -0.5 * (
            self.d * (LOG_2PI + 2 * math.log(self.sigma)) + (resid.pow(2).sum(-1) + tr_WtWS) / self.sigma**2
        )
        e_logprior = -0.5 * (self.k * LOG_2PI + m.pow(2).sum(-1) + S.diagonal(dim1=-2, dim2=-1).sum(-1))
        entropy = 0.5 * (self.k * (1 + LOG_2PI) + torch.logdet(S))
        return e_loglik + e_logprior + entropy

    def kl_to_posterior(self, x: Tensor, q: Gaussian) -> Tensor:
        """Exact KL(q || p(z|x)) for Gaussian q: (N,).

        KL(N(m, S) || N(mp, P)) = 1/2 [tr(P^{-1} S) + (mp - m)^T P^{-1} (mp - m) - k + log det P - log det S].
        """
        x = _as_batch(x, self.d, "x")
        m, S = self._check_q(x, q)
        post = self.posterior(x)
        P_inv = torch.linalg.inv(post.cov[0])  # = M, the posterior precision
        diff = post.mean - m
        return 0.5 * (
            (P_inv * S).sum((-2, -1))
            + (diff @ P_inv * diff).sum(-1)
            - self.k
            + torch.logdet(post.cov[0])
            - torch.logdet(S)
        )

    # ------------------------------------------------------------------ Monte Carlo estimates of p(x)
    def prior_sampling_log_marginal(
        self, x: Tensor, n_samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """log of (1/S) sum_s p(x | z_s), z_s ~ p(z): the naive estimator of p(x). (N,)"""
        x = _as_batch(x, self.d, "x")
        z = torch.randn(n_samples, len(x), self.k, generator=generator, dtype=DTYPE)
        return log_mean_exp(self.log_likelihood(x, z), dim=0)

    def importance_log_marginal(
        self, x: Tensor, q: Gaussian, n_samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """log of (1/S) sum_s p(x, z_s) / q(z_s), z_s ~ q: importance sampling of p(x). (N,)"""
        x = _as_batch(x, self.d, "x")
        z, log_q = _sample_q(*self._check_q(x, q), n_samples, generator)  # (S, N, k), (S, N)
        return log_mean_exp(self.log_joint(x, z) - log_q, dim=0)

    def prior_sampling_relative_variance(self, x: Tensor) -> Tensor:
        """Exact Var[p(x|z)] / p(x)^2 for z ~ p(z): the relative variance of ONE prior sample.

        With N(x; mu, s^2 I)^2 = (4 pi s^2)^{-d/2} N(x; mu, s^2/2 I):
        E[p(x|z)^2] = (4 pi sigma^2)^{-d/2} N(x; b, W W^T + sigma^2/2 I);  divide by p(x)^2, minus 1.
        With S samples the relative standard error is sqrt(this / S). Returns (N,).
        """
        x = _as_batch(x, self.d, "x")
        cov_half = self.W @ self.W.T + 0.5 * self.sigma**2 * torch.eye(self.d, dtype=DTYPE)
        log_e2 = -0.5 * self.d * math.log(4 * math.pi * self.sigma**2) + torch.distributions.MultivariateNormal(
            self.b, cov_half
        ).log_prob(x)
        return torch.expm1(log_e2 - 2 * self.log_marginal(x))


def _sample_q(m: Tensor, S: Tensor, n_samples: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """z ~ N(m, S) drawn as z = m + L eps (S = L L^T, eps ~ N(0, I)), and log q(z): (n, N, k), (n, N).

    log q(z) comes from the noise: z = m + L eps has density N(eps; 0, I) / |det L|."""
    L = torch.linalg.cholesky(S)  # (N, k, k)
    eps = torch.randn(n_samples, *m.shape, generator=generator, dtype=DTYPE)  # (n, N, k)
    z = m + (L @ eps.unsqueeze(-1)).squeeze(-1)  # (n, N, k)
    return z, log_normal(eps) - L.diagonal(dim1=-2, dim2=-1).log().sum(-1)


class SGVBSamples(NamedTuple):
    """One-sample SGVB estimates of the ELBO, (n, N) each (Kingma & Welling 2013, section 2.3)."""

    a: Tensor  # log p(x, z) - log q(z|x)
    b: Tensor  # log p(x | z) - KL(q(z|x) || p(z)), the KL analytic


def kl_to_prior(q: Gaussian) -> Tensor:
    """KL(N(m, S) || N(0, I)) = 1/2 (tr S + m^T m - k - log det S): (N,)."""
    k = q.mean.shape[-1]
    return 0.5 * (q.cov.diagonal(dim1=-2, dim2=-1).sum(-1) + q.mean.pow(2).sum(-1) - k - torch.logdet(q.cov))


def sgvb_estimates(
    model: LinearGaussianLVM, x: Tensor, q: Gaussian, n_samples: int, generator: torch.Generator | None = None
) -> SGVBSamples:
    """n_samples one-sample draws of SGVB estimators A and B of ELBO(q), same z for both."""
    x = _as_batch(x, model.d, "x")
    m, S = model._check_q(x, q)
    z, log_q = _sample_q(m, S, n_samples, generator)  # (n, N, k), (n, N)
    log_lik = model.log_likelihood(x, z)  # (n, N)
    a = log_lik + model.log_prior(z) - log_q
    b = log_lik - kl_to_prior(Gaussian(m, S))
    return SGVBSamples(a, b)
