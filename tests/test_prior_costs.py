"""Notebook 09's package code: the autoregressive VAE, collapse remedies, priors, amortization, circle latent."""

import math

import pytest
import torch

from vae_course import amortization as am
from vae_course import collapse, priors
from vae_course.losses import gaussian_kl_terms, log_normal
from vae_course.models.ar import ARVAE, made_masks
from vae_course.models.circle import (
    CircleVAE,
    circle_elbo_loss,
    geodesic,
    power_spherical_kl_uniform,
    power_spherical_log_prob,
    power_spherical_rsample,
)
from vae_course.models.vae import VAE


def test_made_masks_are_autoregressive():
    m_in, m_out, direct = made_masks(16, 40)
    reach = (m_out.float() @ m_in.float() + direct.float()) > 0  # (out, in): can output d see input i?
    assert not torch.triu(reach).any()  # never itself or a later pixel
    assert reach[1:, 0].all()  # pixel 1 reaches every later one


def test_arvae_logit_of_pixel_ignores_itself_and_later_pixels():
    torch.manual_seed(0)
    m = ARVAE(4, 3, 16, 32).eval()
    x = torch.rand(1, 16, requires_grad=True)  # the decoder's view: flattened pixels, z held fixed
    logits = m.decoder(x, torch.randn(1, 3)).flatten()
    for i in (0, 5, 15):
        (g,) = torch.autograd.grad(logits[i], x, retain_graph=True)
        assert (g.flatten()[i:] == 0).all() and (i == 0 or g.flatten()[:i].abs().sum() > 0)


def test_arvae_sample_shape_and_binary():
    m = ARVAE(4, 2, 8, 16)
    s = m.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 4, 4) and set(s.unique().tolist()) <= {0.0, 1.0}


def test_free_bits_gradient_zero_below_floor_and_kl_above():
    mu = torch.tensor([[0.1, 2.0], [0.0, 2.0]], requires_grad=True)
    logvar = torch.zeros(2, 2, requires_grad=True)
    kl_j = gaussian_kl_terms(mu, logvar).mean(0)
    value = collapse.free_bits_kl(mu, logvar, 0.5)
    assert torch.isclose(value, 0.5 + kl_j[1])
    value.backward()
    assert (mu.grad[:, 0] == 0).all() and (mu.grad[:, 1] != 0).all()


def test_warmup_beta_and_loss_counts_training_steps_only():
    assert collapse.warmup_beta(0, 10) == 0 and collapse.warmup_beta(5, 10) == 0.5 and collapse.warmup_beta(20, 10) == 1
    assert collapse.warmup_beta(3, 0) == 1.0
    m, x = VAE(4, 2, 8), torch.rand(6, 1, 4, 4)
    loss = collapse.collapse_loss_fn(warmup_steps=4)
    first = loss(m, x)
    assert torch.isclose(first["loss"], first["recon"])  # beta = 0 at step 0
    m.eval()
    with torch.no_grad():
        ev = loss(m, x)
    assert loss.state["step"] == 1 and torch.isclose(ev["loss"], ev["recon"] + ev["kl"])
    with pytest.raises(ValueError):
        collapse.free_bits_kl(torch.zeros(1, 1), torch.zeros(1, 1), -1.0)


def test_aggregate_posterior_of_one_point_is_its_gaussian_and_hole_share():
    z = torch.randn(50, 2)
    mu, lv = torch.tensor([[1.0, -1.0]]), torch.tensor([[0.3, -0.2]])
    assert torch.allclose(priors.log_aggregate_posterior(z, mu, lv), log_normal(z, mu, lv), atol=1e-5)
    # q = p: no holes; q far away: all holes
    assert priors.hole_share(log_normal(z), log_normal(z), 0.1) == 0.0
    assert priors.hole_share(log_normal(z, 20.0), log_normal(z), 0.1) == 1.0


def test_fit_mixture_prior_recovers_two_clusters():
    g = torch.Generator().manual_seed(0)
    z = torch.cat([torch.randn(500, 2, generator=g) * 0.3 + 3, torch.randn(1500, 2, generator=g) * 0.3 - 3])
    mog = priors.fit_mixture_prior(z, 2, 50, generator=g)
    order = mog.means[:, 0].argsort()
    assert torch.allclose(mog.weights[order], torch.tensor([0.75, 0.25]), atol=0.02)
    assert torch.allclose(mog.means[order], torch.tensor([[-3.0, -3.0], [3.0, 3.0]]), atol=0.1)
    s = mog.sample(4000, torch.Generator().manual_seed(1))
    assert abs((s[:, 0] > 0).float().mean() - 0.25) < 0.03
    assert mog.log_prob(z).mean() > log_normal(z).mean()


def _linear_gaussian_model():
    """A 'decoder' whose logits are linear in z, wrapped to look like the course's VAE."""
    m = VAE(2, 2, 4)
    return m.eval()


def test_elbo_below_iwae_below_grid_and_optimising_raises_elbo():
    torch.manual_seed(0)
    m = _linear_gaussian_model()
    x = (torch.rand(4, 1, 2, 2) > 0.5).float()
    with torch.no_grad():
        mu, lv = m.encode(x)
    g = torch.Generator().manual_seed(0)
    exact = am.log_marginal_grid(m, x, 7.0, 300)
    with torch.no_grad():
        elbo = am.elbo_estimate(m, x, mu, lv, 4000, g)
        iw = am.iwae_estimate(m, x, mu, lv, 4000, g)
    assert (elbo < iw + 1e-3).all() and torch.allclose(iw, exact, atol=0.02)
    opt = am.optimise_posterior(m, x, mu, lv, steps=200, lr=0.05, n_samples=32, generator=g)
    with torch.no_grad():
        better = am.elbo_estimate(m, x, opt.mu, opt.logvar, 4000, g)
    assert (better > elbo - 0.01).all() and (better < exact + 0.01).all()
    assert all(p.requires_grad for p in m.parameters())


