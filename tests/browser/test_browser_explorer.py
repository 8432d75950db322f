"""The live explorers of the web edition (lecture/live_explorer.py) in headless Chromium, offline.

Every request that is not a file is aborted (and recorded). A slider is moved with the mouse (a click
on its track) and from the keyboard (Tab to it, arrow keys); after each move the canvas's pixels are
read back and compared with the torch decoder's image at the z the page shows, computed here from the
exported weights (the JSON in the page) with torch:

* the canvas holds grey levels 0-255, so its pixels / 255 differ from torch's by at most half a level
  (1/510 = 1.96e-3) plus float error: each byte must equal round(255 * torch) within one level, and
  the largest difference is printed;
* the runtime's own numbers (``window.vaeCourseExplorers[id].pixels``, before the 8-bit canvas) must be
  within 1e-3 of torch's (float32 weights in float64 arithmetic: about 1e-7 in practice).

08's code explorer (a VQ-VAE's convolutional decoder, one integer slider picking the code) is checked the
same way, its torch reference rebuilt from the page's codebook and convolutions. Where the page runs
JavaScript the explorer replaces the notebook's snapshot: the snapshot's picture ends up folded in a
closed <details> inside the explorer.

The canvas's accessible name must change with the point, and axe-core finds no WCAG 2.1 A/AA
violation. The explorer is checked as the site embeds it (a plain page) and in a deck built from the
same notebook by lecture/build_slides.py; the site's real explorers, where notebooks export their
decoders, are checked in test_site_explorers_draw_the_torch_decoder. Run with `make test-browser`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import torch

from lecture import build_slides, live_explorer, vendor
from tests.browser.test_browser_a11y import axe
from tests.browser.test_browser_lecture import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    JS_DECK_READY,
    browser,
    notebooks,
    offline_context,
    site,
    site_url,
    watch,
)
from tests.explorer_fixture import CODE_SLIDERS, explorer_notebook, small_vae, small_vqvae

pytestmark = pytest.mark.browser  # deselected by default (pyproject.toml); `make test-browser` runs it

JS_STATE = "(id) => window.vaeCourseExplorers && window.vaeCourseExplorers[id]"
JS_CANVAS = """(id) => { const c = document.getElementById(id).querySelector('canvas');
  return {bytes: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data),
          label: c.getAttribute('aria-label')}; }"""


def _floats(b64: str, shape, dtype: str = "float32") -> torch.Tensor:
    import base64

    import numpy as np

    found = np.frombuffer(base64.b64decode(b64), {"float32": "<f4", "float16": "<f2"}[dtype])
    return torch.from_numpy(found.astype(np.float32).reshape(shape))


def torch_code_decoder(spec: dict):
    """An exported code decoder (08's) rebuilt in torch from the page's JSON: code -> its grid on the
    background -> codebook vectors -> Conv2d / ConvTranspose2d layers -> sigmoid."""
    dt = spec.get("dtype", "float32")
    book = _floats(spec["codebook"], (spec["num_codes"], spec["code_dim"]), dt)
    mods: list[torch.nn.Module] = []
    for layer in spec["layers"]:
        k, n_in, n_out = layer["kernel"], layer["in"], layer["out"]
        if layer["kind"] == "conv":
            conv = torch.nn.Conv2d(n_in, n_out, k, layer["stride"], layer["padding"])
            shape = (n_out, n_in, k, k)
        else:
            conv = torch.nn.ConvTranspose2d(n_in, n_out, k, layer["stride"], layer["padding"])
            shape = (n_in, n_out, k, k)
        with torch.no_grad():
            conv.weight.copy_(_floats(layer["weight"], shape, dt))
            conv.bias.copy_(_floats(layer["bias"], (n_out,), dt))
        mods += [conv, torch.nn.ReLU()] if layer["activation"] == "relu" else [conv]
    net = torch.nn.Sequential(*mods, torch.nn.Sigmoid()).eval()

    def decode(z: torch.Tensor) -> torch.Tensor:
        grid = torch.full((len(z), *spec["grid"]), spec["background"], dtype=torch.long)
        grid[:, spec["position"][0], spec["position"][1]] = z[:, 0].round().long()
        return net(book[grid].permute(0, 3, 1, 2)).flatten(1)

    return decode


def torch_decoder(spec: dict):
    """The exported decoder rebuilt in torch from the page's JSON (its float32 weights)."""
    if spec["format"] == "vae-course-code-decoder/1":
        return torch_code_decoder(spec)
    mods: list[torch.nn.Module] = []
    dt = spec.get("dtype", "float32")
    for layer in spec["layers"]:
        lin = torch.nn.Linear(layer["in"], layer["out"])
        with torch.no_grad():
            lin.weight.copy_(_floats(layer["weight"], (layer["out"], layer["in"]), dt))
            lin.bias.copy_(_floats(layer["bias"], (layer["out"],), dt))
        mods += [lin, torch.nn.ReLU()] if layer["activation"] == "relu" else [lin]
    mods.append(torch.nn.Sigmoid() if spec["output"] == "sigmoid" else torch.nn.Hardtanh(0.0, 1.0))
    return torch.nn.Sequential(*mods).eval()


def compare(page, uid: str) -> dict:
    """The canvas and the runtime's numbers against torch at the page's z: the differences found."""
    spec = json.loads(page.evaluate("(id) => document.getElementById(id + '-decoder').textContent", uid))
    state = page.evaluate(JS_STATE, uid)
    canvas = page.evaluate(JS_CANVAS, uid)
    with torch.no_grad():
        ref = torch_decoder(spec)(torch.tensor([state["z"]], dtype=torch.float32))[0].double()
    drawn = torch.tensor(canvas["bytes"], dtype=torch.float64).view(-1, 4)
    assert (drawn[:, 0] == drawn[:, 1]).all() and (drawn[:, 1] == drawn[:, 2]).all() and (drawn[:, 3] == 255).all()
    levels = (drawn[:, 0] - torch.round(255 * ref)).abs().max().item()
    canvas_gap = (drawn[:, 0] / 255 - ref).abs().max().item()
    runtime_gap = (torch.tensor(state["pixels"], dtype=torch.float64) - ref).abs().max().item()
    assert levels <= 1, f"{uid}: canvas off torch's image by {levels} grey levels at z = {state['z']}"
    assert runtime_gap <= 1e-3, f"{uid}: the page's decoder differs from torch's by {runtime_gap:.2e}"
    assert canvas_gap <= 0.5 / 255 + 1e-3, canvas_gap
    return {"z": state["z"], "label": canvas["label"], "canvas": canvas_gap, "runtime": runtime_gap,
            "levels": levels, "draws": state["draws"], "spread": (ref.max() - ref.min()).item(),
            "pixels": state["pixels"]}  # fmt: skip


def against_the_model(seen: list[dict], model) -> float:
    """The page's decoder output against the float32 torch model the notebook exported (the page's weights
    may be its float16 copy): the largest difference over the points seen, asserted <= 1e-3."""
    from vae_course.models import decode_codes

    gaps = []
    for s in seen:
        if hasattr(model, "quantizer"):
            from vae_course.explorer import code_grids

            spec = {
                "grid": list(model.code_shape[1:]),
                "background": 2,
                "position": [g // 2 for g in model.code_shape[1:]],
            }
            with torch.no_grad():
                ref = model.to_image(model.decode_indices(code_grids(spec, [int(s["z"][0])])))
        else:
            ref = decode_codes(model, torch.tensor([s["z"]], dtype=torch.float32))
        gaps.append((torch.tensor(s["pixels"], dtype=torch.float64) - ref.flatten().double()).abs().max().item())
    assert max(gaps) <= 1e-3, gaps
    return max(gaps)


JS_FOLDED = """(id) => { const root = document.getElementById(id);
  const box = root.querySelector('details.live-explorer-snapshot');
  const marker = document.querySelector('[data-live-explorer-snapshot="' + id + '"]');
  const shown = Array.from(document.querySelectorAll('img')).filter(i => i.checkVisibility());
  return {folded: !!box && box.contains(marker) && !box.open, pictures: box ? box.querySelectorAll('img').length : 0,
          visible: shown.length}; }"""


def assert_snapshot_folded(page, uid: str) -> None:
    """The notebook's snapshot (its picture and note) sits folded in a closed <details> inside the explorer."""
    folded = page.evaluate(JS_FOLDED, uid)
    assert folded["folded"] and folded["pictures"] == 1 and folded["visible"] == 0, folded


def wait_for_draw(page, uid: str, after: int) -> None:
    page.wait_for_function(f"(id) => ({JS_STATE})(id) && ({JS_STATE})(id).draws > {after}", arg=uid, timeout=20_000)


def exercise(page, uid: str, tab_from_start: bool) -> list[dict]:
    """Mouse on slider 1 (a click on its track, which also focuses it), then Tab to slider 2 and arrow
    keys; returns compare() at the start and after each move. `tab_from_start`: the first Tab of the
    page must reach slider 1."""
    wait_for_draw(page, uid, 0)
    seen = [compare(page, uid)]
    if tab_from_start:
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.id") == f"{uid}-z1"
    first, second = page.locator(f"#{uid}-z1"), page.locator(f"#{uid}-z2")
    box = first.bounding_box()
    page.mouse.click(box["x"] + 0.85 * box["width"], box["y"] + box["height"] / 2)  # the mouse: a click on the track
    wait_for_draw(page, uid, seen[-1]["draws"])
    seen.append(compare(page, uid))
    assert seen[-1]["z"][0] > seen[0]["z"][0] + 0.5 and seen[-1]["z"][1] == seen[0]["z"][1], seen
    assert page.evaluate("() => document.activeElement.id") == f"{uid}-z1"  # the click focused it
    page.keyboard.press("Tab")  # the keyboard: Tab to the second slider, then arrow keys
    assert page.evaluate("() => document.activeElement.id") == f"{uid}-z2"
    for _ in range(5):
        page.keyboard.press("ArrowLeft")
    wait_for_draw(page, uid, seen[-1]["draws"] + 4)
    seen.append(compare(page, uid))
    step = float(second.get_attribute("step"))
    assert seen[-1]["z"][1] == pytest.approx(seen[1]["z"][1] - 5 * step, abs=1e-9), seen
    assert len({s["label"] for s in seen}) == 3, "the canvas's accessible name did not follow the point"
    return seen


def exercise_code(page, uid: str) -> list[dict]:
    """08's kind: the code slider moved with the mouse (a click on its track) and with the arrow keys."""
    wait_for_draw(page, uid, 0)
    seen = [compare(page, uid)]
    slider = page.locator(f"#{uid}-z1")
    box = slider.bounding_box()
    page.mouse.click(box["x"] + 0.9 * box["width"], box["y"] + box["height"] / 2)
    wait_for_draw(page, uid, seen[-1]["draws"])
    seen.append(compare(page, uid))
    assert seen[-1]["z"][0] >= seen[0]["z"][0] + 5 and float(seen[-1]["z"][0]).is_integer(), seen
    assert page.evaluate("() => document.activeElement.id") == f"{uid}-z1"
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    wait_for_draw(page, uid, seen[-1]["draws"] + 2)
    seen.append(compare(page, uid))
    assert seen[-1]["z"][0] == seen[1]["z"][0] - 3, seen
    assert len({s["label"] for s in seen}) == 3, "the canvas's accessible name did not follow the code"
    return seen


def report(where: str, seen: list[dict], model_gap: float | None = None) -> str:
    return (
        f"{where}: z "
        + " -> ".join("(" + ", ".join(f"{v:+.2f}" for v in s["z"]) + ")" for s in seen)
        + f"; max |canvas/255 - torch| {max(s['canvas'] for s in seen):.2e} (8-bit canvas: <= 1.96e-3), "
        f"max |page decoder - torch| {max(s['runtime'] for s in seen):.2e}, "
        f"max grey-level difference {max(s['levels'] for s in seen):.0f}"
        + ("" if model_gap is None else f", max |page decoder - the exported float32 torch model| {model_gap:.2e}")
    )


def test_explorer_page_redraws_offline_like_torch(browser, tmp_path) -> None:  # noqa: F811
    """The block as the site embeds it, in a plain page opened from disk; mouse, keyboard, pixels, axe."""
    model = small_vae()
    nb, _ = explorer_notebook(model)
    page_file = tmp_path / "explorer.html"
    uid = outputs_page(nb, page_file, "A live explorer")
    context, blocked = offline_context(browser, ("file:",))
    page = context.new_page()
    errors = watch(page)
    try:
        page.goto(page_file.as_uri())
        seen = exercise(page, uid, tab_from_start=True)
        assert min(s["spread"] for s in seen) > 0.1  # the images are not flat: a wrong pixel would show
        assert_snapshot_folded(page, uid)
        errors = list(errors)  # before axe, whose own stylesheet requests from file: pages fail (CORS)
        violations = axe(page)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "explorer-page.png"))
    finally:
        context.close()
    assert not violations, violations
    assert not errors, errors[:5]
    assert not blocked, blocked
    print(report("explorer page", seen, against_the_model(seen, model)) + "; axe: 0 violations")


