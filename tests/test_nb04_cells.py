"""Notebook 04: its exercise solutions equal the package functions, and stubs read as 'not attempted'."""

import math

import torch
from notebook_cells import load_function

from vae_course.exercises import check
from vae_course.losses import gaussian_kl
from vae_course.lvm import log_mean_exp

NB = "04_elbo_derivation.ipynb"


def _load(name: str, stub: bool = False):
    return load_function(NB, name, {"torch": torch, "math": math}, stub=stub)


def test_solutions_match_package_and_pass_checks():
    lme, kl = _load("log_mean_exp_yours"), _load("kl_diag_gaussian")
    v = torch.randn(7, 3, dtype=torch.float64)
    assert torch.allclose(lme(v), log_mean_exp(v))
    mu, logvar = torch.randn(4, 5), torch.randn(4, 5)
    assert torch.allclose(kl(mu, logvar), gaussian_kl(mu, logvar))
    assert check("04.1", lme).passed and check("04.2", kl).passed


def test_stubs_are_not_attempted():
    assert check("04.1", _load("log_mean_exp_yours", stub=True)).status == "not attempted"
    assert check("04.2", _load("kl_diag_gaussian", stub=True)).status == "not attempted"
