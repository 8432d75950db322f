"""The VAE, its ELBO, the IWAE bound and the diagnostics, checked against known answers."""

import math

import pytest
import torch

from vae_course import diagnostics as dg
from vae_course.losses import bce_with_logits, gaussian_kl, log_normal
from vae_course.models import decode_point
from vae_course.models.vae import (
    CVAE,
    VAE,
    VAEOutput,
    elbo_loss,
    elbo_terms,
    iwae_bound,
    log_weights,
    reparameterize,
    vae_loss_fn,
)


def tiny(latent=3, size=4, hidden=8, seed=0):
    torch.manual_seed(seed)
    return VAE(image_size=size, latent_dim=latent, hidden=hidden)


def test_shapes_and_named_output():
    m = tiny()
    x = torch.rand(5, 1, 4, 4)
    out = m(x)
    assert isinstance(out, VAEOutput)
    assert out.recon.shape == (5, 1, 4, 4)
    assert out.mu.shape == out.logvar.shape == out.z.shape == (5, 3)
    assert m.sample(7).shape == (7, 1, 4, 4)


def test_bad_input_shape_says_what_arrived():
    with pytest.raises(ValueError, match=r"\(B, 1, 4, 4\).*\(5, 16\)"):
        tiny()(torch.rand(5, 16))
    with pytest.raises(ValueError, match="latents"):
        tiny().decode(torch.zeros(2, 5))


def test_reparameterize_is_mu_plus_sigma_eps_and_differentiable():
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, math.log(4.0)]], requires_grad=True)
    eps = torch.tensor([[0.5, 0.5]])
    z = reparameterize(mu, logvar, eps)
    assert torch.allclose(z, torch.tensor([[1.5, -1.0]]))
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones(1, 2))
    assert torch.allclose(logvar.grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps)


def hand_built(logvar: float = 0.0):
    """A 1-pixel, 1-latent VAE with hand-set weights: mu = x, logvar constant, logit = 2 relu(z)."""
    m = VAE(image_size=1, latent_dim=1, hidden=1)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
        m.encoder.body[0].weight.fill_(1.0)  # h = relu(x) = x for x in [0, 1]
        m.encoder.mu.weight.fill_(1.0)  # mu = h
        m.encoder.logvar.bias.fill_(logvar)
        m.decoder.net[0].weight.fill_(1.0)  # relu(z)
        m.decoder.net[2].weight.fill_(2.0)  # logit = 2 relu(z)
    return m


def test_elbo_of_hand_built_model_equals_closed_form():
    m = hand_built()
    x = torch.tensor([[[[1.0]]], [[[0.0]]]])
    torch.manual_seed(3)
    out = m(x)
    torch.manual_seed(3)
    eps = torch.randn(2, 1)
    mu = x.flatten(1)
    z = mu + eps  # sigma = 1
    logit = 2 * z.clamp(min=0)
    p = torch.sigmoid(logit)
    recon = -(x.flatten(1) * torch.log(p) + (1 - x.flatten(1)) * torch.log(1 - p)).sum(1)
    kl = 0.5 * mu.pow(2).sum(1)  # logvar = 0: KL = mu^2 / 2
    t = elbo_terms(out, x)
    assert torch.allclose(t.recon, recon, atol=1e-5)
    assert torch.allclose(t.kl, kl)
    d = elbo_loss(out, x, beta=1.0)
    assert torch.allclose(d["loss"], (recon + kl).mean(), atol=1e-5)
    assert torch.allclose(d["elbo"], -d["loss"])
    d2 = elbo_loss(out, x, beta=3.0)
    assert torch.allclose(d2["loss"], (recon + 3 * kl).mean(), atol=1e-5)


def test_elbo_reduction_is_nats_per_image_summed_over_pixels():
    m = tiny()
    x = torch.rand(6, 1, 4, 4)
    torch.manual_seed(0)
    out = m(x)
    d = elbo_loss(out, x)
    assert torch.allclose(d["recon"], bce_with_logits(out.recon, x).mean())
    assert torch.allclose(d["kl"], gaussian_kl(out.mu, out.logvar).mean())


def test_gaussian_likelihood_and_errors():
    m = tiny()
    x = torch.rand(2, 1, 4, 4)
    out = m(x)
    t = elbo_terms(out, x, likelihood="gaussian", sigma=0.5)
    mean = torch.sigmoid(out.recon)
    expected = ((mean - x) ** 2).flatten(1).sum(1) / (2 * 0.25) + 8 * math.log(2 * math.pi * 0.25)
    assert torch.allclose(t.recon, expected, atol=1e-4)
    with pytest.raises(ValueError, match="likelihood"):
        elbo_terms(out, x, likelihood="poisson")
    with pytest.raises(ValueError, match="beta"):
        elbo_loss(out, x, beta=-1)


def test_iwae_k1_equals_single_sample_elbo_with_same_samples():
    m = tiny().eval()
    x = torch.rand(5, 1, 4, 4)
    torch.manual_seed(11)
    out = m(x)
    with torch.no_grad():
        single = -bce_with_logits(out.recon, x) + log_normal(out.z) - log_normal(out.z, out.mu, out.logvar)
    torch.manual_seed(11)
    b1 = iwae_bound(m, x, k=1)
    assert torch.allclose(b1, single, atol=1e-5)


