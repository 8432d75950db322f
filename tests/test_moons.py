import math

import pytest
import torch

from vae_course import moons


def test_phases_look_like_the_moon():
    new, first, full, last = moons.render_moons([0.0, 0.25, 0.5, 0.75], size=32)
    assert full.mean() > 3 * new.mean()  # full moon is bright, new moon dark
    half = 16
    assert first[0, :, half:].mean() > 5 * first[0, :, :half].mean()  # first quarter: right half lit
    assert last[0, :, :half].mean() > 5 * last[0, :, half:].mean()  # last quarter: left half lit
    assert torch.allclose(first, last.flip(-1), atol=1e-5)  # mirror images


def test_phase_is_periodic_and_brightness_peaks_at_full():
    a = moons.render_moons([0.1, 1.1, -0.9])
    assert torch.allclose(a[0], a[1], atol=1e-5) and torch.allclose(a[0], a[2], atol=1e-5)
    phases = torch.linspace(0, 1, 41)
    brightness = moons.render_moons(phases).mean(dim=(1, 2, 3))
    assert phases[brightness.argmax()].item() == pytest.approx(0.5)


def test_noise_is_reproducible_and_clipped():
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    a = moons.render_moons([0.3, 0.6], noise=0.5, generator=g1)
    b = moons.render_moons([0.3, 0.6], noise=0.5, generator=g2)
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_bank_reads_back_rendered_phases():
    bank = moons.PhaseBank(size=20, n_phases=360)
    phases = torch.tensor([0.013, 0.25, 0.4, 0.77, 0.999])
    x = moons.render_moons(phases, size=20)
    assert bank.distance(x).max() < 0.01
    err = moons.circular_phase_difference(bank.phase(x), phases).abs()
    assert err.max() <= 0.5 / 360 + 1e-6


def test_distance_grows_with_noise_and_is_zero_for_bank_images():
    bank = moons.PhaseBank(size=16, n_phases=90)
    assert bank.distance(bank.images).max() < 1e-5
    g = torch.Generator().manual_seed(0)
    d = [
        bank.distance(moons.render_moons(torch.rand(30, generator=g), size=16, noise=s, generator=g)).median()
        for s in (0.0, 0.1, 0.3)
    ]
    assert d[0] < d[1] < d[2]


def test_bank_rejects_wrong_size():
    bank = moons.PhaseBank(size=16, n_phases=16)
    with pytest.raises(ValueError, match=r"\(B, 1, 16, 16\), got \(2, 1, 28, 28\)"):
        bank.distance(torch.zeros(2, 1, 28, 28))


def test_circular_difference_wraps():
    assert moons.circular_phase_difference(torch.tensor(0.95), torch.tensor(0.05)).item() == pytest.approx(-0.1)
    assert moons.phase_label(torch.tensor([0.97, 0.26, 0.5])).tolist() == [0, 2, 4]


def test_rms_distance_and_read_moon():
    a, b = torch.zeros(1, 1, 4, 4), torch.full((1, 1, 4, 4), 0.5)
    assert moons.rms_distance(a, b).item() == pytest.approx(0.5)
    r = moons.read_moon(0.3, noise=0.0, bank=moons.PhaseBank(size=28, n_phases=100))
    assert r.image.shape == (28, 28) and r.distance < 0.02 and math.isclose(r.phase, 0.3, abs_tol=0.01)
    assert moons.read_moon(0.3, noise=0.3).distance > 0.1
