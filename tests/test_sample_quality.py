"""vae_course.sample_quality: precision and recall on known answers, the judge's features, and
the junk sets (shapes, ranges, what makes each one junk)."""

import pytest
import torch

from vae_course import sample_quality as sq
from vae_course.judge import DigitJudge
from vae_course.models.vae import VAE


def cloud(n, dim=8, centre=0.0, seed=0):
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed)) + centre


def test_identical_sets_give_one_and_one():
    x = cloud(200)
    assert sq.precision_recall(x, x.clone(), k=3) == (1.0, 1.0)


def test_far_apart_sets_give_zero_and_zero():
    assert sq.precision_recall(cloud(200), cloud(150, centre=100.0, seed=1), k=3) == (0.0, 0.0)


def test_subset_has_full_precision_and_lower_recall():
    real = cloud(400)
    # the fake set covers only the half of the real cloud with a positive first coordinate
    fake = real[real[:, 0] > 0]
    precision, recall = sq.precision_recall(real, fake, k=3)
    assert precision == 1.0
    assert 0.3 < recall < 0.8


def test_two_samples_of_one_distribution_score_high_and_symmetric():
    p1, r1 = sq.precision_recall(cloud(500, dim=4), cloud(500, dim=4, seed=1), k=3)
    assert p1 > 0.8 and r1 > 0.8


def test_kth_neighbour_radii_known_answer_and_errors():
    x = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    assert sq.kth_neighbour_radii(x, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert sq.kth_neighbour_radii(x, 2).tolist() == [3.0, 2.0, 3.0, 6.0]
    with pytest.raises(ValueError, match="k must lie"):
        sq.kth_neighbour_radii(x, 4)
    with pytest.raises(ValueError, match=r"\(N, F\)"):
        sq.precision_recall(x, torch.zeros(3, 2))


def test_features_are_the_penultimate_layer():
    torch.manual_seed(0)
    judge = DigitJudge(8)
    x = torch.rand(5, 1, 8, 8)
    f = sq.features(judge, x, batch_size=2)
    assert f.shape == (5, 128) and (f >= 0).all()  # after the ReLU
    # the last layer applied to the features gives the judge's logits
    with torch.no_grad():
        torch.testing.assert_close(judge.net[-1](f), judge(x))
    with pytest.raises(ValueError, match="images for the judge"):
        sq.features(judge, torch.rand(5, 1, 28, 28))


def test_blend_pairs_differ_in_class_and_average_pixels():
    g = torch.Generator().manual_seed(0)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    images = torch.stack([torch.full((1, 2, 2), float(v)) for v in [0, 0, 1, 1, 10, 10]])  # one value per class
    out = sq.junk_blend(images, labels, 300, g)
    assert out.shape == (300, 1, 2, 2)
    # blends of classes (0, 1), (0, 2), (1, 2) have every pixel 0.5, 5 or 5.5; a same-class pair would give 0, 1 or 10
    values = out[:, 0, 0, 0]
    assert torch.all(out == values[:, None, None, None])
    assert set(values.tolist()) == {0.5, 5.0, 5.5}
    with pytest.raises(ValueError, match="two classes"):
        sq.junk_blend(images, torch.zeros(6), 3, g)


def test_junk_dispatch_untrained_noise_and_independent_codes():
    like = torch.rand(7, 1, 28, 28)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    fresh = VAE(latent_dim=2)
    out = sq.junk("untrained", like, g, model=fresh)
    assert out.shape == like.shape and 0 <= out.min() and out.max() <= 1
    noise = sq.junk("noise", like, g)
    assert noise.shape == like.shape and 0 <= noise.min() and noise.max() <= 1
    assert sq.junk("blend", like, g, labels=torch.arange(7) % 2).shape == like.shape
    with pytest.raises(ValueError, match="needs the labels"):
        sq.junk("blend", like, g)
    with pytest.raises(ValueError, match="junk kinds"):
        sq.junk("pretty", like, g)
    grids = sq.junk_independent_codes(torch.tensor([0, 3, 1]), 50, (7, 7), g)
    assert grids.shape == (50, 7, 7) and not (grids == 0).any()  # code 0 is never used
    assert 0.6 < (grids == 1).double().mean() < 0.9  # about 3/4


def test_coverage_ignores_outlying_samples_that_recall_counts():
    g = torch.Generator().manual_seed(0)
    real = torch.randn(300, 4, generator=g)
    same = torch.randn(300, 4, generator=g)
    assert sq.coverage(real, real) == 1.0
    assert sq.coverage(real, same) > 0.8
    # junk: most points far away and tightly packed, a few spread wide: their balls swallow the real set
    far = torch.cat([100 + 0.01 * torch.randn(290, 4, generator=g), 30 * torch.randn(10, 4, generator=g)])
    _, recall = sq.precision_recall(real, far)
    assert recall > 0.5 and sq.coverage(real, far) < 0.05
    with pytest.raises(ValueError, match="expected features"):
        sq.coverage(real, far[:, :2])