def test_mean_log_weight_is_the_closed_form_kl_elbo():
    """E_q[log w] = E_q[log p(x|z)] - KL: the average of L_1 is the ELBO with the KL in closed form."""
    m = tiny().eval()
    x = torch.rand(3, 1, 4, 4)
    torch.manual_seed(0)
    with torch.no_grad():
        lw = log_weights(m, x, 20000).mean(0)  # (B,)
        mu, logvar = m.encode(x)
        z = reparameterize(mu.expand(20000, 3, 3), logvar.expand(20000, 3, 3)).reshape(-1, 3)
        rec = bce_with_logits(m.decode(z), x.repeat(20000, 1, 1, 1)).view(20000, 3).mean(0)
        elbo = -(rec + gaussian_kl(mu, logvar))
    assert torch.allclose(lw, elbo, atol=0.05)


def exact_log_px_hand_built(x: float) -> float:
    """log p(x) of the hand-built 1-pixel model, p(z) = N(0, 1), logit = 2 relu(z), by quadrature."""
    z = torch.linspace(-10, 10, 200001, dtype=torch.float64)
    logit = 2 * z.clamp(min=0)
    log_px_z = x * torch.nn.functional.logsigmoid(logit) + (1 - x) * torch.nn.functional.logsigmoid(-logit)
    log_joint = log_px_z - 0.5 * z**2 - 0.5 * math.log(2 * math.pi)
    return float(torch.logsumexp(log_joint, 0) + math.log(z[1] - z[0]))


def test_iwae_rises_with_k_towards_exact_log_px():
    # q(z|x) = N(x, 2) is not the true posterior, so the ELBO has a gap; it is wider than the
    # prior, so the weights p(x, z) / q(z|x) are bounded and the estimates have small variance.
    m = hand_built(logvar=math.log(2.0))
    x = torch.tensor([[[[1.0]]], [[[0.0]]]])
    exact = torch.tensor([exact_log_px_hand_built(1.0), exact_log_px_hand_built(0.0)])
    torch.manual_seed(0)
    with torch.no_grad():
        lw = log_weights(m, x, 200_000)  # (K, B): regrouped below into 200_000 / K draws of L_K
    bounds = {k: (torch.logsumexp(lw.view(-1, k, 2), dim=1) - math.log(k)).mean(0) for k in (1, 10, 100, 1000)}
    means = [b.mean().item() for b in bounds.values()]
    assert all(b >= a - 0.005 for a, b in zip(means, means[1:])), means
    assert means[-1] > means[0] + 0.1
    assert (bounds[1000] <= exact + 0.005).all()  # a lower bound ...
    assert torch.allclose(bounds[1000], exact, atol=0.01)  # ... that closes in on log p(x)
    big = iwae_bound(m, x, 1000, batch_size=1)  # chunking: still finite and close
    assert torch.isfinite(big).all() and torch.allclose(big, exact, atol=0.05)
    with pytest.raises(ValueError, match="k must be"):
        log_weights(m, x, 0)


def test_iwae_exact_for_linear_gaussian_posterior():
    # A decoder that ignores z: p(x|z) = p(x), so every log weight equals log p(x) + log p(z) - log q(z),
    # and with q = prior the bound equals log p(x) exactly for every K.
    m = VAE(image_size=2, latent_dim=2, hidden=4)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
    x = torch.tensor([1.0, 0.0, 1.0, 1.0]).view(1, 1, 2, 2)
    exact = 4 * math.log(0.5)
    for k in (1, 7, 100):
        assert torch.allclose(iwae_bound(m, x, k), torch.tensor([exact]), atol=1e-5)


