"""Notebook 05: its exercise solutions equal the package estimators, and stubs read as 'not attempted'."""

import math

import torch
from notebook_cells import load_function

from vae_course.estimators import Cosine, Square, pathwise, sample_eps, score_function, straight_through
from vae_course.exercises import ExerciseFailed, check

NB = "05_gradient_estimators.ipynb"


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


def test_checks_pass_and_stubs_are_not_attempted():
    for ex, name in (("05.1", "score_estimates"), ("05.2", "pathwise_estimates"), ("05.3", "straight_through_yours")):
        assert check(ex, _load(name)).passed
        assert check(ex, _load(name, stub=True)).status == "not attempted"


def test_wrong_straight_through_gets_specific_feedback():
    try:
        check("05.3", lambda soft, hard: soft)
    except ExerciseFailed as e:
        assert "forward value should equal `hard`" in str(e)
    else:
        raise AssertionError("a wrong straight-through passed")
