"""Notebook 03's readings of a denoising autoencoder: the rows of its noise-level explorer
(``denoising_rows``) and how much its decoder's image changes when the code itself is moved
(``code_sensitivity``: does a denoising AE's code stand for a region?), and the 2-D mixture whose
exact score a denoiser's correction is compared with (``ring_means``, ``sample_mixture``,
``mixture_score``: Tweedie's formula, Alain & Bengio 2014), and the best *linear* denoiser
(``best_linear_denoiser``, ``linear_denoiser_error``, ``ring_linear_error_ratio``) a trained one is
compared with; the share of Gaussian noise that the best denoiser of Gaussian data passes on
(``gaussian_best_copy_slope``) and how often a damaged image's nearest clean image is its own
(``pixel_retrieval_rate``), the references of exercises 03.1 and 03.5.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .corruption import corrupt
from .models import decode_codes, encode_images


@torch.no_grad()
def denoising_rows(x: Tensor, models: dict[str, nn.Module], corrupt: Callable[[Tensor], Tensor]) -> dict[str, Tensor]:
    """Rows for a denoising figure: {"clean": x, "corrupted": corrupt(x), name: model's output
    from the corrupted input, ...}, all images in [0, 1]. The noise-level explorer of notebook
    03 calls this with ``corrupt`` set by the slider."""
    noisy = corrupt(x)
    if noisy.shape != x.shape:
        raise ValueError(f"corrupt changed the shape: {tuple(x.shape)} -> {tuple(noisy.shape)}")
    rows = {"clean": x, "corrupted": noisy.clamp(0, 1)}
    for name, m in models.items():
        rows[name] = m.reconstruct(noisy)
    return rows


class CodeSensitivity(NamedTuple):
    """How a decoder answers when the code is moved (one number per image, see ``code_sensitivity``):
    ``change`` the squared change of the image, ``neighbour`` the squared difference between the
    image and the one decoded at the nearest other code, ``relative`` = change / neighbour."""

    change: Tensor
    neighbour: Tensor
    relative: Tensor


@torch.no_grad()
def code_sensitivity(
    model: nn.Module, x: Tensor, fraction: float = 0.5, generator: torch.Generator | None = None
) -> CodeSensitivity:
    """Move each image's code z_n = code(x_n) by a random direction of length ``fraction`` times
    the distance to the nearest other code of the batch, d_n = min_m |z_m - z_n|, and measure
    what the decoder draws there (g = to_image(decode(.))):

        change_n    = sum_pixels (g(z_n + fraction d_n u_n) - g(z_n))^2,   u_n uniform on the sphere
        neighbour_n = sum_pixels (g(z_m*) - g(z_n))^2,                      m* the nearest code
        relative_n  = change_n / neighbour_n

    The step is scaled by the code spacing, so models whose codes have different scales compare
    fairly; ``relative`` also divides out how different the images of two neighbouring codes
    are (a blurrier decoder changes less everywhere). x: (N, C, H, W) with N >= 2."""
    if not 0 < fraction:
        raise ValueError(f"fraction must be > 0 (a step of fraction x the nearest-code distance), got {fraction}")
    if x.dim() != 4 or len(x) < 2:
        raise ValueError(f"expected a batch of at least 2 images (N, C, H, W), got {tuple(x.shape)}")
    z = encode_images(model, x)  # (N, D)
    if z.dim() != 2:
        raise ValueError(f"code_sensitivity needs vector codes (N, D), got codes of shape {tuple(z.shape)}")
    dist = torch.cdist(z, z).fill_diagonal_(float("inf"))  # (N, N)
    nearest_d, nearest = dist.min(dim=1)  # (N,), (N,)
    u = torch.randn(z.shape, generator=generator)  # (N, D)
    u = u / u.norm(dim=1, keepdim=True)
    images = decode_codes(model, z)  # (N, C, H, W)
    moved = decode_codes(model, z + fraction * nearest_d[:, None] * u)
    change = (moved - images).pow(2).flatten(1).sum(1)  # (N,)
    neighbour = (images[nearest] - images).pow(2).flatten(1).sum(1).clamp(min=1e-12)  # (N,)
    return CodeSensitivity(change, neighbour, change / neighbour)


# --------------------------------------------------------------------------- denoising learns the score
def ring_means(k: int = 8, radius: float = 2.0) -> Tensor:
    """k points evenly spaced on a circle of the given radius, (k, 2): the centres of notebook
    03's 2-D mixture, a density whose score is known in closed form."""
    if k < 1 or radius <= 0:
        raise ValueError(f"need k >= 1 and radius > 0, got k={k}, radius={radius}")
    angle = torch.arange(k, dtype=torch.float64) * (2 * torch.pi / k)  # (k,)
    return (radius * torch.stack([angle.cos(), angle.sin()], dim=1)).float()  # (k, 2)


