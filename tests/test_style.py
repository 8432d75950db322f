"""vae_course.style: slant and ink from pixel moments, and the within-class correlation."""

import pytest
import torch

from vae_course import style


def _bar(shear: float, width: int = 1, size: int = 28) -> torch.Tensor:
    """A vertical bar through the centre, sheared: x = 14 + shear * (14 - y) (leaning right for shear > 0)."""
    img = torch.zeros(1, 1, size, size)
    for y in range(4, size - 4):
        x = round(size / 2 + shear * (size / 2 - y))
        img[0, 0, y, x : x + width] = 1.0
    return img


def test_slant_is_the_shear_of_the_ink():
    for shear in (-0.4, 0.0, 0.3):
        assert style.slant(_bar(shear)).item() == pytest.approx(shear, abs=0.03)
    assert style.slant(_bar(0.3)) > 0 > style.slant(_bar(-0.3))  # leaning right is positive


def test_ink_grows_with_stroke_width():
    assert style.ink(_bar(0.0, width=3)) > 2.5 * style.ink(_bar(0.0, width=1))


def test_within_class_correlation_is_one_for_a_copy_and_about_zero_when_shuffled():
    g = torch.Generator().manual_seed(0)
    source = torch.randn(400, generator=g)
    decoded = torch.stack([2 * source + 1, -source, torch.randn(400, generator=g)], dim=1)  # (400, 3)
    r = style.within_class_correlation(source, decoded)
    assert r[0].item() == pytest.approx(1.0) and r[1].item() == pytest.approx(-1.0) and abs(r[2].item()) < 0.15
    with pytest.raises(ValueError, match="expected source"):
        style.within_class_correlation(source, decoded[:10])
    with pytest.raises(ValueError, match=r"\(B, 1, H, W\)"):
        style.slant(torch.zeros(28, 28))


def test_partialling_out_the_source_class_removes_a_correlation_made_by_the_class_alone():
    # the decoded statistic follows the source's class mean, not the source within its class
    g = torch.Generator().manual_seed(1)
    cls = torch.arange(400) % 4
    source = 3.0 * cls + torch.randn(400, generator=g)  # (400,): class means 0, 3, 6, 9 plus individual noise
    decoded = torch.stack([3.0 * cls + 0.1 * torch.randn(400, generator=g), source], dim=1)  # (400, 2)
    plain = style.within_class_correlation(source, decoded)
    partial = style.within_class_correlation(source, decoded, source_class=cls)
    assert plain[0] > 0.9 and abs(partial[0].item()) < 0.15  # the class alone made column 0 correlate
    assert partial[1].item() == pytest.approx(1.0)  # a true copy survives
    with pytest.raises(ValueError, match="one source class"):
        style.within_class_correlation(source, decoded, source_class=cls[:10])
