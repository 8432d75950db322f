"""Corruptions: exact fractions, purity, determinism, gradients through code noise."""

import pytest
import torch

from vae_course.corruption import code_noise, corrupt, gaussian_noise, mask_noise, random_mask, salt_and_pepper


def _x(b=16, seed=0):
    return torch.rand(b, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) * 0.9 + 0.1  # no zeros


@pytest.mark.parametrize("fraction", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
def test_mask_noise_zeroes_an_exact_fraction_per_image(fraction):
    x = _x()
    y = mask_noise(x, fraction, torch.Generator().manual_seed(1))
    zeroed = (y == 0).flatten(1).sum(1)
    assert torch.all(zeroed == round(fraction * 64))
    kept = y != 0
    assert torch.equal(y[kept], x[kept])  # untouched pixels are unchanged


def test_masks_differ_between_images_and_repeat_with_the_same_generator():
    x = _x()
    m1 = random_mask(x, 0.3, torch.Generator().manual_seed(5))
    m2 = random_mask(x, 0.3, torch.Generator().manual_seed(5))
    assert torch.equal(m1, m2)
    assert not torch.equal(m1[0], m1[1])


def test_corruptions_do_not_modify_their_input():
    x = _x()
    before = x.clone()
    for f in (
        lambda: mask_noise(x, 0.5),
        lambda: gaussian_noise(x, 0.5),
        lambda: salt_and_pepper(x, 0.5),
        lambda: code_noise(x.flatten(1), 1.0),
    ):
        f()
        assert torch.equal(x, before)


def test_gaussian_noise_clip_and_statistics():
    x = torch.full((2000, 1, 8, 8), 0.5)
    g = torch.Generator().manual_seed(0)
    raw = gaussian_noise(x, 0.2, g, clip=False)
    eps = raw - x
    assert abs(eps.mean().item()) < 0.005 and abs(eps.std().item() - 0.2) < 0.005
    clipped = gaussian_noise(x, 2.0, torch.Generator().manual_seed(0))
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert gaussian_noise(x, 2.0, clip=False).max() > 1
    assert torch.equal(gaussian_noise(x, 0.0), x)


def test_salt_and_pepper_sets_exact_fraction_to_zero_or_one():
    x = torch.full((32, 1, 8, 8), 0.5)
    y = salt_and_pepper(x, 0.25, torch.Generator().manual_seed(3))
    changed = (y != 0.5).flatten(1).sum(1)
    assert torch.all(changed == 16)
    assert set(y[y != 0.5].unique().tolist()) <= {0.0, 1.0}


def test_code_noise_is_differentiable_and_has_the_right_scale():
    z = torch.zeros(5000, 3, requires_grad=True)
    out = code_noise(z, 0.5, torch.Generator().manual_seed(0))
    assert abs(out.std().item() - 0.5) < 0.02
    out.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))  # d(z + s*eps)/dz = 1


def test_bad_arguments_say_what_is_wrong():
    x = _x()
    with pytest.raises(ValueError, match="fraction must be in"):
        mask_noise(x, 1.5)
    with pytest.raises(ValueError, match="std must be"):
        gaussian_noise(x, -1)
    with pytest.raises(ValueError, match="unknown corruption"):
        corrupt(x, "blur", 0.1)


def test_corrupt_dispatches():
    x = _x()
    g = lambda: torch.Generator().manual_seed(2)  # noqa: E731
    assert torch.equal(corrupt(x, "mask", 0.3, g()), mask_noise(x, 0.3, g()))
    assert torch.equal(corrupt(x, "gaussian", 0.3, g()), gaussian_noise(x, 0.3, g()))
    assert torch.equal(corrupt(x, "salt_pepper", 0.3, g()), salt_and_pepper(x, 0.3, g()))
