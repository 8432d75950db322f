"""The conditional VAE: shapes, the condition reaching both networks, and errors that teach."""

import pytest
import torch

from vae_course.models.vae import CVAE, VAEOutput, elbo_loss, iwae_bound, vae_loss_fn


def tiny(seed=0):
    torch.manual_seed(seed)
    return CVAE(image_size=4, latent_dim=2, hidden=8, n_classes=3)


def test_shapes_and_one_hot():
    m = tiny()
    x, c = torch.rand(5, 1, 4, 4), torch.tensor([0, 1, 2, 1, 0])
    out = m(x, c)
    assert isinstance(out, VAEOutput) and out.recon.shape == (5, 1, 4, 4) and out.z.shape == (5, 2)
    assert torch.equal(m.one_hot(c)[1], torch.tensor([0.0, 1.0, 0.0]))
    assert torch.equal(m.one_hot(m.one_hot(c)), m.one_hot(c))  # one-hot passes through
    assert m.generate([2, 0]).shape == (2, 1, 4, 4)


def test_condition_reaches_encoder_and_decoder():
    m = tiny().eval()
    x = torch.rand(1, 1, 4, 4)
    mu0, _ = m.encode(x, torch.tensor([0]))
    mu1, _ = m.encode(x, torch.tensor([1]))
    assert not torch.allclose(mu0, mu1)
    z = torch.zeros(1, 2)
    assert not torch.allclose(m.decode(z, torch.tensor([0])), m.decode(z, torch.tensor([2])))
    # the same z with the same class decodes identically
    assert torch.equal(m.generate([1], z=z), m.generate([1], z=z))


def test_loss_fn_passes_labels_and_gradient_flows():
    m = tiny()
    x, c = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    d = vae_loss_fn()(m, x, c)
    d["loss"].backward()
    assert m.decoder.net[0].weight.grad[:, -3:].abs().sum() > 0  # the class columns learn
    assert torch.isfinite(iwae_bound(m, x, 10, c=c)).all()
    out = m(x, c)
    assert torch.allclose(elbo_loss(out, x)["elbo"], -elbo_loss(out, x)["loss"])


def test_bad_classes_are_reported():
    m = tiny()
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match=r"classes must be in 0..2"):
        m(x, torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="integer classes"):
        m(x, torch.tensor([0.5, 1.0]))
    with pytest.raises(ValueError, match="2 latents but 1 classes"):
        m.decode(torch.zeros(2, 2), torch.tensor([1]))


def test_one_hot_and_per_class_accuracy_and_exercises():
    from vae_course.diagnostics import per_class_accuracy
    from vae_course.models.vae import one_hot

    assert torch.equal(one_hot(torch.tensor([2, 0]), 3), torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    acc = per_class_accuracy(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 1]), 4)
    assert torch.allclose(acc[:2], torch.tensor([1.0, 1 / 3])) and torch.isnan(acc[2:]).all()  # no 2s, no 3s
    from vae_course.exercises import get

    assert get("07.1").kind == "predict-then-run"  # 07's exercises: the conditional ELBO and a prediction


def test_exercise_solutions_in_notebook_07_pass_their_checks():
    import torch.nn.functional as F

    from tests.notebook_cells import code_cell
    from vae_course.exercises import check

    for marker, ex, name in [
        ("def conditional_elbo(", "07.2", "conditional_elbo"),
        ("def probe_prediction()", "07.1", "probe_prediction"),
        ("def best_class_prior(", "07.3", "best_class_prior"),
    ]:
        ns = {"torch": torch, "F": F}
        exec(code_cell("07_cvae.ipynb", marker), ns)
        assert check(ex, ns[name]).passed, ex


def test_conditional_elbo_with_the_standard_prior_is_the_package_elbo():
    import torch.nn.functional as F

    from tests.notebook_cells import code_cell

    ns = {"torch": torch, "F": F}
    exec(code_cell("07_cvae.ipynb", "def conditional_elbo("), ns)
    m = tiny()
    x, c = torch.rand(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    torch.manual_seed(0)
    out = m(x, c)
    zeros = torch.zeros_like(out.mu)
    got = ns["conditional_elbo"](x, out.recon, out.mu, out.logvar, zeros, zeros)  # (B,)
    assert torch.allclose(got.mean(), elbo_loss(out, x)["elbo"], atol=1e-4)
