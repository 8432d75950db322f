"""Live explorers for the web edition: a notebook's explorer redrawn in the page, with no kernel.

An explorer cell that called ``vae_course.explorer.embed_decoder(model)`` holds its decoder as an
output (``DECODER_MIME``: dense layers, or 08's VQ-VAE codebook and convolutions, float16 or float32
weights in base64). For the site and the decks that output becomes a block of plain HTML and JavaScript (no
library, no network): one native ``<input type="range">`` per slider of the notebook's widget (a
latent number; 08's code), with the ranges, steps and starting values of the notebook's own sliders
(read from the saved widget state; the lowest value moved up, by less than a step, onto the grid of
steps through the starting value), and a ``<canvas>`` that the decoder's forward pass redraws on every
move (``RUNTIME`` with ``DENSE_DECODE``, or ``CODE_DECODE``: the code grid through the codebook, then
convolutions and transposed convolutions, each a few loops). The canvas holds the image at its own
resolution (one canvas pixel per image pixel, grey levels 0-255) and is enlarged by CSS; its
accessible name says which point (code) it shows and changes with the sliders.

The explorer replaces the widget's snapshot where JavaScript runs: an empty marker output precedes
the snapshot (``snapshot_marker``), and once the explorer has drawn, the runtime moves the outputs
from the marker up to the explorer into a closed ``<details>`` at the explorer's end (the notebook's
whole figure at its default setting, one click away). A page without JavaScript shows the snapshot
as it is, then the block's sliders with an empty canvas. A cell with a decoder output but no widget
gets no block, and the decoder output itself is never shown. ``window.vaeCourseExplorers[id]`` keeps
each explorer's last z and its image as numbers, for the browser tests
(tests/browser/test_browser_explorer.py).
"""

from __future__ import annotations

import html
import json
import math
import re

import nbformat

from lecture import slide_metadata as sm
from vae_course.explorer import CODE_FORMAT, DECODER_MIME, FORMAT, describe

#: the drawn size of the canvas in CSS pixels (the image is upscaled with no smoothing): on a page, in a deck
CANVAS_PX, DECK_CANVAS_PX = 168, 100
#: in a deck, the snapshot's picture on a slide that also holds a live explorer is at most this tall (CSS
#: pixels), so that the two fit one 720-pixel slide (06's explorer slide was 824 px without it)
DECK_SNAPSHOT_PX = 160
#: the explorer's words in each language a page or deck is built in (English and, from notebooks/zh/,
#: Chinese). ``{z}`` stays in the label and caption: the runtime writes the point there as the slider moves.
#: snapshot: the summary of the <details> the runtime folds the notebook's snapshot into.
WORDS = {
    "en": {
        "page_note": "<p><b>Live explorer</b>: the notebook's decoder ({sizes}, its trained weights) runs in this "
        "page; {what}. No kernel, no network.</p>",
        "deck_note": "<p><b>Live explorer</b>: the notebook's decoder ({sizes}) runs in this deck.</p>",
        "snapshot": "The notebook's figure at its default setting (a picture saved with the notebook)",
        "dense_what": "move a slider (or focus it and use the arrow keys) to redraw the image",
        "dense_label": "The decoder's {h}\u00d7{w} image at ({names}) = {z}, drawn in this page",
        "dense_caption": "decoded at ({names}) = {z}",
        "code_where": "code {z} alone at row {row}, column {col} of the {rows}\u00d7{cols} code grid, every other "
        "position holding code {background} (blank paper)",
        "code_what": "pick a code with the slider (or focus it and use the arrow keys) to redraw what the decoder "
        "paints for it alone on blank paper, the notebook's \u201cdecoded alone\u201d panel, here the whole image",
        "code_label": "The decoder's {h}\u00d7{w} image of {where}, drawn in this page",
        "code_caption": "decoded: {where}",
    },
    "zh": {
        "page_note": "<p><b>实时探索器</b>：笔记本的解码器（{sizes}，训练好的权重）在本页中运行；{what}。"
        "不需要内核，也不联网。</p>",
        "deck_note": "<p><b>实时探索器</b>：笔记本的解码器（{sizes}）在这份幻灯片中运行。</p>",
        "snapshot": "笔记本在默认设置下的图（随笔记本保存的图片）",
        "dense_what": "拖动滑块（或聚焦后按方向键）即可重新绘制图像",
        "dense_label": "解码器在 ({names}) = {z} 处的 {h}\u00d7{w} 图像，在本页中绘制",
        "dense_caption": "解码位置 ({names}) = {z}",
        "code_where": "码字 {z} 单独放在 {rows}\u00d7{cols} 编码网格的第 {row} 行第 {col} 列，其余位置都是码字 "
        "{background}（空白的纸）",
        "code_what": "用滑块选一个码字（或聚焦后按方向键），重新绘制解码器单独在白纸上为它画出的东西，即笔记本里"
        "\u201c单独解码\u201d那一栏，这里是整幅图像",
        "code_label": "解码器的 {h}\u00d7{w} 图像：{where}，在本页中绘制",
        "code_caption": "解码：{where}",
    },
}
#: the English summary of the snapshot's fold (tests and the i18n check read it)
SNAPSHOT_SUMMARY = WORDS["en"]["snapshot"]


