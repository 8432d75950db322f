"""Procedurally rendered moon phases: a data set whose true latent variable is known.

A moon image is a sphere of radius r lit by a distant sun. With the viewer on the +z axis and
the sun at elongation angle theta = 2 pi * phase around the y axis, the sun direction is

    s = (sin theta, 0, -cos theta)

so phase 0 is a new moon (sun behind the moon), 0.25 the first quarter (right half lit),
0.5 the full moon and 0.75 the last quarter. A point of the visible hemisphere with unit
normal n = (x, y, sqrt(1 - x^2 - y^2)) has brightness ambient + (1 - ambient) * max(n . s, 0)
(Lambert's law), and the terminator, where n . s = 0, moves across the disc with the phase.

Because every image is a function of one number, "is this decoded image a real moon, and which
phase is it?" has an exact answer: search a dense bank of rendered phases for the nearest one.
That is the *manifold distance* (RMS pixel distance to the nearest rendered moon) and the
*decoded phase* (the phase of that nearest moon) used in notebooks 00, 02 and 06.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .ops import check_images

#: Names of the eight traditional phases, at phase = k / 8.
PHASE_NAMES = (
    "new",
    "waxing crescent",
    "first quarter",
    "waxing gibbous",
    "full",
    "waning gibbous",
    "last quarter",
    "waning crescent",
)


def _disc(size: int, radius: float) -> tuple[Tensor, Tensor, Tensor]:
    """The moon's disc on a size x size grid, in float64: the pixel centres' x (1, W) and
    rho^2 = x^2 + y^2 (H, W) in units of the radius (y pointing up), and the disc's coverage
    (H, W): 1 inside, 0 outside, a one-pixel (anti-aliasing) ramp at the edge."""
    coords = (torch.arange(size, dtype=torch.float64) + 0.5) / size * 2 - 1  # pixel centres in [-1, 1]
    y, x = -coords[:, None], coords[None, :]  # (H, 1), (1, W)
    x, y = x / radius, y / radius
    rho2 = x**2 + y**2  # (H, W)
    pixel = 2.0 / size / radius
    return x, rho2, ((1 - rho2.sqrt()) / pixel + 0.5).clamp(0, 1)


def render_moons(
    phases: Tensor | list[float] | float,
    size: int = 28,
    radius: float = 0.8,
    ambient: float = 0.08,
    noise: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Render moon images for the given phases (fractions of a lunar cycle, any real number).

    Args:
        phases: a float or a 1-D sequence of phases; phase is taken modulo 1.
        size: side of the square image in pixels.
        radius: radius of the disc as a fraction of half the image side.
        ambient: brightness of the unlit side of the disc (earthshine), in [0, 1).
        noise: standard deviation of Gaussian pixel noise added after rendering (then clipped).
        generator: torch random generator for the noise, for reproducible noisy images.

    Returns:
        images of shape (N, 1, size, size), float32 in [0, 1].
    """
    phases_t = torch.as_tensor(phases, dtype=torch.float64).reshape(-1)  # (N,)
    if size < 4:
        raise ValueError(f"size must be at least 4 pixels, got {size}")
    if not 0 < radius <= 1:
        raise ValueError(f"radius must be in (0, 1], got {radius}")
    if noise < 0:
        raise ValueError(f"noise must be a standard deviation >= 0, got {noise}")
    x, rho2, disc = _disc(size, radius)
    nz = (1 - rho2).clamp(min=0).sqrt()
    theta = 2 * math.pi * phases_t[:, None, None]  # (N, 1, 1)
    lambert = (x * torch.sin(theta) - nz * torch.cos(theta)).clamp(min=0)  # (N, H, W)
    img = disc * (ambient + (1 - ambient) * lambert)
    img = img[:, None].float()  # (N, 1, H, W)
    if noise > 0:
        img = img + noise * torch.randn(img.shape, generator=generator)
    return img.clamp(0, 1)


