"""Named misconceptions: each is produced by a wrong submission written to commit it.

The submissions below are written here, as a learner would, independently of the ``commits``
functions in the registry (different code, same mistake): the verdict on each must be "fail"
with that misconception's id, and a wrong answer no misconception describes must say
"unrecognised"."""

from __future__ import annotations

import math

import pytest
import torch

from vae_course.exercises import UNRECOGNISED, all_exercises, evaluate

F = torch.nn.functional

# (exercise, misconception id) -> a wrong submission committing it
WRONG = {
    ("00.1", "no-root"): lambda a, b: ((a - b) ** 2).reshape(len(a), -1).mean(-1),
    ("00.1", "abs-not-square"): lambda a, b: torch.stack([(x - y).abs().mean() for x, y in zip(a, b)]),
    ("00.1", "sum-not-mean"): lambda a, b: torch.linalg.vector_norm((a - b).reshape(len(a), -1), dim=1),
    ("00.1", "one-number-for-batch"): lambda a, b: torch.sqrt(torch.mean((a - b) ** 2)),
    ("00.2", "floor-not-round"): lambda p, n_classes=8: (torch.as_tensor(p) * n_classes).long() % n_classes,
    ("00.2", "no-wrap"): lambda p, n_classes=8: (torch.as_tensor(p) * n_classes + 0.5).floor().long(),
    ("00.2", "float-labels"): lambda p, n_classes=8: torch.remainder(
        (torch.as_tensor(p) * n_classes).round(), n_classes
    ),
    ("00.3", "variance of one"): lambda: math.sqrt(1 / 12),
    ("00.3", "mean gap"): lambda: 1 / 3,
    ("00.3", "no root"): lambda: 1 / 6,
    ("01.1", "no-centring"): lambda x, k: x @ torch.linalg.svd(x)[2][:k].T @ torch.linalg.svd(x)[2][:k],
    ("01.1", "mean-not-added-back"): lambda x, k: (
        (x - x.mean(0)) @ torch.linalg.svd(x - x.mean(0))[2][:k].T @ torch.linalg.svd(x - x.mean(0))[2][:k]
    ),
    ("01.2", "sign-flipped"): lambda l, x: (x * F.logsigmoid(l) + (1 - x) * F.logsigmoid(-l)).sum((1, 2, 3)),
    ("01.2", "mean-not-sum"): lambda l, x: F.binary_cross_entropy_with_logits(l, x, reduction="none").mean((1, 2, 3)),
    ("01.3", "sign-flipped"): lambda l, x: x - 1 / (1 + torch.exp(-l)),
    ("01.3", "target-dropped"): lambda l, x: 1 / (1 + torch.exp(-l)),
    ("02.4", "no shrinkage"): lambda: 1,
    ("02.4", "halved length"): lambda: 0.25,
    ("02.5", "no-half-in-exponent"): lambda t, r: 1 / (1 + torch.exp(-(2 * t - 1) * r * r)),
    ("02.5", "full-moon-weight"): lambda t, r: 1 - torch.sigmoid((t - 0.5) * r**2),
    ("02.5", "r-not-squared"): lambda t, r: torch.sigmoid(r * t - r / 2),
    ("02.6", "no-half-in-exponent"): lambda: math.log(3) * 2 / 9,
    ("02.6", "r-not-squared"): lambda: 1,
    ("03.3", "every masked pixel"): None,  # filled from the registry's wrong value below
    ("03.3", "ink only"): lambda: 0.2,
    ("03.4", "noise-not-signal"): lambda cov, std: (
        torch.eye(len(cov), dtype=cov.dtype)
        - cov @ torch.linalg.inv(cov + std**2 * torch.eye(len(cov), dtype=cov.dtype))
    ),
    ("03.4", "std-not-variance"): lambda cov, std: (
        torch.linalg.solve(cov + std * torch.eye(len(cov), dtype=cov.dtype), cov).T
    ),
    ("03.5", "noise-share"): lambda: 0.25 / 2.34,
    ("03.5", "bump-std-only"): lambda: 0.09 / 0.34,
    ("03.5", "std-not-variance"): lambda: 2.09 / 2.59,
    ("04.2", "kl-sign"): lambda mu, lv: (0.5 * (1 + lv - mu**2 - torch.exp(lv))).sum(-1),
    ("04.2", "missing-half"): lambda mu, lv: (mu**2 + torch.exp(lv) - 1 - lv).sum(-1),
    ("04.2", "variance-for-logvar"): lambda mu, lv: 0.5 * (mu**2 + lv - 1 - torch.log(lv)).sum(-1),
    ("06.1", "logvar-as-std"): lambda mu, lv, eps=None: mu + eps * lv,
    ("06.1", "variance-not-std"): lambda mu, lv, eps=None: mu + eps * torch.exp(lv),
    ("06.2", "log-sum-exp"): lambda v, dim=0: (
        torch.log(torch.exp(v - v.max(dim, keepdim=True).values).sum(dim)) + v.max(dim).values
    ),
    ("06.2", "mean-of-logs"): lambda v, dim=0: v.sum(dim) / v.shape[dim],
    ("06.3", "missing-half"): lambda mu, lv: (mu + 0, torch.exp(lv) - 1),
    ("06.3", "kl-sign"): lambda mu, lv: (0 - mu, 0.5 - 0.5 * torch.exp(lv)),
    ("06.4", "perfect-is-zero"): lambda: 0,
    ("06.4", "every-pixel-a-coin"): lambda: 28 * 28 * 0.6931,
    ("07.2", "chose (b)"): lambda: "b",
    ("07.2", "chose (c)"): lambda: "C ",
    ("08.1", "forgot-the-2"): lambda n: 1 / n,
    ("08.1", "forgot-n"): lambda n: torch.full_like(n, 0.5),
    ("08.2", "chose (a)"): lambda: "a",
    ("08.2", "chose (c)"): lambda: " C",
    ("08.4", "count half-life"): lambda: math.log(2) / -math.log(0.99),
    ("08.4", "ratio cancels"): lambda: float("inf"),
    ("09.1", "gradient-below-floor"): lambda kl, lam: torch.ones_like(kl),
    ("09.1", "inverted"): lambda kl, lam: (kl < lam).to(kl.dtype),
    ("09.2", "one-unit-floor"): None,
    ("09.2", "zero"): None,
}


