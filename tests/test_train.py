import pytest
import torch
from torch import nn

from vae_course import fit, seed_everything
from vae_course.interpolation import measure_decoded
from vae_course.models import decode_codes, encode_images
from vae_course.models.ae import MLPAutoencoder
from vae_course.moons import PhaseBank, render_moons
from vae_course.train import History, NonFiniteLossError, adam, code_noise_loss, evaluate, train_moon_autoencoder


def regression_data(n=256):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    return x, y


def mse_loss(model, x, y):
    return (model(x) - y).pow(2).mean()


def test_fit_reduces_the_loss_and_records_history():
    x, y = regression_data()
    model = nn.Linear(3, 1)
    h = fit(model, mse_loss, (x, y), epochs=30, batch_size=32, lr=0.05, progress=False)
    assert isinstance(h, History) and h.epochs == 30 and h.seconds > 0
    assert h["loss"][-1] < 1e-3 < h["loss"][0]


def test_extra_terms_and_test_history():
    x, y = regression_data()

    def loss_fn(model, x, y):
        err = (model(x) - y).pow(2).mean()
        return {"loss": err, "abs": (model(x) - y).abs().mean()}

    h = fit(nn.Linear(3, 1), loss_fn, (x, y), epochs=3, test_data=(x[:50], y[:50]), progress=False)
    assert set(h.train) == {"loss", "abs"} and set(h.test) == {"loss", "abs"}
    assert len(h.test["abs"]) == 3 and h["test_loss"] == h.test["loss"]
    ev = evaluate(nn.Linear(3, 1), loss_fn, (x, y))
    assert set(ev) == {"loss", "abs"}


def test_same_seed_same_numbers():
    x, y = regression_data()
    runs = []
    for _ in range(2):
        seed_everything(0)
        runs.append(fit(nn.Linear(3, 1), mse_loss, (x, y), epochs=2, seed=1, progress=False)["loss"])
    assert runs[0] == runs[1]


def test_nan_loss_stops_with_epoch_batch_and_causes():
    x, y = regression_data(64)
    calls = {"n": 0}

    def exploding(model, x, y):
        calls["n"] += 1
        loss = (model(x) - y).pow(2).mean()
        return loss * float("nan") if calls["n"] == 6 else loss

    with pytest.raises(NonFiniteLossError, match=r"nan at epoch 2, batch 2.*learning rate"):
        fit(nn.Linear(3, 1), exploding, (x, y), epochs=3, batch_size=16, progress=False)


def test_inputs_only_and_dataloader():
    x, _ = regression_data(64)
    ae = nn.Linear(3, 3)
    h = fit(ae, lambda m, x, y: (m(x) - x).pow(2).mean(), x, epochs=2, progress=False)
    assert h.epochs == 2
    dl = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=16)
    h = fit(ae, lambda m, x, y: (m(x) - x).pow(2).mean(), dl, epochs=1, progress=False)
    assert h.epochs == 1


def test_bad_loss_outputs_are_explained():
    x, y = regression_data(32)
    with pytest.raises(ValueError, match="scalar"):
        fit(nn.Linear(3, 1), lambda m, x, y: (m(x) - y).pow(2), (x, y), epochs=1, progress=False)
    with pytest.raises(TypeError, match="'loss' entry"):
        fit(nn.Linear(3, 1), lambda m, x, y: {"mse": (m(x) - y).pow(2).mean()}, (x, y), epochs=1, progress=False)
    with pytest.raises(ValueError, match="3 labels"):
        fit(nn.Linear(3, 1), mse_loss, (x, y[:3]), epochs=1, progress=False)


# --------------------------------------------------------------------------- the moon autoencoders
SIZE = 12


