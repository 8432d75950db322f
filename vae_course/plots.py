"""Figures that read from the back of a lecture room: titles, labelled axes, big fonts, and colours
that a reader with colour blindness can still tell apart.

Importing this module changes nothing in matplotlib: every function here draws inside
``plt.rc_context(COURSE_STYLE)``, and a notebook that wants the same look for its own figures
calls ``use_course_style()`` once, in the open.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from .estimators import EstimatorStats, compare_estimators

#: The course's class colours: the eight of Okabe & Ito's colour-universal palette ("Color Universal
#: Design", 2008), then two more for ten-class data (MNIST digits): dark brown and navy, chosen on a
#: 16-level sRGB grid as the colours furthest (CIEDE2000) from the other eight and from the white
#: page, with normal vision and under simulated deuteranopia, protanopia and tritanopia. Every pair
#: stays at least 10 CIEDE2000 units apart under each of the three simulations (Machado et al. 2009,
#: full severity; tests/test_palette.py), where about 1 is just noticeable side by side. Blue and orange
#: come first, as in matplotlib's tab10, so a figure with two series keeps the hues it had.
CLASS_COLOURS = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
    "#772200",  # dark brown (beyond Okabe-Ito)
    "#000099",  # navy (beyond Okabe-Ito)
)
#: One marker per class, so a class never depends on its colour alone (a grey print, a projector).
CLASS_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
#: For values (a heat map, a colour bar): perceptually uniform and readable with colour blindness.
VALUE_CMAP = "cividis"

#: Projector-sized defaults (font sizes in points) and the class colours as the colour cycle.
COURSE_STYLE = {
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.labelsize": 12,
    "figure.dpi": 80,
    "axes.prop_cycle": mpl.cycler(color=CLASS_COLOURS),
}


def class_colour(k: int) -> str:
    """The course colour of class (or series) k; past ten the colours repeat."""
    return CLASS_COLOURS[int(k) % len(CLASS_COLOURS)]


def class_marker(k: int) -> str:
    """The course marker of class k (matplotlib's marker code); past ten the markers repeat."""
    return CLASS_MARKERS[int(k) % len(CLASS_MARKERS)]


def use_course_style() -> None:
    """Apply ``COURSE_STYLE`` to matplotlib's global settings (a notebook's set-up cell calls
    this, so its own figures match the package's)."""
    mpl.rcParams.update(COURSE_STYLE)


def show(alt: str, fig=None) -> None:
    """Show a figure with its alternative text, the words a screen reader says in its place.

    Use it where a notebook would call ``plt.show()``: ``show(f"Test -ELBO falls from {a:.0f} to
    {b:.0f} nats ...", fig)``. Write ``alt`` from what the figure proves, with the measured values
    (WCAG 1.1.1), not from what it looks like. In a Jupyter kernel the image is displayed with
    ``metadata["image/png"]["alt"] = alt`` (JupyterLab, nbconvert, the course's site and decks read it
    there) and the figure is closed; elsewhere (a script, a test) this is ``plt.show()``.
    """
    alt = " ".join(str(alt).split())
    if not alt:
        raise ValueError("show() needs alt text: a sentence saying what the figure shows, with its numbers")
    fig = plt.gcf() if fig is None else fig
    try:
        from IPython import get_ipython
    except ImportError:  # matplotlib without IPython: a script
        get_ipython = None
    shell = get_ipython() if get_ipython else None
    if shell is None or getattr(shell, "kernel", None) is None:
        plt.show()
        return
    from IPython.display import display

    data, metadata = shell.display_formatter.format(fig)
    for mime in data:
        if mime.startswith("image/"):
            metadata[mime] = {**metadata.get(mime, {}), "alt": alt}
    display(data, raw=True, metadata=metadata)
    plt.close(fig)


def _styled(fn):
    """Run a plotting function inside ``plt.rc_context(COURSE_STYLE)``."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with plt.rc_context(COURSE_STYLE):
            return fn(*args, **kwargs)

    return wrapper


def _images(x: Tensor) -> np.ndarray:
    x = torch.as_tensor(x).detach().cpu().float()
    if x.dim() == 4:
        if x.shape[1] != 1:
            raise ValueError(f"expected images (N, 1, H, W), got {tuple(x.shape)}")
        x = x[:, 0]
    if x.dim() != 3:
        raise ValueError(f"expected images (N, 1, H, W) or (N, H, W), got {tuple(x.shape)}")
    return x.numpy()


def tile(images: Tensor, nrow: int = 8, pad: int = 1, pad_value: float = 1.0) -> np.ndarray:
    """Arrange images (N, 1, H, W) into one 2-D array, ``nrow`` images per row."""
    x = _images(images)
    n, h, w = x.shape
    rows = int(np.ceil(n / nrow))
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad), pad_value, dtype=np.float32)
    for k in range(n):
        r, c = divmod(k, nrow)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = x[k]
    return out


@_styled
def image_grid(
    images: Tensor,
    nrow: int = 8,
    title: str = "",
    ax=None,
    row_labels: Sequence[str] | None = None,
    figsize: float = 6.0,
):
    """Show images (N, 1, H, W) in [0, 1] as a grid. Returns the matplotlib Axes."""
    grid = tile(images, nrow)
    if ax is None:
        _, ax = plt.subplots(figsize=(figsize, figsize * grid.shape[0] / grid.shape[1] + 0.4))
    ax.imshow(grid, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(title)
    ax.set_xticks([])
    if row_labels is not None:
        h = (grid.shape[0] - 1) / len(row_labels)
        ax.set_yticks([(k + 0.5) * h for k in range(len(row_labels))], list(row_labels))
    else:
        ax.set_yticks([])
    return ax


@_styled
def compare_rows(rows: dict[str, Tensor], n: int = 10, title: str = "", figsize: float = 8.0):
    """Stack several image batches, one labelled row each (e.g. input / noisy / reconstruction)."""
    batch = torch.cat([torch.as_tensor(v)[:n].detach().cpu() for v in rows.values()])
    return image_grid(batch, nrow=n, title=title, row_labels=list(rows), figsize=figsize)


@_styled
def latent_scatter(
    z: Tensor,
    labels: Tensor | None = None,
    title: str = "Latent codes",
    ax=None,
    label_name: str = "class",
    *,
    legend: bool = True,
    legend_columns: int = 1,
):
    """Scatter 2-D codes (N, 2) coloured by integer label, each class its course colour and marker.

    With labels and ``legend``, the label legend is drawn in projector size (12 pt) just outside
    the axes on the right, where it covers no codes (leave room for it: ``tight_layout`` or a
    constrained layout); ``legend=False`` for a panel whose neighbour shows the same legend.
    """
    z = torch.as_tensor(z).detach().cpu()
    if z.dim() != 2 or z.shape[1] != 2:
        raise ValueError(f"latent_scatter needs 2-D codes of shape (N, 2), got {tuple(z.shape)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=6, alpha=0.6)
    else:
        labels = torch.as_tensor(labels).cpu()
        for c in labels.unique().tolist():
            m = labels == c
            ax.scatter(z[m, 0], z[m, 1], s=8, alpha=0.7, color=class_colour(c), marker=class_marker(c), label=str(c))
        if legend:
            ax.legend(
                title=label_name,
                fontsize=12,
                title_fontsize=12,
                markerscale=3,
                ncol=legend_columns,
                loc="center left",
                bbox_to_anchor=(1.0, 0.5),
            )
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    return ax


@_styled
def manifold_grid(
    decode: Callable[[Tensor], Tensor],
    n: int = 15,
    extent: float = 2.5,
    coords: str = "linear",
    title: str = "Decoded latent grid",
    ax=None,
):
    """Decode an n x n grid of 2-D latent points and show the images in place (Kingma & Welling, Fig. 4).

    coords="linear": z in [-extent, extent]^2; coords="gaussian": z = Phi^-1(u) for u on an even
    grid in (0, 1)^2, so the grid covers the N(0, I) prior by probability mass.
    """
    if coords == "gaussian":
        u = torch.linspace(0.5 / n, 1 - 0.5 / n, n)
        axis = torch.distributions.Normal(0.0, 1.0).icdf(u)
    elif coords == "linear":
        axis = torch.linspace(-extent, extent, n)
    else:
        raise ValueError(f"coords must be 'linear' or 'gaussian', got {coords!r}")
    zy, zx = torch.meshgrid(axis.flip(0), axis, indexing="ij")
    z = torch.stack([zx.reshape(-1), zy.reshape(-1)], dim=1)  # (n*n, 2), top row = largest z_2
    with torch.no_grad():
        images = decode(z)
    ax = image_grid(images, nrow=n, title=title, ax=ax)
    ax.set_xlabel(f"$z_1$ from {axis[0]:.2g} to {axis[-1]:.2g}")
    ax.set_ylabel(f"$z_2$ from {axis[-1]:.2g} (top) to {axis[0]:.2g}")
    return ax


@_styled
def loss_curves(
    histories: dict[str, object] | object,
    key: str = "loss",
    title: str = "Training curves",
    ylabel: str = "loss",
    ax=None,
    logy: bool = False,
):
    """Plot per-epoch train (solid) and test (dashed) curves of one term for one or more Histories."""
    if not isinstance(histories, dict):
        histories = {"": histories}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for k, (name, h) in enumerate(histories.items()):
        color = class_colour(k)
        train = h.train.get(key, [])
        ax.plot(range(1, len(train) + 1), train, color=color, label=f"{name} train".strip())
        test = h.test.get(key, [])
        if test:
            ax.plot(range(1, len(test) + 1), test, "--", color=color, label=f"{name} test".strip())
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logy:
        ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


@_styled
def estimator_histograms(f, mu: float, sigma: float, n: int = 4000, seed: int = 0, ax=None) -> EstimatorStats:
    """Histograms of the score-function and pathwise estimators' one-sample d/dmu for a 1-D
    q = N(mu, sigma^2), same eps for both (the explorer of notebook 05). Returns the statistics."""
    st = compare_estimators(f, mu, sigma, n, seed)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.5))
    both = torch.cat([st.score_samples, st.pathwise_samples])
    lo, hi = torch.quantile(both, 0.005).item(), torch.quantile(both, 0.995).item()
    bins = torch.linspace(lo, hi, 61).numpy()
    ax.hist(
        st.score_samples.numpy(),
        bins=bins,
        alpha=0.55,
        density=True,
        label=f"score function: var {st.score_var:.3g} (theory {st.score_theory:.3g})",
    )
    ax.hist(
        st.pathwise_samples.numpy(),
        bins=bins,
        alpha=0.55,
        density=True,
        label=f"pathwise: var {st.pathwise_var:.3g} (theory {st.pathwise_theory:.3g})",
    )
    ax.axvline(st.exact, color="k", lw=2, label=f"exact gradient {st.exact:.3g}")
    ax.set_xlabel("one-sample estimate of d E[f(z)] / d mu")
    ax.set_ylabel("density")
    ax.set_title(f"f = {f.name}, mu = {mu:.2f}, sigma = {sigma:.2f}")
    ax.legend(fontsize=10, loc="upper right")
    return st
