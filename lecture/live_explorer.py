"""Live explorers for the web edition: a notebook's z-slider explorer redrawn in the page, with no kernel.

An explorer cell that called ``vae_course.explorer.embed_decoder(model)`` holds its decoder as an
output (``DECODER_MIME``: dense layers, float32 weights in base64). For the site and the decks that
output becomes a block of plain HTML and JavaScript (no library, no network): one native
``<input type="range">`` per latent number, with the ranges, steps and starting values of the
notebook's own sliders (read from the saved widget state; the lowest value moved up, by less than a
step, onto the grid of steps through the starting value), and a ``<canvas>`` that the decoder's
forward pass (``RUNTIME``, about thirty lines) redraws on every move. The canvas holds the image at
its own resolution (one canvas pixel per image pixel, grey levels 0-255) and is enlarged by CSS;
its accessible name says which point it shows and changes with the sliders.

The block follows the widget's snapshot (which still shows the notebook's whole figure at the
default setting); a cell with a decoder output but no widget gets none, and the decoder output
itself is never shown. ``window.vaeCourseExplorers[id]`` keeps each explorer's last z and its image
as numbers, for the browser tests (tests/browser/test_browser_explorer.py).
"""

from __future__ import annotations

import html
import json
import math
import re

import nbformat

from lecture import slide_metadata as sm
from vae_course.explorer import DECODER_MIME, FORMAT

#: the drawn size of the canvas in CSS pixels (the image is upscaled with no smoothing): on a page, in a deck
CANVAS_PX, DECK_CANVAS_PX = 168, 100
#: in a deck, the snapshot's picture on a slide that also holds a live explorer is at most this tall (CSS
#: pixels), so that the two fit one 720-pixel slide (06's explorer slide was 824 px without it)
DECK_SNAPSHOT_PX = 160

RUNTIME = r"""
(function () {
  var root = document.getElementById(__ID__);
  var spec = JSON.parse(document.getElementById(__ID__ + '-decoder').textContent);
  function floats(b64) {
    var s = atob(b64), bytes = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }
  var layers = spec.layers.map(function (l) {
    return {n: l['in'], m: l.out, w: floats(l.weight), b: floats(l.bias), relu: l.activation === 'relu'};
  });
  function decode(z) {
    var h = z;
    layers.forEach(function (l) {
      var out = new Float64Array(l.m);
      for (var o = 0; o < l.m; o++) {
        var s = l.b[o], row = o * l.n;
        for (var i = 0; i < l.n; i++) s += l.w[row + i] * h[i];
        out[o] = l.relu && s < 0 ? 0 : s;
      }
      h = out;
    });
    return h.map(function (v) {
      return spec.output === 'sigmoid' ? 1 / (1 + Math.exp(-v)) : Math.min(1, Math.max(0, v));
    });
  }
  var canvas = root.querySelector('canvas'), ctx = canvas.getContext('2d');
  var sliders = Array.prototype.slice.call(root.querySelectorAll('input[type=range]'));
  function fmt(v) { return (v < 0 ? '\u2212' : '+') + Math.abs(v).toFixed(__DIGITS__); }
  function draw() {
    var z = sliders.map(function (s) { return parseFloat(s.value); });
    var pixels = decode(z), img = ctx.createImageData(canvas.width, canvas.height);
    for (var p = 0; p < pixels.length; p++) {
      var g = Math.round(255 * pixels[p]);
      img.data[4 * p] = img.data[4 * p + 1] = img.data[4 * p + 2] = g;
      img.data[4 * p + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
    sliders.forEach(function (s, k) { root.querySelector('#' + s.id + '-value').textContent = fmt(z[k]); });
    var at = '(' + z.map(fmt).join(', ') + ')';
    canvas.setAttribute('aria-label', __LABEL__.replace('{z}', at));
    var caption = root.querySelector('.live-explorer-caption');
    if (caption) caption.textContent = __CAPTION__.replace('{z}', at);
    var before = window.vaeCourseExplorers[__ID__] || {draws: 0};
    window.vaeCourseExplorers[__ID__] = {z: z, pixels: Array.prototype.slice.call(pixels), draws: before.draws + 1};
  }
  window.vaeCourseExplorers = window.vaeCourseExplorers || {};
  sliders.forEach(function (s) { s.addEventListener('input', draw); });
  draw();
})();
"""

STYLE = (
    ".live-explorer{border:1px solid #767676;border-radius:4px;padding:8px 12px;margin:8px 0;max-width:40em}"
    ".live-explorer-row{display:flex;gap:16px;align-items:center;flex-wrap:wrap}"
    ".live-explorer canvas{image-rendering:pixelated;border:1px solid #767676}"
    ".live-explorer-controls{flex:1 1 16em;display:grid;grid-template-columns:auto 1fr auto;gap:6px 10px;"
    "align-items:center;min-width:14em}"
    ".live-explorer-controls output{font-variant-numeric:tabular-nums;min-width:3.5em}"
    ".live-explorer p{margin:0 0 6px 0;font-size:0.9em;color:#333}"
    ".live-explorer-controls p{grid-column:1/-1;margin:0}"
)


def decoder_of(cell) -> dict | None:
    """The decoder a cell exported with ``embed_decoder``, or None."""
    for o in cell.get("outputs", []):
        spec = o.get("data", {}).get(DECODER_MIME)
        if spec is not None:
            spec = json.loads(spec) if isinstance(spec, str) else dict(spec)
            if spec.get("format") != FORMAT:
                raise SystemExit(f"cell {cell.get('id')}: a decoder output in an unknown format {spec.get('format')!r}")
            return spec
    return None