def test_power_spherical_kl_is_zero_at_kappa_zero_and_matches_monte_carlo():
    assert torch.allclose(power_spherical_kl_uniform(torch.tensor([0.0]), 2), torch.zeros(1), atol=1e-6)
    torch.manual_seed(0)
    kappa = torch.full((20000,), 5.0)
    mu = torch.nn.functional.normalize(torch.tensor([[0.6, -0.8]]), dim=-1).expand(20000, 2)
    z = power_spherical_rsample(mu, kappa)
    assert torch.allclose(z.norm(dim=-1), torch.ones(20000), atol=1e-5)
    assert torch.allclose(z.mean(0) / z.mean(0).norm(), mu[0], atol=0.02)  # mean direction is mu
    mc = (power_spherical_log_prob(z, mu, kappa) + math.log(2 * math.pi)).mean()
    assert abs(mc - power_spherical_kl_uniform(kappa[:1], 2)) < 0.02
    # density integrates to 1 over the circle
    theta = torch.linspace(-math.pi, math.pi, 20001)[:-1]
    pts = torch.stack([theta.cos(), theta.sin()], 1)
    dens = power_spherical_log_prob(pts, mu[:1].expand_as(pts), kappa[:1].expand(len(pts))).exp()
    assert abs(dens.mean() * 2 * math.pi - 1) < 1e-3


def test_circle_vae_loss_falls_and_geodesic_takes_the_short_arc():
    torch.manual_seed(0)
    m, x = CircleVAE(4, 16), torch.rand(32, 1, 4, 4)
    opt = torch.optim.Adam(m.parameters(), 1e-2)
    first = circle_elbo_loss(m, x)["loss"].item()
    for _ in range(100):
        loss = circle_elbo_loss(m, x)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first
    path = geodesic(torch.tensor([1.0, 0.1]), torch.tensor([1.0, -0.1]), 5)
    assert (path[:, 0] > 0.99).all()  # through angle 0, not round the back
    assert torch.allclose(path.norm(dim=1), torch.ones(5))


class _SharpDecoder(torch.nn.Module):
    """Bernoulli logits 30 z W over 16 pixels: a posterior about a hundredth as wide as the prior."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.randn(2, 16, generator=torch.Generator().manual_seed(3)))

    def decode(self, z):
        return (30 * z @ self.w).view(-1, 1, 4, 4)  # (B, 16) -> (B, 1, 4, 4)


def test_log_marginal_grid_resolves_a_narrow_posterior():
    m = _SharpDecoder()
    with torch.no_grad():
        x = (torch.sigmoid(m.decode(torch.tensor([[0.3, -0.2], [1.0, 0.5]]))) > 0.5).float()
    with torch.no_grad():
        box = torch.full((2,), -6.0), torch.full((2,), 6.0)
        coarse = torch.stack([am._log_integral(m, xi, *box, 30)[0] for xi in x])  # one pass, cells 0.4 wide
        small, fine = am.log_marginal_grid(m, x, 6.0, 60), am.log_marginal_grid(m, x, 6.0, 400)
    # the two-pass grid converges (60 and 400 points a side agree); one coarse pass over [-6, 6] does not
    assert torch.allclose(small, fine, atol=1e-3)
    assert (coarse - fine).abs().max() > 0.1


def test_junk_blur_keeps_shape_range_and_constants_and_spreads_a_point():
    from vae_course.sample_quality import junk, junk_blur

    flat = torch.full((2, 1, 8, 8), 0.3)
    assert torch.allclose(junk_blur(flat), flat)  # a constant image has nothing to blur
    dot = torch.zeros(1, 1, 9, 9)
    dot[0, 0, 4, 4] = 1.0
    b = junk_blur(dot, sigma=1.0)
    assert b.shape == dot.shape and 0 <= b.min() and b.max() <= 1
    assert torch.isclose(b.sum(), torch.tensor(1.0), atol=1e-5)  # away from the border the ink is kept
    assert torch.allclose(b[0, 0], b[0, 0].T) and b[0, 0, 4, 4] < 0.2  # symmetric, the peak spread out
    assert torch.equal(junk("blur", dot), junk_blur(dot))
    with pytest.raises(ValueError, match="sigma"):
        junk_blur(dot, sigma=0.0)


def test_forced_prior_gap_exercise():
    """09.2: KL(q(z) || p(z)) >= max(0, KL term - log N); each named slip is recognised."""
    from vae_course.exercises import evaluate

    assert evaluate("09.2", lambda k, n: max(0.0, k - math.log(n))).passed
    for wrong, name in [
        (lambda k, n: k - math.log(n), "no-floor-at-zero"),
        (lambda k, n: max(0.0, k - math.log2(n)), "bits-not-nats"),
        (lambda k, n: k, "all-kl-is-gap"),
        (lambda k, n: 0.0, "nothing-forced"),
    ]:
        result = evaluate("09.2", wrong)
        assert result.status == "fail" and result.misconception == name, (name, result.feedback)