def _wrong_value(ex_id: str, mid: str):
    """A number the learner would write for a check_number slip, read from the check's source."""
    import inspect

    src = inspect.getsource(all_exercises()[ex_id].checker)
    after = src.split(repr(mid).replace("'", '"'))[1]
    return float(eval(after.split("(", 1)[1].split(",")[0].strip(), {"__builtins__": {}}, {}))


@pytest.mark.parametrize("ex_id, mid", sorted(WRONG), ids=[f"{e}-{m}" for e, m in sorted(WRONG)])
def test_each_named_misconception_is_produced_by_a_submission_committing_it(ex_id, mid):
    fn = WRONG[ex_id, mid]
    if fn is None:
        value = _wrong_value(ex_id, mid)
        fn = lambda: value  # noqa: E731
    result = evaluate(ex_id, fn, torch.Generator().manual_seed(7))
    assert result.status == "fail", result
    assert result.misconception == mid, result
    m = all_exercises()[ex_id].misconception(mid)
    assert m is not None and m.teacher and m.feedback


def test_every_registered_misconception_has_a_submission_here():
    named = {(e, m.id) for e, ex in all_exercises().items() for m in ex.misconceptions}
    assert named == set(WRONG)


# Exercises with a numeric or functional answer that have no named misconception yet (to shrink to none).
NOT_YET = {
    "02.1", "02.2", "02.3", "03.1", "03.2", "04.1", "04.3", "04.4",
    "05.1", "05.2", "05.3", "05.4", "05.5", "07.1", "08.3",
}  # fmt: skip


def test_exercises_without_a_named_misconception_are_only_the_listed_ones():
    missing = {e for e, ex in all_exercises().items() if not ex.misconceptions}
    assert missing == NOT_YET


def test_a_wrong_answer_no_misconception_describes_is_unrecognised():
    result = evaluate("00.1", lambda a, b: (a - b).abs().flatten(1).max(1).values, torch.Generator().manual_seed(1))
    assert result.status == "fail" and result.misconception == UNRECOGNISED
    assert evaluate("00.1", lambda a, b: (a - b).pow(2).flatten(1).mean(1).sqrt()).misconception == ""
