"""Notebook 05: its exercise solutions equal the package estimators, and stubs read as 'not attempted'."""

import math

import torch

from tests.notebook_cells import load_function
from vae_course.estimators import (
    Cosine,
    Square,
    pathwise,
    sample_eps,
    score_function,
    straight_through,
    theory_variance,
)
from vae_course.exercises import ExerciseFailed, check

NB = "05_gradient_estimators.ipynb"
EXERCISES = (
    ("05.1", "score_estimates"),
    ("05.5", "straight_through_yours"),
    ("05.2", "score_variance_with_baseline"),
    ("05.3", "loo_score_variance"),
    ("05.4", "error_prediction"),
)


def _load(name: str, stub: bool = False):
    return load_function(NB, name, {"torch": torch, "math": math}, stub=stub)


def test_notebook_estimators_equal_package_versions():
    mu = torch.tensor([0.2, -0.7], dtype=torch.float64)
    sigma = torch.tensor([0.9, 1.4], dtype=torch.float64)
    eps = sample_eps(50, 2, torch.Generator().manual_seed(0))
    for f in (Square(), Cosine(2.5)):
        for mine, ref in ((_load("score_estimates"), score_function), (_load("pathwise_estimates"), pathwise)):
            got, want = mine(f, mu, sigma, eps), ref(f, mu, sigma, eps)
            assert torch.allclose(got[0], want.mu) and torch.allclose(got[1], want.sigma)


def test_notebook_straight_through_equals_package():
    soft = torch.randn(5, requires_grad=True)
    hard = soft.detach().round()
    mine = _load("straight_through_yours")(soft, hard)
    assert torch.equal(mine.detach(), straight_through(soft, hard).detach())


def test_derived_baseline_variance_equals_the_closed_form_and_its_minimum_is_b_star():
    derived = _load("score_variance_with_baseline")
    for mu, s, b in ((0.3, 0.8, 0.0), (1.0, 1.0, 4.0), (-2.0, 1.5, 1.0)):
        assert math.isclose(derived(mu, s, b), theory_variance(Square(), [mu], [s], "score", "mu", b)[0].item())
    b_star = 1.0 + 3 * 1.0  # mu^2 + 3 sigma^2
    assert derived(1.0, 1.0, b_star) < min(derived(1.0, 1.0, b_star - 0.1), derived(1.0, 1.0, b_star + 0.1))


def test_leave_one_out_variance_is_the_ideal_baseline_plus_the_baselines_noise():
    derived, ideal = _load("loo_score_variance"), _load("score_variance_with_baseline")
    for mu, s, k in ((0.3, 0.8, 2), (1.0, 1.0, 4), (-2.0, 1.5, 50)):
        want = theory_variance(Square(), [mu], [s], "score", "mu", "loo", group=k)[0].item()
        assert math.isclose(derived(mu, s, k), want)
        extra = (4 * mu**2 * s**2 + 2 * s**4) / ((k - 1) * s**2)  # Var[z^2] / ((K - 1) sigma^2)
        assert math.isclose(derived(mu, s, k) - ideal(mu, s, mu**2 + s**2), extra)


def test_leave_one_out_formula_matches_a_measurement():
    eps = sample_eps(400_000, 1, torch.Generator().manual_seed(0))
    est = score_function(Square(), [1.0], [1.0], eps, baseline="loo", group=4)
    want = theory_variance(Square(), [1.0], [1.0], "score", "mu", "loo", group=4)[0].item()
    assert abs(est.mu[:, 0].var().item() - want) < 0.03 * want


def test_checks_pass_and_stubs_are_not_attempted():
    for ex, name in EXERCISES:
        assert check(ex, _load(name)).passed
        assert check(ex, _load(name, stub=True)).status == "not attempted"


def test_wrong_straight_through_gets_specific_feedback():
    try:
        check("05.5", lambda soft, hard: soft)
    except ExerciseFailed as e:
        assert "forward value should equal `hard`" in str(e)
    else:
        raise AssertionError("a wrong straight-through passed")
