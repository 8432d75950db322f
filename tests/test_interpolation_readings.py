"""vae_course.interpolation: phase scores on real moons only, the cross-fade fit, and the best
decoder under code noise (notebook 02)."""

import math

import pytest
import torch

from vae_course.interpolation import (
    DecodedReading,
    crossfade_fit,
    noisy_code_decoder,
    real_phase_scores,
    score_path,
)
from vae_course.models.ae import MLPAutoencoder
from vae_course.moons import PhaseBank, render_moons


def test_real_phase_scores_ignore_the_blurs_between_real_moons():
    # two real full moons, three blurs whose nearest moons glide, two real half moons
    phase = torch.tensor([0.5, 0.5, 0.45, 0.375, 0.3, 0.25, 0.25])
    distance = torch.tensor([0.0, 0.01, 0.1, 0.12, 0.1, 0.01, 0.0])
    scores = real_phase_scores(DecodedReading(distance, phase), 0.5, 0.25, max_distance=0.03)
    assert scores.count == 4
    assert scores.monotonicity == pytest.approx(1.0)
    assert scores.largest_jump == pytest.approx(0.25)  # a switch, not the glide of every point


def test_real_phase_scores_are_nan_with_fewer_than_two_real_moons():
    reading = DecodedReading(torch.tensor([0.0, 0.2, 0.2]), torch.tensor([0.5, 0.4, 0.3]))
    scores = real_phase_scores(reading, 0.5, 0.25, max_distance=0.03)
    assert scores.count == 1 and math.isnan(scores.monotonicity) and math.isnan(scores.largest_jump)


def test_crossfade_fit_recovers_the_weight_and_measures_what_is_left():
    x0, x1 = render_moons([0.5], size=12), render_moons([0.25], size=12)
    w = torch.tensor([0.0, 0.3, 1.0])
    mixes = (1 - w)[:, None, None, None] * x0 + w[:, None, None, None] * x1
    fit = crossfade_fit(mixes, x0, x1)
    assert torch.allclose(fit.weight, w, atol=1e-6) and fit.distance.max() < 1e-6
    other = render_moons([0.375], size=12)  # a real gibbous moon is no cross-fade of the two
    assert crossfade_fit(other, x0, x1).distance[0] > 0.03
    beyond = crossfade_fit(x1 + (x1 - x0), x0, x1)  # weights are clipped to [0, 1]
    assert beyond.weight[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same image"):
        crossfade_fit(mixes, x0, x0)


def test_noisy_code_decoder_is_the_posterior_weighted_mean():
    codes = torch.tensor([[-1.0, 0.0], [1.0, 0.0]])
    images = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])  # (2, 1, 2, 2)
    z = torch.tensor([[0.0, 0.0], [0.5, 3.0], [-1.0, 0.0]])
    w, out = noisy_code_decoder(z, codes, images, std=1.0)
    assert torch.allclose(w.sum(1), torch.ones(3))
    assert w[0, 1] == pytest.approx(0.5) and w[1, 1] == pytest.approx(1 / (1 + math.exp(-1.0)), rel=1e-5)
    assert torch.allclose(out[:, 0, 0, 0], w[:, 1])  # a cross-fade of black and white
    sharp, _ = noisy_code_decoder(z, codes, images, std=0.1)
    assert sharp[2, 0] > 0.999  # small noise: the nearer image wins outright
    with pytest.raises(ValueError, match="std must be > 0"):
        noisy_code_decoder(z, codes, images, std=0.0)


def test_score_path_reads_monotonicity_and_jump_on_real_moons():
    torch.manual_seed(0)
    model = MLPAutoencoder(12, 2, hidden=(8,), output="sigmoid")
    bank = PhaseBank(size=12, n_phases=90)
    x0, x1 = render_moons([0.5], size=12), render_moons([0.25], size=12)
    s = score_path(model, x0, x1, bank, 0.5, 0.25, steps=5, max_distance=0.03)
    assert 0.0 <= s.monotonicity_all <= 1.0 and s.largest_jump_all >= 0.0
    assert s.real_fraction == 0.0 and math.isnan(s.monotonicity)  # an untrained decoder draws no moon