def deck_of(nb, src: Path) -> Path:
    """`nb` as a reveal.js deck (lecture/build_slides.py), one slide per cell, written beside `src` with its own
    reveal.js and MathJax copies (nothing from the network); the deck's path."""
    for cell in nb.cells:
        cell.metadata["slideshow"] = {"slide_type": "slide"}
    nbformat.write(nb, src)
    out = src.parent / "slides"
    out.mkdir()
    vendor.copy_reveal(out / "reveal.js")
    vendor.copy_mathjax(out / "mathjax")
    return build_slides.build_deck(src, out)[0]


def test_explorer_runs_in_a_deck(browser, tmp_path) -> None:  # noqa: F811
    """The same notebook as a reveal.js deck (lecture/build_slides.py), from disk with the network blocked:
    the arrow keys move the focused slider, not the deck."""
    nb, _ = explorer_notebook()
    deck = deck_of(nb, tmp_path / "06_small.ipynb")
    uid = re.search(r'class="live-explorer" id="([^"]+)"', deck.read_text(encoding="utf-8")).group(1)
    context, blocked = offline_context(browser, ("file:",))
    page = context.new_page()
    errors = watch(page)
    try:
        page.goto(deck.as_uri() + "#/1")
        page.wait_for_function(JS_DECK_READY, timeout=30_000)
        indices = page.evaluate("() => JSON.stringify(Reveal.getIndices())")
        seen = exercise(page, uid, tab_from_start=False)
        assert page.evaluate("() => JSON.stringify(Reveal.getIndices())") == indices, "the arrow keys moved the deck"
        assert_snapshot_folded(page, uid)
        errors = list(errors)  # before axe, whose own stylesheet requests from file: pages fail (CORS)
        violations = axe(page, slide=True)
        page.screenshot(path=str(ARTIFACTS / "explorer-deck.png"))
    finally:
        context.close()
    assert not violations, violations
    assert not errors, errors[:5]
    assert not blocked, blocked
    print(report("explorer deck", seen) + "; axe on its slide: 0 violations")


