"""Latent variable models whose log p(x) is exact: the linear-Gaussian model, and a continuous
mixture of Gaussians whose one-dimensional latent is integrated by quadrature.

**The linear-Gaussian model** (probabilistic PCA when W is fitted; Tipping & Bishop 1999):

    z ~ N(0, I_k),        x | z ~ N(W z + b, sigma^2 I_d),   W: (d, k), b: (d,)

Everything a VAE only estimates is available here in closed form, so notebook 04 uses it as
ground truth for the ELBO identity, importance sampling, the SGVB estimators and the role of the
decoder variance sigma^2, plus EM (coordinate ascent on the ELBO, :meth:`LinearGaussianLVM.em_step`),
the tail of importance weights (:func:`importance_weight_moment`) and Gaussian joints over (x, z)
(:meth:`LinearGaussianLVM.joint`, :func:`data_encoder_joint`, :func:`kl_gaussians`) for the
joint-KL view of the ELBO: E_{p_data}[ELBO] = -H(p_data) - KL(p_data(x) q(z|x) || p(x, z)).

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
* Maximum likelihood for a fixed sigma (Tipping & Bishop 1999, eq. 7): with the data's covariance
  eigenvalues lambda_1 >= lambda_2 >= ... and eigenvectors u_j, W = [u_j sqrt(max(lambda_j - sigma^2, 0))]:
  a direction whose variance lambda_j is below sigma^2 is switched off (its column is 0). With sigma
  free as well, sigma^2_ML = the mean of the d - k discarded eigenvalues.

All computations run in float64: the identity holds to float64 rounding (about 1e-14 for ELBOs of
size 10-100 nats).

**A continuous mixture of Gaussians** (:class:`CurveMixture`, the picture behind a VAE decoder):

    z ~ N(0, 1),   x | z ~ N(mu(z), sigma^2 I_d),   p(x) = integral N(x; mu(z), sigma^2 I) N(z; 0, 1) dz,

a mixture of infinitely many Gaussian bumps whose centres mu(z) lie on a curve. With a 1-D z the
integral is a sum over a fine grid of z (a mixture of G bumps with prior weights), so log p(x) is
exact up to the quadrature and can be maximised directly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor, nn

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


class Spectrum(NamedTuple):
    """The data's mean (d,), covariance eigenvalues (d,) in decreasing order and eigenvectors (d, d)
    as columns: what probabilistic PCA needs."""

    mean: Tensor
    values: Tensor
    vectors: Tensor


def spectrum(x: Tensor) -> Spectrum:
    """Mean and eigen-decomposition of the (1/N) covariance of data x (N, d) (or images, flattened)."""
    x = torch.as_tensor(x, dtype=DTYPE)
    x = x.flatten(1) if x.dim() > 2 else x
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"expected data of shape (N, d) with N >= 2, got {tuple(x.shape)}")
    mean = x.mean(0)
    values, vectors = torch.linalg.eigh((x - mean).T @ (x - mean) / len(x))  # ascending
    return Spectrum(mean, values.flip(0).clamp_min(0), vectors.flip(1))


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

    @classmethod
    def ppca(cls, data: Tensor | Spectrum, k: int, sigma: float | None = None) -> LinearGaussianLVM:
        """Probabilistic PCA: the maximum-likelihood W and b for data (N, d) (or its ``Spectrum``).

        W = U_k diag(sqrt(max(lambda_j - sigma^2, 0))), b = the data mean; sigma=None also fits
        sigma: sigma^2 = mean of the discarded eigenvalues lambda_{k+1..d} (Tipping & Bishop 1999).
        """
        spec = data if isinstance(data, Spectrum) else spectrum(data)
        d = len(spec.values)
        if not 1 <= k <= d:
            raise ValueError(f"k must be between 1 and the data dimension {d}, got {k}")
        if sigma is None:
            if k == d:
                raise ValueError("fitting sigma needs k < d (sigma^2 is the mean of the discarded eigenvalues)")
            sigma = float(spec.values[k:].mean().clamp_min(1e-12).sqrt())
        scale = (spec.values[:k] - sigma**2).clamp_min(0).sqrt()  # (k,)
        return cls(spec.vectors[:, :k] * scale, spec.mean, sigma)

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

    def expected_sq_error(self, x: Tensor, q: Gaussian) -> Tensor:
        """E_q ||x - (W z + b)||^2 = ||x - W m - b||^2 + tr(W^T W S): the reconstruction term's
        squared error, averaged over q = N(m, S) (so -E_q log p(x|z) = this / (2 sigma^2) + const). (N,)"""
        x = _as_batch(x, self.d, "x")
        m, S = self._check_q(x, q)
        resid = x - m @ self.W.T - self.b  # (N, d)
        return resid.pow(2).sum(-1) + ((self.W.T @ self.W) * S).sum((-2, -1))

    def kl_to_posterior(self, x: Tensor, q: Gaussian) -> Tensor:
        """Exact KL(q || p(z|x)) for Gaussian q (``kl_gaussians`` against ``posterior(x)``): (N,)."""
        x = _as_batch(x, self.d, "x")
        return kl_gaussians(Gaussian(*self._check_q(x, q)), self.posterior(x))

    # ------------------------------------------------------------------ the joint, and EM
    def joint(self) -> Gaussian:
        """p(x, z) as one Gaussian over the stacked vector (x, z) of size d + k:
        mean (b, 0), covariance [[W W^T + sigma^2 I, W], [W^T, I]] (Cov(x, z) = W Cov(z) = W)."""
        top = torch.cat([self.marginal_cov(), self.W], 1)  # (d, d + k)
        bottom = torch.cat([self.W.T, torch.eye(self.k, dtype=DTYPE)], 1)  # (k, d + k)
        return Gaussian(torch.cat([self.b, torch.zeros(self.k, dtype=DTYPE)]), torch.cat([top, bottom], 0))

    def em_step(self, x: Tensor, fit_sigma: bool = True) -> LinearGaussianLVM:
        """One EM step on data x (N, d): coordinate ascent on sum_i ELBO(x_i; q_i, theta).

        E-step (q): q_i = p(z | x_i; theta), so every ELBO equals log p(x_i) (gap 0).
        M-step (theta): maximise sum_i E_{q_i}[log p(x_i | z)] over (W, b) and sigma^2, with the
        augmented code z~ = (z, 1) and W~ = [W b]: A = sum_i E[z~ z~^T] (k+1, k+1), B = sum_i x_i E[z~]^T
        (d, k+1), W~ = B A^{-1}, sigma^2 = (sum_i ||x_i||^2 - tr(W~^T B)) / (N d).
        Neither step can lower sum_i ELBO, and after the E-step the ELBO is log p(x): log p(x) never falls.
        """
        x = _as_batch(x, self.d, "x")
        post = self.posterior(x)
        n = len(x)
        ez = torch.cat([post.mean, torch.ones(n, 1, dtype=DTYPE)], 1)  # (N, k+1): E[z~]
        A = ez.T @ ez  # (k+1, k+1): sum_i E[z~] E[z~]^T ...
        A[: self.k, : self.k] += n * post.cov[0]  # ... plus the posterior covariance, the same for every x
        B = x.T @ ez  # (d, k+1)
        Wt = torch.linalg.solve(A, B.T).T  # (d, k+1) = B A^{-1} (A symmetric)
        sigma = self.sigma
        if fit_sigma:
            sigma = float(((x.pow(2).sum() - (Wt * B).sum()) / (n * self.d)).clamp_min(1e-12).sqrt())
        return LinearGaussianLVM(Wt[:, : self.k], Wt[:, self.k], sigma)

    # ------------------------------------------------------------------ Monte Carlo estimates of p(x)
    def prior_sampling_log_marginal(
        self, x: Tensor, n_samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """log of (1/S) sum_s p(x | z_s), z_s ~ p(z): the naive estimator of p(x). (N,)"""
        x = _as_batch(x, self.d, "x")
        z = torch.randn(n_samples, len(x), self.k, generator=generator, dtype=DTYPE)
        return log_mean_exp(self.log_likelihood(x, z), dim=0)

    def importance_log_weights(
        self, x: Tensor, q: Gaussian, n_samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """log w_s = log p(x, z_s) - log q(z_s), z_s ~ q: the importance weights, (S, N). Their mean
        is an unbiased estimate of p(x); their log-mean is :meth:`importance_log_marginal`."""
        x = _as_batch(x, self.d, "x")
        z, log_q = _sample_q(*self._check_q(x, q), n_samples, generator)  # (S, N, k), (S, N)
        return self.log_joint(x, z) - log_q

    def importance_log_marginal(
        self, x: Tensor, q: Gaussian, n_samples: int, generator: torch.Generator | None = None
    ) -> Tensor:
        """log of (1/S) sum_s p(x, z_s) / q(z_s), z_s ~ q: importance sampling of p(x). (N,)"""
        return log_mean_exp(self.importance_log_weights(x, q, n_samples, generator), dim=0)

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


def gaussian_entropy(g: Gaussian) -> Tensor:
    """H[N(m, S)] = 1/2 (n (1 + log 2 pi) + log det S), n = the dimension: (...,) for cov (..., n, n)."""
    n = g.cov.shape[-1]
    return 0.5 * (n * (1 + LOG_2PI) + torch.logdet(g.cov))


def kl_gaussians(p: Gaussian, q: Gaussian) -> Tensor:
    """KL(N(m0, S0) || N(m1, S1)) = 1/2 [tr(S1^{-1} S0) + (m1 - m0)^T S1^{-1} (m1 - m0) - n + log det S1 - log det S0],
    full covariances, broadcasting over leading dimensions: (...,)."""
    n = p.cov.shape[-1]
    diff = (q.mean - p.mean).unsqueeze(-1)  # (..., n, 1)
    S1_inv_S0 = torch.linalg.solve(q.cov, p.cov)
    maha = (diff.transpose(-2, -1) @ torch.linalg.solve(q.cov, diff))[..., 0, 0]
    return 0.5 * (S1_inv_S0.diagonal(dim1=-2, dim2=-1).sum(-1) + maha - n + torch.logdet(q.cov) - torch.logdet(p.cov))


def kl_to_prior(q: Gaussian) -> Tensor:
    """KL(N(m, S) || N(0, I)) = 1/2 (tr S + m^T m - k - log det S): ``kl_gaussians`` against the
    standard normal prior. (N,)"""
    eye = torch.eye(q.mean.shape[-1], dtype=q.cov.dtype, device=q.cov.device).expand_as(q.cov)
    return kl_gaussians(q, Gaussian(torch.zeros_like(q.mean), eye))


def data_encoder_joint(data: Gaussian, A: Tensor, c: Tensor, S: Tensor) -> Gaussian:
    """The joint of x ~ p_data = N(mu, Sigma) (d,) and a linear-Gaussian encoder z | x ~ N(A x + c, S)
    (A: (k, d), c: (k,), S: (k, k)), as one Gaussian over (x, z):
    mean (mu, A mu + c), covariance [[Sigma, Sigma A^T], [A Sigma, A Sigma A^T + S]]."""
    mu, Sigma = data.mean, data.cov
    top = torch.cat([Sigma, Sigma @ A.T], 1)
    bottom = torch.cat([A @ Sigma, A @ Sigma @ A.T + S], 1)
    return Gaussian(torch.cat([mu, A @ mu + c]), torch.cat([top, bottom], 0))


def sigma_points(g: Gaussian) -> Tensor:
    """2n points m +- sqrt(n) L_j (L_j: the columns of the Cholesky factor of the covariance), (2n, n).

    Equally weighted, their mean is m and their covariance is S exactly, so the average of any
    polynomial of degree <= 2 over them is its exact expectation under N(m, S) (the unscented transform)."""
    n = g.mean.shape[-1]
    L = torch.linalg.cholesky(g.cov) * math.sqrt(n)  # (n, n)
    return torch.cat([g.mean + L.T, g.mean - L.T], 0)  # rows: m + sqrt(n) L[:, j], then m - sqrt(n) L[:, j]


class WeightMoment(NamedTuple):
    """How heavy the tail of the importance weights w = p / q is, for Gaussians with a common mean."""

    min_eig: float  # smallest eigenvalue of 2P - Q: the weights have finite variance iff it is > 0
    second_moment: float  # E_q[w^2] / E_q[w]^2 (infinite when min_eig <= 0); ESS of S weights ~ S / this


def importance_weight_moment(target_cov: Tensor, proposal_cov: Tensor) -> WeightMoment:
    """Relative second moment of w = p(z) / q(z), p = N(m, P^{-1}) (the target), q = N(m, Q^{-1}) (the proposal).

    E_q[w] = 1, and E_q[w^2] = integral p^2 / q dz, with p^2 / q proportional to exp(-1/2 z^T (2P - Q) z):
    finite iff 2P - Q is positive definite, and then E_q[w^2] = det P / sqrt(det Q det(2P - Q)).
    A proposal narrower than the target in some direction (Q large there) can make 2P - Q indefinite:
    the weights then have infinite variance. target_cov, proposal_cov: (k, k)."""
    P, Q = torch.linalg.inv(target_cov), torch.linalg.inv(proposal_cov)
    R = 2 * P - Q
    R = 0.5 * (R + R.T)  # symmetric up to rounding
    min_eig = float(torch.linalg.eigvalsh(R)[0])
    if min_eig <= 0:
        return WeightMoment(min_eig, math.inf)
    log_m2 = torch.logdet(P) - 0.5 * (torch.logdet(Q) + torch.logdet(R))
    return WeightMoment(min_eig, float(log_m2.exp()))


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


class SGVBGradients(NamedTuple):
    """One-sample gradient estimates of ELBO(q) with respect to q's mean m and the diagonal of its
    Cholesky factor L (the scales), (n, N, 2k) each: columns m_1..m_k, then L_11..L_kk."""

    a: Tensor  # the reparameterized gradient of estimator A (log p(x, z) - log q(z))
    b: Tensor  # the reparameterized gradient of estimator B (log p(x | z) - analytic KL)
    stl: Tensor  # "sticking the landing": A's gradient without its score-function term


def sgvb_gradients(
    model: LinearGaussianLVM, x: Tensor, q: Gaussian, n_samples: int, generator: torch.Generator | None = None
) -> SGVBGradients:
    """n_samples one-sample gradients of the ELBO in (m, diag L), q = N(m, L L^T), z = m + L eps.

    With g(z) = grad_z log p(x, z), h(z) = g(z) - grad_z log q(z) = g(z) + S^{-1} (z - m) and
    u(z) = grad_z log p(x | z) (all closed forms for this model):

    * A (total derivative; log q(m + L eps) = log N(eps) - log det L):
      d/dm = g(z),  d/dL_ii = g_i eps_i + 1 / L_ii;
    * STL (Roeder et al. 2017: drop A's score-function term -d/dphi log q_phi(z) at fixed z, whose
      mean is zero): d/dm = h(z),  d/dL_ii = h_i eps_i. At q = p(z|x), h = grad_z log p(x) = 0:
      zero variance;
    * B (KL(q || N(0, I)) = 1/2 (tr L L^T + m^T m - k) - sum log L_ii):
      d/dm = u(z) - m,  d/dL_ii = u_i eps_i - L_ii + 1 / L_ii.

    All three are unbiased for grad ELBO; the same eps serves all three.
    """
    x = _as_batch(x, model.d, "x")
    m, S = model._check_q(x, q)
    L = torch.linalg.cholesky(S)  # (N, k, k)
    eps = torch.randn(n_samples, *m.shape, generator=generator, dtype=DTYPE)  # (n, N, k)
    z = m + (L @ eps.unsqueeze(-1)).squeeze(-1)  # (n, N, k)
    u = (x - z @ model.W.T - model.b) @ model.W / model.sigma**2  # (n, N, k) grad_z log p(x|z)
    g = u - z  # grad_z log p(x, z)
    h = g + torch.linalg.solve(S, (z - m).unsqueeze(-1)).squeeze(-1)  # (n, N, k)
    diag = L.diagonal(dim1=-2, dim2=-1)  # (N, k)
    a = torch.cat([g, g * eps + 1 / diag], -1)
    stl = torch.cat([h, h * eps], -1)
    b = torch.cat([u - m, u * eps - diag + 1 / diag], -1)
    return SGVBGradients(a, b, stl)


# --------------------------------------------------------------------------- a continuous mixture
class CurveMixture(nn.Module):
    """p(x) = integral N(x; mu(z), sigma^2 I_d) N(z; 0, 1) dz: infinitely many Gaussian bumps whose
    centres lie on the curve mu(z), a small MLP from a 1-D z (the decoder of a VAE with a 1-D latent).

    The integral is a sum over ``n_grid`` equally spaced z in [-z_max, z_max] with weights
    w_g = N(z_g; 0, 1) / sum_g' N(z_g'; 0, 1):  p(x) ~= sum_g w_g N(x; mu(z_g), sigma^2 I), a
    mixture of n_grid bumps with fixed weights and centres tied to the curve. The grid must be fine
    enough that neighbouring centres are closer than sigma.

    Args:
        d: data dimension. hidden: width of the two hidden layers of mu. sigma: initial bump width
        (learned as log sigma unless ``learn_sigma=False``).
    """

    def __init__(
        self,
        d: int = 2,
        hidden: int = 32,
        sigma: float = 0.3,
        n_grid: int = 400,
        z_max: float = 4.5,
        learn_sigma: bool = True,
    ) -> None:
        super().__init__()
        if sigma <= 0 or n_grid < 2 or d < 1:
            raise ValueError(f"need sigma > 0, n_grid >= 2 and d >= 1, got {sigma}, {n_grid}, {d}")
        self.d, self.z_max = d, float(z_max)
        self.mu = nn.Sequential(
            nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, d)
        )
        z, log_w = self._grid(n_grid)
        self.register_buffer("z_grid", z)  # (G, 1)
        self.register_buffer("log_w", log_w)  # (G,), the weights sum to 1
        log_sigma = torch.tensor(math.log(sigma))
        self.log_sigma = nn.Parameter(log_sigma) if learn_sigma else None
        if not learn_sigma:
            self.register_buffer("fixed_log_sigma", log_sigma)

    def _grid(self, n_grid: int, offset: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(z (G, 1), log weights (G,)): the N(0, 1) quadrature on [-z_max, z_max]; with ``offset`` u in
        [0, 1), the points -z_max + (g + u) h, h = 2 z_max / G, instead of the evenly spaced ends-included grid."""
        if offset is None:
            z = torch.linspace(-self.z_max, self.z_max, n_grid)[:, None]  # (G, 1)
        else:
            z = (-self.z_max + (torch.arange(n_grid) + offset) * (2 * self.z_max / n_grid))[:, None]  # (G, 1)
        log_w = -0.5 * z[:, 0] ** 2
        return z, log_w - torch.logsumexp(log_w, 0)

    @property
    def sigma(self) -> float:
        return float((self.log_sigma if self.log_sigma is not None else self.fixed_log_sigma).detach().exp())

    def centres(self, z: Tensor | None = None) -> Tensor:
        """The curve mu(z) (G, d) at the quadrature grid (or at given z of shape (G, 1))."""
        return self.mu(self.z_grid if z is None else z)

    def log_prob(
        self, x: Tensor, sigma: float | None = None, n_grid: int | None = None, shifted: bool = False
    ) -> Tensor:
        """log p(x) (N,) for points x (N, d), up to quadrature; ``sigma`` overrides the bump width,
        ``n_grid`` the number of grid points (to check that the quadrature has converged).

        ``shifted=True`` (for training): the G grid points are z_g = -z_max + (g + u) h, h = 2 z_max / G,
        with one offset u ~ U(0, 1) drawn from torch's generator per call, so over the steps of a fit every
        z in [-z_max, z_max] is visited: a fit on a fixed grid never sees the z's between its points and
        can hide a fast move of the curve (across a gap in the data) between two of them."""
        if x.dim() != 2 or x.shape[1] != self.d:
            raise ValueError(f"expected points of shape (N, {self.d}), got {tuple(x.shape)}")
        if shifted:
            g = len(self.z_grid) if n_grid is None else n_grid
            z, log_w = (t.to(self.z_grid) for t in self._grid(g, offset=torch.rand(())))
        elif n_grid is None:
            z, log_w = self.z_grid, self.log_w
        else:
            z, log_w = (t.to(self.z_grid) for t in self._grid(n_grid))
        c = self.mu(z)  # (G, d)
        if sigma is not None:
            log_s = torch.tensor(math.log(sigma), dtype=x.dtype)
        else:
            log_s = self.log_sigma if self.log_sigma is not None else self.fixed_log_sigma
        sq = x.pow(2).sum(1, keepdim=True) - 2 * x @ c.T + c.pow(2).sum(1)  # (N, G) squared distances
        log_bump = -0.5 * sq.clamp_min(0) * torch.exp(-2 * log_s) - self.d * (0.5 * LOG_2PI + log_s)
        return torch.logsumexp(log_bump + log_w, dim=1)


def mixture_log_prob(x: Tensor, centres: Tensor, log_weights: Tensor, sigma: float | Tensor) -> Tensor:
    """log sum_k w_k N(x; c_k, sigma^2 I) for points x (N, d), centres (K, d), log-weights (K,)
    that sum to 1 in probability, and one shared (or per-component (K,)) sigma. Returns (N,)."""
    if x.dim() != 2 or centres.dim() != 2 or x.shape[1] != centres.shape[1]:
        raise ValueError(f"expected x (N, d) and centres (K, d), got {tuple(x.shape)} and {tuple(centres.shape)}")
    sigma = torch.as_tensor(sigma, dtype=x.dtype)
    sq = (x[:, None, :] - centres[None]).pow(2).sum(-1)  # (N, K)
    log_bump = -0.5 * sq / sigma**2 - x.shape[1] * (0.5 * LOG_2PI + torch.log(sigma))
    return torch.logsumexp(log_bump + log_weights, dim=1)
