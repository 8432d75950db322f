"""The VAE built step by step in notebook 06 must stay equal to the package's VAE and elbo_loss."""

import torch
import torch.nn.functional as F
from torch import nn

from tests.notebook_cells import code_cell
from vae_course.models.vae import VAE, VAEOutput, elbo_loss

NOTEBOOK = "06_vae.ipynb"


def notebook_cell(marker: str) -> str:
    return code_cell(NOTEBOOK, marker)


def build_notebook_vae():
    namespace = {"torch": torch, "nn": nn, "F": F, "VAEOutput": VAEOutput}
    exec(notebook_cell("class StepByStepVAE"), namespace)
    return namespace["StepByStepVAE"], namespace["negative_elbo"]


def test_step_by_step_vae_equals_package_vae():
    StepByStepVAE, negative_elbo = build_notebook_vae()
    torch.manual_seed(0)
    pkg = VAE(image_size=8, latent_dim=3, hidden=16)
    ours = StepByStepVAE(8, 3, 16)
    assert [p.shape for p in ours.parameters()] == [p.shape for p in pkg.parameters()]
    ours.load_state_dict(dict(zip(ours.state_dict(), pkg.state_dict().values())))
    x = torch.rand(5, 1, 8, 8)
    torch.manual_seed(1)
    a = ours(x)
    torch.manual_seed(1)
    b = pkg(x)
    for name, u, v in zip(VAEOutput._fields, a, b):
        assert torch.allclose(u, v, atol=1e-6), name
    assert torch.allclose(negative_elbo(a, x), elbo_loss(b, x)["loss"], atol=1e-5)
    # gradients agree too
    negative_elbo(a, x).backward()
    elbo_loss(b, x)["loss"].backward()
    for p, q in zip(ours.parameters(), pkg.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-5)


def test_exercise_solutions_in_notebook_06_pass_their_checks():
    from vae_course.exercises import check

    for marker, ex, name in [
        ("def reparameterize(mu, logvar, eps)", "06.1", "reparameterize"),
        ("def log_mean_exp(log_w)", "06.5", "log_mean_exp"),
        ("def kl_gradients(mu, logvar)", "06.2", "kl_gradients"),
        ("def reduction_prediction()", "06.4", "reduction_prediction"),
        ("def path_prediction()", "06.6", "path_prediction"),
    ]:
        ns = {"torch": torch}
        exec(notebook_cell(marker), ns)
        assert check(ex, ns[name]).passed, ex


def test_kl_gradients_of_the_notebook_match_autograd():
    ns = {"torch": torch}
    exec(notebook_cell("def kl_gradients(mu, logvar)"), ns)
    mu = torch.randn(3, 4, requires_grad=True)
    logvar = torch.randn(3, 4, requires_grad=True)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum()
    g_mu, g_lv = torch.autograd.grad(kl, (mu, logvar))
    a, b = ns["kl_gradients"](mu.detach(), logvar.detach())
    assert torch.allclose(a, g_mu) and torch.allclose(b, g_lv)