def nearest_reference(images: Tensor, references: Tensor) -> tuple[Tensor, Tensor]:
    """The RMS pixel distance (N,) from each image (N, C, H, W) to its nearest reference image
    (P, C, H, W), and that reference's index (N,):

        d(x) = min_p sqrt( mean_pixels (x - r_p)^2 ).

    With the references a dense bank of rendered moons this is the manifold distance."""
    if images.dim() != 4 or references.dim() != 4 or images.shape[1:] != references.shape[1:]:
        raise ValueError(
            "expected images (N, C, H, W) and references (P, C, H, W) of one image shape, "
            f"got {tuple(images.shape)} and {tuple(references.shape)}"
        )
    flat = images.reshape(len(images), -1)  # (N, C*H*W)
    d2 = torch.cdist(flat.double(), references.reshape(len(references), -1).double()).pow(2) / flat.shape[1]  # (N, P)
    best, idx = d2.min(dim=1)
    return best.clamp(min=0).sqrt().float(), idx


def manifold_distance(images: Tensor, references: Tensor) -> Tensor:
    """RMS pixel distance from each image (N, C, H, W) to its nearest reference (P, C, H, W): (N,)
    (``nearest_reference``'s distance; ``PhaseBank.distance`` with the bank's moons as references)."""
    return nearest_reference(torch.as_tensor(images), torch.as_tensor(references))[0]


class PhaseBank:
    """A dense bank of rendered moons for nearest-neighbour phase look-up.

    ``distance(images)`` is the manifold distance: min over bank images b of
    sqrt(mean_pixels (x - b)^2). ``phase(images)`` is the phase of that nearest moon.
    """

    def __init__(self, size: int = 28, n_phases: int = 720, **render_kwargs) -> None:
        if n_phases < 8:
            raise ValueError(f"n_phases must be at least 8, got {n_phases}")
        self.size = size
        self.phases = torch.arange(n_phases, dtype=torch.float32) / n_phases  # (P,)
        self.images = render_moons(self.phases, size=size, **render_kwargs)  # (P, 1, S, S)

    def _nearest(self, images: Tensor) -> tuple[Tensor, Tensor]:
        images = torch.as_tensor(images, dtype=torch.float32).detach().cpu()
        if images.dim() == 3:
            images = images[:, None]
        check_images(images, (self.size, self.size), "moon images")
        return nearest_reference(images, self.images)

    def distance(self, images: Tensor) -> Tensor:
        """RMS pixel distance of each image (N, 1, S, S) to the nearest rendered moon: (N,)."""
        return self._nearest(images)[0]

    def phase(self, images: Tensor) -> Tensor:
        """Phase in [0, 1) of the nearest rendered moon for each image: (N,)."""
        return self.phases[self._nearest(images)[1]]