def _fill(template: str, **values) -> str:
    """``template`` with ``values`` in place, ``{z}`` left for the runtime (str.format would want it)."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m[1]]) if m[1] in values else m[0], template)


#: the forward pass of a dense decoder (``FORMAT``): z -> pixels
DENSE_DECODE = r"""
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
"""

#: the forward pass of a VQ-VAE's decoder (``CODE_FORMAT``): [code] -> the code grid (the background
#: code everywhere, the picked one at ``position``) -> codebook vectors -> convolutions -> pixels. A
#: convolution gathers each output from its kernel's window; a transposed one scatters each input,
#: scaled, over the kernel at stride-spaced places and cuts ``padding`` off every border (as torch's)
CODE_DECODE = r"""
  var book = floats(spec.codebook), D = spec.code_dim;
  var layers = spec.layers.map(function (l) {
    return {t: l.kind === 'conv_transpose', n: l['in'], m: l.out, k: l.kernel, s: l.stride, p: l.padding,
            w: floats(l.weight), b: floats(l.bias), relu: l.activation === 'relu'};
  });
  function layer(l, x, h, w) {
    var k = l.k, s = l.s, p = l.p, ho, wo, y, o, i, a, b, u, v;
    if (l.t) {
      ho = (h - 1) * s - 2 * p + k; wo = (w - 1) * s - 2 * p + k; y = new Float64Array(l.m * ho * wo);
      for (o = 0; o < l.m; o++) for (a = 0; a < ho * wo; a++) y[o * ho * wo + a] = l.b[o];
      for (i = 0; i < l.n; i++) for (a = 0; a < h; a++) for (b = 0; b < w; b++) {
        var xv = x[(i * h + a) * w + b];
        if (xv === 0) continue;
        for (o = 0; o < l.m; o++) for (u = 0; u < k; u++) {
          var oy = a * s - p + u;
          if (oy < 0 || oy >= ho) continue;
          for (v = 0; v < k; v++) {
            var ox = b * s - p + v;
            if (ox >= 0 && ox < wo) y[(o * ho + oy) * wo + ox] += xv * l.w[((i * l.m + o) * k + u) * k + v];
          }
        }
      }
    } else {
      ho = Math.floor((h + 2 * p - k) / s) + 1; wo = Math.floor((w + 2 * p - k) / s) + 1;
      y = new Float64Array(l.m * ho * wo);
      for (o = 0; o < l.m; o++) for (a = 0; a < ho; a++) for (b = 0; b < wo; b++) {
        var acc = l.b[o];
        for (i = 0; i < l.n; i++) for (u = 0; u < k; u++) {
          var iy = a * s - p + u;
          if (iy < 0 || iy >= h) continue;
          for (v = 0; v < k; v++) {
            var ix = b * s - p + v;
            if (ix >= 0 && ix < w) acc += l.w[((o * l.n + i) * k + u) * k + v] * x[(i * h + iy) * w + ix];
          }
        }
        y[(o * ho + a) * wo + b] = acc;
      }
    }
    if (l.relu) for (a = 0; a < y.length; a++) if (y[a] < 0) y[a] = 0;
    return {x: y, h: ho, w: wo};
  }
  function decode(z) {
    var h = spec.grid[0], w = spec.grid[1], x = new Float64Array(D * h * w);
    for (var q = 0; q < h * w; q++) {
      var code = q === spec.position[0] * w + spec.position[1] ? z[0] : spec.background;
      for (var d = 0; d < D; d++) x[d * h * w + q] = book[code * D + d];
    }
    var out = {x: x, h: h, w: w};
    layers.forEach(function (l) { out = layer(l, out.x, out.h, out.w); });
    return out.x.map(function (v) { return 1 / (1 + Math.exp(-v)); });
  }
