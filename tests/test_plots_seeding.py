import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from vae_course import plots, seed_everything
from vae_course.train import History


def test_tile_layout():
    x = torch.arange(6, dtype=torch.float32).reshape(6, 1, 1, 1) / 10
    grid = plots.tile(x, nrow=4, pad=1)
    assert grid.shape == (2 * 2 + 1, 4 * 2 + 1)
    assert grid[1, 1] == pytest.approx(0.0) and grid[3, 3] == pytest.approx(0.5)


def test_plot_functions_draw_labelled_axes():
    ax = plots.image_grid(torch.rand(10, 1, 8, 8), nrow=5, title="t")
    assert ax.get_title() == "t"
    ax = plots.latent_scatter(torch.randn(50, 2), torch.randint(0, 3, (50,)))
    assert ax.get_xlabel() and ax.get_legend() is not None
    plt.close("all")


def test_latent_scatter_legend_is_projector_sized_and_outside_the_codes():
    fig, ax = plt.subplots()
    z = torch.randn(300, 2)
    plots.latent_scatter(z, torch.arange(300) % 10, ax=ax, legend_columns=2)
    fig.canvas.draw()
    legend = ax.get_legend()
    assert {t.get_text() for t in legend.get_texts()} == {str(k) for k in range(10)}
    assert all(t.get_fontsize() >= 11 for t in [*legend.get_texts(), legend.get_title()])
    box, axes_box = legend.get_window_extent(), ax.get_window_extent()
    assert box.x0 >= axes_box.x1 - 1, "the legend covers the codes"
    fig2, ax2 = plt.subplots()
    assert plots.latent_scatter(z, torch.arange(300) % 10, ax=ax2, legend=False).get_legend() is None
    plt.close("all")


def test_manifold_grid_and_other_plots():
    seen = []
    ax = plots.manifold_grid(lambda z: seen.append(z) or torch.rand(len(z), 1, 8, 8), n=5, coords="gaussian")
    assert seen[0].shape == (25, 2) and seen[0][0, 1] > 0 and seen[0][0, 0] < 0  # top-left: z1 low, z2 high
    h = History(train={"loss": [3, 2, 1]}, test={"loss": [3.5, 2.5, 1.5]})
    ax = plots.loss_curves({"ae": h})
    assert len(ax.lines) == 2 and ax.get_xlabel() == "epoch"
    ax = plots.compare_rows({"a": torch.rand(4, 1, 8, 8), "b": torch.rand(4, 1, 8, 8)}, n=4)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    plt.close("all")


def test_plots_reject_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.latent_scatter(torch.randn(5, 3))
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        plots.image_grid(torch.rand(5, 3, 8, 8))


def test_seed_everything_repeats_numbers():
    seed_everything(3)
    a = (torch.rand(3), np.random.rand(3))
    seed_everything(3)
    b = (torch.rand(3), np.random.rand(3))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_threads_sets_the_count_for_a_block_and_gives_it_back():
    from vae_course.seeding import threads

    before = torch.get_num_threads()
    with threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