def rms_distance(a: Tensor, b: Tensor) -> Tensor:
    """Root-mean-square pixel distance between matching images: sqrt(mean_pixels (a - b)^2), (N,)."""
    if a.shape != b.shape:
        raise ValueError(
            f"rms_distance needs two image batches of one shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )
    return (a - b).pow(2).flatten(1).mean(dim=1).sqrt()


class MoonReading(NamedTuple):
    """One image as the moon explorers show it: the image (S, S), its manifold distance (RMS
    pixels to the nearest rendered moon) and the phase of that nearest moon."""

    image: Tensor
    distance: float
    phase: float


def read_image(image: Tensor, bank: PhaseBank) -> MoonReading:
    """Measure one image, (S, S) or (1, 1, S, S), against the bank."""
    image = torch.as_tensor(image).detach().float().cpu().reshape(1, 1, bank.size, bank.size)
    return MoonReading(image[0, 0], float(bank.distance(image)[0]), float(bank.phase(image)[0]))


def read_moon(phase: float, noise: float = 0.0, bank: PhaseBank | None = None, seed: int = 0) -> MoonReading:
    """Render one moon (optionally noisy) and measure it against the bank: the explorer's function
    in notebook 00 (notebook 02's ``explore_path`` returns the same reading for decoded images)."""
    bank = bank or PhaseBank()
    g = torch.Generator().manual_seed(seed)
    return read_image(render_moons([phase], size=bank.size, noise=noise, generator=g), bank)


def phase_label(phases: Tensor, n_classes: int = 8) -> Tensor:
    """Integer class of each phase: round(phase * n_classes) mod n_classes (0 = new moon)."""
    return (torch.round(torch.as_tensor(phases) * n_classes).long()) % n_classes


def circular_phase_difference(a: Tensor, b: Tensor) -> Tensor:
    """Signed difference a - b between phases on the unit circle, in [-0.5, 0.5)."""
    return torch.remainder(torch.as_tensor(a) - torch.as_tensor(b) + 0.5, 1.0) - 0.5


# --------------------------------------------------------------------------- is it a real moon?
#: Thresholds of ``check_moons``: a rendered moon with pixel noise up to sigma = 0.025 passes all three.
REAL_DISTANCE = 0.05  # RMS pixel distance to the nearest rendered moon
REAL_BLOCK = 0.05  # largest |mean difference| over any 3x3 block of pixels
REAL_BRIGHTNESS = 0.015  # |mean difference| over the moon's disc


def disc_coverage(size: int = 28, radius: float = 0.8) -> Tensor:
    """How much of each pixel the moon's disc covers, (size, size) in [0, 1] (the anti-aliased disc
    that ``render_moons`` lights): 1 inside, 0 outside, a one-pixel ramp at the edge."""
    return _disc(size, radius)[2].float()


class MoonCheck(NamedTuple):
    """``check_moons``'s verdict on each image (all (N,))."""

    distance: Tensor  # RMS pixel distance to the nearest rendered moon (the manifold distance)
    block: Tensor  # largest |mean of (image - that moon)| over any 3x3 block of pixels
    brightness: Tensor  # |mean of (image - that moon)| over the moon's disc
    phase: Tensor  # phase of the nearest rendered moon
    real: Tensor  # bool: all three below REAL_DISTANCE, REAL_BLOCK, REAL_BRIGHTNESS


def check_moons(
    images: Tensor,
    bank: PhaseBank,
    *,
    max_distance: float = REAL_DISTANCE,
    max_block: float = REAL_BLOCK,
    max_brightness: float = REAL_BRIGHTNESS,
    radius: float = 0.8,
) -> MoonCheck:
    """Is each image (N, 1, S, S) a real moon: a rendered moon up to pixel noise?

    The manifold distance alone (RMS to the nearest rendered moon) is a weak test for dim images:
    a flat grey disc of brightness 0.1-0.15 is within 0.05 of the new moon (a disc of 0.08), and a
    50/50 blend of two near phases within 0.03 of a real moon. Pixel noise is independent from pixel
    to pixel, so it averages out over a few pixels; the error of a blend or a dim disc does not. So
    with d = image - nearest moon, an image is real when all three hold:

        sqrt(mean_pixels d^2) < max_distance           (close to a moon overall)
        max over 3x3 blocks |mean_block d| < max_block (no local defect: a doubled terminator, a smear)
        |mean_disc d| < max_brightness                 (the right brightness: not a dim or bright disc)

    The defaults pass rendered moons with Gaussian pixel noise up to sigma = 0.025 (at sigma = 0.03
    about 1 in 2,000 fails), and fail a flat disc of brightness 0.1 or more (the new moon's disc is
    0.08), a blurred disc of 0.11 or more, and 50/50 blends of two phases 0.1 or more apart, except
    blends of two thin crescents (both phases within 0.2 of the new moon), which are themselves
    within pixel noise of a real thin crescent.
    """
    images = torch.as_tensor(images, dtype=torch.float32).detach().cpu()
    if images.dim() == 3:
        images = images[:, None]
    distance, idx = bank._nearest(images)  # (N,), (N,) - checks the shape
    d = images - bank.images[idx]  # (N, 1, S, S)
    block = torch.nn.functional.avg_pool2d(d, 3, stride=1).flatten(1).abs().max(dim=1).values  # (N,)
    w = disc_coverage(bank.size, radius)  # (S, S)
    brightness = ((d[:, 0] * w).flatten(1).sum(1) / w.sum()).abs()  # (N,)
    real = (distance < max_distance) & (block < max_block) & (brightness < max_brightness)
    return MoonCheck(distance, block, brightness, bank.phases[idx], real)