"""

RUNTIME = r"""
(function () {
  var root = document.getElementById(__ID__);
  var spec = JSON.parse(document.getElementById(__ID__ + '-decoder').textContent);
  function floats(b64) {  // little-endian float32, or float16 (IEEE half: sign, 5-bit exponent, 10-bit fraction)
    var s = atob(b64), bytes = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    if (spec.dtype !== 'float16') return new Float32Array(bytes.buffer);
    var half = new Uint16Array(bytes.buffer), out = new Float32Array(half.length);
    for (var j = 0; j < half.length; j++) {
      var h = half[j], e = (h >> 10) & 31, f = h & 1023;
      var v = e === 0 ? f * Math.pow(2, -24) : e === 31 ? (f ? NaN : Infinity) : (1 + f / 1024) * Math.pow(2, e - 15);
      out[j] = h & 32768 ? -v : v;
    }
    return out;
  }
__DECODE__
  var canvas = root.querySelector('canvas'), ctx = canvas.getContext('2d');
  var sliders = Array.prototype.slice.call(root.querySelectorAll('input[type=range]'));
  function fmt(v) {
    return __SIGNED__ ? (v < 0 ? '\u2212' : '+') + Math.abs(v).toFixed(__DIGITS__) : v.toFixed(__DIGITS__);
  }
  // the live explorer replaces the notebook's snapshot (the outputs from the marker before it up to this
  // block): they move, folded, into a <details> at the end of the explorer; a page without JavaScript shows them
  function fold() {
    var mark = document.querySelector('[data-live-explorer-snapshot="' + __ID__ + '"]'), here = root;
    if (!mark) return;
    while (here.parentNode && !here.parentNode.contains(mark)) here = here.parentNode;
    var first = mark;
    while (first.parentNode && first.parentNode !== here.parentNode) first = first.parentNode;
    if (!first.parentNode) return;
    var box = document.createElement('details'), summary = document.createElement('summary');
    box.className = 'live-explorer-snapshot';
    summary.textContent = __SNAPSHOT__;
    box.appendChild(summary);
    while (first && first !== here) { var next = first.nextSibling; box.appendChild(first); first = next; }
    root.appendChild(box);
  }
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
    var at = __LIST__ ? '(' + z.map(fmt).join(', ') + ')' : z.map(fmt).join(', ');
    canvas.setAttribute('aria-label', __LABEL__.replace('{z}', at));
    var caption = root.querySelector('.live-explorer-caption');
    if (caption) caption.textContent = __CAPTION__.replace('{z}', at);
    var before = window.vaeCourseExplorers[__ID__] || {draws: 0};
    window.vaeCourseExplorers[__ID__] = {z: z, pixels: Array.prototype.slice.call(pixels), draws: before.draws + 1};
  }
  window.vaeCourseExplorers = window.vaeCourseExplorers || {};
  sliders.forEach(function (s) { s.addEventListener('input', draw); });
  draw();
  fold();
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
    ".live-explorer-snapshot{margin-top:6px}.live-explorer-snapshot summary{font-size:0.8em;cursor:pointer}"
)


