"""Tests for vae_course.interpolation: paths, phase scores, measuring, the explorer.

vae_course.interpolation: phase scores on real moons only, the cross-fade fit, and the best
decoder under code noise (notebook 02)."""

import math

import pytest
import torch

from vae_course.interpolation import (
    DecodedReading,
    code_plane_distance,
    crossfade_fit,
    decode_path,
    explore_path,
    invented_fraction,
    largest_phase_jump,
    lerp,
    measure_decoded,
    noisy_code_decoder,
    phase_monotonicity,
    phase_steps,
    random_codes,
    real_phase_scores,
    score_path,
    slerp,
)
from vae_course.models import decode_codes, encode_images
from vae_course.models.ae import MLPAutoencoder
from vae_course.moons import MoonReading, PhaseBank, render_moons

SIZE = 12


@pytest.fixture(scope="module")
def bank():
    return PhaseBank(size=SIZE, n_phases=360)


# --------------------------------------------------------------------------- paths
def test_lerp_ends_midpoint_and_even_steps():
    z0, z1 = torch.tensor([0.0, 2.0]), torch.tensor([4.0, -2.0])
    path = lerp(z0, z1, 5)
    assert path.shape == (5, 2)
    assert torch.equal(path[0], z0) and torch.equal(path[-1], z1)
    assert torch.allclose(path[2], (z0 + z1) / 2)
    steps = path[1:] - path[:-1]
    assert torch.allclose(steps, steps[0].expand_as(steps))  # constant speed


def test_lerp_accepts_row_codes_and_rejects_bad_input():
    assert lerp(torch.zeros(1, 3), torch.ones(1, 3), 2).shape == (2, 3)
    with pytest.raises(ValueError, match="same shape"):
        lerp(torch.zeros(3), torch.zeros(4), 5)
    with pytest.raises(ValueError, match="steps"):
        lerp(torch.zeros(3), torch.ones(3), 1)


def test_slerp_keeps_the_norm_on_a_circle():
    z0, z1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    path = slerp(z0, z1, 9)
    assert torch.allclose(path.norm(dim=1), torch.ones(9), atol=1e-6)
    assert torch.allclose(path[0], z0, atol=1e-6) and torch.allclose(path[-1], z1, atol=1e-6)
    angles = torch.atan2(path[:, 1], path[:, 0])
    assert torch.allclose(angles, torch.linspace(0, math.pi / 2, 9), atol=1e-6)  # even angles
    # the straight line dips inside the circle at its middle
    assert lerp(z0, z1, 9)[4].norm() == pytest.approx(math.sqrt(0.5), abs=1e-6)


def test_slerp_falls_back_to_lerp_for_parallel_codes():
    z0, z1 = torch.tensor([1.0, 1.0]), torch.tensor([2.0, 2.0])
    assert torch.allclose(slerp(z0, z1, 4), lerp(z0, z1, 4))


def test_random_codes_match_mean_and_spread():
    codes = torch.tensor([[0.0, 10.0], [2.0, 14.0]])
    draws = random_codes(codes, 20000, torch.Generator().manual_seed(0))
    assert draws.shape == (20000, 2)
    assert torch.allclose(draws.mean(0), codes.mean(0), atol=0.1)
    assert torch.allclose(draws.std(0), codes.std(0), rtol=0.05)
    with pytest.raises(ValueError, match="at least two codes"):
        random_codes(codes[:1], 5)


# --------------------------------------------------------------------------- phase scores
def test_phase_steps_wrap_around_the_circle():
    assert torch.allclose(phase_steps(torch.tensor([0.95, 0.05])), torch.tensor([0.1], dtype=torch.float64))


def test_monotonicity_known_answers():
    forward = torch.linspace(0.5, 0.25, 11)
    assert phase_monotonicity(forward, 0.5, 0.25) == pytest.approx(1.0)
    assert phase_monotonicity(forward.flip(0), 0.5, 0.25) == pytest.approx(0.0)
    # 0.5 -> 0.3 -> 0.4 -> 0.25: forward 0.2 + 0.15, backward 0.1
    zigzag = torch.tensor([0.5, 0.3, 0.4, 0.25])
    assert phase_monotonicity(zigzag, 0.5, 0.25) == pytest.approx(0.35 / 0.45)
    assert phase_monotonicity(torch.full((5,), 0.3)) == 1.0  # standing still is not going back
    # across the new moon: 0.9 -> 0.0 -> 0.1 is forward along the short arc
    assert phase_monotonicity(torch.tensor([0.9, 0.0, 0.1])) == pytest.approx(1.0)


def test_largest_jump_separates_a_switch_from_a_walk():
    walk = torch.linspace(0.5, 0.25, 11)
    switch = torch.tensor([0.5] * 5 + [0.25] * 6)
    assert largest_phase_jump(walk) == pytest.approx(0.025, abs=1e-6)
    assert largest_phase_jump(switch) == pytest.approx(0.25, abs=1e-6)


def test_invented_fraction_counts_real_in_between_moons_only():
    phase = torch.tensor([0.5, 0.45, 0.375, 0.3, 0.25, 0.375])
    distance = torch.tensor([0.0, 0.01, 0.01, 0.2, 0.0, 0.01])
    reading = DecodedReading(distance, phase)
    # real and strictly between: 0.45, 0.375 (twice); 0.3 is between but not a real moon
    assert invented_fraction(reading, 0.5, 0.25, max_distance=0.05) == pytest.approx(3 / 6)
    assert invented_fraction(reading, 0.25, 0.5, max_distance=0.05) == pytest.approx(3 / 6)
    with pytest.raises(ValueError, match="closer"):
        invented_fraction(reading, 0.5, 0.51, max_distance=0.05)


