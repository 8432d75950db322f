"""Wake-sleep: each phase moves only its own network, and the sleep phase pulls q towards a posterior
computed by quadrature."""

import math

import pytest
import torch

from vae_course import fit
from vae_course.losses import log_normal
from vae_course.models.vae import VAE, reconstruction_nll
from vae_course.wake_sleep import dream_nll, elbo_and_iwae, sample_images, sleep_loss, wake_loss, wake_sleep_loss


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def _moved(before, module):
    return any(not torch.equal(a, b.detach()) for a, b in zip(before, module.parameters()))


def _grads(module):
    return [p.grad for p in module.parameters()]


@pytest.fixture
def model():
    torch.manual_seed(0)
    return VAE(image_size=4, latent_dim=2, hidden=8)


@pytest.fixture
def x():
    return torch.bernoulli(torch.full((6, 1, 4, 4), 0.4), generator=torch.Generator().manual_seed(1))


def test_wake_phase_reaches_only_the_decoder(model, x):
    wake_loss(model, x).backward()
    assert all(g is None for g in _grads(model.encoder))
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(model.decoder))


def test_sleep_phase_reaches_only_the_encoder(model):
    sleep_loss(model, 8).backward()
    assert all(g is None for g in _grads(model.decoder))
    assert all(g is not None and g.abs().sum() > 0 for g in _grads(model.encoder))


@pytest.mark.parametrize("phase", ["wake", "sleep"])
def test_one_step_of_a_phase_moves_only_its_parameters(model, x, phase):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    enc, dec = _params(model.encoder), _params(model.decoder)
    loss = wake_loss(model, x) if phase == "wake" else sleep_loss(model, 8)
    opt.zero_grad()
    loss.backward()
    opt.step()
    assert _moved(dec, model.decoder) == (phase == "wake")
    assert _moved(enc, model.encoder) == (phase == "sleep")


def test_the_combined_loss_is_one_wake_and_one_sleep_step(model, x):
    torch.manual_seed(3)
    out = wake_sleep_loss()(model, x)
    assert set(out) == {"loss", "wake", "sleep"}
    assert math.isclose(out["loss"].item(), out["wake"].item() + out["sleep"].item(), rel_tol=1e-6)
    enc, dec = _params(model.encoder), _params(model.decoder)
    out["loss"].backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    assert _moved(enc, model.encoder) and _moved(dec, model.decoder)


def test_dream_nll_is_the_gaussian_negative_log_density():
    g = torch.Generator().manual_seed(0)
    z, mu, logvar = (torch.randn(5, 3, generator=g) for _ in range(3))
    by_hand = 0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / logvar.exp()).sum(1).mean()
    assert torch.allclose(dream_nll(z, mu, logvar), by_hand)
    with pytest.raises(ValueError, match=r"\(B, D\)"):
        dream_nll(z, mu[:, :2], logvar)


def test_sampled_images_follow_the_likelihood():
    torch.manual_seed(0)
    logits = torch.full((4000, 1, 2, 2), 0.8)
    xb = sample_images(logits, "bernoulli")
    assert set(xb.unique().tolist()) <= {0.0, 1.0}
    assert abs(xb.mean().item() - torch.sigmoid(torch.tensor(0.8)).item()) < 0.02
    xg = sample_images(logits, "gaussian", sigma=0.1)
    assert abs(xg.std().item() - 0.1) < 0.01
    with pytest.raises(ValueError, match="likelihood"):
        sample_images(logits, "poisson")


def _quadrature_kl(model, xs, sigma, grid):
    """E over xs of KL(p(z|x) || q(z|x)) for a 1-D latent, p(z|x) on a grid (Bayes' rule, exact)."""
    with torch.no_grad():
        logits = model.decode(grid[:, None])  # (G, 1, H, W)
        log_lik = -torch.stack([reconstruction_nll(logits, x.expand_as(logits), "gaussian", sigma) for x in xs])
        log_joint = log_lik + log_normal(grid[:, None])  # (N, G)
        log_w = torch.log_softmax(log_joint, 1)  # posterior mass per grid cell
        w = log_w.exp()
        log_post = log_w - math.log(grid[1] - grid[0])  # density at the grid points
        mu, logvar = model.encode(xs)  # (N, 1)
        log_q = log_normal(grid[None, :, None], mu[:, None], logvar[:, None])  # (N, G)
        return (w * (log_post - log_q)).sum(1).mean().item()


def test_sleep_phase_moves_q_towards_the_true_posterior():
    torch.manual_seed(0)
    model = VAE(image_size=2, latent_dim=1, hidden=16)
    with torch.no_grad():  # a decoder whose pixels depend strongly on z: an informative posterior
        model.decoder.net[0].weight.mul_(3.0)
        model.decoder.net[2].weight.mul_(3.0)
    sigma = 0.1
    with torch.no_grad():
        xs = sample_images(model.decode(torch.randn(64, 1)), "gaussian", sigma)  # (64, 1, 2, 2)
    grid = torch.linspace(-6, 6, 2001)
    before = _quadrature_kl(model, xs, sigma, grid)
    dec = _params(model.decoder)
    opt = torch.optim.Adam(model.encoder.parameters(), lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        sleep_loss(model, 64, "gaussian", sigma).backward()
        opt.step()
    after = _quadrature_kl(model, xs, sigma, grid)
    assert not _moved(dec, model.decoder)
    assert after < 0.25 * before, (before, after)


def test_iwae_above_elbo_and_equal_for_one_sample(model, x):
    b = elbo_and_iwae(model, x, k=20, generator=torch.Generator().manual_seed(0))
    assert b.iwae >= b.elbo
    b1 = elbo_and_iwae(model, x, k=1, generator=torch.Generator().manual_seed(0))
    assert math.isclose(b1.iwae, b1.elbo, rel_tol=1e-6)


def test_wake_sleep_training_raises_the_elbo():
    torch.manual_seed(0)
    prototypes = (torch.rand(2, 1, 4, 4, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    x = prototypes.repeat(32, 1, 1, 1)  # two binary patterns
    model = VAE(image_size=4, latent_dim=2, hidden=16)
    start = elbo_and_iwae(model, x, 10, generator=torch.Generator().manual_seed(1)).elbo
    fit(model, wake_sleep_loss(), (x, None), 40, batch_size=16, lr=1e-2, progress=False)
    end = elbo_and_iwae(model, x, 10, generator=torch.Generator().manual_seed(1)).elbo
    assert end > start + 3, (start, end)
