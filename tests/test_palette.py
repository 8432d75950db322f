"""The course palette survives colour blindness.

Each class colour of `vae_course.plots.CLASS_COLOURS` is passed through the colour-vision-deficiency
simulation of Machado, Oliveira & Fernandes (2009, IEEE TVCG 15(6), the full-severity matrices of
their supplement, applied to linear RGB), converted to CIELAB (D65) and compared, every pair, with
CIEDE2000 (Sharma, Wu & Dalal 2005). The threshold: ``MIN_DELTA_E = 10`` CIEDE2000 units under each
simulation, where about 1 is just noticeable side by side; Okabe-Ito's own closest pair under
tritanopia (orange and reddish purple) is 10.9. A colour must also stand apart from the white page.
The colour science is plain numpy; the file runs in about a second.
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vae_course import plots  # noqa: E402

MIN_DELTA_E = 10.0  # every pair of class colours, under each simulated deficiency
MIN_FROM_WHITE = 15.0  # every class colour against the page (yellow, the palest, is 16.7 with tritanopia)

#: Machado et al. (2009), severity 1.0: linear RGB -> linear RGB as a dichromat sees it
MACHADO = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}  # fmt: skip
VISION = {"normal": np.eye(3), **{k: np.array(v) for k, v in MACHADO.items()}}
#: linear sRGB -> XYZ (D65)
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])  # fmt: skip


def srgb(hex_colour: str) -> np.ndarray:
    """'#RRGGBB' -> sRGB in [0, 1], shape (3,)."""
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)])


def linear(c: np.ndarray) -> np.ndarray:
    """sRGB -> linear RGB (IEC 61966-2-1)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def lab(lin_rgb: np.ndarray) -> np.ndarray:
    """Linear RGB (..., 3) -> CIELAB (..., 3), D65 white."""
    xyz = lin_rgb @ SRGB_TO_XYZ.T / SRGB_TO_XYZ.sum(axis=1)
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def seen(hex_colour: str, vision: str) -> np.ndarray:
    """CIELAB of the colour as seen with `vision` (simulated, then clipped to the displayable range)."""
    return lab(np.clip(VISION[vision] @ linear(srgb(hex_colour)), 0, 1))


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB colours (..., 3), k_L = k_C = k_H = 1 (Sharma et al. 2005)."""
    (L1, a1, b1), (L2, a2, b2) = np.moveaxis(lab1, -1, 0), np.moveaxis(lab2, -1, 0)
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_bar**7 / (c_bar**7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p, h2p = np.degrees(np.arctan2(b1, a1p)) % 360, np.degrees(np.arctan2(b2, a2p)) % 360
    chroma0 = c1p * c2p == 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chroma0, 0, dh)
    d_l, d_c = L2 - L1, c2p - c1p
    d_h = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    l_bar, cp_bar = (L1 + L2) / 2, (c1p + c2p) / 2
    h_sum = h1p + h2p
    h_bar = np.where(
        chroma0,
        h_sum,
        np.where(np.abs(h1p - h2p) <= 180, h_sum / 2, np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)),
    )
    t = (1 - 0.17 * np.cos(np.radians(h_bar - 30)) + 0.24 * np.cos(np.radians(2 * h_bar))
         + 0.32 * np.cos(np.radians(3 * h_bar + 6)) - 0.20 * np.cos(np.radians(4 * h_bar - 63)))  # fmt: skip
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * np.sqrt(cp_bar**7 / (cp_bar**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / np.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt((d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h))


def test_ciede2000_matches_sharma_reference_pairs() -> None:
    """Pairs 1, 7, 17 and 34 of Sharma et al.'s test data (a hue, a neutral, a large and a dark difference)."""
    pairs = [((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425), ((50, 0, 0), (50, -1, 2), 2.3669),
             ((50, 2.5, 0), (73, 25, -18), 27.1492),
             ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082)]  # fmt: skip
    for a, b, want in pairs:
        assert ciede2000(np.array(a, float), np.array(b, float)) == pytest.approx(want, abs=1e-4)


