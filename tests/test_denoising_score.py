"""vae_course.denoising: the 2-D mixture of notebook 03's score section and its exact score."""

import math

import pytest
import torch

from vae_course.denoising import mixture_score, ring_means, sample_mixture


def test_ring_means_lie_on_the_circle():
    m = ring_means(8, 2.0)
    assert m.shape == (8, 2)
    assert torch.allclose(m.norm(dim=1), torch.full((8,), 2.0), atol=1e-6)
    with pytest.raises(ValueError):
        ring_means(0)


def test_sample_mixture_shape_spread_and_seed():
    means = ring_means(4, 3.0)
    a = sample_mixture(4000, means, 0.2, torch.Generator().manual_seed(0))
    b = sample_mixture(4000, means, 0.2, torch.Generator().manual_seed(0))
    assert a.shape == (4000, 2) and torch.equal(a, b)
    nearest = torch.cdist(a, means).min(1).values
    assert float(nearest.pow(2).mean() / 2) == pytest.approx(0.04, rel=0.1)  # per-coordinate variance std^2


def test_mixture_score_is_the_gradient_of_the_log_density():
    means, std = ring_means(5, 1.5), 0.4
    x = torch.randn(30, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1)).requires_grad_()
    log_p = torch.logsumexp(-torch.cdist(x, means.double()).pow(2) / (2 * std**2), dim=1)  # + a constant
    (grad,) = torch.autograd.grad(log_p.sum(), x)
    assert torch.allclose(mixture_score(x.detach(), means, std), grad, atol=1e-10)


def test_tweedie_denoiser_beats_the_identity():
    """x~ + sigma^2 * score(p_sigma) is E[x | x~]: its squared error is below that of x~ itself."""
    means, s, sigma = ring_means(8, 2.0), 0.3, 0.5
    g = torch.Generator().manual_seed(2)
    x = sample_mixture(20000, means, s, g)
    noisy = x + sigma * torch.randn(x.shape, generator=g)
    tweedie = noisy + sigma**2 * mixture_score(noisy, means, math.sqrt(s**2 + sigma**2))
    assert (tweedie - x).pow(2).sum(1).mean() < 0.7 * (noisy - x).pow(2).sum(1).mean()


def test_the_best_linear_denoiser_shrinks_each_direction_by_its_signal_share():
    from vae_course.denoising import best_linear_denoiser

    w = best_linear_denoiser(torch.diag(torch.tensor([3.0, 1.0])), 1.0)
    assert torch.allclose(w, torch.diag(torch.tensor([0.75, 0.5], dtype=torch.float64)))
    a = torch.randn(4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    cov = a @ a.T
    w = best_linear_denoiser(cov, 0.7)
    assert torch.allclose(w @ (cov + 0.49 * torch.eye(4, dtype=torch.float64)), cov)  # the normal equations
    with pytest.raises(ValueError):
        best_linear_denoiser(torch.ones(2, 3), 1.0)


def test_the_linear_denoisers_error_on_the_ring_is_its_closed_form():
    from vae_course.denoising import linear_denoiser_error

    g = torch.Generator().manual_seed(1)
    x = sample_mixture(40_000, ring_means(8, 2.0), 0.3, g)
    lin, noisy = linear_denoiser_error(x, 0.5, g)
    c = 2.0**2 / 2 + 0.3**2  # the ring's covariance is c I
    assert math.isclose(lin / noisy, c / (c + 0.25), abs_tol=0.01)
    assert math.isclose(noisy, 2 * 0.25, rel_tol=0.03)
