"""Walking between codes, and judging what the decoder draws there (notebooks 02 and 06).

An autoencoder is trained to answer at the codes of its training images and nowhere else. To
see what it answers *between* them we decode a path of codes and measure every decoded image
against the moon manifold (``vae_course.moons.PhaseBank``):

* ``distance``: RMS pixel distance to the nearest rendered moon (0 for a perfect moon; a
  cross-fade of two moons sits far from every real one), see ``moons.manifold_distance``;
* ``phase``: the phase of that nearest moon (meaningful only when the distance is small).

Path helpers: ``lerp`` (the straight line z(t) = (1 - t) z0 + t z1) and ``slerp`` (the great
circle, for Gaussian codes). Path scores: ``phase_monotonicity``, ``largest_phase_jump`` (both
read on the path's *real moons only* by ``real_phase_scores``, since the decoded phase of a
non-moon means nothing) and ``invented_fraction`` (how much of the path decodes to real moons of
a phase strictly between the two ends), all gathered by ``score_path``. ``crossfade_fit`` says
how close each decoded image is to a pixel-wise cross-fade of two images, and
``noisy_code_decoder`` is the best possible decoder under code noise and squared error (it
outputs a weighted mean of the training images, itself a cross-fade; ``optimal_fade_width`` how much
of a straight path it spends mid-fade). ``explore_path`` is the function behind the
interpolation explorer and ``code_plane_distance`` maps where in a 2-D code plane the decoder
draws real moons. Everything here uses only the model contract (``vae_course.models``), so it
works for autoencoders and VAEs alike; the moon autoencoders themselves are trained by
``vae_course.train.train_moon_autoencoder``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import torch
from torch import Tensor, nn

from .models import decode_codes, encode_images
from .moons import MoonReading, PhaseBank, circular_phase_difference, read_image


# --------------------------------------------------------------------------- paths
def _endpoints(z0: Tensor, z1: Tensor) -> tuple[Tensor, Tensor]:
    z0, z1 = torch.as_tensor(z0), torch.as_tensor(z1)
    if z0.dim() == 2 and z0.shape[0] == 1:
        z0 = z0[0]
    if z1.dim() == 2 and z1.shape[0] == 1:
        z1 = z1[0]
    if z0.dim() != 1 or z0.shape != z1.shape:
        raise ValueError(
            f"expected two codes of the same shape (D,) or (1, D), got {tuple(z0.shape)} and {tuple(z1.shape)}"
        )
    return z0, z1


def _check_steps(steps: int) -> int:
    if int(steps) != steps or steps < 2:
        raise ValueError(f"steps must be an integer >= 2 (both ends are included), got {steps}")
    return int(steps)


def lerp(z0: Tensor, z1: Tensor, steps: int) -> Tensor:
    """The straight line from z0 to z1: z(t) = (1 - t) z0 + t z1 at ``steps`` evenly spaced t in
    [0, 1], both ends included. z0, z1: (D,) or (1, D). Returns (steps, D)."""
    z0, z1 = _endpoints(z0, z1)
    t = torch.linspace(0, 1, _check_steps(steps), dtype=z0.dtype, device=z0.device)[:, None]  # (T, 1)
    return (1 - t) * z0 + t * z1  # (T, D)


def slerp(z0: Tensor, z1: Tensor, steps: int) -> Tensor:
    """Spherical interpolation: the arc from z0 to z1 about the origin (White 2016),

        z(t) = sin((1 - t) w) / sin(w) z0 + sin(t w) / sin(w) z1,  cos(w) = <z0, z1> / (|z0| |z1|),

    with the norm moved linearly from |z0| to |z1|. For codes drawn from N(0, I) it stays in the
    shell where such codes live, where the straight line cuts through the low-norm middle.
    Falls back to ``lerp`` when the two directions (nearly) coincide. Returns (steps, D)."""
    z0, z1 = _endpoints(z0, z1)
    steps = _check_steps(steps)
    n0, n1 = z0.norm(), z1.norm()
    if n0 == 0 or n1 == 0:
        return lerp(z0, z1, steps)
    u0, u1 = z0 / n0, z1 / n1
    omega = torch.arccos((u0 @ u1).clamp(-1.0, 1.0))
    if omega < 1e-4 or math.pi - omega < 1e-4:  # parallel or opposite: the arc is not unique
        return lerp(z0, z1, steps)
    t = torch.linspace(0, 1, steps, dtype=z0.dtype, device=z0.device)[:, None]  # (T, 1)
    direction = (torch.sin((1 - t) * omega) * u0 + torch.sin(t * omega) * u1) / torch.sin(omega)
    return direction * ((1 - t) * n0 + t * n1)  # (T, D)


def random_codes(codes: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """n codes drawn from the Gaussian with the mean and per-dimension standard deviation of
    ``codes`` (N, D): the nearest thing a plain autoencoder has to a prior. Returns (n, D)."""
    codes = torch.as_tensor(codes)
    if codes.dim() != 2 or codes.shape[0] < 2:
        raise ValueError(f"expected at least two codes of shape (N, D), got {tuple(codes.shape)}")
    eps = torch.randn((n, codes.shape[1]), generator=generator, dtype=codes.dtype)
    return codes.mean(0) + codes.std(0) * eps.to(codes.device)


# --------------------------------------------------------------------------- measuring
class DecodedReading(NamedTuple):
    """Manifold distance (N,) and decoded phase (N,) of a batch of decoded images."""

    distance: Tensor
    phase: Tensor


def measure_decoded(images: Tensor, bank: PhaseBank) -> DecodedReading:
    """Measure images (N, 1, S, S) in [0, 1] against the bank: how far each is from the nearest
    real moon (RMS pixels) and which phase that moon has."""
    images = torch.as_tensor(images).detach().float().cpu()
    return DecodedReading(bank.distance(images), bank.phase(images))


def phase_steps(phases: Tensor) -> Tensor:
    """Signed phase change between consecutive points of a path, on the circle: (T - 1,)."""
    phases = torch.as_tensor(phases, dtype=torch.float64).reshape(-1)
    if phases.numel() < 2:
        raise ValueError(f"a path needs at least 2 phases, got {phases.numel()}")
    return circular_phase_difference(phases[1:], phases[:-1])


def phase_monotonicity(phases: Tensor, start: float | None = None, end: float | None = None) -> float:
    """How monotonically the phases (T,) of a path move from ``start`` to ``end`` (default: the
    path's own first and last phase), on the circle:

        m = sum_t max(s * d_t, 0) / sum_t |d_t|,   d_t = phase_{t+1} - phase_t,
        s = sign(end - start) along the shorter arc.

    m = 1: every step goes the right way (or the path stands still); m = 0.5: as much movement
    backwards as forwards; m = 0: it only moves the wrong way."""
    phases = torch.as_tensor(phases, dtype=torch.float64).reshape(-1)
    d = phase_steps(phases)
    start = float(phases[0]) if start is None else float(start)
    end = float(phases[-1]) if end is None else float(end)
    s = torch.sign(circular_phase_difference(torch.tensor(end), torch.tensor(start))).double()
    total = d.abs().sum()
    if total == 0:
        return 1.0
    if s == 0:  # start and end are the same phase: any movement is a detour
        return 0.0
    return float((s * d).clamp(min=0).sum() / total)


def largest_phase_jump(phases: Tensor) -> float:
    """The largest phase change between two consecutive points of a path (on the circle). A
    smooth walk from phase a to b in T points has about |b - a| / (T - 1); a decoder that
    switches from one training image to the other jumps by about |b - a| at once."""
    return float(phase_steps(phases).abs().max())


def invented_fraction(
    reading: DecodedReading, start: float, end: float, max_distance: float, margin: float = 0.02
) -> float:
    """Fraction of a path's decoded images that are real moons (``distance <= max_distance``)
    of a phase strictly between ``start`` and ``end`` (along the shorter arc, at least
    ``margin`` away from both ends): the new phases the model has *invented*."""
    span = float(circular_phase_difference(torch.tensor(end), torch.tensor(start)))
    if abs(span) <= 2 * margin:
        raise ValueError(f"start {start} and end {end} are closer than 2 * margin = {2 * margin}")
    along = circular_phase_difference(reading.phase, torch.tensor(start)) * math.copysign(1, span)
    between = (along >= margin) & (along <= abs(span) - margin)
    real = reading.distance <= max_distance
    return float((between & real).double().mean())


class RealPhaseScores(NamedTuple):
    """Decoded-phase scores of a path read on its real moons only: ``count`` real moons, the
    ``monotonicity`` of their phases and the ``largest_jump`` between consecutive real moons
    (both NaN when fewer than two points of the path are real moons)."""

    count: int
    monotonicity: float
    largest_jump: float


def real_phase_scores(reading: DecodedReading, start: float, end: float, max_distance: float) -> RealPhaseScores:
    """``phase_monotonicity`` and ``largest_phase_jump`` of a path's decoded phases, keeping only
    the points that are real moons (``distance <= max_distance``), in path order. The decoded
    phase of a non-moon is only the phase of the nearest moon to a blur, so it is left out: a
    path whose real moons are the two training moons and nothing between scores a largest jump
    of the whole span |end - start|, however smoothly the blurs between them seem to glide."""
    real = torch.as_tensor(reading.distance) <= max_distance  # (T,)
    phases = torch.as_tensor(reading.phase)[real]
    if phases.numel() < 2:
        return RealPhaseScores(int(phases.numel()), math.nan, math.nan)
    return RealPhaseScores(int(phases.numel()), phase_monotonicity(phases, start, end), largest_phase_jump(phases))


class CrossFade(NamedTuple):
    """The nearest pixel-wise cross-fade (1 - w) x0 + w x1 (0 <= w <= 1) to each image: its
    ``weight`` w (N,) and the RMS pixel ``distance`` (N,) from the image to it."""

    weight: Tensor
    distance: Tensor


def crossfade_fit(images: Tensor, x0: Tensor, x1: Tensor) -> CrossFade:
    """Fit each image (N, C, H, W) by a cross-fade of x0 and x1 ((1, C, H, W) or (C, H, W)):

        w* = clip( <x - x0, x1 - x0> / |x1 - x0|^2, 0, 1 ),
        distance = sqrt( mean_pixels (x - (1 - w*) x0 - w* x1)^2 ),

    the least-squares weight (the projection on the segment from x0 to x1). A distance near 0
    says the image *is* a double exposure of the two, whatever phase its nearest moon has."""
    images = torch.as_tensor(images).detach().double().cpu()
    x0 = torch.as_tensor(x0).detach().double().cpu().reshape(-1)  # (D,)
    x1 = torch.as_tensor(x1).detach().double().cpu().reshape(-1)
    if images.dim() != 4 or images[0].numel() != x0.numel() or x0.shape != x1.shape:
        raise ValueError(
            "expected images (N, C, H, W) and two images of the same size, got "
            f"{tuple(images.shape)}, {x0.numel()} and {x1.numel()} pixels"
        )
    d = x1 - x0  # (D,)
    if float(d @ d) == 0:
        raise ValueError("x0 and x1 are the same image: there is no cross-fade between them")
    flat = images.flatten(1)  # (N, D)
    w = ((flat - x0) @ d / (d @ d)).clamp(0, 1)  # (N,)
    residual = flat - (x0 + w[:, None] * d)  # (N, D)
    return CrossFade(w.float(), residual.pow(2).mean(1).sqrt().float())


def noisy_code_decoder(z: Tensor, codes: Tensor, images: Tensor, std: float) -> tuple[Tensor, Tensor]:
    """The best decoder under code noise and squared error, for training images x_i (K, C, H, W)
    with codes z_i (K, D), each trained on equally often, and z~ = z_i + std * eps:

        g*(z) = E[x | z~ = z] = sum_i w_i(z) x_i,   w_i(z) = softmax_i( -|z - z_i|^2 / (2 std^2) )

    (squared error is minimised by the conditional mean; Bayes' rule with a Gaussian likelihood
    gives the weights). Between two codes it is a *cross-fade* of the training images, sharper
    for smaller noise: the noise decides where the fade happens, never what is drawn.
    Returns the weights (N, K) and the images (N, C, H, W) for codes z (N, D)."""
    z, codes = torch.as_tensor(z).double(), torch.as_tensor(codes).double()
    images = torch.as_tensor(images).double()
    if std <= 0:
        raise ValueError(f"std must be > 0 (without noise the decoder is unconstrained between codes), got {std}")
    if z.dim() != 2 or codes.dim() != 2 or z.shape[1] != codes.shape[1] or len(images) != len(codes):
        raise ValueError(
            "expected codes z (N, D), training codes (K, D) and K training images, got "
            f"{tuple(z.shape)}, {tuple(codes.shape)} and {len(images)} images"
        )
    w = torch.softmax(-torch.cdist(z, codes).pow(2) / (2 * std**2), dim=1)  # (N, K)
    out = (w @ images.flatten(1)).reshape(len(z), *images.shape[1:])  # (N, C, H, W)
    return w.float(), out.float()


def optimal_fade_width(distance_over_std: float, steps: int = 2001, low: float = 0.1, high: float = 0.9) -> float:
    """The share of the straight path between two codes over which the best decoder under code
    noise (``noisy_code_decoder``) is mid-fade: its weight w_1 of the second image lies in (low, high).

    For codes z_0, z_1 at distance L and noise std sigma, on z(t) = (1 - t) z_0 + t z_1,

        w_1(t) = sigmoid((t - 1/2) r^2),   r = L / sigma,

    so the 10-90 % share is 2 log 9 / r^2 (capped at 1). Measured here on ``steps`` evenly spaced
    points of the path, with the weights computed by ``noisy_code_decoder`` itself."""
    if distance_over_std <= 0 or steps < 2:
        raise ValueError(f"need distance_over_std > 0 and steps >= 2, got {distance_over_std}, {steps}")
    codes = torch.tensor([[0.0, 0.0], [float(distance_over_std), 0.0]])  # (2, 2), noise std 1
    t = torch.linspace(0, 1, steps, dtype=torch.float64)[:, None]  # (steps, 1)
    path = ((1 - t) * codes[0].double() + t * codes[1].double()).float()  # (steps, 2)
    w, _ = noisy_code_decoder(path, codes, torch.zeros(2, 1, 1, 1), 1.0)  # (steps, 2)
    return float(((w[:, 1] > low) & (w[:, 1] < high)).double().mean())


# --------------------------------------------------------------------------- decoding paths
class PathResult(NamedTuple):
    """A decoded path: codes (T, D), images (T, 1, S, S), and their reading (distance, phase)."""

    codes: Tensor
    images: Tensor
    distance: Tensor
    phase: Tensor


def decode_path(
    model: nn.Module, x0: Tensor, x1: Tensor, bank: PhaseBank, steps: int = 21, path: str = "lerp"
) -> PathResult:
    """Encode two images (1, 1, S, S) each, decode the path between their codes ("lerp" or
    "slerp") and measure every decoded image against the bank."""
    if path not in ("lerp", "slerp"):
        raise ValueError(f"path must be 'lerp' or 'slerp', got {path!r}")
    z = encode_images(model, torch.cat([x0, x1]))  # (2, D)
    codes = (lerp if path == "lerp" else slerp)(z[0], z[1], steps)  # (T, D)
    images = decode_codes(model, codes)
    reading = measure_decoded(images, bank)
    return PathResult(codes, images, reading.distance, reading.phase)


class PathScores(NamedTuple):
    """How a model's straight path from one moon to another reads (all plain floats):

    recon: manifold distance of the worse of the two end images (what the model draws at its
        training codes: its own noise floor);
    median, worst: median and largest manifold distance along the path;
    real_fraction: fraction of path images that are real moons (distance <= max_distance);
    monotonicity, largest_jump: of the decoded phase of the path's real moons only
        (``real_phase_scores``; NaN when fewer than two are real);
    monotonicity_all, largest_jump_all: the same over every point, non-moons included (the
        flattering reading: a blur's nearest moon has an in-between phase);
    invented: ``invented_fraction``, real moons of a phase strictly between the two ends."""

    recon: float
    median: float
    worst: float
    real_fraction: float
    monotonicity: float
    largest_jump: float
    monotonicity_all: float
    largest_jump_all: float
    invented: float


def score_path(
    model: nn.Module,
    x0: Tensor,
    x1: Tensor,
    bank: PhaseBank,
    start: float,
    end: float,
    steps: int = 21,
    max_distance: float = 0.03,
    path: str = "lerp",
) -> PathScores:
    """Decode the path between the codes of x0 (a moon of phase ``start``) and x1 (phase ``end``)
    and score it; see ``PathScores``. Works for autoencoders and VAEs alike."""
    p = decode_path(model, x0, x1, bank, steps, path)
    reading = DecodedReading(p.distance, p.phase)
    real = real_phase_scores(reading, start, end, max_distance)
    return PathScores(
        recon=float(p.distance[[0, -1]].max()),
        median=float(p.distance.median()),
        worst=float(p.distance.max()),
        real_fraction=float((p.distance <= max_distance).double().mean()),
        monotonicity=real.monotonicity,
        largest_jump=real.largest_jump,
        monotonicity_all=phase_monotonicity(p.phase, start, end),
        largest_jump_all=largest_phase_jump(p.phase),
        invented=invented_fraction(reading, start, end, max_distance),
    )


class CodePlane(NamedTuple):
    """A 2-D code plane decoded on an n x n grid: the two end codes in the plane's coordinates (2, 2),
    the grid's extent (u_min, u_max, v_min, v_max) for ``imshow(..., origin="lower", extent=extent)``,
    the manifold distance of every decoded grid point (n, n), rows from v_min up to v_max, and the
    plane's basis (2, D): a point (u, v) of the plane is the code ``origin + u * basis[0] + v * basis[1]``."""

    codes: Tensor
    extent: tuple[float, float, float, float]
    distance: Tensor
    origin: Tensor | None = None
    basis: Tensor | None = None


def _plane_basis(z: Tensor) -> tuple[Tensor, Tensor]:
    """For two codes z (2, D): the origin and an orthonormal basis (2, D) of a plane that holds both.
    For D = 2 that is the code plane itself (origin 0, the unit axes). For D > 2: the plane through
    both codes that also holds the direction towards the code space's origin (the prior's centre), so
    e1 = (z1 - z0) / |z1 - z0| and e2 = the part of -(z0 + z1) / 2 orthogonal to e1, normalised."""
    d = z.shape[1]
    if d == 2:
        return torch.zeros(2), torch.eye(2)
    e1 = z[1] - z[0]
    e1 = e1 / e1.norm().clamp_min(1e-12)
    mid = (z[0] + z[1]) / 2
    e2 = -mid - (-mid @ e1) * e1
    if e2.norm() < 1e-6:  # the path runs through the origin: any direction orthogonal to it
        e2 = torch.eye(d)[int(e1.abs().argmin())]
        e2 = e2 - (e2 @ e1) * e1
    return mid, torch.stack([e1, e2 / e2.norm()])


def code_plane_distance(
    model: nn.Module, x0: Tensor, x1: Tensor, bank: PhaseBank, n: int = 41, margin: float = 0.75
) -> CodePlane:
    """Decode a grid over the code plane around the codes of x0 and x1 (their bounding box,
    widened by ``margin`` times their distance on every side) and measure every decoded image:
    where in the plane does the decoder draw a real moon? With 2-D codes the plane is the code
    space; with larger codes it is the plane through both codes and the direction towards the
    origin (``CodePlane.basis``; coordinates: along the path, and across it)."""
    z = encode_images(model, torch.cat([x0, x1]))  # (2, D)
    if z.shape[1] < 2:
        raise ValueError(f"code_plane_distance needs codes of size >= 2, got codes of size {z.shape[1]}")
    if n < 2:
        raise ValueError(f"n must be >= 2 grid points a side, got {n}")
    origin, basis = _plane_basis(z)
    zp = (z - origin) @ basis.T  # (2, 2): the codes in plane coordinates
    lo, hi = zp.min(0).values, zp.max(0).values
    pad = margin * float((zp[0] - zp[1]).norm()) + 1e-3
    u = torch.linspace(float(lo[0]) - pad, float(hi[0]) + pad, n)
    v = torch.linspace(float(lo[1]) - pad, float(hi[1]) + pad, n)
    vv, uu = torch.meshgrid(v, u, indexing="ij")  # (n, n) each, row k at v[k]
    grid = torch.stack([uu.reshape(-1), vv.reshape(-1)], dim=1)  # (n*n, 2) plane coordinates
    codes = grid if z.shape[1] == 2 else origin + grid @ basis  # (n*n, D)
    distance = measure_decoded(decode_codes(model, codes), bank).distance.reshape(n, n)
    return CodePlane(zp, (float(u[0]), float(u[-1]), float(v[0]), float(v[-1])), distance, origin, basis)


def explore_path(
    models: Mapping[str, nn.Module], x0: Tensor, x1: Tensor, t: float, bank: PhaseBank
) -> dict[str, MoonReading]:
    """The interpolation explorer's function: for each model, decode the point
    z(t) = (1 - t) z0 + t z1 between the codes of x0 and x1 and measure it."""
    if not 0.0 <= float(t) <= 1.0:
        raise ValueError(f"t must be in [0, 1] (0 = first image, 1 = second), got {t}")
    views = {}
    for name, model in models.items():
        z = encode_images(model, torch.cat([x0, x1]))  # (2, D)
        code = ((1 - t) * z[0] + t * z[1])[None]  # (1, D)
        views[name] = read_image(decode_codes(model, code), bank)
    return views
