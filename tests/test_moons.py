"""moons.check_moons: the 'real moon' test passes noisy rendered moons and fails what only looks
close in RMS: a dim (blurred) disc and a 50/50 blend of two phases."""

import math

import pytest
import torch
import torch.nn.functional as F

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


SIZES = (16, 28)


def blurred(images: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    """Separable Gaussian blur of images (N, 1, S, S), zero padding."""
    r = torch.arange(-3, 4, dtype=torch.float32)
    k = torch.exp(-(r**2) / (2 * sigma**2))
    k = k / k.sum()
    x = F.conv2d(F.pad(images, (3, 3, 0, 0)), k.view(1, 1, 1, 7))
    return F.conv2d(F.pad(x, (0, 0, 3, 3)), k.view(1, 1, 7, 1))


def disc(size: int, brightness: float) -> torch.Tensor:
    return moons.disc_coverage(size)[None, None] * brightness  # (1, 1, S, S)


def blend(size: int, p1: float, p2: float) -> torch.Tensor:
    return 0.5 * moons.render_moons([p1], size=size) + 0.5 * moons.render_moons([p2], size=size)


@pytest.fixture(scope="module")
def banks():
    return {s: moons.PhaseBank(s) for s in SIZES}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("noise", [0.0, 0.02, 0.025])
def test_noisy_real_moons_pass(banks, size, noise):
    g = torch.Generator().manual_seed(size + int(1000 * noise))
    images = moons.render_moons(torch.rand(400, generator=g), size=size, noise=noise, generator=g)
    check = moons.check_moons(images, banks[size])
    assert check.real.all(), (check.distance.max(), check.block.max(), check.brightness.max())


@pytest.mark.parametrize("size", SIZES)
def test_a_blurred_dim_disc_fails_though_its_rms_distance_is_small(banks, size):
    image = blurred(disc(size, 0.125))
    check = moons.check_moons(image, banks[size])
    assert check.distance[0] < moons.REAL_DISTANCE  # the old RMS-only test called it a real moon
    assert not check.real[0] and check.brightness[0] > moons.REAL_BRIGHTNESS


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("brightness", [0.1, 0.125, 0.15])
def test_flat_discs_of_brightness_0_1_to_0_15_fail(banks, size, brightness):
    check = moons.check_moons(disc(size, brightness), banks[size])
    assert check.distance[0] < moons.REAL_DISTANCE and not check.real[0]


@pytest.mark.parametrize("size", SIZES)
def test_a_blend_of_two_phases_fails_though_its_rms_distance_is_small(banks, size):
    check = moons.check_moons(blend(size, 0.45, 0.55), banks[size])
    assert check.distance[0] < moons.REAL_DISTANCE  # the old RMS-only test called it a real moon
    assert not check.real[0]


@pytest.mark.parametrize("size", SIZES)
def test_blends_of_phases_a_tenth_apart_or_more_fail_away_from_the_new_moon(banks, size):
    images, pairs = [], []
    for p1 in torch.arange(0.0, 1.0, 0.05).tolist():
        for sep in (0.1, 0.15, 0.2, 0.3, 0.5):
            p2 = (p1 + sep) % 1.0
            near_new = min(p1, 1 - p1) <= 0.2 + 1e-6 and min(p2, 1 - p2) <= 0.2 + 1e-6
            if not near_new:
                images.append(blend(size, p1, p2))
                pairs.append((p1, p2))
    check = moons.check_moons(torch.cat(images), banks[size])
    passing = [pair for pair, ok in zip(pairs, check.real.tolist()) if ok]
    assert passing == []


def test_check_reports_the_nearest_phase_and_accepts_3d_batches(banks):
    images = moons.render_moons([0.25, 0.6], size=16)[:, 0]  # (2, 16, 16)
    check = moons.check_moons(images, banks[16])
    assert check.real.all() and torch.allclose(check.phase, torch.tensor([0.25, 0.6]), atol=1 / 720 + 1e-6)
    with pytest.raises(ValueError, match=r"expected moon images of shape \(B, 1, 16, 16\)"):
        moons.check_moons(torch.zeros(2, 1, 8, 8), banks[16])


def test_disc_coverage_is_the_rendered_disc():
    new_moon = moons.render_moons([0.0], size=28, ambient=0.08)[0, 0]
    assert torch.allclose(new_moon, 0.08 * moons.disc_coverage(28), atol=1e-6)