def decoder_of(cell) -> dict | None:
    """The decoder a cell exported with ``embed_decoder``, or None."""
    for o in cell.get("outputs", []):
        spec = o.get("data", {}).get(DECODER_MIME)
        if spec is not None:
            spec = json.loads(spec) if isinstance(spec, str) else dict(spec)
            if spec.get("format") not in (FORMAT, CODE_FORMAT):
                raise SystemExit(f"cell {cell.get('id')}: a decoder output in an unknown format {spec.get('format')!r}")
            return spec
    return None


def sliders_of(nb, cell) -> list[dict]:
    """The float (or integer: 08's code) sliders of the cell's widget, in order, from the saved widget
    state (description, min, max, step, value); [] if the cell shows no widget."""
    state = nb.metadata.get("widgets", {}).get(sm.WIDGET_STATE_MIME, {}).get("state", {})
    found = []
    for o in cell.get("outputs", []):
        if sm.WIDGET_MIME not in o.get("data", {}):
            continue
        todo = [o["data"][sm.WIDGET_MIME]["model_id"]]
        while todo:
            model = state.get(todo.pop(0), {})
            s = model.get("state", {})
            if model.get("model_name") in ("FloatSliderModel", "IntSliderModel"):
                found.append({k: s[k] for k in ("description", "min", "max", "step", "value")})
            todo += [c[len("IPY_MODEL_") :] for c in s.get("children", []) if str(c).startswith("IPY_MODEL_")]
    return found


def _digits(step: float) -> int:
    if float(step).is_integer() and isinstance(step, int):
        return 0  # an integer slider (08's code)
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


def _texts(spec: dict, sliders: list[dict], lang: str = "en") -> tuple[str, str, str]:
    """(label, caption, what) in ``lang``: the canvas's accessible name and the caption, each with {z} for
    the point, and what the explorer redraws, for its note."""
    words, (h, w) = WORDS[lang], spec["image_shape"]
    if spec["format"] == CODE_FORMAT:
        (row, col), (rows, cols) = spec["position"], spec["grid"]
        background = spec["background"]
        where = _fill(words["code_where"], row=row + 1, col=col + 1, rows=rows, cols=cols, background=background)
        label = _fill(words["code_label"], h=h, w=w, where=where)
        return label, _fill(words["code_caption"], where=where), words["code_what"]
    names = ", ".join(s["description"] for s in sliders)
    label = _fill(words["dense_label"], h=h, w=w, names=names)
    return label, _fill(words["dense_caption"], names=names), words["dense_what"]


