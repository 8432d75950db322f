"""Style statistics of digit images, read from their pixel moments: what a CVAE's code should keep
when the label changes.

With pixel intensities as weights and (x, y) the column and row of a pixel (y grows downwards):

* ``slant`` = -Cov(x, y) / Var(y): the horizontal shift of the ink per row going up, so a digit
  leaning right has a positive slant (the shear that deskewing removes);
* ``ink`` = the mean intensity over the image: with the class fixed, mostly stroke width and size.

A statistic carries over a transfer when, within one target class, the images decoded from the
codes of different source digits rank like their sources: :func:`within_class_correlation`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(images: Tensor) -> Tensor:
    if images.dim() != 4 or images.shape[1] != 1:
        raise ValueError(f"expected images of shape (B, 1, H, W), got {tuple(images.shape)}")
    return images[:, 0].double()


def slant(images: Tensor) -> Tensor:
    """-Cov(x, y) / Var(y) of the ink of each image (B, 1, H, W) -> (B,); positive: leaning right."""
    img = _check(images)
    h, w = img.shape[-2:]
    ys = torch.arange(h, dtype=img.dtype)[:, None].expand(h, w)
    xs = torch.arange(w, dtype=img.dtype)[None, :].expand(h, w)
    mass = img.sum((1, 2)).clamp_min(1e-8)  # (B,)
    mx = (img * xs).sum((1, 2)) / mass
    my = (img * ys).sum((1, 2)) / mass
    cov = (img * (xs - mx[:, None, None]) * (ys - my[:, None, None])).sum((1, 2)) / mass
    var_y = (img * (ys - my[:, None, None]) ** 2).sum((1, 2)) / mass
    return (-cov / var_y.clamp_min(1e-8)).float()


def ink(images: Tensor) -> Tensor:
    """Mean intensity of each image (B, 1, H, W) -> (B,)."""
    return _check(images).mean((1, 2)).float()


def within_class_correlation(source: Tensor, decoded: Tensor, source_class: Tensor | None = None) -> Tensor:
    """Pearson correlation, per target class, between a statistic of N source digits (N,) and of
    their codes decoded as each class (N, C): (C,). It is about 0 when the decoded statistic does
    not follow its source (e.g. after shuffling the sources).

    ``source_class`` (N,), when given, partials the source's class out: both the source statistic and
    each decoded column are centred within each source class before correlating, so a statistic that
    differs between classes (a 1 has less ink than an 8) and a code that still knows its class cannot
    make the correlation by themselves; what is left is the carry-over *within* a source class."""
    if decoded.dim() != 2 or source.shape != decoded.shape[:1]:
        raise ValueError(f"expected source (N,) and decoded (N, C), got {tuple(source.shape)}, {tuple(decoded.shape)}")
    s, d = source.double(), decoded.double()
    groups = torch.zeros(len(s), dtype=torch.long) if source_class is None else torch.as_tensor(source_class).long()
    if groups.shape != s.shape:
        raise ValueError(f"expected one source class per source digit, {tuple(s.shape)}, got {tuple(groups.shape)}")
    s, d = s.clone(), d.clone()
    for g in groups.unique():
        m = groups == g
        s[m] -= s[m].mean()
        d[m] -= d[m].mean(0)
    return ((s[:, None] * d).sum(0) / (s.norm() * d.norm(dim=0)).clamp_min(1e-12)).float()