def sample_mixture(n: int, means: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """n draws (n, D) from the equal-weight isotropic mixture (1/K) sum_k N(means_k, std^2 I)."""
    if n < 1 or std <= 0:
        raise ValueError(f"need n >= 1 and std > 0, got n={n}, std={std}")
    pick = torch.randint(len(means), (n,), generator=generator)  # (n,)
    return means[pick] + std * torch.randn(n, means.shape[1], generator=generator)  # (n, D)


def mixture_score(x: Tensor, means: Tensor, std: float) -> Tensor:
    """The score grad_x log p(x) (N, D) of the mixture p = (1/K) sum_k N(means_k, std^2 I):

        grad log p(x) = sum_k r_k(x) (means_k - x) / std^2,   r_k = softmax_k(-|x - means_k|^2 / (2 std^2)).

    Adding N(0, sigma^2 I) noise to a draw gives the same mixture with std^2 + sigma^2, so this is
    also the exact score of the noised density. Tweedie's formula then says the best denoiser under
    squared error is E[x | x~] = x~ + sigma^2 * grad log p_sigma(x~) (Alain & Bengio 2014: a DAE's
    r(x~) - x~ estimates sigma^2 times the score)."""
    if std <= 0:
        raise ValueError(f"std must be > 0, got {std}")
    x64, m64 = x.double(), means.double()
    r = torch.softmax(-torch.cdist(x64, m64).pow(2) / (2 * std**2), dim=1)  # (N, K)
    return ((r @ m64 - x64) / std**2).to(x.dtype)  # (N, D): sum_k r_k means_k - x


def best_linear_denoiser(cov: Tensor, std: float) -> Tensor:
    """The matrix W (D, D) of the best linear denoiser for x~ = x + std * eps, eps ~ N(0, I)
    independent of x, where x has mean m and covariance ``cov`` (D, D):

        x^(x~) = m + W (x~ - m),   W = Sigma (Sigma + std^2 I)^(-1)

    (set the gradient of E|x - m - W(x~ - m)|^2 in W to zero: W (Sigma + std^2 I) = Sigma, since
    Cov(x~) = Sigma + std^2 I and Cov(x, x~) = Sigma). For Gaussian x it is the conditional mean,
    the best denoiser of all; for any other x only the best *linear* one."""
    cov = torch.as_tensor(cov).double()
    if cov.dim() != 2 or cov.shape[0] != cov.shape[1] or std <= 0:
        raise ValueError(f"need a square covariance (D, D) and std > 0, got {tuple(cov.shape)}, {std}")
    eye = torch.eye(len(cov), dtype=torch.float64)
    return torch.linalg.solve(cov + std**2 * eye, cov).T  # W = Sigma A^-1 = (A^-1 Sigma)^T, A symmetric


def linear_denoiser_error(x: Tensor, std: float, generator: torch.Generator | None = None) -> tuple[float, float]:
    """Fit the best linear denoiser to the points x (N, D) (their mean and covariance), add noise
    of the given std, and return (its mean squared error per point, the noisy input's): the
    baseline any nonlinear denoiser is measured against. Their ratio is tr(Sigma - W Sigma) /
    (D std^2), which for Sigma = c I is c / (c + std^2)."""
    x = torch.as_tensor(x).double()
    mean = x.mean(0)  # (D,)
    w = best_linear_denoiser(torch.cov(x.T).reshape(x.shape[1], x.shape[1]), std)  # (D, D)
    noisy = x + std * torch.randn(x.shape, generator=generator, dtype=torch.float64)  # (N, D)
    out = mean + (noisy - mean) @ w.T  # (N, D)
    return float((out - x).pow(2).sum(1).mean()), float((noisy - x).pow(2).sum(1).mean())


def ring_linear_error_ratio(g=None) -> float:
    """The best linear denoiser's squared error over the noisy input's, on 50,000 draws of notebook
    03's ring (8 Gaussians of std 0.3 on a circle of radius 2) with noise std 0.5: the experiment exercise 03.4's
    check runs, and the number notebook 03 prints after it."""
    g = g if g is not None else torch.Generator().manual_seed(10)
    points = sample_mixture(50_000, ring_means(8, 2.0), 0.3, g)  # (50000, 2)
    linear, noisy = linear_denoiser_error(points, 0.5, g)
    return linear / noisy


def gaussian_best_copy_slope(
    x: Tensor, std: float = 0.3, n: int = 2000, generator: torch.Generator | None = None
) -> float:
    """Notebook 03's copy slope c = sum <r(x~) - r(x), x~ - x> / sum |x~ - x|^2 of the best denoiser of
    all for Gaussian data with the mean and covariance of the images ``x`` (N, ...), under Gaussian
    noise of the given std, not clipped. For Gaussian data the best denoiser is the linear
    r(v) = m + W (v - m) of ``best_linear_denoiser``, so r(x~) - r(x) = W (x~ - x) whatever x is:
    c depends on the noise alone, and its expectation is tr(W) / D, the mean over the data's
    principal directions of lambda / (lambda + std^2). Measured on ``n`` noise draws."""
    flat = torch.as_tensor(x).flatten(1).double()  # (N, D)
    w = best_linear_denoiser(torch.cov(flat.T).reshape(flat.shape[1], flat.shape[1]), std)  # (D, D)
    damage = std * torch.randn(n, flat.shape[1], generator=generator, dtype=torch.float64)  # x~ - x, (n, D)
    change = damage @ w.T  # r(x~) - r(x), (n, D)
    return float((change * damage).sum() / damage.pow(2).sum())


def pixel_retrieval_rate(
    x: Tensor, kind: str = "gaussian", level: float = 0.3, draws: int = 5, generator: torch.Generator | None = None
) -> float:
    """The share of damaged images (``corrupt(x, kind, level)``, ``draws`` noise draws of every image
    of ``x`` (N, ...)) whose nearest clean image of ``x`` in pixel space is their own original:
    notebook 03's retrieval test without an encoder (the reference row of its table)."""
    clean = x.flatten(1)
    hits = []
    for _ in range(draws):
        nearest = torch.cdist(corrupt(x, kind, level, generator).flatten(1), clean).argmin(1)
        hits.append(nearest == torch.arange(len(x)))
    return float(torch.stack(hits).double().mean())
