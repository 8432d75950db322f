"""Gradient estimators: unbiased against exact gradients, variances equal to the closed forms."""

import math

import pytest
import torch

from vae_course.estimators import (
    Cosine,
    Square,
    bernoulli_estimator_errors,
    bernoulli_grads,
    compare_estimators,
    encoder_gradient_samples,
    exact_grad,
    optimal_baseline,
    pathwise,
    sample_eps,
    score_function,
    straight_through,
    theory_variance,
    vae_surrogate_loss,
)
from vae_course.models.vae import VAE

N = 100_000


CASES = [
    (Square(), [0.5, -1.0, 0.3], [1.0, 0.5, 2.0]),
    (Cosine(1.0), [1.2], [0.7]),
    (Cosine(3.0), [0.4, -0.2], [0.8, 0.3]),
]


@pytest.mark.parametrize("f,mu,sigma", CASES)
def test_both_estimators_unbiased(f, mu, sigma):
    eps = sample_eps(N, len(mu), torch.Generator().manual_seed(0))
    gm, gs = exact_grad(f, mu, sigma)
    for est in (
        score_function(f, mu, sigma, eps),
        score_function(f, mu, sigma, eps, baseline=2.0),
        score_function(f, mu, sigma, eps, baseline="loo"),
        score_function(f, mu, sigma, eps, baseline="coordinate"),
        pathwise(f, mu, sigma, eps),
    ):
        for samples, exact in ((est.mu, gm), (est.sigma, gs)):
            se = samples.std(0) / math.sqrt(N)
            assert ((samples.mean(0) - exact).abs() < 5 * se + 1e-12).all()


@pytest.mark.parametrize("f,mu,sigma", CASES)
@pytest.mark.parametrize(
    "estimator,baseline", [("score", 0.0), ("score", 1.5), ("score", "coordinate"), ("pathwise", 0.0)]
)
@pytest.mark.parametrize("wrt", ["mu", "sigma"])
def test_variance_matches_closed_form(f, mu, sigma, estimator, baseline, wrt):
    eps = sample_eps(N, len(mu), torch.Generator().manual_seed(1))
    est = score_function(f, mu, sigma, eps, baseline=baseline) if estimator == "score" else pathwise(f, mu, sigma, eps)
    measured = getattr(est, wrt).var(0)
    theory = theory_variance(f, mu, sigma, estimator, wrt, baseline)
    assert torch.allclose(measured, theory, rtol=0.1)


def test_square_closed_forms_by_hand():
    """The formulas derived in notebook 05 for f = z^2 in 1-D."""
    mu, s = torch.tensor([0.7]), torch.tensor([1.3])
    f = Square()
    assert torch.allclose(theory_variance(f, mu, s, "pathwise"), (4 * s**2).double())
    assert torch.allclose(theory_variance(f, mu, s, "score"), (mu**4 / s**2 + 14 * mu**2 + 15 * s**2).double())
    assert torch.allclose(theory_variance(f, mu, s, "pathwise", "sigma"), (4 * mu**2 + 8 * s**2).double())
    assert torch.allclose(
        theory_variance(f, mu, s, "score", "sigma"), (2 * mu**4 / s**2 + 60 * mu**2 + 74 * s**2).double()
    )


def test_score_variance_grows_with_dimension_pathwise_does_not():
    f = Square()
    vs = [theory_variance(f, torch.ones(d), torch.ones(d), "score")[0].item() for d in (1, 4, 16)]
    vp = [theory_variance(f, torch.ones(d), torch.ones(d), "pathwise")[0].item() for d in (1, 4, 16)]
    assert vs[0] < vs[1] < vs[2] and vp[0] == vp[1] == vp[2] == 4.0


def test_cosine_ordering_flips_with_frequency():
    low = Cosine(0.5)
    high = Cosine(5.0)
    assert theory_variance(low, [0.3], [1.0], "pathwise") < theory_variance(low, [0.3], [1.0], "score")
    assert theory_variance(high, [0.3], [1.0], "pathwise") > theory_variance(high, [0.3], [1.0], "score")


def test_optimal_baseline_minimises_variance():
    f, mu, sigma = Square(), [0.5, 1.0], [1.0, 0.5]
    for wrt in ("mu", "sigma"):
        b = optimal_baseline(f, mu, sigma, wrt)[0].item()

        def v(bb, wrt=wrt):
            return theory_variance(f, mu, sigma, "score", wrt, bb)[0].item()

        assert v(b) < v(b + 0.1) and v(b) < v(b - 0.1) and v(b) < v(0.0)


