"""The amortization gap (Cremer, Li & Duvenaud 2018, arXiv:1801.03558), in nats (notebook 09).

For one image x, with the encoder's posterior q_phi(z | x) and the best Gaussian q*(z | x) of the same
family (found by optimising mu and sigma for this x alone):

    log p(x) - ELBO(q_phi) = [log p(x) - ELBO(q*)]      +  [ELBO(q*) - ELBO(q_phi)]
                           =  approximation gap            +  amortization gap
                              (the family is too simple)      (one encoder for all x is not the best q for each)

log p(x) is estimated by the importance-weighted bound with many samples (Burda et al. 2015), with
q* as the proposal (the tighter one), and, for a 2-D latent, checked by quadrature on a grid.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from .losses import gaussian_kl, log_mean_exp, log_normal
from .models import eval_mode
from .models.vae import reconstruction_nll


def _decode_nll(model: nn.Module, z: Tensor, x: Tensor) -> Tensor:
    """-log p(x | z) for z (K, B, D) and x (B, 1, H, W): (K, B)."""
    k, b, d = z.shape
    logits = model.decode(z.reshape(k * b, d))  # (K*B, 1, H, W)
    xk = x.expand(k, *x.shape).reshape(k * b, *x.shape[1:])  # (K*B, 1, H, W)
    return reconstruction_nll(logits, xk).view(k, b)


def elbo_estimate(
    model: nn.Module,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    n_samples: int = 100,
    generator: torch.Generator | None = None,
) -> Tensor:
    """ELBO(q) = E_q[log p(x | z)] - KL(q || N(0, I)) per image (B,), for q = N(mu, diag exp(logvar)) (B, D):
    Monte Carlo over ``n_samples`` draws for the first term, the closed form for the KL."""
    eps = torch.randn(n_samples, *mu.shape, generator=generator).to(mu)  # (K, B, D)
    z = mu + (0.5 * logvar).exp() * eps
    return -_decode_nll(model, z, x).mean(0) - gaussian_kl(mu, logvar)


def iwae_estimate(
    model: nn.Module, x: Tensor, mu: Tensor, logvar: Tensor, k: int = 1000, generator: torch.Generator | None = None
) -> Tensor:
    """L_K = log (1/K) sum_k p(x, z_k) / q(z_k) with z_k ~ q = N(mu, diag exp(logvar)): (B,), a lower bound
    on log p(x) for any proposal q, tighter the closer q is to the true posterior."""
    eps = torch.randn(k, *mu.shape, generator=generator).to(mu)  # (K, B, D)
    z = mu + (0.5 * logvar).exp() * eps
    log_w = -_decode_nll(model, z, x) + log_normal(z) - log_normal(z, mu, logvar)  # (K, B)
    return log_mean_exp(log_w)


def _log_integral(model: nn.Module, xi: Tensor, lo: Tensor, hi: Tensor, n: int) -> tuple[Tensor, Tensor, Tensor]:
    """Midpoint rule for log ∫ p(xi | z) N(z; 0, I) dz over the box [lo, hi] (2,) on an n x n grid: the log
    integral, the cell midpoints (n*n, 2) and each cell's log integrand times area (n*n,)."""
    h = (hi - lo) / n  # (2,) cell sides
    g1 = lo[0] + h[0] * (torch.arange(n) + 0.5)  # (n,) cell midpoints along z1
    g2 = lo[1] + h[1] * (torch.arange(n) + 0.5)
    z = torch.cartesian_prod(g1, g2)  # (n*n, 2)
    log_cell = -_decode_nll(model, z[:, None, :], xi[None])[:, 0] + log_normal(z) + h.log().sum()  # (n*n,)
    return torch.logsumexp(log_cell, dim=0), z, log_cell


@torch.no_grad()
def log_marginal_grid(model: nn.Module, x: Tensor, limit: float = 6.0, n: int = 200, floor: float = 30.0) -> Tensor:
    """log p(x) = log ∫ p(x | z) N(z; 0, I) dz for a 2-D latent, by the midpoint rule, in two passes: (B,).

    A coarse n x n grid over [-limit, limit]^2 (the prior mass outside it, under 1e-7 for limit 6, is left
    out) finds where the integrand p(x | z) p(z) lives: the cells within ``floor`` nats of its largest
    cell. A fine n x n grid over that region's bounding box, widened by one coarse cell on each side,
    then gives the integral; the coarse cells left out hold at most n^2 e^-floor of the largest one.
    A posterior far narrower than the coarse cells is thus still resolved by about n cells across."""
    h = 2 * limit / n
    out = []
    with eval_mode(model):
        for xi in x:
            lo, hi = torch.full((2,), -limit), torch.full((2,), limit)
            _, z, log_cell = _log_integral(model, xi, lo, hi, n)
            keep = z[log_cell > log_cell.max() - floor]  # (M, 2) coarse cells where the integrand lives
            lo = (keep.min(0).values - h).clamp(min=-limit)
            hi = (keep.max(0).values + h).clamp(max=limit)
            out.append(_log_integral(model, xi, lo, hi, n)[0])
    return torch.stack(out)


class OptimisedPosterior(NamedTuple):
    mu: Tensor  # (B, D)
    logvar: Tensor  # (B, D)
    elbo_trace: list[float]  # mean ELBO (nats) every ``steps // 10`` steps, for a convergence check


def optimise_posterior(
    model: nn.Module,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    steps: int = 300,
    lr: float = 0.05,
    n_samples: int = 16,
    generator: torch.Generator | None = None,
) -> OptimisedPosterior:
    """Maximise each image's own ELBO over its (mu, logvar), starting from the encoder's (B, D), with Adam
    on a reparameterised Monte Carlo estimate (``n_samples`` draws per step); the model stays fixed."""
    mu = mu.detach().clone().requires_grad_(True)
    logvar = logvar.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([mu, logvar], lr=lr)
    trace = []
    every = max(1, steps // 10)
    with eval_mode(model):
        for p in model.parameters():
            p.requires_grad_(False)
        try:
            for t in range(steps):
                loss = -elbo_estimate(model, x, mu, logvar, n_samples, generator).sum()
                opt.zero_grad()
                loss.backward()
                opt.step()
                if t % every == 0 or t == steps - 1:
                    trace.append(-loss.item() / len(x))
        finally:
            for p in model.parameters():
                p.requires_grad_(True)
    return OptimisedPosterior(mu.detach(), logvar.detach(), trace)
