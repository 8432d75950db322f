"""vae_course.denoising: the 2-D mixture of notebook 03's score section and its exact score.

vae_course.models.ae.code_sensitivity: how a decoder answers when the code itself moves (notebook 03)."""

import math

import pytest
import torch
from torch import nn

from vae_course.denoising import code_sensitivity, mixture_score, ring_means, sample_mixture
from vae_course.models.ae import MLPAutoencoder


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


def test_the_best_denoisers_copy_slope_is_its_mean_shrink_factor():
    from vae_course.denoising import best_linear_denoiser, gaussian_best_copy_slope

    g = torch.Generator().manual_seed(2)
    x = torch.randn(5000, 1, 2, 3, generator=g) * torch.tensor([2.0, 1.0, 0.5, 0.2, 0.1, 0.05]).view(1, 1, 2, 3)
    cov = torch.cov(x.flatten(1).double().T)
    expected = float(best_linear_denoiser(cov, 0.3).trace() / 6)  # tr(W) / D: the mean of lambda / (lambda + s^2)
    assert math.isclose(gaussian_best_copy_slope(x, 0.3, n=20_000, generator=g), expected, abs_tol=0.01)
    # data that vary far more than the noise in every direction: the noise is kept, c near 1
    assert gaussian_best_copy_slope(100 * x, 0.3, generator=g) > 0.95


def test_pixel_retrieval_finds_every_original_without_damage_and_fewer_with_heavy_damage():
    from vae_course.denoising import pixel_retrieval_rate

    g = torch.Generator().manual_seed(3)
    x = torch.rand(50, 1, 4, 4, generator=g)
    assert pixel_retrieval_rate(x, "gaussian", 0.0, draws=2, generator=g) == 1.0
    assert pixel_retrieval_rate(x, "mask", 1.0, draws=2, generator=g) < 0.2  # every image blank: one guess for all


def _linear_model(scale: float) -> MLPAutoencoder:
    model = MLPAutoencoder(4, 2, hidden=(), linear=True, output="identity")
    with torch.no_grad():
        for p in model.parameters():
            nn.init.zeros_(p)
        model.encoder[1].weight[0, 0] = scale  # z = scale * (x_0, x_1)
        model.encoder[1].weight[1, 1] = scale
        model.decoder[0].weight[0, 0] = 1 / scale  # image pixel 0 and 1 = z / scale
        model.decoder[0].weight[1, 1] = 1 / scale
    return model


def test_a_code_step_is_scaled_by_the_code_spacing():
    x = torch.zeros(3, 1, 4, 4)
    x.view(3, -1)[:, 0] = torch.tensor([0.2, 0.4, 0.7])  # images stay inside [0, 1]
    x.view(3, -1)[:, 1] = 0.5
    small, large = _linear_model(1.0), _linear_model(10.0)
    a = code_sensitivity(small, x, 0.5, torch.Generator().manual_seed(0))
    b = code_sensitivity(large, x, 0.5, torch.Generator().manual_seed(0))
    # the same decoder up to a rescaled code: the same answer
    assert torch.allclose(a.change, b.change, atol=1e-6) and torch.allclose(a.relative, b.relative, atol=1e-5)
    # a linear decoder moved half the nearest-code distance changes by a quarter of the neighbour gap
    assert torch.allclose(a.relative, torch.full((3,), 0.25), atol=1e-5)
    assert a.change.shape == a.neighbour.shape == (3,)


def test_a_flat_decoder_does_not_respond():
    torch.manual_seed(0)
    model = MLPAutoencoder(4, 3, hidden=(5,))
    with torch.no_grad():
        model.decoder[-2].weight.zero_()  # the image no longer depends on the code
    s = code_sensitivity(model, torch.rand(6, 1, 4, 4), 0.5)
    assert s.change.abs().max() < 1e-12


def test_bad_input_is_a_clear_error():
    model = MLPAutoencoder(4, 2)
    with pytest.raises(ValueError, match="at least 2 images"):
        code_sensitivity(model, torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="fraction must be > 0"):
        code_sensitivity(model, torch.rand(3, 1, 4, 4), 0.0)