def test_pathwise_matches_autograd_of_a_reparameterized_sample():
    mu = torch.tensor([0.3, -0.4], dtype=torch.float64, requires_grad=True)
    sigma = torch.tensor([0.9, 1.1], dtype=torch.float64, requires_grad=True)
    eps = sample_eps(1, 2, torch.Generator().manual_seed(3))
    Cosine(2.0)(mu + sigma * eps).sum().backward()
    g = pathwise(Cosine(2.0), mu.detach(), sigma.detach(), eps)
    assert torch.allclose(g.mu[0], mu.grad) and torch.allclose(g.sigma[0], sigma.grad)


def test_input_errors():
    with pytest.raises(ValueError, match="sigma must be > 0"):
        score_function(Square(), [0.0], [0.0], 3)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        pathwise(Square(), [0.0, 1.0], [1.0, 1.0], torch.zeros(4, 3))
    with pytest.raises(ValueError, match="baseline"):
        score_function(Square(), [0.0], [1.0], 3, baseline="mean")


def test_compare_estimators_returns_consistent_stats():
    st = compare_estimators(Square(), 1.0, 0.5, n=20000, seed=0)
    assert math.isclose(st.pathwise_var, st.pathwise_theory, rel_tol=0.05)
    assert math.isclose(st.score_var, st.score_theory, rel_tol=0.15)
    assert st.exact == 2.0


def test_plot_function_runs_headless():
    import matplotlib

    matplotlib.use("Agg")
    from vae_course.plots import estimator_histograms

    st = estimator_histograms(Cosine(3.0), 0.2, 1.0, n=2000)
    assert st.score_var < st.pathwise_var  # omega * sigma = 3 > 1: the score estimator wins


def test_vae_estimators_share_the_mean_gradient():
    torch.manual_seed(0)
    model = VAE(image_size=8, latent_dim=2, hidden=64)
    x = torch.rand(8, 1, 8, 8)
    n = 200
    gp = encoder_gradient_samples(model, x, "pathwise", n, seed=0)
    gs = encoder_gradient_samples(model, x, "score", n, seed=1)
    diff = (gp.mean(0) - gs.mean(0)).abs()
    se = (gp.var(0) / n + gs.var(0) / n).sqrt()
    assert (diff < 5 * se + 1e-6).float().mean() > 0.98
    assert gs.var(0).sum() > gp.var(0).sum()


def test_vae_decoder_gradient_identical_for_both_estimators():
    torch.manual_seed(0)
    model = VAE(image_size=8, latent_dim=2, hidden=64)
    x = torch.rand(4, 1, 8, 8)
    eps = torch.randn(4, 2)
    grads = []
    for est in ("pathwise", "score"):
        model.zero_grad()
        vae_surrogate_loss(model, x, est, eps=eps)["loss"].backward()
        grads.append(torch.cat([p.grad.reshape(-1) for p in model.decoder.parameters()]))
    assert torch.allclose(grads[0], grads[1], atol=1e-6)


def test_detach_z_keeps_the_sample_and_cuts_its_gradient_path():
    torch.manual_seed(0)
    model = VAE(image_size=8, latent_dim=2, hidden=16)
    x, eps = torch.rand(4, 1, 8, 8), torch.randn(4, 2)
    on, off = model(x, eps=eps), model(x, eps=eps, detach_z=True)
    assert torch.equal(on.z, off.z) and torch.equal(on.recon, off.recon)
    assert on.z.requires_grad and not off.z.requires_grad


def test_straight_through_value_and_gradient():
    soft = torch.tensor([0.2, 0.7], requires_grad=True)
    hard = (soft > 0.5).float()
    out = straight_through(soft, hard)
    assert torch.equal(out, hard)
    (out * torch.tensor([3.0, 5.0])).sum().backward()
    assert torch.equal(soft.grad, torch.tensor([3.0, 5.0]))


def test_bernoulli_score_unbiased_straight_through_biased():
    r = bernoulli_grads(lambda z: (z - 0.45) ** 2, 0.3, 20000, seed=0)
    se = r["score"].std() / math.sqrt(20000)
    assert abs(r["score"].mean().item() - r["exact"]) < 5 * se
    st_se = r["straight_through"].std() / math.sqrt(20000)
    assert abs(r["straight_through"].mean().item() - r["exact"]) > 10 * st_se