def move_last_slider(page, uid: str) -> list[dict]:
    """A built page's explorer: compare() as drawn, then after three arrow-key steps on its last slider (the
    second z of a z-slider explorer, or 08's one code slider, stepped down from its background code)."""
    page.locator(f"#{uid}-z1").scroll_into_view_if_needed()
    wait_for_draw(page, uid, 0)
    seen = [compare(page, uid)]
    n = page.locator(f"#{uid} input[type=range]").count()  # 2 (a z-slider explorer) or 1 (08's code)
    page.locator(f"#{uid}-z{n}").focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft" if n == 1 else "ArrowRight")
    wait_for_draw(page, uid, seen[-1]["draws"] + 2)
    seen.append(compare(page, uid))
    assert seen[1]["z"][n - 1] != seen[0]["z"][n - 1], seen
    return seen


def test_site_explorers_draw_the_torch_decoder(browser, site, site_url) -> None:  # noqa: F811
    """Every live explorer of the built site (the notebooks that export their decoders), offline."""
    pages = sorted(p for p in Path(site, "notebooks").glob("*.html") if "live-explorer" in p.read_text("utf-8"))
    if not pages:
        pytest.skip("no notebook exports its explorer's decoder yet (vae_course.explorer.embed_decoder)")
    context, blocked = offline_context(browser, (site_url, "data:"), viewport=(1400, 1000))
    page = context.new_page()
    try:
        for path in pages:
            page.goto(f"{site_url}/notebooks/{path.name}", timeout=90_000)
            for uid in page.evaluate("() => Array.from(document.querySelectorAll('.live-explorer')).map(e => e.id)"):
                seen = move_last_slider(page, uid)
                assert page.evaluate(JS_FOLDED, uid)["folded"], f"{path.stem}: the snapshot was not folded away"
                print(report(f"site {path.stem}", seen))
    finally:
        context.close()
    assert not blocked, blocked[:5]


