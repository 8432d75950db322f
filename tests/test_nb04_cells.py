"""Notebook 04: its exercise solutions equal the package functions, and stubs read as 'not attempted'."""

import math

import torch

from tests.notebook_cells import load_function
from vae_course.exercises import check
from vae_course.losses import gaussian_kl
from vae_course.lvm import LinearGaussianLVM, log_mean_exp

NB = "04_elbo_derivation.ipynb"
EXERCISES = (
    ("04.3", "log_mean_exp_yours"),
    ("04.7", "kl_diag_gaussian"),
    ("04.1", "kl_divergence"),
    ("04.5", "best_mean_field_logvar"),
)


def _load(name: str, stub: bool = False):
    return load_function(NB, name, {"torch": torch, "math": math}, stub=stub)


def test_solutions_match_package_and_pass_checks():
    lme, kl = _load("log_mean_exp_yours"), _load("kl_diag_gaussian")
    v = torch.randn(7, 3, dtype=torch.float64)
    assert torch.allclose(lme(v), log_mean_exp(v))
    mu, logvar = torch.randn(4, 5), torch.randn(4, 5)
    assert torch.allclose(kl(mu, logvar), gaussian_kl(mu, logvar))
    for ex, name in EXERCISES:
        assert check(ex, _load(name)).passed


def test_discrete_kl_identities():
    kl = _load("kl_divergence")
    p = torch.tensor([0.5, 0.25, 0.2, 0.05], dtype=torch.float64)
    q = torch.full((4,), 0.25, dtype=torch.float64)
    h_p, h_pq = -(p * p.log()).sum(), -(p * q.log()).sum()
    assert torch.allclose(kl(p, q), h_pq - h_p)  # H(p, q) = H(p) + KL(p || q)
    assert kl(p, p).abs() < 1e-15 and kl(q, p) != kl(p, q)


def test_best_mean_field_variances_are_the_posterior_precision_diagonal():
    m = LinearGaussianLVM.random(d=9, k=3, sigma=0.7, seed=2)
    precision = torch.linalg.inv(m.posterior(torch.zeros(1, 9)).cov[0])
    assert torch.allclose(_load("best_mean_field_logvar")(m.W, m.sigma), -precision.diagonal().log())


def test_stubs_are_not_attempted():
    for ex, name in EXERCISES:
        assert check(ex, _load(name, stub=True)).status == "not attempted"
