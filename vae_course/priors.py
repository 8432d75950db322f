"""The prior hole and a learned prior (notebook 09).

The ELBO pulls the *aggregate posterior* q(z) = (1/N) sum_n q(z | x_n) towards p(z), but does not make
them equal. Where p(z) has mass and q(z) has almost none (a **hole**), the decoder was never trained,
and prior samples decoded from there need not look like data (Rezende & Viola 2018; Hoffman & Johnson
2016, "ELBO surgery"). A prior fitted to q(z) (here a mixture of Gaussians, in the spirit of the
VampPrior of Tomczak & Welling 2018, arXiv:1705.07120) samples where the decoder was trained.

With the encoder and decoder fixed, the ELBO depends on the prior only through E_q[log p(z)]:

    ELBO(p) = E_q[log p(x | z)] + E_q[log p(z)] + H[q(z | x)],

so the ELBO *difference* between two priors on the same model is E_q[log p_new(z) - log p_old(z)],
and maximising it over the prior is fitting p to samples of the aggregate posterior by maximum likelihood.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .losses import log_normal


def log_aggregate_posterior(z: Tensor, mu: Tensor, logvar: Tensor, chunk: int = 4096) -> Tensor:
    """log q(z) = log (1/N) sum_n N(z; mu_n, diag exp(logvar_n)) for points z (M, D) and the posteriors
    (mu, logvar) (N, D) of N data points: (M,)."""
    if z.dim() != 2 or mu.shape != logvar.shape or mu.shape[1] != z.shape[1]:
        raise ValueError(
            f"expected z (M, D) and mu, logvar (N, D), got {tuple(z.shape)}, {tuple(mu.shape)}, {tuple(logvar.shape)}"
        )
    out = []
    for i in range(0, len(z), chunk):
        zi = z[i : i + chunk, None, :]  # (m, 1, D) against (1, N, D)
        lp = log_normal(zi, mu[None], logvar[None])  # (m, N)
        out.append(torch.logsumexp(lp, dim=1) - math.log(len(mu)))
    return torch.cat(out)


def hole_share(log_q: Tensor, log_p: Tensor, ratio: float = 0.1) -> float:
    """Share of the points (drawn from p) where q(z) < ratio * p(z): the prior mass in the holes of q.

    Both densities at the same points (M,). For z ~ p, E[1{q < r p}] is the p-mass of {q/p < r}."""
    if log_q.shape != log_p.shape:
        raise ValueError(f"log_q and log_p must have the same shape, got {tuple(log_q.shape)}, {tuple(log_p.shape)}")
    return float((log_q < log_p + math.log(ratio)).double().mean())


class MixturePrior(NamedTuple):
    """p(z) = sum_k w_k N(z; means_k, diag exp(logvars_k)): weights (K,), means and logvars (K, D)."""

    weights: Tensor
    means: Tensor
    logvars: Tensor

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) for z (..., D): (...)."""
        comp = log_normal(z[..., None, :], self.means, self.logvars)  # (..., K)
        return torch.logsumexp(comp + self.weights.log(), dim=-1)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n points (n, D): a component k ~ w, then z ~ N(means_k, exp(logvars_k))."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, self.means.shape[1], generator=generator)
        return self.means[k] + (0.5 * self.logvars[k]).exp() * eps


def fit_mixture_prior(
    z: Tensor,
    n_components: int = 10,
    iterations: int = 100,
    min_var: float = 1e-3,
    generator: torch.Generator | None = None,
) -> MixturePrior:
    """Fit a diagonal Gaussian mixture to points z (N, D) by EM (maximum likelihood), starting from
    ``n_components`` distinct points of z chosen at random as means, unit variances and equal weights.

    E step: r_nk ∝ w_k N(z_n; m_k, s_k^2). M step: w_k = mean_n r_nk, m_k = sum_n r_nk z_n / sum_n r_nk,
    s_k^2 = sum_n r_nk (z_n - m_k)^2 / sum_n r_nk (floored at ``min_var``)."""
    if z.dim() != 2 or len(z) < n_components:
        raise ValueError(f"need points (N, D) with N >= n_components = {n_components}, got {tuple(z.shape)}")
    z = z.double()
    idx = torch.randperm(len(z), generator=generator)[:n_components]
    means, logvars = z[idx].clone(), torch.zeros(n_components, z.shape[1], dtype=z.dtype)
    weights = torch.full((n_components,), 1.0 / n_components, dtype=z.dtype)
    for _ in range(iterations):
        lp = log_normal(z[:, None, :], means, logvars) + weights.log()  # (N, K)
        r = torch.softmax(lp, dim=1)  # (N, K) responsibilities
        nk = r.sum(0) + 1e-10  # (K,)
        weights = nk / nk.sum()
        means = (r.T @ z) / nk[:, None]
        var = (r.T @ z.pow(2)) / nk[:, None] - means.pow(2)
        logvars = var.clamp(min=min_var).log()
    return MixturePrior(weights.float(), means.float(), logvars.float())