def sliders_of(nb, cell) -> list[dict]:
    """The float sliders of the cell's widget, in order, from the saved widget state (description, min,
    max, step, value); [] if the cell shows no widget."""
    state = nb.metadata.get("widgets", {}).get(sm.WIDGET_STATE_MIME, {}).get("state", {})
    found = []
    for o in cell.get("outputs", []):
        if sm.WIDGET_MIME not in o.get("data", {}):
            continue
        todo = [o["data"][sm.WIDGET_MIME]["model_id"]]
        while todo:
            model = state.get(todo.pop(0), {})
            s = model.get("state", {})
            if model.get("model_name") == "FloatSliderModel":
                found.append({k: s[k] for k in ("description", "min", "max", "step", "value")})
            todo += [c[len("IPY_MODEL_") :] for c in s.get("children", []) if str(c).startswith("IPY_MODEL_")]
    return found


def _digits(step: float) -> int:
    text = f"{step:.10f}".rstrip("0")
    return max(1, len(text.split(".")[1])) if "." in text else 1


def _grid_min(s: dict) -> float:
    """The slider's lowest value on the grid of steps through its starting value: a range input's values
    are min + k * step, and the notebook's may start between them (01's start at the median code)."""
    k = math.floor((s["value"] - s["min"]) / s["step"] + 1e-9)
    return round(s["value"] - k * s["step"], 12)


def _signed(v: float, digits: int) -> str:
    """As the runtime's fmt writes a number: its sign (a true minus) and `digits` decimals."""
    return ("\u2212" if v < 0 else "+") + f"{abs(v):.{digits}f}"


def explorer_html(spec: dict, sliders: list[dict], uid: str, compact: bool = False) -> str:
    """The live explorer's HTML block (sliders, canvas, the decoder as JSON and the runtime). `compact`
    (a deck, where it shares the slide with the snapshot): a smaller canvas, a one-line note, no caption
    under the canvas (the sliders' read-outs and the canvas's accessible name still give the point)."""
    px = DECK_CANVAS_PX if compact else CANVAS_PX
    if len(sliders) != spec["latent_dim"]:
        raise SystemExit(f"{uid}: {len(sliders)} sliders for a decoder of {spec['latent_dim']} latent numbers")
    uid = re.sub(r"[^A-Za-z0-9_-]", "-", uid)
    h, w = spec["image_shape"]
    sizes = " \u2192 ".join([str(spec["latent_dim"]), *(str(layer["out"]) for layer in spec["layers"])])
    names = ", ".join(s["description"] for s in sliders)
    label = f"The decoder's {h}\u00d7{w} image at ({names}) = {{z}}, drawn in this page"
    caption = f"decoded at ({names}) = {{z}}"
    digits = _digits(min(s["step"] for s in sliders))
    at = "(" + ", ".join(_signed(s["value"], digits) for s in sliders) + ")"
    rows = []
    for k, s in enumerate(sliders):
        sid = f"{uid}-z{k + 1}"
        rows.append(
            f'<label for="{sid}">{html.escape(s["description"])}</label>'
            f'<input type="range" id="{sid}" min="{_grid_min(s)!r}" max="{s["max"]!r}" step="{s["step"]!r}" '
            f'value="{s["value"]!r}">'
            f'<output id="{sid}-value" for="{sid}">{_signed(s["value"], digits)}</output>'
        )
    script = (
        RUNTIME.replace("__ID__", json.dumps(uid))
        .replace("__DIGITS__", str(digits))
        .replace("__LABEL__", json.dumps(label))
        .replace("__CAPTION__", json.dumps(caption))
    )
    data = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    shrink = f".reveal section:has(#{uid}) img{{max-height:{DECK_SNAPSHOT_PX}px;width:auto}}" if compact else ""
    return (
        f'<style>{STYLE}{shrink}</style>\n<div class="live-explorer" id="{uid}">\n'
        + (
            ""
            if compact
            else f"<p><b>Live explorer</b>: the notebook's decoder (dense layers {sizes}, its trained weights) runs "
            "in this page; move a slider (or focus it and use the arrow keys) to redraw the image. No kernel, no "
            "network.</p>\n"
        )
        + f'<div class="live-explorer-row">\n<div><canvas width="{w}" height="{h}" role="img" '
        f'aria-label="{html.escape(label.replace("{z}", at))}" style="width:{px}px;height:{px * h // w}px"></canvas>'
        + ("" if compact else f'<p class="live-explorer-caption">{html.escape(caption.replace("{z}", at))}</p>')
        + "</div>\n"
        '<div class="live-explorer-controls">'
        + (f"<p><b>Live explorer</b>: the notebook's decoder ({sizes}) runs in this deck.</p>" if compact else "")
        + f"{''.join(rows)}</div>\n</div>\n"
        f'<script type="application/json" id="{uid}-decoder">{data}</script>\n'
        f"<script>{script}</script>\n</div>\n"
    )


def live_outputs(nb, cell, outputs: list, compact: bool = False) -> list:
    """``outputs`` (the cell's outputs as a page shows them) without the decoder output, and with the
    live explorer after them where the cell has both a decoder and a widget with its sliders."""
    kept = [o for o in outputs if DECODER_MIME not in o.get("data", {})]
    spec = decoder_of(cell)
    sliders = sliders_of(nb, cell)
    if spec is None or not sliders:
        return kept
    block = explorer_html(spec, sliders, f"explorer-{cell.get('id', 'cell')}", compact)
    return kept + [nbformat.v4.new_output("display_data", data={"text/html": block, "text/plain": ""})]