# --------------------------------------------------------------------------- measuring
def test_measure_decoded_reads_rendered_moons_exactly(bank):
    phases = torch.tensor([0.1, 0.25, 0.5, 0.8])
    reading = measure_decoded(render_moons(phases, size=SIZE), bank)
    assert reading.distance.shape == (4,)
    assert reading.distance.max() < 1e-5
    assert torch.allclose(reading.phase, phases, atol=1 / 720)


def test_a_cross_fade_is_far_from_every_moon(bank):
    full, half = render_moons([0.5, 0.25], size=SIZE)
    reading = measure_decoded(((full + half) / 2)[None], bank)
    assert reading.distance[0] > 0.05


def test_measure_decoded_names_the_expected_shape(bank):
    with pytest.raises(ValueError, match=f"\\(B, 1, {SIZE}, {SIZE}\\)"):
        measure_decoded(torch.zeros(2, 1, 8, 8), bank)


# --------------------------------------------------------------------------- models
def _model(seed=0):
    torch.manual_seed(seed)
    return MLPAutoencoder(SIZE, latent_dim=2, hidden=(16,), output="sigmoid")


def test_decode_path_starts_and_ends_at_the_decoded_codes(bank):
    model = _model()
    x = render_moons([0.5, 0.25], size=SIZE)
    path = decode_path(model, x[:1], x[1:], bank, steps=7)
    assert path.codes.shape == (7, 2) and path.images.shape == (7, 1, SIZE, SIZE)
    z = encode_images(model, x)
    assert torch.allclose(path.codes[[0, -1]], z)
    assert torch.allclose(path.images[[0, -1]], decode_codes(model, z))
    assert path.distance.shape == (7,) and path.phase.shape == (7,)
    assert slerp is not None and decode_path(model, x[:1], x[1:], bank, 3, path="slerp").codes.shape == (3, 2)
    with pytest.raises(ValueError, match="lerp"):
        decode_path(model, x[:1], x[1:], bank, path="cubic")


def test_explore_path_matches_decode_path(bank):
    models = {"a": _model(0), "b": _model(1)}
    x = render_moons([0.5, 0.25], size=SIZE)
    views = explore_path(models, x[:1], x[1:], 0.5, bank)
    assert set(views) == {"a", "b"} and all(isinstance(v, MoonReading) for v in views.values())
    for name, model in models.items():
        path = decode_path(model, x[:1], x[1:], bank, steps=3)
        assert torch.allclose(views[name].image, path.images[1, 0], atol=1e-6)
        assert views[name].distance == pytest.approx(float(path.distance[1]), abs=1e-6)
        assert views[name].phase == pytest.approx(float(path.phase[1]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        explore_path(models, x[:1], x[1:], 1.5, bank)


def test_code_plane_distance_matches_decoding_its_grid(bank):
    model = _model()
    x = render_moons([0.5, 0.25], size=SIZE)
    plane = code_plane_distance(model, x[:1], x[1:], bank, n=5)
    assert plane.distance.shape == (5, 5)
    assert torch.allclose(plane.codes, encode_images(model, x))
    u0, u1, v0, v1 = plane.extent
    assert u0 < float(plane.codes[:, 0].min()) and u1 > float(plane.codes[:, 0].max())
    corner = torch.tensor([[u0, v0], [u1, v1]])  # bottom-left is row 0, col 0; top-right row -1, col -1
    expected = measure_decoded(decode_codes(model, corner), bank).distance
    assert torch.allclose(plane.distance[[0, -1], [0, -1]], expected, atol=1e-5)
    narrow = MLPAutoencoder(SIZE, latent_dim=1, hidden=(8,), output="sigmoid")
    with pytest.raises(ValueError, match="size >= 2"):
        code_plane_distance(narrow, x[:1], x[1:], bank)


def test_code_plane_of_larger_codes_holds_both_codes_and_decodes_its_grid(bank):
    torch.manual_seed(0)
    wide = MLPAutoencoder(SIZE, latent_dim=3, hidden=(8,), output="sigmoid")
    x = render_moons([0.5, 0.25], size=SIZE)
    plane = code_plane_distance(wide, x[:1], x[1:], bank, n=5)
    z = encode_images(wide, x)  # (2, 3)
    assert torch.allclose(plane.basis @ plane.basis.T, torch.eye(2), atol=1e-6)  # orthonormal
    assert torch.allclose(plane.origin + plane.codes @ plane.basis, z, atol=1e-5)  # both codes lie in it
    u0, u1, v0, v1 = plane.extent
    corner = plane.origin + torch.tensor([[u0, v0], [u1, v1]]) @ plane.basis  # (2, 3)
    expected = measure_decoded(decode_codes(wide, corner), bank).distance
    assert torch.allclose(plane.distance[[0, -1], [0, -1]], expected, atol=1e-5)


def test_the_optimal_fade_width_is_two_log_nine_over_r_squared():
    from vae_course.interpolation import optimal_fade_width

    for r in (2.5, 3.0, 5.0):
        assert abs(optimal_fade_width(r) - 2 * math.log(9) / r**2) < 2e-3
    assert optimal_fade_width(0.5) == 1.0  # the noise clouds overlap everywhere: the whole path is mid-fade
    with pytest.raises(ValueError):
        optimal_fade_width(0.0)


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