def outputs_page(nb, path: Path, title: str) -> str:
    """The explorer cell's outputs as the site shows them (the snapshot's picture and note, then the live
    explorer), each in its own <div> as a page's output area holds it, written to `path`; returns the uid."""
    cell = nb.cells[1]
    outputs = live_explorer.live_outputs(nb, cell, build_slides.snapshot_widgets(nb, cell, "<p>The picture.</p>"))
    parts = []
    for o in outputs:
        data = o.get("data", {})
        if "image/png" in data:
            alt = (
                o.get("metadata", {})
                .get("image/png", {})
                .get("alt", "The explorer's saved picture at its default setting")
            )
            parts.append(f'<div class="output"><img alt="{alt}" src="data:image/png;base64,{data["image/png"]}"></div>')
        elif "text/html" in data:
            parts.append(f'<div class="output">{data["text/html"]}</div>')
    path.write_text(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><main><h1>{title}</h1>\n" + "\n".join(parts) + "</main></body></html>\n",
        encoding="utf-8",
    )
    return re.search(r'class="live-explorer" id="([^"]+)"', "".join(parts)).group(1)


def code_explorer_files(tmp_path: Path) -> tuple[Path, Path]:
    """08's kind of explorer (a small VQ-VAE, one code slider) as a plain page and as a deck, on disk."""
    nb, _ = explorer_notebook(small_vqvae(), CODE_SLIDERS)  # background code 2
    page_file = tmp_path / "code.html"
    outputs_page(nb, page_file, "A code explorer")
    return page_file, deck_of(nb, tmp_path / "08_small.ipynb")


