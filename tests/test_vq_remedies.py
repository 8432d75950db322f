"""Notebook 08's codebook comparison, repeated over three seeds on the 8x8 digits: with the naive
uniform start most codes of the plain and of the EMA codebook stay dead, and dead-code resets revive
them (several times the perplexity). The notebook shows one seed on MNIST-5k; this is the robustness
check it points to."""

import pytest
import torch

from vae_course import data, fit, seed_everything, vq

K = 32
REMEDIES = {"plain": {}, "ema": {"ema": True}, "reset": {"reset_dead": True, "reset_every": 10}}


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", "train")[0]


def usage_after_training(x, seed, options):
    seed_everything(seed)
    model = vq.VQVAE(K, 8, 8, **options)
    fit(model, vq.vqvae_loss, x, 4, batch_size=64, lr=3e-3, seed=seed, progress=False)
    return vq.codebook_usage(model, x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resets_revive_the_codes_that_plain_and_ema_codebooks_leave_dead(digits, seed, one_thread):
    u = {name: usage_after_training(digits, seed, opts) for name, opts in REMEDIES.items()}
    summary = {name: (v.dead, round(v.perplexity, 1)) for name, v in u.items()}
    assert u["plain"].dead >= K // 2 and u["ema"].dead >= K // 2, summary
    assert u["reset"].dead <= 2, summary
    assert u["reset"].perplexity > 4 * max(u["plain"].perplexity, u["ema"].perplexity), summary
    assert torch.equal(u["reset"].counts.sum(), u["plain"].counts.sum())  # the same positions, counted once each