def test_square_center_shifts_the_parabola():
    """(z - k)^2 under N(mu, s^2) is z^2 under N(mu - k, s^2), for the gradients and their variances."""
    mu, s, k = [1.2, -0.4], [0.8, 1.5], 0.7
    shifted = [m - k for m in mu]
    for est in ("score", "pathwise"):
        for wrt in ("mu", "sigma"):
            assert torch.allclose(
                theory_variance(Square(k), mu, s, est, wrt), theory_variance(Square(), shifted, s, est, wrt)
            )
    assert torch.allclose(exact_grad(Square(k), mu, s)[0], 2 * torch.tensor(shifted, dtype=torch.float64))
    eps = sample_eps(1000, 2, torch.Generator().manual_seed(0))  # the same samples, estimated either way
    for baseline in (None, 2.0, "coordinate"):
        a, b = score_function(Square(k), mu, s, eps, baseline), score_function(Square(), shifted, s, eps, baseline)
        assert torch.allclose(a.mu, b.mu) and torch.allclose(a.sigma, b.sigma)
    a, b = pathwise(Square(k), mu, s, eps), pathwise(Square(), shifted, s, eps)
    assert torch.allclose(a.mu, b.mu) and torch.allclose(a.sigma, b.sigma)


def test_coordinate_baseline_removes_the_other_coordinates():
    """For separable f, the per-coordinate baseline leaves the 1-D variance with b = h(mu_j), whatever D."""
    one = theory_variance(Square(), [1.0], [1.0], "score", "mu", 1.0)[0]  # h(mu) = 1
    for d in (2, 8, 32):
        many = theory_variance(Square(), [1.0] * d, [1.0] * d, "score", "mu", "coordinate")
        assert torch.allclose(many, one.expand(d))
        assert many[0] < theory_variance(Square(), [1.0] * d, [1.0] * d, "score", "mu", float(d * 2 - 2))[0]
    with pytest.raises(ValueError, match="coordinate"):
        theory_variance(Square(), [1.0], [1.0], "score", "mu", "mean")
    with pytest.raises(ValueError, match="group of at least 2"):
        theory_variance(Square(), [1.0], [1.0], "score", "mu", "loo")


def test_leave_one_out_from_small_batches_pays_var_f_over_k_minus_1():
    """Var_loo(K) = Var_{b = E f} + Var[f] E[w^2] / ((K - 1) sigma^2), measured, for mu and sigma, in 3-D."""
    mu, sigma = [0.5, -1.0, 0.3], [1.0, 0.5, 2.0]
    ideal = {
        w: theory_variance(Square(), mu, sigma, "score", w, sum(m * m + s * s for m, s in zip(mu, sigma)))
        for w in ("mu", "sigma")
    }
    eps = sample_eps(300_000, 3, torch.Generator().manual_seed(4))
    for k in (2, 5):
        est = score_function(Square(), mu, sigma, eps, baseline="loo", group=k)
        for w in ("mu", "sigma"):
            want = theory_variance(Square(), mu, sigma, "score", w, "loo", group=k)
            assert (want > ideal[w]).all()
            got = getattr(est, w).var(0)
            assert torch.allclose(got, want, rtol=0.08), (k, w, got, want)  # heavy tails (eps^6 terms)
    with pytest.raises(ValueError, match="divide"):
        score_function(Square(), mu, sigma, eps[:10], baseline="loo", group=4)


def test_bernoulli_baselined_score_is_unbiased_and_grows_linearly_with_the_codes():
    f = lambda z: (z - 0.45) ** 2  # noqa: E731
    exact1 = bernoulli_estimator_errors(f, 0.3)["score_baseline"]
    assert abs(exact1.bias) < 1e-12
    p = 1 / (1 + math.exp(-0.3))
    per_code = (p * (1 - p)) ** 2 * 0.1**2
    for d in (1, 16, 64):
        r = bernoulli_grads(f, 0.3, 100_000, seed=2, dim=d)["score_baseline"]
        want = exact1.variance + (d - 1) * per_code
        assert abs(r.var().item() - want) < 0.05 * want


