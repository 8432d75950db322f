"""The linear-Gaussian LVM: exact marginal, posterior and ELBO identities."""

import math

import pytest
import torch

from vae_course.losses import gaussian_kl, log_normal
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


# --------------------------------------------------------------------------- probabilistic PCA
def _pca_data(n=400, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    scales = torch.tensor([3.0, 2.0, 1.0, 0.5, 0.3, 0.2], dtype=D64)[:d]
    return torch.randn(n, d, generator=g, dtype=D64) * scales + 1.0


def test_ppca_is_the_maximum_likelihood_linear_gaussian_model():
    from vae_course.lvm import spectrum

    x = _pca_data()
    spec = spectrum(x)
    assert torch.all(spec.values[:-1] >= spec.values[1:])
    m = LinearGaussianLVM.ppca(spec, k=2)
    assert math.isclose(m.sigma**2, spec.values[2:].mean().item(), rel_tol=1e-9)
    W = m.W.clone().requires_grad_(True)
    ll = LinearGaussianLVM(W, m.b, m.sigma).log_marginal(x).mean()
    (grad,) = torch.autograd.grad(ll, W)
    assert grad.abs().max() < 1e-8  # a stationary point in W
    for factor in (0.95, 1.05):  # and in sigma
        assert LinearGaussianLVM(m.W, m.b, m.sigma * factor).log_marginal(x).mean() < ll


def test_ppca_switches_off_directions_weaker_than_the_noise():
    x = _pca_data()
    m = LinearGaussianLVM.ppca(x, k=6, sigma=0.8)  # variances 9, 4, 1 are above 0.64, the rest below
    norms = m.W.norm(dim=0)
    assert (norms[:3] > 0.3).all() and (norms[3:] == 0).all()
    with pytest.raises(ValueError, match="k < d"):
        LinearGaussianLVM.ppca(x, k=6)


def test_expected_squared_error_matches_monte_carlo(model, x):
    q = random_q(3, 5, 21)
    eps = torch.randn(50000, 5, 3, generator=torch.Generator().manual_seed(0), dtype=D64)
    z = q.mean + eps * q.cov.diagonal(dim1=-2, dim2=-1).sqrt()
    mc = (x - z @ model.W.T - model.b).pow(2).sum(-1).mean(0)
    assert torch.allclose(mc, model.expected_sq_error(x, q), rtol=0.02)


# --------------------------------------------------------------------------- SGVB gradients
def test_sgvb_gradients_are_unbiased_and_stl_is_exact_at_the_posterior(model, x):
    from vae_course.lvm import sgvb_gradients

    q = random_q(3, 5, 13)
    m = q.mean.clone().requires_grad_(True)
    s = q.cov.diagonal(dim1=-2, dim2=-1).sqrt().clone().requires_grad_(True)
    model.elbo(x, Gaussian(m, torch.diag_embed(s**2))).sum().backward()
    exact = torch.cat([m.grad, s.grad], -1)  # (N, 2k)
    n = 40000
    est = sgvb_gradients(model, x, q, n, torch.Generator().manual_seed(0))
    for g in est:
        se = g.std(0) / math.sqrt(n)
        assert ((g.mean(0) - exact).abs() < 5 * se + 1e-9).all()
    post = model.posterior(x)
    stl = sgvb_gradients(model, x, post, 100, torch.Generator().manual_seed(1)).stl
    assert stl.abs().max() < 1e-9  # sticking the landing: zero at the exact posterior


def test_sgvb_gradient_a_is_the_autograd_gradient_of_estimator_a(model, x):
    from vae_course.lvm import sgvb_gradients

    q = random_q(3, 5, 17)
    g = torch.Generator().manual_seed(4)
    est = sgvb_gradients(model, x, q, 1, g)
    eps = torch.randn(1, 5, 3, generator=torch.Generator().manual_seed(4), dtype=D64)[0]
    m = q.mean.clone().requires_grad_(True)
    s = q.cov.diagonal(dim1=-2, dim2=-1).sqrt().clone().requires_grad_(True)
    z = m + s * eps
    log_q = log_normal(z, m, 2 * s.log())
    (model.log_joint(x, z) - log_q).sum().backward()
    assert torch.allclose(est.a[0], torch.cat([m.grad, s.grad], -1), atol=1e-10)


# --------------------------------------------------------------------------- mixtures
def test_curve_mixture_with_a_straight_line_is_the_linear_gaussian_model():
    from vae_course.lvm import CurveMixture

    mix = CurveMixture(d=2, sigma=0.4, n_grid=801, z_max=7.0, learn_sigma=False).double()
    line = torch.nn.Linear(1, 2).double()
    with torch.no_grad():
        line.weight.copy_(torch.tensor([[1.5], [-0.7]]))
        line.bias.copy_(torch.tensor([0.2, 0.3]))
    mix.mu = line  # mu(z) = w z + b: a straight curve
    lin = LinearGaussianLVM(line.weight.detach(), line.bias.detach(), sigma=0.4)
    pts = torch.randn(20, 2, generator=torch.Generator().manual_seed(0), dtype=D64) * 2
    assert torch.allclose(mix.log_prob(pts), lin.log_marginal(pts), atol=1e-6)


def test_curve_mixture_is_a_grid_mixture_and_the_grid_is_fine_enough():
    from vae_course.lvm import CurveMixture, mixture_log_prob

    torch.manual_seed(0)
    mix = CurveMixture(d=2, hidden=8, sigma=0.2)
    pts = torch.randn(30, 2)
    lp = mix.log_prob(pts)
    assert torch.allclose(lp, mixture_log_prob(pts, mix.centres(), mix.log_w, mix.sigma), atol=1e-4)
    assert torch.allclose(lp, mix.log_prob(pts, n_grid=4000), atol=1e-3)
    assert torch.allclose(mix.log_prob(pts, sigma=0.5), mixture_log_prob(pts, mix.centres(), mix.log_w, 0.5), atol=1e-4)
    assert math.isclose(mix.log_w.exp().sum().item(), 1.0, rel_tol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        mix.log_prob(torch.zeros(3, 3))


def test_curve_mixture_shifted_grid_visits_every_z_and_averages_to_the_integral():
    from vae_course.lvm import CurveMixture

    torch.manual_seed(0)
    mix = CurveMixture(d=2, hidden=8, sigma=0.2, n_grid=64)
    pts = torch.randn(10, 2)
    fine = mix.log_prob(pts, n_grid=8000)
    draws = torch.stack([mix.log_prob(pts, shifted=True) for _ in range(200)])  # (200, 10)
    assert not torch.allclose(draws[0], draws[1])  # a new offset each call
    assert not torch.allclose(draws[0], mix.log_prob(pts))  # not the fixed grid
    assert torch.allclose(draws.exp().mean(0).log(), fine, atol=2e-2)  # p(x) on average: the integral
    torch.manual_seed(1)
    a = mix.log_prob(pts, shifted=True)
    torch.manual_seed(1)
    assert torch.equal(a, mix.log_prob(pts, shifted=True))  # torch's generator decides the offset


def test_mixture_log_prob_of_one_component_is_a_gaussian():
    from vae_course.lvm import mixture_log_prob

    pts = torch.randn(7, 3, generator=torch.Generator().manual_seed(0), dtype=D64)
    c = torch.tensor([[0.5, -1.0, 2.0]], dtype=D64)
    got = mixture_log_prob(pts, c, torch.zeros(1, dtype=D64), 0.7)
    assert torch.allclose(got, log_normal(pts, c, 2 * math.log(0.7)), atol=1e-12)


# ----------------------------------------------------------------------- importance weights, joint, EM
def test_importance_log_weights_average_to_the_marginal(model, x):
    from vae_course.lvm import importance_weight_moment

    post = model.posterior(x)
    q = post._replace(cov=2 * post.cov)  # a wider proposal: finite-variance weights
    lw = model.importance_log_weights(x, q, 20_000, torch.Generator().manual_seed(0))
    assert lw.shape == (20_000, len(x))
    w = (lw - model.log_marginal(x)).exp()  # w / p(x): mean 1
    moment = importance_weight_moment(post.cov[0], q.cov[0])
    assert moment.min_eig > 0
    assert abs(w.mean().item() - 1) < 0.03
    assert abs(w.pow(2).mean(0).mean().item() - moment.second_moment) < 0.05 * moment.second_moment


def test_importance_weight_moment_condition():
    from vae_course.lvm import importance_weight_moment

    P = torch.tensor([[2.0, 1.8], [1.8, 2.0]], dtype=torch.float64)  # a strongly correlated target precision
    target = torch.linalg.inv(P)
    same = importance_weight_moment(target, target)
    assert same.second_moment == pytest.approx(1.0)
    assert same.min_eig == pytest.approx(torch.linalg.eigvalsh(P)[0].item())
    narrow = importance_weight_moment(target, torch.diag(1 / P.diagonal()))  # the mean-field variances 1 / P_jj
    assert narrow.min_eig < 0 and narrow.second_moment == math.inf
    wide = importance_weight_moment(target, torch.diag(target.diagonal()))  # the marginal variances
    assert wide.min_eig > 0 and 1 < wide.second_moment < math.inf


def test_effective_sample_size():
    from vae_course.losses import effective_sample_size

    assert effective_sample_size(torch.zeros(50, 3)).tolist() == pytest.approx([50.0] * 3)
    one = torch.full((10,), -1000.0)
    one[3] = 0.0
    assert effective_sample_size(one).item() == pytest.approx(1.0)
    lw = torch.tensor([0.0, math.log(3.0)])  # weights 1 and 3: 16 / 10
    assert effective_sample_size(lw).item() == pytest.approx(1.6)
    with pytest.raises(ValueError):
        effective_sample_size(torch.zeros(0))


def test_joint_kl_view_of_the_expected_elbo(model):
    from vae_course.lvm import data_encoder_joint, gaussian_entropy, kl_gaussians, sigma_points

    g = torch.Generator().manual_seed(3)
    d, k = model.d, model.k
    B = torch.randn(d, d, generator=g, dtype=torch.float64)
    eye = torch.eye(d, dtype=torch.float64)
    data = Gaussian(torch.randn(d, generator=g, dtype=torch.float64), B @ B.T / d + 0.1 * eye)
    A = torch.randn(k, d, generator=g, dtype=torch.float64) * 0.3
    c = torch.randn(k, generator=g, dtype=torch.float64)
    S = torch.diag(torch.rand(k, generator=g, dtype=torch.float64) + 0.1)
    pts = sigma_points(data)  # (2d, d): exact for the quadratic ELBO(x)
    assert torch.allclose(pts.mean(0), data.mean) and torch.allclose(torch.cov(pts.T, correction=0), data.cov)
    q = Gaussian(pts @ A.T + c, S.expand(len(pts), k, k))
    expected_elbo = model.elbo(pts, q).mean()
    kl = kl_gaussians(data_encoder_joint(data, A, c, S), model.joint())
    assert torch.allclose(expected_elbo, -gaussian_entropy(data) - kl, atol=1e-10)
    # and the KL splits into the model's fit to the data plus the encoder's gap, averaged over the data
    marg = Gaussian(model.b, model.marginal_cov())
    gap = model.kl_to_posterior(pts, q).mean()
    assert torch.allclose(kl, kl_gaussians(data, marg) + gap, atol=1e-10)


def test_kl_gaussians_matches_kl_to_posterior(model, x):
    from vae_course.lvm import kl_gaussians

    post = model.posterior(x)
    q = diag_gaussian(post.mean + 0.3, torch.zeros_like(post.mean))
    assert torch.allclose(kl_gaussians(q, post), model.kl_to_posterior(x, q), atol=1e-10)
    assert kl_gaussians(post, post).abs().max() < 1e-10


def test_em_step_never_lowers_the_likelihood_and_reaches_ppca():
    truth = LinearGaussianLVM.random(d=8, k=3, sigma=0.5, seed=1)
    data, _ = truth.sample(400, torch.Generator().manual_seed(2))
    m = LinearGaussianLVM.random(d=8, k=3, sigma=1.0, seed=7)
    ll = [m.log_marginal(data).mean().item()]
    for _ in range(200):
        new = m.em_step(data)
        # the M-step's ELBO with the old posterior lies between the old and the new log-likelihood
        elbo_new = new.elbo(data, m.posterior(data)).mean().item()
        assert ll[-1] - 1e-10 <= elbo_new <= new.log_marginal(data).mean().item() + 1e-10
        m = new
        ll.append(m.log_marginal(data).mean().item())
    assert min(b - a for a, b in zip(ll, ll[1:])) > -1e-10
    assert ll[-1] == pytest.approx(LinearGaussianLVM.ppca(data, 3).log_marginal(data).mean().item(), abs=1e-4)
    fixed = LinearGaussianLVM.random(d=8, k=3, sigma=0.7, seed=7).em_step(data, fit_sigma=False)
    assert fixed.sigma == 0.7


def test_joint_is_the_distribution_of_samples():
    m = LinearGaussianLVM.random(d=4, k=2, sigma=0.5, seed=0)
    x, z = m.sample(100_000, torch.Generator().manual_seed(0))
    xz = torch.cat([x, z], 1)
    j = m.joint()
    assert torch.allclose(xz.mean(0), j.mean, atol=0.02) and torch.allclose(torch.cov(xz.T), j.cov, atol=0.03)
