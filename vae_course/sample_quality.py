"""Sample quality beyond the judge's confidence: precision and recall in the judge's feature space,
and the junk sets every sample rate is read beside (notebooks 06-09).

A classifier's confidence is not a quality measure by itself: a judge can be sure about images that
are plainly no digits. So every rate a notebook reports for its samples is printed beside the same
rate on *junk* of the same shape, and the samples are also scored with a metric that sees quality
and diversity together.

* ``features(judge, images)``: the judge's penultimate-layer features (N, F), the space in which
  images are compared (a 128-dimensional ReLU layer for the course's judge);
* ``precision_recall(real, fake, k)``: the improved precision and recall of Kynkaanniemi et al. 2019
  (arXiv:1904.06991). Each set's manifold is estimated as the union of balls around its points,
  each ball reaching the point's k-th nearest neighbour in the same set::

      manifold(S) = U_{s in S} B(s, d_k(s, S)),     d_k(s, S) = distance to the k-th nearest other point
      precision   = (1/|F|) sum_{f in F} 1[f in manifold(R)]   (how many samples look real: quality)
      recall      = (1/|R|) sum_{r in R} 1[r in manifold(F)]   (how much of the data is covered: diversity)

  A real-vs-real comparison (two disjoint sets of real digits of the same size) is the floor any
  model is read against: it is below 1 because the balls of a finite sample miss some points.
* ``coverage(real, fake, k)``: Naeem et al. 2020 (arXiv:2002.09797): the share of real points whose
  own k-NN ball (among the real points) holds at least one fake point. Recall builds its balls around
  the *fake* points, so a few outlying samples with huge balls can cover much of the real set (uniform
  noise can out-recall a model); coverage uses only the real points' balls, which outliers cannot widen.
* junk of the same shape as real images: ``junk_blend`` (the pixel average of two real digits of
  different classes), ``junk_untrained`` (images drawn by a model that was never trained),
  ``junk_noise`` (independent uniform pixels); ``junk(kind, like, generator, ...)`` dispatches by
  name. Decoded independent codes, the third baseline of notebook 08, are built there from the
  VQ-VAE's code frequencies (``junk_independent_codes`` draws the grids).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .judge import DigitJudge
from .models import map_batches
from .ops import check_images

__all__ = [
    "features",
    "kth_neighbour_radii",
    "precision_recall",
    "coverage",
    "junk_blend",
    "junk_untrained",
    "junk_noise",
    "junk_blur",
    "junk_independent_codes",
    "junk",
]


def features(judge: DigitJudge, images: Tensor, batch_size: int = 512) -> Tensor:
    """The judge's penultimate-layer features (N, F) of images (N, 1, S, S) in [0, 1]: the output of
    every layer but the last linear one (after its ReLU), in eval mode, without gradients, on the CPU."""
    check_images(images, (judge.image_size, judge.image_size), "images for the judge")
    if len(images) == 0:
        raise ValueError("features of an empty set of images")
    body = judge.net[:-1]  # all but the final Linear(hidden, n_classes)
    return map_batches(judge, body, images, batch_size)  # (N, hidden)


def _pairwise_chunks(a: Tensor, b: Tensor, chunk: int = 2048):
    """Yield (start, distances (chunk, len(b))) of Euclidean distances from rows of a to rows of b."""
    for i in range(0, len(a), chunk):
        yield i, torch.cdist(a[i : i + chunk].double(), b.double())


def kth_neighbour_radii(x: Tensor, k: int = 3) -> Tensor:
    """Distance (N,) from each row of x (N, F) to its k-th nearest *other* row (the point itself,
    at distance 0, is not counted). Requires N > k."""
    if x.dim() != 2:
        raise ValueError(f"expected features of shape (N, F), got {tuple(x.shape)}")
    if not 1 <= k < len(x):
        raise ValueError(f"k must lie in [1, N - 1] = [1, {len(x) - 1}], got {k}")
    radii = torch.empty(len(x), dtype=torch.float64)
    for i, d in _pairwise_chunks(x, x):
        # the smallest distance of each row is to itself (0): the (k+1)-th smallest is the k-th neighbour
        radii[i : i + len(d)] = d.kthvalue(k + 1, dim=1).values
    return radii


def _covered(points: Tensor, centres: Tensor, radii: Tensor) -> Tensor:
    """Bool (len(points),): does each point lie in at least one ball B(centre_j, radius_j)?"""
    out = torch.empty(len(points), dtype=torch.bool)
    for i, d in _pairwise_chunks(points, centres):
        out[i : i + len(d)] = (d <= radii[None, :]).any(dim=1)  # (chunk, len(centres)) -> (chunk,)
    return out


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of ``fake`` features (M, F) against
    ``real`` features (N, F): the share of fake points inside the real manifold (the union of k-NN
    balls of the real points) and the share of real points inside the fake manifold. Each in [0, 1].

    Identical sets give (1, 1); a fake set far from every real point gives (0, 0); a fake subset of
    the real points gives precision 1 and a recall below 1 when it misses part of the real set."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected features (N, F) and (M, F), got {tuple(real.shape)} and {tuple(fake.shape)}")
    precision = _covered(fake, real, kth_neighbour_radii(real, k)).double().mean()
    recall = _covered(real, fake, kth_neighbour_radii(fake, k)).double().mean()
    return float(precision), float(recall)


def coverage(real: Tensor, fake: Tensor, k: int = 3) -> float:
    """Coverage (Naeem et al. 2020) of ``fake`` features (M, F) against ``real`` features (N, F): the
    share of real points r whose ball B(r, d_k(r, real)) holds at least one fake point, in [0, 1].

    Like recall it measures how much of the data the samples reach, but every ball is a real point's,
    so samples far from all data (noise, outliers) add nothing, however wide their own neighbourhoods."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"expected features (N, F) and (M, F), got {tuple(real.shape)} and {tuple(fake.shape)}")
    radii = kth_neighbour_radii(real, k)  # (N,)
    hit = torch.empty(len(real), dtype=torch.bool)
    for i, d in _pairwise_chunks(real, fake):  # (chunk, M): real rows against every fake point
        hit[i : i + len(d)] = d.min(dim=1).values <= radii[i : i + len(d)]
    return float(hit.double().mean())


