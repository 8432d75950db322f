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


def _mask_in_place(x, fraction):
    k = round(fraction * x[0].numel())
    for image in x.view(len(x), -1):
        image[torch.randperm(image.numel())[:k]] = 0
    return x


def _grad_f(f, z):
    z = z.detach().requires_grad_()
    f(z).sum().backward()
    return z.grad


def _score_variance(mu, sigma, b):
    """Var of (f - b) eps / sigma for f = z^2, z = mu + sigma eps (1-D), by Gauss-Hermite quadrature."""
    import numpy as np

    x, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()
    sample = ((mu + sigma * x) ** 2 - b) * x / sigma
    return float((w * sample**2).sum() - ((w * sample).sum()) ** 2)


def _ema_step(z, idx, n, m, d, smooth):
    k = len(n)
    batch_n = torch.zeros(k, dtype=z.dtype)
    batch_m = torch.zeros_like(m)
    for i, j in enumerate(idx.tolist()):
        batch_n[j] += 1
        batch_m[j] += z[i]
    n = d * n + (1 - d) * batch_n
    m = d * m + (1 - d) * batch_m
    if smooth:
        return n, m, m / ((n + 1e-5) / (n.sum() + k * 1e-5) * n.sum())[:, None]
    return n, m, m / n[:, None]


