"""The linear-Gaussian LVM: exact marginal, posterior and ELBO identities."""

import math

import pytest
import torch

from vae_course.losses import gaussian_kl
from vae_course.lvm import Gaussian, LinearGaussianLVM, diag_gaussian, log_mean_exp

D64 = torch.float64


@pytest.fixture
def model():
    return LinearGaussianLVM.random(d=6, k=3, sigma=0.5, seed=1)


@pytest.fixture
def x(model):
    return model.sample(5, torch.Generator().manual_seed(0))[0]


def random_q(k, n, seed):
    g = torch.Generator().manual_seed(seed)
    return diag_gaussian(torch.randn(n, k, generator=g, dtype=D64), torch.randn(n, k, generator=g, dtype=D64))


def test_marginal_matches_numerical_integration_in_1d():
    m = LinearGaussianLVM(torch.tensor([[1.3]]), torch.tensor([0.2]), sigma=0.7)
    x = torch.tensor([[0.9]], dtype=D64)
    z = torch.linspace(-12, 12, 20001, dtype=D64)[:, None, None]  # (S, 1, 1)
    integrand = m.log_joint(x, z)[:, 0].exp()
    numeric = torch.trapezoid(integrand, dx=24 / 20000)
    assert math.isclose(m.log_marginal(x).item(), math.log(numeric.item()), abs_tol=1e-9)


def test_bayes_rule_posterior(model, x):
    z = torch.randn(7, 5, 3, generator=torch.Generator().manual_seed(2), dtype=D64)
    lhs = model.log_posterior(x, z)
    rhs = model.log_joint(x, z) - model.log_marginal(x)
    assert torch.allclose(lhs, rhs, atol=1e-10)


def test_elbo_identity_for_any_q(model, x):
    for seed in range(4):
        q = random_q(3, 5, seed)
        resid = model.elbo(x, q) + model.kl_to_posterior(x, q) - model.log_marginal(x)
        assert resid.abs().max() < 1e-10
        assert (model.kl_to_posterior(x, q) > 0).all()


def test_elbo_is_tight_at_the_posterior(model, x):
    post = model.posterior(x)
    assert torch.allclose(model.elbo(x, post), model.log_marginal(x), atol=1e-10)
    assert model.kl_to_posterior(x, post).abs().max() < 1e-10


def test_full_covariance_q_accepted(model, x):
    A = torch.randn(3, 3, generator=torch.Generator().manual_seed(3), dtype=D64)
    q = Gaussian(torch.zeros(5, 3, dtype=D64), A @ A.T + 0.1 * torch.eye(3, dtype=D64))
    resid = model.elbo(x, q) + model.kl_to_posterior(x, q) - model.log_marginal(x)
    assert resid.abs().max() < 1e-10


def test_elbo_matches_monte_carlo(model, x):
    q = random_q(3, 5, 7)
    g = torch.Generator().manual_seed(0)
    eps = torch.randn(40000, 5, 3, generator=g, dtype=D64)
    z = q.mean + eps * q.cov.diagonal(dim1=-2, dim2=-1).sqrt()
    log_q = -0.5 * (math.log(2 * math.pi) + eps.pow(2)).sum(-1) - 0.5 * q.cov.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    vals = model.log_joint(x, z) - log_q
    se = vals.std(0) / math.sqrt(len(vals))
    assert ((vals.mean(0) - model.elbo(x, q)).abs() < 5 * se).all()


def test_prior_kl_agrees_with_losses_gaussian_kl():
    """With W = 0 the posterior is the prior, so KL(q || posterior) is gaussian_kl."""
    m = LinearGaussianLVM(torch.zeros(4, 3, dtype=D64), sigma=1.0)
    q = random_q(3, 2, 5)
    x = torch.zeros(2, 4, dtype=D64)
    logvar = q.cov.diagonal(dim1=-2, dim2=-1).log()
    assert torch.allclose(m.kl_to_posterior(x, q), gaussian_kl(q.mean, logvar), atol=1e-12)


def test_log_mean_exp_is_stable():
    v = torch.tensor([[-1000.0], [-1000.0 + math.log(3)]], dtype=D64)
    assert math.isclose(log_mean_exp(v, 0).item(), -1000 + math.log(2), abs_tol=1e-12)


def test_importance_sampling_with_the_posterior_is_exact(model, x):
    post = model.posterior(x)
    est = model.importance_log_marginal(x, post, 10, torch.Generator().manual_seed(0))
    assert torch.allclose(est, model.log_marginal(x), atol=1e-10)


def test_prior_sampling_relative_variance_matches_monte_carlo():
    m = LinearGaussianLVM.random(d=2, k=1, sigma=1.0, seed=4)
    x = m.sample(1, torch.Generator().manual_seed(1))[0]
    z = torch.randn(400000, 1, 1, generator=torch.Generator().manual_seed(2), dtype=D64)
    w = (m.log_likelihood(x, z)[:, 0] - m.log_marginal(x)[0]).exp()
    assert math.isclose(w.mean().item(), 1.0, rel_tol=0.01)
    assert math.isclose(w.var().item(), m.prior_sampling_relative_variance(x).item(), rel_tol=0.05)


def test_prior_sampling_unbiased_in_low_dimension():
    m = LinearGaussianLVM.random(d=2, k=1, sigma=0.8, seed=0)
    x = m.sample(3, torch.Generator().manual_seed(1))[0]
    est = m.prior_sampling_log_marginal(x, 100000, torch.Generator().manual_seed(0))
    assert torch.allclose(est, m.log_marginal(x), atol=0.02)


def test_errors_say_what_was_expected(model):
    with pytest.raises(ValueError, match=r"\(N, 6\)"):
        model.log_marginal(torch.zeros(2, 5))
    with pytest.raises(ValueError, match="sigma"):
        LinearGaussianLVM(torch.zeros(2, 1), sigma=0.0)


def test_sgvb_estimators_unbiased_and_a_exact_at_posterior(model, x):
    from vae_course.lvm import kl_to_prior, sgvb_estimates

    q = random_q(3, 5, 11)
    est = sgvb_estimates(model, x, q, 20000, torch.Generator().manual_seed(0))
    exact = model.elbo(x, q)
    for s in est:
        assert ((s.mean(0) - exact).abs() < 5 * s.std(0) / math.sqrt(20000)).all()
    post = model.posterior(x)
    a = sgvb_estimates(model, x, post, 50, torch.Generator().manual_seed(1)).a
    assert a.var(0).max() < 1e-20 and torch.allclose(a[0], model.log_marginal(x), atol=1e-10)
    logvar = q.cov.diagonal(dim1=-2, dim2=-1).log()
    assert torch.allclose(kl_to_prior(q), gaussian_kl(q.mean, logvar), atol=1e-12)