def explorer_html(spec: dict, sliders: list[dict], uid: str, compact: bool = False, lang: str = "en") -> str:
    """The live explorer's HTML block (sliders, canvas, the decoder as JSON and the runtime), its words in
    ``lang`` (``WORDS``; the sliders' names are the notebook's, already in its language). `compact`
    (a deck): a smaller canvas, a one-line note, no caption under the canvas (the sliders' read-outs and
    the canvas's accessible name still give the point). Where JavaScript runs, the runtime folds the
    cell's snapshot (the outputs after the cell's ``snapshot_marker``) into a closed <details> at its end."""
    px = DECK_CANVAS_PX if compact else CANVAS_PX
    code = spec["format"] == CODE_FORMAT
    wanted = 1 if code else spec["latent_dim"]
    if len(sliders) != wanted:
        what = "a code decoder (one code)" if code else f"a decoder of {spec['latent_dim']} latent numbers"
        raise SystemExit(f"{uid}: {len(sliders)} sliders for {what}")
    uid = re.sub(r"[^A-Za-z0-9_-]", "-", uid)
    h, w = spec["image_shape"]
    sizes = describe(spec).replace(" -> ", " \u2192 ")
    if lang not in WORDS:
        raise SystemExit(f"{uid}: no explorer text in {lang!r} (lecture/live_explorer.py WORDS has {sorted(WORDS)})")
    words = WORDS[lang]
    label, caption, what = _texts(spec, sliders, lang)
    digits = _digits(min(s["step"] for s in sliders))
    signed = not code

    def fmt(v: float) -> str:  # as the runtime's fmt writes a number
        return _signed(v, digits) if signed else f"{v:.{digits}f}"

    at = ", ".join(fmt(s["value"]) for s in sliders)
    at = at if code else f"({at})"
    rows = []
    for k, s in enumerate(sliders):
        sid = f"{uid}-z{k + 1}"
        rows.append(
            f'<label for="{sid}">{html.escape(s["description"])}</label>'
            f'<input type="range" id="{sid}" min="{_grid_min(s)!r}" max="{s["max"]!r}" step="{s["step"]!r}" '
            f'value="{s["value"]!r}">'
            f'<output id="{sid}-value" for="{sid}">{fmt(s["value"])}</output>'
        )
    script = (
        RUNTIME.replace("__DECODE__", CODE_DECODE if code else DENSE_DECODE)
        .replace("__ID__", json.dumps(uid))
        .replace("__SIGNED__", json.dumps(signed))
        .replace("__LIST__", json.dumps(not code))
        .replace("__SNAPSHOT__", json.dumps(words["snapshot"]))
        .replace("__DIGITS__", str(digits))
        .replace("__LABEL__", json.dumps(label))
        .replace("__CAPTION__", json.dumps(caption))
    )
    data = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    shrink = f".reveal section:has(#{uid}) img{{max-height:{DECK_SNAPSHOT_PX}px;width:auto}}" if compact else ""
    return (
        f'<style>{STYLE}{shrink}</style>\n<div class="live-explorer" id="{uid}">\n'
        + ("" if compact else _fill(words["page_note"], sizes=sizes, what=what) + "\n")
        + f'<div class="live-explorer-row">\n<div><canvas width="{w}" height="{h}" role="img" '
        f'aria-label="{html.escape(label.replace("{z}", at))}" style="width:{px}px;height:{px * h // w}px"></canvas>'
        + ("" if compact else f'<p class="live-explorer-caption">{html.escape(caption.replace("{z}", at))}</p>')
        + "</div>\n"
        '<div class="live-explorer-controls">'
        + (_fill(words["deck_note"], sizes=sizes) if compact else "")
        + f"{''.join(rows)}</div>\n</div>\n"
        f'<script type="application/json" id="{uid}-decoder">{data}</script>\n'
        f"<script>{script}</script>\n</div>\n"
    )


def snapshot_marker(uid: str) -> dict:
    """An empty output that marks where the cell's snapshot begins: the runtime folds the outputs from it
    up to the live explorer into a <details> (a page without JavaScript shows them as they are)."""
    return nbformat.v4.new_output(
        "display_data", data={"text/html": f'<div data-live-explorer-snapshot="{uid}" hidden></div>', "text/plain": ""}
    )


def live_outputs(nb, cell, outputs: list, compact: bool = False, lang: str = "en") -> list:
    """``outputs`` (the cell's outputs as a page shows them: its widget replaced by the snapshot) without
    the decoder output, and where the cell has both a decoder and a widget with its sliders, a
    ``snapshot_marker`` where the widget's snapshot begins and the live explorer after the outputs."""
    kept = [o for o in outputs if DECODER_MIME not in o.get("data", {})]
    spec = decoder_of(cell)
    sliders = sliders_of(nb, cell)
    if spec is None or not sliders:
        return kept
    uid = re.sub(r"[^A-Za-z0-9_-]", "-", f"explorer-{cell.get('id', 'cell')}")
    block = explorer_html(spec, sliders, uid, compact, lang)
    before = 0  # the outputs before the widget's, which the snapshot keeps as they are (but the decoder's)
    for o in cell.get("outputs", []):
        if sm.WIDGET_MIME in o.get("data", {}):
            break
        before += DECODER_MIME not in o.get("data", {})
    before = min(before, len(kept))
    return [*kept[:before], snapshot_marker(uid), *kept[before:]] + [
        nbformat.v4.new_output("display_data", data={"text/html": block, "text/plain": ""})
    ]