def test_code_noise_loss_terms_and_gradient():
    torch.manual_seed(0)
    model = MLPAutoencoder(SIZE, latent_dim=2, hidden=(16,), output="sigmoid")
    x = render_moons([0.5, 0.25], size=SIZE)
    clean = code_noise_loss()(model, x)
    z = model.encode(x)
    expected = ((model.decode(z) - x) ** 2).flatten(1).sum(1).mean()
    assert torch.allclose(clean["loss"], expected)
    penalised = code_noise_loss(code_penalty=0.5)(model, x)
    assert torch.allclose(penalised["loss"], expected + 0.5 * z.pow(2).sum(1).mean())
    torch.manual_seed(0)
    noisy = code_noise_loss(code_std=1.0)(model, x)["loss"]
    noisy.backward()
    assert model.encoder[1].weight.grad.abs().sum() > 0  # the gradient reaches the encoder through the noise
    with pytest.raises(ValueError, match=">= 0"):
        code_noise_loss(code_std=-1.0)


def test_train_moon_autoencoder_learns_two_moons_deterministically(one_thread):
    bank = PhaseBank(size=SIZE, n_phases=360)
    m1, h1 = train_moon_autoencoder([0.5, 0.25], image_size=SIZE, hidden=(32,), steps=100, batch_size=8, lr=5e-3)
    m2, _ = train_moon_autoencoder([0.5, 0.25], image_size=SIZE, hidden=(32,), steps=100, batch_size=8, lr=5e-3)
    assert h1["loss"][-1] < h1["loss"][0] / 5
    x = render_moons([0.5, 0.25], size=SIZE)
    rec = decode_codes(m1, encode_images(m1, x))
    assert measure_decoded(rec, bank).distance.max() < 0.05
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)


def test_train_moon_autoencoder_watcher_sees_every_epoch_and_changes_nothing(one_thread):
    # 02 follows the codes' distance during training through on_epoch_end: watching must not change the model
    seen = []
    kw = dict(image_size=SIZE, hidden=(8,), steps=6, batch_size=4, code_std=1.0, lr=5e-3, seed=3)
    watched, _ = train_moon_autoencoder(
        [0.5, 0.25], on_epoch_end=lambda m, s: seen.append((s, encode_images(m, render_moons([0.5], size=SIZE)))), **kw
    )
    plain, _ = train_moon_autoencoder([0.5, 0.25], **kw)
    assert [s for s, _ in seen] == [1, 2, 3, 4, 5, 6]  # two moons repeated to one batch of 4: a step per epoch
    assert torch.equal(seen[-1][1], encode_images(watched, render_moons([0.5], size=SIZE)))
    for p1, p2 in zip(watched.parameters(), plain.parameters()):
        assert torch.equal(p1, p2)


def test_adam_factory_is_fused_adam_with_the_same_steps():
    torch.manual_seed(0)
    a = nn.Linear(4, 3)
    b = nn.Linear(4, 3)
    b.load_state_dict(a.state_dict())
    fused, plain = adam(0.05)(a.parameters()), torch.optim.Adam(b.parameters(), lr=0.05)
    x = torch.randn(16, 4)
    for _ in range(5):
        for model, opt in ((a, fused), (b, plain)):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6), "fused Adam took other steps than torch's Adam"
    with pytest.raises(ValueError, match="learning rate"):
        adam(0.0)


def test_fit_restarts_keeps_the_start_with_the_lowest_training_loss():
    from vae_course.train import evaluate, fit_restarts

    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def loss(m, xb, yb):
        return (m(xb) - yb).pow(2).mean()

    data = (x, y)
    # few steps from different starts: the final losses differ, and the kept model is the best one
    model, losses = fit_restarts(lambda: torch.nn.Linear(3, 1), loss, data, 3, restarts=3, seed=5, progress=False)
    assert len(losses) == 3 and len(set(losses)) == 3
    assert evaluate(model, loss, data)["loss"] == pytest.approx(min(losses))
    again, losses_again = fit_restarts(lambda: torch.nn.Linear(3, 1), loss, data, 3, restarts=3, seed=5, progress=False)
    assert losses_again == losses  # deterministic for a seed
    with pytest.raises(ValueError, match="restarts"):
        fit_restarts(lambda: torch.nn.Linear(3, 1), loss, data, 3, restarts=0)