# --------------------------------------------------------------------------- junk
def junk_blend(images: Tensor, labels: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n images (n, 1, H, W): the pixel average (a + b) / 2 of two real images a, b of *different*
    classes, the pairs drawn at random (with replacement) from ``images`` (N, 1, H, W), ``labels`` (N,).
    No digit of either class, but real strokes: a junk set a judge should not be sure about."""
    check_images(images)
    labels = torch.as_tensor(labels).long()
    if labels.shape != (len(images),):
        raise ValueError(f"expected one label per image, shape ({len(images)},), got {tuple(labels.shape)}")
    if labels.unique().numel() < 2:
        raise ValueError("blends need images of at least two classes")
    a = torch.randint(len(images), (n,), generator=generator)
    b = torch.randint(len(images), (n,), generator=generator)
    same = labels[a] == labels[b]
    while same.any():  # redraw the partner of every same-class pair until all pairs differ
        b[same] = torch.randint(len(images), (int(same.sum()),), generator=generator)
        same = labels[a] == labels[b]
    return (images[a] + images[b]) / 2


def junk_untrained(model, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n images drawn by ``model.sample(n, generator=generator)`` where ``model`` is a freshly
    initialised (never trained) model of the architecture being judged, e.g. ``VAE(...)`` built under
    a fixed seed: what the architecture draws before it has learnt anything."""
    with torch.no_grad():
        out = model.sample(n, generator=generator).cpu()
    check_images(out, name="images drawn by the untrained model")
    return out


def junk_noise(like: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Independent uniform pixels in [0, 1] of the same shape as ``like``."""
    return torch.rand(like.shape, generator=generator)


def junk_blur(images: Tensor, sigma: float = 1.0) -> Tensor:
    """The images (N, 1, H, W) in [0, 1] blurred by a Gaussian of standard deviation ``sigma`` pixels:
    each pixel becomes sum_{u, v} w(u) w(v) x[i + u, j + v] with w(u) ∝ exp(-u^2 / (2 sigma^2)) for
    |u| <= ceil(3 sigma), normalised to sum 1 (the border pixel repeated outside the image), so the
    result stays in [0, 1] and keeps each image's mean ink near its own."""
    check_images(images)
    if not sigma > 0:
        raise ValueError(f"sigma must be a positive number of pixels, got {sigma}")
    r = math.ceil(3 * sigma)
    u = torch.arange(-r, r + 1, dtype=images.dtype)
    w = torch.exp(-(u**2) / (2 * sigma**2))
    w = w / w.sum()  # (2r + 1,)
    x = torch.nn.functional.pad(images, (r, r, r, r), mode="replicate")  # (N, 1, H + 2r, W + 2r)
    x = torch.nn.functional.conv2d(x, w.view(1, 1, 1, -1))  # along the rows: (N, 1, H + 2r, W)
    return torch.nn.functional.conv2d(x, w.view(1, 1, -1, 1)).clamp(0, 1)  # along the columns: (N, 1, H, W)


def junk_independent_codes(counts: Tensor, n: int, grid: tuple[int, int], generator=None) -> Tensor:
    """n code-index grids (n, *grid) whose positions are drawn independently from the code
    frequencies ``counts`` (K,) (a VQ-VAE's usage over a data set): no structure across positions.
    Decode them with the VQ-VAE (``model.decode_indices``) for notebook 08's junk set."""
    counts = torch.as_tensor(counts, dtype=torch.float64)
    if counts.dim() != 1 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts must be a 1-D tensor of non-negative counts with a positive sum")
    flat = torch.multinomial(counts, n * grid[0] * grid[1], replacement=True, generator=generator)
    return flat.view(n, *grid)  # (n * H' * W',) -> (n, H', W')


def junk(
    kind: str,
    like: Tensor,
    generator: torch.Generator | None = None,
    *,
    labels: Tensor | None = None,
    model: Callable | None = None,
) -> Tensor:
    """A junk set of as many images as ``like`` (N, 1, H, W): ``"blend"`` (blends of ``like``'s own
    images, which must be real and come with ``labels``), ``"untrained"`` (drawn by the untrained
    ``model``), ``"noise"`` (uniform pixels) or ``"blur"`` (``like``'s own images blurred, sigma 1 pixel)."""
    check_images(like)
    if kind == "blend":
        if labels is None:
            raise ValueError('junk("blend", ...) needs the labels of the real images in `like`')
        return junk_blend(like, labels, len(like), generator)
    if kind == "untrained":
        if model is None:
            raise ValueError('junk("untrained", ...) needs an untrained `model` with a sample(n, generator) method')
        out = junk_untrained(model, len(like), generator)
        if out.shape != like.shape:
            raise ValueError(f"the untrained model draws {tuple(out.shape)}, not {tuple(like.shape)}")
        return out
    if kind == "noise":
        return junk_noise(like, generator)
    if kind == "blur":
        return junk_blur(like)
    raise ValueError(f'junk kinds are "blend", "untrained", "noise" and "blur", got {kind!r}')