def test_bernoulli_in_many_dimensions():
    f = lambda z: (z - 0.45) ** 2  # noqa: E731
    r1, r16 = bernoulli_grads(f, 0.3, 20000, seed=0), bernoulli_grads(f, 0.3, 20000, seed=0, dim=16)
    assert r1["exact"] == r16["exact"]
    se = r16["score"].std() / math.sqrt(20000)
    assert abs(r16["score"].mean().item() - r16["exact"]) < 5 * se  # still unbiased
    assert r16["score"].var() > 50 * r1["score"].var()  # the other codes' values multiply it
    assert math.isclose(r16["straight_through"].var().item(), r1["straight_through"].var().item(), rel_tol=0.05)
    with pytest.raises(ValueError, match="dim"):
        bernoulli_grads(f, 0.3, 10, dim=0)


def test_vae_mean_baseline_is_unbiased_and_cuts_variance():
    torch.manual_seed(0)
    model = VAE(image_size=8, latent_dim=2, hidden=32)
    x = torch.rand(8, 1, 8, 8)
    n = 300
    gb = encoder_gradient_samples(model, x, "score", n, sigma_x=0.2, seed=1, baseline="mean")
    gs = encoder_gradient_samples(model, x, "score", n, sigma_x=0.2, seed=2)
    gp = encoder_gradient_samples(model, x, "pathwise", n, sigma_x=0.2, seed=3)
    se = (gb.var(0) / n + gp.var(0) / n).sqrt()
    assert ((gb.mean(0) - gp.mean(0)).abs() < 5 * se + 1e-6).float().mean() > 0.98
    assert gb.var(0).sum() < gs.var(0).sum() / 10
    with pytest.raises(ValueError, match="'mean'"):
        vae_surrogate_loss(model, x, "score", baseline="median")


def test_concrete_estimator_bias_and_variance_follow_the_temperature():
    from vae_course.estimators import bernoulli_estimator_errors, estimator_error

    f = lambda z: (z - 0.45) ** 2  # noqa: E731
    exact_errors = {t: bernoulli_estimator_errors(f, 0.3, temperature=t) for t in (0.1, 0.5, 1.0)}
    for t, errs in exact_errors.items():
        r = bernoulli_grads(f, theta=0.3, n=40_000, seed=1, temperature=t)
        for name in ("score", "straight_through", "concrete"):
            measured = estimator_error(r[name], r["exact"])
            assert abs(measured.bias - errs[name].bias) < 4 * measured.bias_se  # the quadrature is the truth
            assert measured.variance == pytest.approx(errs[name].variance, rel=0.1)
        assert errs["score"].bias == pytest.approx(0.0, abs=1e-12)
        assert errs["concrete"].mse == pytest.approx(errs["concrete"].bias ** 2 + errs["concrete"].variance)
        assert abs(errs["concrete"].bias) < abs(errs["straight_through"].bias)
    variances = [exact_errors[t]["concrete"].variance for t in (0.1, 0.5, 1.0)]
    assert variances[0] > variances[1] > variances[2]  # colder: closer to the hard sample, noisier
    with pytest.raises(ValueError):
        bernoulli_grads(f, theta=0.3, n=10, temperature=0.0)


def test_concrete_matches_autograd_through_the_relaxed_sample():
    r = bernoulli_grads(lambda z: z**3, theta=-0.4, n=5, seed=3, temperature=0.7)
    u = torch.rand(5, 1, generator=torch.Generator().manual_seed(3), dtype=torch.float64)[:, 0]
    theta = torch.tensor(-0.4, dtype=torch.float64, requires_grad=True)
    for i in range(5):
        y = torch.sigmoid((theta - (u[i].log() - (-u[i]).log1p())) / 0.7)
        (g,) = torch.autograd.grad(y**3, theta)
        assert r["concrete"][i].item() == pytest.approx(g.item())


def test_squared_difference_ratio_calibrated_and_sees_a_bias():
    from vae_course.estimators import squared_difference_ratio

    g = torch.Generator().manual_seed(0)
    ratios = []
    for _ in range(200):
        a = torch.randn(60, 30, generator=g, dtype=torch.float64)
        b = 3 * torch.randn(80, 30, generator=g, dtype=torch.float64)
        ratios.append(squared_difference_ratio(a, b, draws=200).ratio)
    assert 0.9 < sum(ratios) / len(ratios) < 1.1  # mean 1 when both are unbiased
    res = squared_difference_ratio(a, b, levels=(0.005, 0.995))
    assert res.quantiles[0] < 1 < res.quantiles[1] and 20 < res.effective_dims <= 30
    biased = squared_difference_ratio(a + 1.0, b)  # a bias of norm sqrt(30)
    assert biased.ratio > res.quantiles[1]
    with pytest.raises(ValueError):
        squared_difference_ratio(a[:1], b)