@pytest.mark.parametrize("code_std, code_penalty", [(1.0, 0.1), (0.5, 0.3)])
def test_code_noise_loss_is_a_fixed_variance_vae_negative_elbo(code_std, code_penalty):
    """2 lambda (-ELBO) - C = the noisy-code loss, with the same eps: encoder N(f(x), s^2 I), prior
    N(0, I), decoder N(g(z), lambda I) (notebook 02, section 6)."""
    import math

    from vae_course.losses import gaussian_kl, gaussian_nll

    torch.manual_seed(0)
    model = MLPAutoencoder(SIZE, latent_dim=3, hidden=(16,), output="sigmoid").double()
    x = render_moons([0.5, 0.25, 0.1], size=SIZE).double()
    torch.manual_seed(1)
    loss = code_noise_loss(code_std, code_penalty)(model, x)["loss"]  # a batch mean
    torch.manual_seed(1)
    mu = model.encode(x)
    recon = model.decode(mu + code_std * torch.randn_like(mu))  # the same eps as inside the loss
    neg_elbo = gaussian_nll(recon, x, math.sqrt(code_penalty)) + gaussian_kl(
        mu, torch.full_like(mu, math.log(code_std**2))
    )
    p, d = x[0].numel(), mu.shape[1]
    const = code_penalty * p * math.log(2 * math.pi * code_penalty) + code_penalty * d * (
        code_std**2 - 1 - math.log(code_std**2)
    )
    assert torch.allclose(2 * code_penalty * neg_elbo.mean() - const, loss, atol=1e-10)


# --------------------------------------------------------------------------- the caller's generator
def noisy_loss(model, x, y):
    """A loss that draws through torch's global generator, as the VAE's reparameterisation does."""
    return (model(x + 0.1 * torch.randn_like(x)) - y).pow(2).mean()


def test_fit_leaves_the_global_generator_as_it_was_and_its_seed_fixes_the_loss_draws():
    x, y = regression_data(64)
    histories = []
    for caller_seed in (1, 2):
        torch.manual_seed(caller_seed)
        model = nn.Linear(3, 1)
        nn.init.zeros_(model.weight), nn.init.zeros_(model.bias)
        before = torch.get_rng_state()
        histories.append(fit(model, noisy_loss, (x, y), epochs=2, batch_size=16, seed=7, progress=False)["loss"])
        assert torch.equal(torch.get_rng_state(), before), "fit moved the caller's global generator"
    assert histories[0] == histories[1], "the same seed gave other draws under another caller state"
    # seed=None: fit draws from the caller's generator itself (and so moves it)
    before = torch.get_rng_state()
    fit(nn.Linear(3, 1), noisy_loss, (x, y), epochs=1, batch_size=16, seed=None, progress=False)
    assert not torch.equal(torch.get_rng_state(), before)


def test_the_training_recipes_leave_the_global_generator_as_it_was():
    from vae_course.train import fit_restarts

    x, y = regression_data(64)
    before = torch.get_rng_state()
    fit_restarts(lambda: nn.Linear(3, 1), noisy_loss, (x, y), 1, restarts=2, seed=3, progress=False)
    train_moon_autoencoder([0.5, 0.25], image_size=SIZE, hidden=(8,), steps=4, batch_size=8)
    assert torch.equal(torch.get_rng_state(), before)
    # and each start's weights come from its seed, not from the caller's state
    torch.manual_seed(99)
    m1, _ = train_moon_autoencoder([0.5], image_size=SIZE, hidden=(8,), steps=2, batch_size=4)
    torch.manual_seed(100)
    m2, _ = train_moon_autoencoder([0.5], image_size=SIZE, hidden=(8,), steps=2, batch_size=4)
    assert all(torch.equal(p, q) for p, q in zip(m1.parameters(), m2.parameters()))