# (exercise, misconception id) -> a wrong submission committing it
def _ideal_baseline_variance(mu, s):
    """Variance of (z^2 - b) eps / s with b = E[z^2] = mu^2 + s^2 (exercise 05.2's formula at that b)."""
    b = mu**2 + s**2
    return (mu**4 + 18 * mu**2 * s**2 + 15 * s**4 - 2 * b * (mu**2 + 3 * s**2) + b**2) / s**2 - 4 * mu**2


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
    ("01.3", "no-centring"): lambda x, k: x @ torch.linalg.svd(x)[2][:k].T @ torch.linalg.svd(x)[2][:k],
    ("01.3", "mean-not-added-back"): lambda x, k: (
        (x - x.mean(0)) @ torch.linalg.svd(x - x.mean(0))[2][:k].T @ torch.linalg.svd(x - x.mean(0))[2][:k]
    ),
    ("01.1", "sign-flipped"): lambda l, x: (x * F.logsigmoid(l) + (1 - x) * F.logsigmoid(-l)).sum((1, 2, 3)),
    ("01.1", "mean-not-sum"): lambda l, x: F.binary_cross_entropy_with_logits(l, x, reduction="none").mean((1, 2, 3)),
    ("00.4", "no-clipping"): lambda: 0.1,
    ("00.5", "whole-image"): lambda: 0.08,
    ("00.5", "share-without-root"): lambda: 0.08 * 0.5027,
    ("01.2", "sign-flipped"): lambda l, x: (
        x - 1 / (1 + torch.exp(-l)),
        2 * (x - torch.sigmoid(l)) * torch.sigmoid(l) * torch.sigmoid(-l),
    ),
    ("01.2", "no-chain-rule"): lambda l, x: (torch.sigmoid(l) - x, 2 * torch.sigmoid(l) - 2 * x),
    ("01.4", "kept-not-discarded"): lambda: 0.698 + 0.63 + 0.555 + 0.397,
    ("01.4", "per-pixel"): lambda: (4.699 - 2.28) / 64,
    ("01.5", "kept-not-discarded"): lambda: 0.698 + 0.63,
    ("01.5", "four-components"): lambda: 4.699 - (0.698 + 0.63 + 0.555 + 0.397),
    ("01.5", "per-pixel"): lambda: (4.699 - 0.698 - 0.63) / 64,
    ("01.6", "chose (a)"): lambda: "a",
    ("01.6", "chose (c)"): lambda: " C",
    ("02.5", "variance-not-std"): lambda: 0.05,
    ("02.5", "code-noise"): lambda: 0.5,
    ("02.5", "lost-factor-2"): lambda: 0.1**0.5,
    ("02.3", "no-half-in-exponent"): lambda t, r: 1 / (1 + torch.exp(-(2 * t - 1) * r * r)),
    ("02.3", "full-moon-weight"): lambda t, r: 1 - torch.sigmoid((t - 0.5) * r**2),
    ("02.3", "r-not-squared"): lambda t, r: torch.sigmoid(r * t - r / 2),
    ("02.4", "no-half-in-exponent"): lambda: math.log(3) * 2 / 9,
    ("02.4", "r-not-squared"): lambda: 1,
    ("03.2", "every masked pixel"): None,  # filled from the registry's wrong value below
    ("03.2", "ink only"): lambda: 0.2,
    ("03.3", "noise-not-signal"): lambda cov, std: (
        torch.eye(len(cov), dtype=cov.dtype)
        - cov @ torch.linalg.inv(cov + std**2 * torch.eye(len(cov), dtype=cov.dtype))
    ),
    ("03.3", "std-not-variance"): lambda cov, std: (
        torch.linalg.solve(cov + std * torch.eye(len(cov), dtype=cov.dtype), cov).T
    ),
    ("03.4", "noise-share"): lambda: 0.25 / 2.34,
    ("03.4", "bump-std-only"): lambda: 0.09 / 0.34,
    ("03.4", "std-not-variance"): lambda: 2.09 / 2.59,
    ("04.7", "kl-sign"): lambda mu, lv: (0.5 * (1 + lv - mu**2 - torch.exp(lv))).sum(-1),
    ("04.7", "missing-half"): lambda mu, lv: (mu**2 + torch.exp(lv) - 1 - lv).sum(-1),
    ("04.7", "variance-for-logvar"): lambda mu, lv: 0.5 * (mu**2 + lv - 1 - torch.log(lv)).sum(-1),
    ("04.5", "variance-not-log"): lambda W, sigma: sigma**2 / (sigma**2 + (W * W).sum(0)),
    ("04.4", "no-condition"): lambda M, Q: torch.sqrt(torch.det(M) ** 2 / (torch.det(Q) * torch.det(2 * M - Q))),
    ("04.4", "swapped-roles"): lambda M, Q: (
        torch.tensor(float("inf"), dtype=M.dtype)
        if torch.linalg.eigvalsh(2 * Q - M)[0] <= 0
        else torch.det(Q) / torch.sqrt(torch.det(M) * torch.det(2 * Q - M))
    ),
    ("04.6", "chose (a)"): lambda: "a",
    ("04.6", "chose (c)"): lambda: " c",
    ("04.6", "chose (d)"): lambda: "D",
    ("04.2", "chose (a)"): lambda: "a",
    ("04.2", "chose (b)"): lambda: "B",
    ("04.2", "chose (d)"): lambda: " d ",
    ("04.8", "every-direction"): lambda lam, s: torch.tensor(
        sum(0.5 * math.log(v / s**2) for v in lam.tolist()), dtype=lam.dtype
    ),
    ("04.8", "sigma-not-squared"): lambda lam, s: 0.5 * torch.clamp(torch.log(lam) - math.log(s), min=0).sum(),
    ("04.8", "missing-half"): lambda lam, s: torch.tensor(
        sum(max(0.0, math.log(v) - 2 * math.log(s)) for v in lam.tolist()), dtype=lam.dtype
    ),
    ("05.3", "baseline-noise-ignored"): lambda mu, s, K: _ideal_baseline_variance(mu, s),
    ("05.3", "k-not-k-minus-1"): lambda mu, s, K: (
        _ideal_baseline_variance(mu, s) + (4 * mu**2 * s**2 + 2 * s**4) / (K * s**2)
    ),
    ("05.4", "chose (a)"): lambda: "a",
    ("05.4", "chose (b)"): lambda: " B",
    ("06.1", "logvar-as-std"): lambda mu, lv, eps=None: mu + eps * lv,
    ("06.1", "variance-not-std"): lambda mu, lv, eps=None: mu + eps * torch.exp(lv),
    ("06.5", "log-sum-exp"): lambda v, dim=0: (
        torch.log(torch.exp(v - v.max(dim, keepdim=True).values).sum(dim)) + v.max(dim).values
    ),
    ("06.5", "mean-of-logs"): lambda v, dim=0: v.sum(dim) / v.shape[dim],
    ("06.2", "missing-half"): lambda mu, lv: (mu + 0, torch.exp(lv) - 1),
    ("06.2", "kl-sign"): lambda mu, lv: (0 - mu, 0.5 - 0.5 * torch.exp(lv)),
    ("06.3", "perfect-is-zero"): lambda: 0,
    ("06.3", "every-pixel-a-coin"): lambda: 28 * 28 * 0.6931,
    ("06.4", "chose (a)"): lambda: "a",
    ("06.4", "chose (b)"): lambda: " B",
    ("06.6", "chose (a)"): lambda: "a",
    ("06.6", "chose (c)"): lambda: "C ",
    ("07.1", "chose (a)"): lambda: "a",
    ("07.1", "chose (b)"): lambda: " B",
    ("08.1", "forgot-the-2"): lambda n: 1 / n,
    ("08.1", "forgot-n"): lambda n: torch.full_like(n, 0.5),
    ("08.2", "chose (a)"): lambda: "a",
    ("08.2", "chose (c)"): lambda: " C",
    ("08.4", "count half-life"): lambda: math.log(2) / -math.log(0.99),
    ("08.4", "ratio cancels"): lambda: float("inf"),
    ("08.5", "every-earlier-symbol"): lambda: 7 * 7 - 1,
    ("08.5", "first-layer-only"): lambda: 2 * 3 + 2,
    ("09.1", "gradient-below-floor"): lambda kl, lam: torch.ones_like(kl),
    ("09.1", "inverted"): lambda kl, lam: (kl < lam).to(kl.dtype),
    ("09.2", "no-floor-at-zero"): lambda kl_term, n_images: kl_term - math.log(n_images),
    ("09.2", "bits-not-nats"): lambda kl_term, n_images: max(0.0, kl_term - math.log2(n_images)),
    ("09.2", "all-kl-is-gap"): lambda kl_term, n_images: kl_term,
    ("09.2", "nothing-forced"): lambda kl_term, n_images: 0.0,
    ("09.4", "one-dimensional-rule"): lambda: 0.68,
    ("09.4", "square-not-disc"): lambda: 0.47,
    ("09.3", "chose (a)"): lambda: "a",
    ("09.3", "chose (c)"): lambda: "c",
    ("02.1", "end-left-out"): lambda z0, z1, steps: torch.stack([z0 + (z1 - z0) * k / steps for k in range(steps)]),
    ("02.1", "weights-swapped"): lambda z0, z1, steps: torch.stack(
        [t * z0 + (1 - t) * z1 for t in torch.linspace(0, 1, steps)]
    ),
    ("02.2", "sum-not-mean"): lambda x, bank: (
        ((x.flatten(1)[:, None] - bank.flatten(1)) ** 2).sum(-1).min(-1).values.sqrt()
    ),
    ("02.2", "no-root"): lambda x, bank: ((x.flatten(1)[:, None] - bank.flatten(1)) ** 2).mean(-1).min(-1).values,
    ("02.2", "mean-over-references"): lambda x, bank: (
        ((x.flatten(1)[:, None] - bank.flatten(1)) ** 2).mean(-1).sqrt().mean(-1)
    ),
    ("03.6", "coin-per-pixel"): lambda x, fraction: x * (torch.rand_like(x) >= fraction),
    ("03.6", "one-mask-for-batch"): lambda x, fraction: (
        x * (torch.rand(x[0].numel()).argsort() >= round(fraction * x[0].numel())).reshape(x[0].shape)
    ),
    ("03.6", "in-place"): _mask_in_place,
    ("03.7", "mean-not-sum"): lambda r, x, m: torch.stack([((a - b) ** 2 * k).mean() for a, b, k in zip(r, x, m)]),
    ("03.7", "mask-inverted"): lambda r, x, m: ((r - x) ** 2).masked_fill(m, 0).sum((1, 2, 3)),
    ("03.7", "whole-image"): lambda r, x, m: ((r - x) ** 2).sum((1, 2, 3)),
    ("03.1", "chose (a)"): lambda: "a",
    ("03.1", "chose (c)"): lambda: " C",
    ("03.5", "chose (a)"): lambda: "A",
    ("03.5", "chose (b)"): lambda: "b ",
    ("04.3", "no-shift"): lambda v: torch.log(torch.exp(v).mean(0)),
    ("04.3", "sum-not-mean"): lambda v: torch.logsumexp(v, 0),
    ("04.1", "direction-swapped"): lambda p, q: torch.where(q > 0, q * torch.log(q / p), 0.0).sum(-1),
    ("04.1", "nan-at-zero"): lambda p, q: (p * (p.log() - q.log())).sum(-1),
    ("04.5", "posterior-covariance"): lambda W, s: torch.log(
        torch.diagonal(torch.linalg.inv(W.T @ W / s**2 + torch.eye(W.shape[1], dtype=W.dtype)))
    ),
    ("04.5", "sigma-dropped"): lambda W, s: -torch.log1p(W.pow(2).sum(0)),
    ("04.5", "sign-flipped"): lambda W, s: torch.log1p(W.pow(2).sum(0) / s**2),
    ("05.1", "no-minus-one"): lambda f, mu, s, e: (
        f(mu + s * e).unsqueeze(1) * e / s,
        f(mu + s * e).unsqueeze(1) * e * e / s,
    ),
    ("05.1", "not-divided-by-sigma"): lambda f, mu, s, e: (
        f(mu + s * e).unsqueeze(1) * e,
        f(mu + s * e).unsqueeze(1) * (e * e - 1),
    ),
    ("05.5", "no-gradient-path"): lambda soft, hard: hard.clone(),
    ("05.5", "no-detach"): lambda soft, hard: soft + (hard - soft),
    ("05.2", "baseline-ignored"): lambda mu, sigma, b: _score_variance(mu, sigma, 0.0),
    ("05.2", "mean-not-subtracted"): lambda mu, sigma, b: _score_variance(mu, sigma, b) + 4 * mu**2,
    ("07.2", "prior-ignored"): lambda x, l, mu, lv, pm, plv: (
        -F.binary_cross_entropy_with_logits(l, x, reduction="none").sum((1, 2, 3))
        + 0.5 * (1 + lv - mu**2 - lv.exp()).sum(1)
    ),
    ("07.2", "kl-sign"): lambda x, l, mu, lv, pm, plv: (
        -F.binary_cross_entropy_with_logits(l, x, reduction="none").sum((1, 2, 3))
        + 0.5 * (plv - lv + (lv.exp() + (mu - pm) ** 2) / plv.exp() - 1).sum(1)
    ),
    ("07.2", "mean-gap-unscaled"): lambda x, l, mu, lv, pm, plv: (
        -F.binary_cross_entropy_with_logits(l, x, reduction="none").sum((1, 2, 3))
        - 0.5 * (plv - lv + lv.exp() / plv.exp() + (mu - pm) ** 2 - 1).sum(1)
    ),
    ("07.3", "means-spread-forgotten"): lambda mu, lv: (mu.mean(0), lv.exp().mean(0).log()),
    ("07.3", "posterior-spread-forgotten"): lambda mu, lv: (mu.mean(0), mu.var(0, unbiased=False).log()),
    ("07.3", "sigmas-averaged"): lambda mu, lv: (
        mu.mean(0),
        ((lv / 2).exp().mean(0) ** 2 + mu.var(0, unbiased=False)).log(),
    ),
    ("08.3", "no-smoothing"): lambda z, idx, n, m, d: _ema_step(z, idx, n, m, d, smooth=False),
    ("08.3", "decay-swapped"): lambda z, idx, n, m, d: _ema_step(z, idx, n, m, 1 - d, smooth=True),
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
NOT_YET: set[str] = set()


def test_exercises_without_a_named_misconception_are_only_the_listed_ones():
    missing = {e for e, ex in all_exercises().items() if not ex.misconceptions}
    assert missing == NOT_YET


def test_a_wrong_answer_no_misconception_describes_is_unrecognised():
    result = evaluate("00.1", lambda a, b: (a - b).abs().flatten(1).max(1).values, torch.Generator().manual_seed(1))
    assert result.status == "fail" and result.misconception == UNRECOGNISED
    assert evaluate("00.1", lambda a, b: (a - b).pow(2).flatten(1).mean(1).sqrt()).misconception == ""
