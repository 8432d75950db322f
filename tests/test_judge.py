"""vae_course.judge: the classifier that scores generated digits, its scores, and a cache that is
never trusted blindly (a corrupt, stale or tampered file is retrained)."""

import math

import pytest
import torch
from torch import nn

from vae_course import judge


@pytest.fixture
def quick_recipe(monkeypatch):
    """Two epochs on the 8x8 digits: enough to exercise the cache, in well under a second."""
    monkeypatch.setitem(judge.RECIPES, 8, dict(judge.RECIPES[8], epochs=2))


@pytest.fixture
def count_training(monkeypatch):
    calls = []
    real = judge.train_judge

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(judge, "train_judge", counting)
    return calls


def test_judge_shapes_and_errors():
    j = judge.DigitJudge(28)
    assert j(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert judge.DigitJudge(8, n_classes=4)(torch.rand(2, 1, 8, 8)).shape == (2, 4)
    with pytest.raises(ValueError, match="multiple of 4"):
        judge.DigitJudge(10)
    with pytest.raises(ValueError, match=r"expected images for the judge of shape \(B, 1, 28, 28\)"):
        j(torch.rand(3, 28, 28))


def test_training_a_judge_leaves_the_global_generator_as_it_was():
    x, y = torch.rand(16, 1, 8, 8), torch.arange(16) % 4
    before = torch.get_rng_state()
    a = judge.train_judge(x, y, epochs=1, lr=1e-3, batch_size=8, shift=1, seed=0, progress=False)
    assert torch.equal(torch.get_rng_state(), before)
    torch.manual_seed(123)  # another caller state: the same judge
    b = judge.train_judge(x, y, epochs=1, lr=1e-3, batch_size=8, shift=1, seed=0, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_random_shift_moves_each_image_by_whole_pixels_within_the_limit():
    x = torch.zeros(50, 1, 12, 12)
    x[:, 0, 5, 6] = 1.0  # one lit pixel, far enough from the border
    assert torch.equal(judge.random_shift(x, 0), x)
    y = judge.random_shift(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.equal(y.sum(dim=(1, 2, 3)), torch.ones(50))
    pos = y[:, 0].flatten(1).argmax(1)
    rows, cols = pos // 12, pos % 12
    assert (rows - 5).abs().max() <= 2 and (cols - 6).abs().max() <= 2
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10  # many different shifts


class FixedJudge(nn.Module):
    """Reads every image as the logits it is given (the image's first pixels)."""

    n_classes = 3

    def forward(self, x):
        return x.flatten(1)[:, :3]


def test_score_counts_confident_readings_and_agreement_per_class():
    logits = torch.tensor([[9.0, 0, 0], [0, 9, 0], [0, 0.2, 0], [0, 0, 9]])  # the third is unsure
    images = torch.zeros(4, 1, 2, 2)
    images.view(4, -1)[:, :3] = logits
    s = judge.score(FixedJudge(), images, requested=torch.tensor([0, 1, 1, 0]))
    assert s.confident == pytest.approx(0.75)
    assert torch.allclose(s.histogram, torch.tensor([1 / 3, 1 / 3, 1 / 3]))  # of the confident ones
    assert s.agreement == pytest.approx(0.75)  # 0->0, 1->1, 1->1 (unsure but right), 0->2
    assert torch.allclose(s.per_class, torch.tensor([0.5, 1.0, float("nan")]), equal_nan=True)
    unconditional = judge.score(FixedJudge(), images)
    assert math.isnan(unconditional.agreement) and torch.isnan(unconditional.per_class).all()
    with pytest.raises(ValueError, match="one requested class per image"):
        judge.score(FixedJudge(), images, requested=torch.tensor([0, 1]))


def test_moons_are_not_for_the_judge():
    with pytest.raises(ValueError, match="check_moons"):
        judge.load_judge("moons")


def test_the_digits_judge_reads_held_out_real_digits(data_cache, one_thread):
    j, info = judge.load_judge("digits", progress=False)
    assert not info.from_cache and info.accuracy >= 0.97, info
    assert judge.cache_path("digits").exists()


def test_a_cached_judge_is_loaded_not_retrained(data_cache, quick_recipe, count_training, one_thread):
    j1, info1 = judge.load_judge("digits", progress=False)
    j2, info2 = judge.load_judge("digits", progress=False)
    assert len(count_training) == 1 and not info1.from_cache and info2.from_cache
    assert info2.accuracy == pytest.approx(info1.accuracy)
    for a, b in zip(j1.state_dict().values(), j2.state_dict().values()):
        assert torch.equal(a, b)


def _retrains_after(tamper, count_training, reason):
    judge.load_judge("digits", progress=False)
    tamper(judge.cache_path("digits"))
    _, info = judge.load_judge("digits", progress=False)
    assert len(count_training) == 2 and not info.from_cache and reason in info.note, info
    _, info = judge.load_judge("digits", progress=False)  # the fresh file is good again
    assert info.from_cache and len(count_training) == 2


def test_a_corrupt_cache_file_is_retrained(data_cache, quick_recipe, count_training, one_thread):
    def corrupt(path):
        path.write_bytes(path.read_bytes()[:200])

    _retrains_after(corrupt, count_training, "could not be read")


def test_a_cache_file_of_other_code_or_data_is_retrained(data_cache, quick_recipe, count_training, one_thread):
    def stale(path):
        blob = torch.load(path, weights_only=True)
        blob["meta"]["code_version"] = "an-older-version"
        torch.save(blob, path)

    _retrains_after(stale, count_training, "other data or by other code")


def test_tampered_weights_are_retrained(data_cache, quick_recipe, count_training, one_thread):
    def tamper(path):
        blob = torch.load(path, weights_only=True)
        next(iter(blob["state_dict"].values())).mul_(-1.0)
        torch.save(blob, path)

    _retrains_after(tamper, count_training, "checksum")


def test_weights_with_a_matching_checksum_but_another_accuracy_are_retrained(
    data_cache, quick_recipe, count_training, one_thread
):
    def forge(path):
        blob = torch.load(path, weights_only=True)
        last_bias = list(blob["state_dict"])[-1]
        blob["state_dict"][last_bias][0] += 100.0  # reads everything as a 0
        blob["weights_sha256"] = judge._tensor_digest(*blob["state_dict"].values())
        torch.save(blob, path)

    _retrains_after(forge, count_training, "recorded accuracy")


def test_judges_of_older_code_are_removed_from_the_cache(data_cache, quick_recipe, one_thread):
    old = judge.cache_path("digits").with_name("digits-0123456789abcdef.pt")
    old.parent.mkdir(parents=True)
    old.write_bytes(b"an old judge")
    judge.load_judge("digits", progress=False)
    assert not old.exists() and judge.cache_path("digits").exists()