def test_gradient_flows_to_encoder_and_decoder():
    m = tiny()
    x = torch.rand(4, 1, 4, 4)
    vae_loss_fn()(m, x, None)["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())
    assert m.encoder.mu.weight.grad.abs().sum() > 0


def test_loss_falls_on_tiny_batch():
    from vae_course import fit

    m = tiny(latent=2, size=4, hidden=32)
    patterns = (torch.rand(2, 1, 4, 4) > 0.5).float()
    x = patterns[torch.arange(64) % 2]  # two binary images, repeated: learnable to near 0 nats
    h = fit(m, vae_loss_fn(), x, 30, batch_size=64, lr=1e-2, progress=False)
    assert h["loss"][-1] < 0.5 * h["loss"][0]


def test_decode_point():
    m = tiny(latent=2)
    img = decode_point(m, [0.5, -1.0])
    assert img.shape == (4, 4)
    assert torch.allclose(img, torch.sigmoid(m.decode(torch.tensor([[0.5, -1.0]])))[0, 0].detach())
    with pytest.raises(ValueError, match="2 latent values"):
        decode_point(m, [0.0])


# --------------------------------------------------------------------------- diagnostics
def test_kl_per_dimension_sums_to_kl():
    mu, logvar = torch.randn(10, 4), torch.randn(10, 4)
    per = dg.kl_per_dimension(mu, logvar)
    assert per.shape == (4,)
    assert torch.allclose(per.sum(), gaussian_kl(mu, logvar).mean())
    assert torch.allclose(dg.kl_per_dimension(torch.zeros(3, 2), torch.zeros(3, 2)), torch.zeros(2))


def test_dead_latent_dimension_is_inactive():
    torch.manual_seed(0)
    mu = torch.randn(500, 3)
    mu[:, 1] = 0.003 * torch.randn(500)  # barely moves with x: collapsed onto the prior
    au = dg.active_units(mu)
    assert au.count == 2
    assert au.active.tolist() == [True, False, True]
    assert au.variance[1] < 0.01 < au.variance[0]


def test_bits_per_dim_and_bernoulli_entropy():
    assert dg.bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    x = torch.tensor([[0.5, 0.0, 1.0]])
    assert torch.allclose(dg.bernoulli_entropy(x), torch.tensor([math.log(2)]))
    # BCE against grey targets is minimised at sigmoid(l) = x, where it equals the entropy
    g = torch.rand(3, 1, 4, 4) * 0.98 + 0.01
    assert torch.allclose(bce_with_logits(torch.logit(g), g), dg.bernoulli_entropy(g), atol=1e-4)


def test_posterior_means_in_batches():
    m = tiny()
    x = torch.rand(25, 1, 4, 4)
    mu, lv = dg.posterior_means(m, x, batch_size=7)
    with torch.no_grad():
        mu2, lv2 = m.encode(x)
    assert torch.allclose(mu, mu2, atol=1e-6) and torch.allclose(lv, lv2, atol=1e-6)


def test_log_mean_exp_is_stable_and_exercises_pass_with_reference():
    from vae_course.exercises import check
    from vae_course.losses import log_mean_exp

    lw = torch.tensor([[800.0], [800.0]])
    assert torch.allclose(log_mean_exp(lw), torch.tensor([800.0]))
    assert torch.allclose(log_mean_exp(torch.full((4, 1), -1000.0)), torch.tensor([-1000.0]))
    assert check("06.1", reparameterize).passed
    assert check("06.5", log_mean_exp).passed


def test_decoder_layers_add_hidden_layers_and_keep_the_one_layer_default():
    one = VAE(image_size=4, latent_dim=2, hidden=8)
    two = VAE(image_size=4, latent_dim=2, hidden=8, decoder_layers=2)
    assert [type(m).__name__ for m in one.decoder.net] == ["Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in two.decoder.net] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert two.decode(torch.zeros(3, 2)).shape == (3, 1, 4, 4)
    cvae = CVAE(image_size=4, latent_dim=2, hidden=8, n_classes=3, decoder_layers=3)
    assert len(cvae.decoder.net) == 7 and cvae.generate([0, 2]).shape == (2, 1, 4, 4)
    with pytest.raises(ValueError, match="at least 1 hidden layer"):
        VAE(image_size=4, latent_dim=2, hidden=8, decoder_layers=0)


def test_init_output_bias_makes_the_untrained_decoder_draw_the_mean_image():
    torch.manual_seed(0)
    x = torch.rand(50, 1, 4, 4) * torch.linspace(0.05, 0.95, 16).view(1, 1, 4, 4)
    m = VAE(image_size=4, latent_dim=2, hidden=8, decoder_layers=2)
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m.init_output_bias(x)
    after = m.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == ["decoder.net.4.bias"]  # only the output bias moves
    with torch.no_grad():
        for layer in list(m.decoder.net)[:-1]:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.zero_()  # silence the hidden layers: the output is the bias alone
        m.decoder.net[-1].weight.zero_()
    assert torch.allclose(m.to_image(m.decode(torch.randn(3, 2))), x.mean(0).expand(3, 1, 4, 4), atol=1e-5)
    cvae = CVAE(image_size=4, latent_dim=2, hidden=8, n_classes=3)
    cvae.init_output_bias(torch.zeros(5, 1, 4, 4))  # an all-black set: clamped, not -inf
    assert torch.isfinite(cvae.decoder.net[-1].bias).all() and cvae.decoder.net[-1].bias.max() < -6
    with pytest.raises(ValueError, match=r"\(B, 1, 4, 4\)"):
        m.init_output_bias(torch.rand(5, 1, 8, 8))


def test_units_by_kl_counts_units_whose_kl_exceeds_the_line():
    mu = torch.zeros(50, 3)
    mu[:, 0] = torch.linspace(-1, 1, 50)  # unit 0: KL 0.5 E[mu^2] ~ 0.17
    mu[:, 1] = 0.2 * torch.linspace(-1, 1, 50)  # unit 1: moves its mean, ~0.007 nats: not active
    logvar = torch.zeros(50, 3)
    units = dg.units_by_kl(mu, logvar)
    assert units.count == 1 and units.active.tolist() == [True, False, False]
    assert torch.allclose(units.kl, dg.kl_per_dimension(mu, logvar))
    assert dg.active_units(mu).count == 2  # the variance test counts unit 1 too
