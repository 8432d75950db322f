"""The web edition's live explorers without a browser: the decoder export (vae_course/explorer.py) and the
HTML block the site and the decks embed (lecture/live_explorer.py). The browser side is
tests/browser/test_browser_explorer.py."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
import torch

from lecture import build_site, build_slides, live_explorer
from tests.explorer_fixture import CODE_SLIDERS, SLIDERS, explorer_notebook, small_vae, small_vqvae
from vae_course.explorer import CODE_FORMAT, DECODER_MIME, HALF_TOLERANCE, code_grids, decode_spec, export_decoder
from vae_course.models import decode_codes
from vae_course.models.ae import ConvAutoencoder, MLPAutoencoder
from vae_course.models.vae import VAE
from vae_course.models.vq import VQVAE


@pytest.mark.parametrize(
    "make",
    [
        lambda: VAE(28, 2, 64, decoder_layers=2),  # 06's latent-2 explorer (400 wide there)
        lambda: VAE(8, 2, 128),  # 09's 2-D VAE
        lambda: MLPAutoencoder(8, 2, (256, 128)),  # 01's code explorer
        lambda: MLPAutoencoder(8, 2, (16,), output="identity"),  # values clamped to [0, 1]
    ],
)
def test_json_round_trip_reproduces_the_torch_decoder(make, tmp_path) -> None:
    """float32: within 1e-6 of torch; float16 (the default, half the bytes): within HALF_TOLERANCE, at points
    drawn like the export's own check points (N(0, 4); float16 is checked there only: drawn from N(0, 9),
    the clamped decoder below reaches 1.3e-3)."""
    torch.manual_seed(1)
    model = make()
    z = torch.randn(200, 2, generator=torch.Generator().manual_seed(2)) * 2
    ref = decode_codes(model, z)[:, 0].numpy()
    for dtype, tolerance in (("float32", 1e-6), ("float16", HALF_TOLERANCE)):
        export_decoder(model, tmp_path / "d.json", dtype=dtype)
        spec = json.loads((tmp_path / "d.json").read_text())
        assert spec.get("dtype", "float32") == dtype
        gap = np.abs(decode_spec(spec, z.numpy()) - ref).max()
        assert gap <= tolerance, (dtype, gap)


def test_float16_halves_the_export_and_falls_back_to_float32() -> None:
    """A float16 export holds half the bytes of weights; where float16 would move the image by more than
    HALF_TOLERANCE at the check points (here: a tolerance of 0), the export keeps float32."""
    import vae_course.explorer as ex

    model = VAE(28, 2, 64, decoder_layers=2)
    full, half = export_decoder(model, dtype="float32"), export_decoder(model)
    assert half["dtype"] == "float16" and "dtype" not in full
    assert len(half["layers"][0]["weight"]) / len(full["layers"][0]["weight"]) == pytest.approx(0.5, abs=0.01)
    tolerance = ex.HALF_TOLERANCE
    try:
        ex.HALF_TOLERANCE = 0.0
        assert "dtype" not in export_decoder(model)
    finally:
        ex.HALF_TOLERANCE = tolerance


def test_a_conv_decoder_is_refused() -> None:
    with pytest.raises(TypeError, match="only dense layers"):
        export_decoder(ConvAutoencoder(8, 2))


def test_sliders_come_from_the_saved_widget_state() -> None:
    nb, spec = explorer_notebook()
    assert live_explorer.sliders_of(nb, nb.cells[1]) == SLIDERS
    assert live_explorer.decoder_of(nb.cells[1]) == spec


def page_block(nb) -> str:
    html_outputs = [o.get("data", {}).get("text/html", "") for o in nb.cells[1].outputs]
    blocks = [h for h in html_outputs if 'class="live-explorer"' in h]
    assert len(blocks) == 1
    assert not any(DECODER_MIME in o.get("data", {}) for o in nb.cells[1].outputs)  # the raw export is not shown
    return blocks[0]


@pytest.mark.parametrize("edition", ["site", "deck"])
def test_the_page_gets_a_live_explorer(edition) -> None:
    nb, spec = explorer_notebook()
    shown = build_site.site_notebook(nb) if edition == "site" else build_slides.prepare(nb)
    block = page_block(shown)
    attrs = r'<input type="range" id="([^"]+)" min="([^"]+)" max="([^"]+)" step="([^"]+)" value="([^"]+)">'
    ranges = re.findall(attrs, block)
    expected = [(s["min"], s["max"], s["step"], s["value"]) for s in SLIDERS]
    assert [tuple(float(v) for v in r[1:]) for r in ranges] == expected
    for sid, *_ in ranges:  # every slider has a visible label
        assert f'<label for="{sid}">' in block
    label = re.search(r'<canvas width="8" height="8" role="img" aria-label="([^"]+)"', block).group(1)
    assert html.unescape(label) == "The decoder's 8×8 image at (z1, z2) = (+0.0, +0.0), drawn in this page"
    data = re.search(r'<script type="application/json" id="[^"]+-decoder">(.*?)</script>', block, re.S).group(1)
    assert json.loads(data) == spec
    assert not build_slides.EXTERNAL.search(block)


def test_the_deck_with_a_live_explorer_builds_offline(tmp_path) -> None:
    nb, _ = explorer_notebook()
    body, _ = build_slides.exporter().from_notebook_node(
        build_slides.prepare(nb), resources={"mathjax_prefix": "mathjax", "metadata": {"name": "x"}}
    )
    assert 'class="live-explorer"' in body and not build_slides.EXTERNAL.findall(body)


def test_no_block_without_the_widget_or_the_decoder() -> None:
    nb, _ = explorer_notebook(with_widget=False)
    assert not any("live-explorer" in str(o) for o in build_site.site_notebook(nb).cells[1].outputs)
    nb, _ = explorer_notebook()
    nb.cells[1].outputs = [o for o in nb.cells[1].outputs if DECODER_MIME not in o["data"]]
    assert not any("live-explorer" in str(o) for o in build_site.site_notebook(nb).cells[1].outputs)


def test_sliders_must_match_the_latent_size() -> None:
    nb, spec = explorer_notebook()
    with pytest.raises(SystemExit, match="2 sliders for a decoder of 3"):
        live_explorer.explorer_html({**spec, "latent_dim": 3}, SLIDERS, "x")


def test_small_vae_images_vary_over_the_sliders() -> None:
    """The fixture's decoder draws different images at different points (else a browser test that
    moves a slider could not tell a redraw from none)."""
    model = small_vae()
    a, b = decode_codes(model, torch.tensor([[0.0, 0.0], [2.0, -2.0]]))
    assert (a - b).abs().max() > 0.2


def test_embed_decoder_displays_the_export_and_returns_nothing(monkeypatch) -> None:
    """The notebook side: one output with the export and a line of text (no echo of the weights)."""
    import IPython.display

    from vae_course.explorer import embed_decoder

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objs, raw=False: shown.append((objs, raw)))
    model = small_vae()
    assert embed_decoder(model) is None
    ((bundle,), raw) = shown[0]
    assert len(shown) == 1 and raw
    assert bundle[DECODER_MIME] == export_decoder(model)
    assert bundle["text/plain"].endswith("(dense layers 2 -> 32 -> 32 -> 64)")


def test_a_start_between_steps_is_kept() -> None:
    """01's sliders start at the median code, between the steps from their minimum: the page's range
    starts on the grid through that value (a range input snaps its value to min + k * step)."""
    sliders = [dict(SLIDERS[0], min=-2.4668, value=1.0188), dict(SLIDERS[1], min=-7.2223, value=0.4581)]
    nb, spec = explorer_notebook(sliders=sliders)
    block = live_explorer.explorer_html(spec, sliders, "x")
    for s, found in zip(sliders, re.findall(r'min="([^"]+)" max="[^"]+" step="[^"]+" value="([^"]+)"', block)):
        low, value = map(float, found)
        steps = (value - low) / s["step"]
        assert value == s["value"] and abs(steps - round(steps)) < 1e-6 and s["min"] <= low < s["min"] + s["step"]


@pytest.mark.parametrize(
    "make",
    [
        lambda: VQVAE(64, 16, 16),  # 08's explorer model (MNIST: a 7x7 grid)
        lambda: VQVAE(16, 4, 8, image_size=8),  # 8x8 digits: a 2x2 grid
        small_vqvae,
    ],
)
def test_a_vqvae_decoder_round_trips_at_every_code(make, tmp_path) -> None:
    """The conv export (codebook, grid, Conv2d / ConvTranspose2d) decodes like torch at every code."""
    torch.manual_seed(3)
    model = make().eval()
    export_decoder(model, tmp_path / "d.json", background=1, position=(0, 1), dtype="float32")
    spec = json.loads((tmp_path / "d.json").read_text())
    assert spec["format"] == CODE_FORMAT and spec["position"] == [0, 1] and spec["background"] == 1
    codes = torch.arange(model.num_codes)
    with torch.no_grad():
        ref = model.to_image(model.decode_indices(code_grids(spec, codes)))[:, 0].numpy()
    got = decode_spec(spec, codes.numpy())
    assert got.shape == ref.shape and np.abs(got - ref).max() <= 1e-6
    half = export_decoder(model, background=1, position=(0, 1))
    assert half["dtype"] == "float16" and np.abs(decode_spec(half, codes.numpy()) - ref).max() <= HALF_TOLERANCE
    grids = code_grids(spec, codes)
    assert (grids[:, 0, 1] == codes).all() and (grids[:, 1:, :] == 1).all() and (grids[:, 0, 0] == 1).all()


def test_the_code_grid_defaults_to_the_centre_of_vq_code_footprint() -> None:
    from vae_course import vq

    model = small_vqvae()
    spec = export_decoder(model, background=2, dtype="float32")
    assert spec["position"] == [1, 1]
    footprint = vq.code_footprint(model, 7, 2, tuple(spec["grid"]))[1, 0].numpy()
    assert np.abs(decode_spec(spec, 7)[0] - footprint).max() <= 1e-6


def test_a_code_decoder_refuses_a_bad_background_or_position() -> None:
    with pytest.raises(ValueError, match="background"):
        export_decoder(small_vqvae(), background=16)
    with pytest.raises(ValueError, match="outside"):
        export_decoder(small_vqvae(), position=(3, 0))


@pytest.mark.parametrize("edition", ["site", "deck"])
def test_the_code_explorer_block(edition) -> None:
    """08's kind: one labelled integer slider (the code), no sign in its read-out, the label says where the
    code sits and on what background."""
    nb, spec = explorer_notebook(small_vqvae(), CODE_SLIDERS)
    shown = build_site.site_notebook(nb) if edition == "site" else build_slides.prepare(nb)
    block = page_block(shown)
    found = re.findall(
        r'<input type="range" id="([^"]+)" min="([^"]+)" max="([^"]+)" step="([^"]+)" value="([^"]+)">', block
    )
    assert [r[1:] for r in found] == [("0", "15", "1", "5")]
    assert f'<label for="{found[0][0]}">code</label>' in block
    assert f'<output id="{found[0][0]}-value" for="{found[0][0]}">5</output>' in block
    label = html.unescape(re.search(r'<canvas width="12" height="12" role="img" aria-label="([^"]+)"', block).group(1))
    assert label == (
        "The decoder's 12×12 image of code 5 alone at row 2, column 2 of the 3×3 code grid, every other position "
        "holding code 2 (blank paper), drawn in this page"
    )
    data = re.search(r'<script type="application/json" id="[^"]+-decoder">(.*?)</script>', block, re.S).group(1)
    assert json.loads(data) == spec
    with pytest.raises(SystemExit, match="2 sliders for a code decoder"):
        live_explorer.explorer_html(spec, SLIDERS, "x")


def test_the_snapshot_is_marked_for_the_runtime_to_fold() -> None:
    """The marker sits right before the widget's snapshot (after the outputs the cell showed before the
    widget), so the runtime folds exactly the snapshot; the explorer comes last."""
    import nbformat

    printed = nbformat.v4.new_output("stream", name="stdout", text="printed before the widget\n")
    nb, _ = explorer_notebook(before=[printed])
    outputs = build_site.site_notebook(nb).cells[1].outputs
    marker = [
        k for k, o in enumerate(outputs) if "<div data-live-explorer-snapshot" in o.get("data", {}).get("text/html", "")
    ]
    assert marker == [1] and outputs[0].get("text") == "printed before the widget\n"
    assert "image/png" in outputs[2]["data"] and "widget-snapshot-note" in outputs[3]["data"]["text/html"]
    assert 'class="live-explorer"' in outputs[-1]["data"]["text/html"] and len(outputs) == 5
    uid = re.search(r'data-live-explorer-snapshot="([^"]+)"', outputs[1]["data"]["text/html"]).group(1)
    assert f'class="live-explorer" id="{uid}"' in outputs[-1]["data"]["text/html"]


def test_within_checks_float16_over_the_explorer_box() -> None:
    """`within` (the sliders span [-within, within]): the float16 export holds within HALF_TOLERANCE at every
    point of a 0.1-step grid over that box, corners included."""
    torch.manual_seed(1)
    model = VAE(28, 2, 64, decoder_layers=2)
    spec = export_decoder(model, within=3.0)
    assert spec["dtype"] == "float16"
    axis = torch.linspace(-3, 3, 61)
    z = torch.cartesian_prod(axis, axis)
    gap = np.abs(decode_spec(spec, z.numpy()) - decode_codes(model, z)[:, 0].numpy()).max()
    assert gap <= HALF_TOLERANCE, gap