def test_code_explorer_runs_offline_like_torch(browser, tmp_path) -> None:  # noqa: F811
    """08's code explorer (convolutions in the page) in a plain page and in a deck, the network blocked:
    the code moved by mouse and keyboard, pixels against torch, the snapshot folded, axe."""
    page_file, deck = code_explorer_files(tmp_path)
    lines = []
    for where, url in (("code explorer page", page_file.as_uri()), ("code explorer deck", deck.as_uri() + "#/1")):
        html_text = Path(url.removeprefix("file://").split("#")[0]).read_text(encoding="utf-8")
        uid = re.search(r'class="live-explorer" id="([^"]+)"', html_text).group(1)
        context, blocked = offline_context(browser, ("file:",))
        page = context.new_page()
        errors = watch(page)
        try:
            page.goto(url)
            if "deck" in where:
                page.wait_for_function(JS_DECK_READY, timeout=30_000)
                indices = page.evaluate("() => JSON.stringify(Reveal.getIndices())")
            seen = exercise_code(page, uid)
            if "deck" in where:
                assert page.evaluate("() => JSON.stringify(Reveal.getIndices())") == indices, "the keys moved the deck"
            assert_snapshot_folded(page, uid)
            assert min(s["spread"] for s in seen) > 0.1
            errors = list(errors)
            violations = axe(page, slide="deck" in where)
            page.screenshot(path=str(ARTIFACTS / f"{where.replace(' ', '-')}.png"))
        finally:
            context.close()
        assert not violations, violations
        assert not errors, errors[:5]
        assert not blocked, blocked
        lines.append(report(where, seen, against_the_model(seen, small_vqvae())) + "; axe: 0 violations")
    print("\n".join(lines))