#: a pair of colours each deficiency confuses (found on a 6-level sRGB grid): far apart with normal vision
CONFUSED = {"protanopia": ("#FF0033", "#336633"), "deuteranopia": ("#FF3333", "#999900"),
            "tritanopia": ("#FF0099", "#FF6600")}  # fmt: skip


@pytest.mark.parametrize("vision", sorted(CONFUSED))
def test_simulation_collapses_what_it_should(vision: str) -> None:
    """The simulation can see what it looks for: a pair far apart with normal vision (ΔE00 > 35)
    falls below the threshold under its deficiency, and stays apart under the other two (a matrix
    that left colours unchanged, or one that greyed everything, would fail here)."""
    a, b = CONFUSED[vision]
    assert ciede2000(seen(a, "normal"), seen(b, "normal")) > 35
    assert ciede2000(seen(a, vision), seen(b, vision)) < MIN_DELTA_E / 1.5
    others = [v for v in MACHADO if v != vision]
    assert max(ciede2000(seen(a, v), seen(b, v)) for v in others) > 2 * MIN_DELTA_E


@pytest.mark.parametrize("vision", ["normal", "deuteranopia", "protanopia", "tritanopia"])
def test_class_colours_stay_apart(vision: str) -> None:
    colours = plots.CLASS_COLOURS
    assert len(colours) >= 10 and len(set(colours)) == len(colours), "ten distinct class colours (MNIST digits)"
    close = [
        f"{a} and {b}: {d:.1f}"
        for a, b in itertools.combinations(colours, 2)
        if (d := float(ciede2000(seen(a, vision), seen(b, vision)))) < MIN_DELTA_E
    ]
    assert not close, f"class colours closer than CIEDE2000 {MIN_DELTA_E} with {vision}: {close}"
    white = [c for c in colours if ciede2000(seen(c, vision), seen("#FFFFFF", vision)) < MIN_FROM_WHITE]
    assert not white, f"class colours too close to the white page with {vision}: {white}"


def test_tab10_would_fail() -> None:
    """The baseline: matplotlib's tab10, the palette the course used before, fails the same test."""
    tab10 = [matplotlib.colors.to_hex(c) for c in plt.get_cmap("tab10").colors]
    worst = min(float(ciede2000(seen(a, v), seen(b, v))) for v in MACHADO for a, b in itertools.combinations(tab10, 2))
    assert worst < MIN_DELTA_E / 2, worst


def test_value_colormap_is_perceptually_uniform_and_monotone_in_lightness() -> None:
    """VALUE_CMAP's lightness rises steadily from end to end under every simulation, so a value is
    read from lightness alone, whatever the hue a reader sees."""
    cmap = plt.get_cmap(plots.VALUE_CMAP)
    rgb = cmap(np.linspace(0, 1, 64))[:, :3]
    for vision, m in VISION.items():
        lightness = lab(np.clip(linear(rgb) @ m.T, 0, 1))[:, 0]
        assert np.all(np.diff(lightness) > 0), vision
        assert lightness[-1] - lightness[0] > 60, vision


def test_latent_scatter_gives_each_class_its_colour_and_marker() -> None:
    """Ten classes: ten colours and ten markers, so no class relies on its colour alone."""
    z = torch.randn(200, 2, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(200) % 10
    fig, ax = plt.subplots()
    try:
        plots.latent_scatter(z, labels, ax=ax)
        groups = ax.collections
        colours = {matplotlib.colors.to_hex(g.get_facecolor()[0][:3]) for g in groups}
        markers = {g.get_paths()[0].vertices.tobytes() for g in groups}
        assert len(groups) == 10 and len(colours) == 10 and len(markers) == 10
        assert colours == {c.lower() for c in plots.CLASS_COLOURS[:10]}
    finally:
        plt.close(fig)
