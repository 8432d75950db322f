"""End to end: the course as a learner opens it, in JupyterLab in a real (headless) browser.

nbval proves that every notebook executes; it cannot see what the learner sees. A widget whose
front-end code is missing passes nbval and shows "Error displaying widget" (or its text repr) in
the browser. This test starts JupyterLab from the course environment, opens notebooks in headless
Chromium, runs every cell through the Run menu, and checks what is on the page:

* every code cell ran, and no cell produced an error output;
* every figure the kernel sent is rendered as a decoded image;
* every widget output is rendered as a live widget view, not its text fallback or an error;
* in each explorer (a widget output holding a slider and a figure), dragging the slider with
  the mouse moves it and changes the displayed figure;
* the first explorer works from the keyboard alone: from its cell, Tab reaches the slider and the
  arrow keys move it and redraw the figure (WCAG 2.1.1);
* the page threw no uncaught JavaScript error, and logged no widget error.

Screenshots and a JSON report per notebook go to artifacts/browser/.

Run it with `make test-browser` (`-m browser`; plain `pytest` and `make test` deselect it).
Needs Playwright for Python (the `browser` extra) and a Chromium binary: /usr/bin/chromium,
or the path in VAE_COURSE_CHROMIUM. Where either is missing the test is skipped with the reason,
except under CI=true, where it fails instead.

Knobs (environment): VAE_COURSE_BROWSER_NOTEBOOKS="a.ipynb,b.ipynb" picks the notebooks,
VAE_COURSE_BROWSER_NOTEBOOK_DIR another folder of notebooks (used to check that the test catches
broken ones), VAE_COURSE_BROWSER_BUDGET the overall time budget in seconds (default 420).
"""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

import pytest

from tests.browser.lab_server import LabServer, launch_chromium, start_lab

pytestmark = pytest.mark.browser  # deselected by default (pyproject.toml); `make test-browser` runs it

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = Path(os.environ.get("VAE_COURSE_BROWSER_NOTEBOOK_DIR") or ROOT / "notebooks")
ARTIFACTS = ROOT / "artifacts" / "browser"
#: Whole-run budget in seconds (server start, browser, every notebook); each step has its own too.
BUDGET_S = float(os.environ.get("VAE_COURSE_BROWSER_BUDGET", "420"))
#: Text that JupyterLab or the widget manager shows where a widget failed to render.
WIDGET_FAILURES = (
    "Error displaying widget",
    "Failed to load model class",
    "Could not render",
    "Error creating view",
    "A Jupyter widget could not be displayed",
)
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def choose_notebooks() -> list[str]:
    """00_start_here (the entry point, always) and the first later notebook with an explorer.

    VAE_COURSE_BROWSER_NOTEBOOKS="a.ipynb,b.ipynb" picks others.
    """
    chosen = os.environ.get("VAE_COURSE_BROWSER_NOTEBOOKS")
    if chosen:
        return [n.strip() for n in chosen.split(",") if n.strip()]
    names = ["00_start_here.ipynb"]
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        if path.name != names[0] and "interact" in path.read_text(encoding="utf-8"):
            names.append(path.name)
            break
    if (NOTEBOOKS / "zh" / names[0]).exists():  # the Chinese edition's entry point (make zh), in its own folder
        names.append(f"zh/{names[0]}")
    return names


class Clock:
    """The whole run's deadline; `ms(step_s)` is a step's timeout, cut to what is left."""

    def __init__(self, budget_s: float):
        self.budget_s = budget_s
        self.deadline = time.monotonic() + budget_s

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def ms(self, step_s: float) -> float:
        left = self.left()
        if left <= 0:
            pytest.fail(f"the browser test ran past its overall budget of {self.budget_s:.0f} s")
        return 1000 * min(step_s, left)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(BUDGET_S)


@pytest.fixture(scope="module")
def lab(tmp_path_factory, clock) -> LabServer:
    """A JupyterLab server on a free port with a token; always stopped, pass or fail."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.iterdir():  # no stale screenshot from an earlier run may mislead
        if old.is_file():
            old.unlink()
    server = start_lab(
        NOTEBOOKS, tmp_path_factory.mktemp("lab"), ARTIFACTS / "jupyter-server.log", timeout=min(120.0, clock.left())
    )
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum, frame):  # `timeout` or CI stopping the run: take the server down too
        server.stop(timeout=5)
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield server
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


# ---------------------------------------------------------------------------------------------
# What the page holds, read in the browser. `window.jupyterapp` is there because the server runs
# with --LabApp.expose_app_in_browser (JupyterLab's own switch for UI tests).

JS_KERNEL_STATUS = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return k ? k.status : null;
}"""

JS_CELLS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  return panel.content.widgets.map((cell, index) => {
    const m = cell.model;
    const out = {index, type: m.type, source: m.sharedModel.getSource().slice(0, 160)};
    if (m.type === 'code') {
      out.execution_count = m.executionCount;
      out.outputs = [];
      for (let i = 0; i < m.outputs.length; i++) {
        const o = m.outputs.get(i).toJSON();
        out.outputs.push({
          output_type: o.output_type,
          mimes: Object.keys(o.data || {}),
          ename: o.ename, evalue: o.evalue,
          text: (o.output_type === 'stream' ? String(o.text) : '').slice(0, 300),
        });
      }
      out.prompt = cell.node.querySelector('.jp-InputPrompt') ?
                   cell.node.querySelector('.jp-InputPrompt').textContent.trim() : '';
    }
    return out;
  });
}"""

JS_RUN_FINISHED = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  const cells = panel.content.widgets.filter(c => c.model.type === 'code');
  if (cells.some(c => (c.node.querySelector('.jp-InputPrompt') || {}).textContent.includes('*')))
    return false;
  const errored = cells.some(c => { for (let i = 0; i < c.model.outputs.length; i++)
                                      if (c.model.outputs.get(i).type === 'error') return true;
                                    return false; });
  return errored || cells.every(c => c.model.executionCount !== null ||
                                     c.model.sharedModel.getSource().trim() === '');
}"""

# Every <img> in the notebook's outputs, with whether it decoded.
JS_IMAGES = """() => Array.from(document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img')).map(
    img => ({complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
             in_widget: !!img.closest('.jupyter-widgets')}))"""


def save_json(path: Path, value) -> None:
    path.write_text(json.dumps(value, indent=1, default=str))


def shot(page, name: str, locator=None) -> Path:
    path = ARTIFACTS / f"{name}.png"
    try:
        (locator or page).screenshot(path=str(path), **({} if locator else {"full_page": False}))
    except Exception as e:  # a screenshot must never hide the real failure
        print(f"screenshot {path.name} failed: {e}")
    return path


def describe(cell: dict) -> str:
    return f"cell {cell['index']} ({cell['source'][:70]!r}...)"


def open_notebook(page, lab: LabServer, name: str, clock: Clock) -> None:
    """Open the notebook as a learner does: the lab URL with the token, then wait for its kernel."""
    # ?reset: a fresh workspace, as on a learner's first visit (no tabs restored from earlier tests)
    page.goto(lab.url(f"lab/tree/{name}?reset"), timeout=clock.ms(90))
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=clock.ms(90))
    deadline = time.monotonic() + min(90, clock.left())
    while time.monotonic() < deadline:
        dialog = page.locator(".jp-Dialog")
        if dialog.count():
            shot(page, f"{Path(name).stem}-dialog")
            pytest.fail(
                f"{name}: JupyterLab opened a dialog instead of the notebook: {dialog.first.inner_text()[:300]!r}"
            )
        if page.evaluate(JS_KERNEL_STATUS) == "idle":
            return
        page.wait_for_timeout(500)
    pytest.fail(
        f"{name}: the kernel did not become idle within 90 s (status: "
        f"{page.evaluate(JS_KERNEL_STATUS)}). Server log:\n{lab.log_tail()}"
    )


def run_all_from_menu(page, clock: Clock) -> None:
    """Run > Run All Cells, clicked in the menu bar."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=clock.ms(20))
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click(timeout=clock.ms(20))


def drag_slider(page, slider, clock: Clock) -> None:
    """Drag the slider's handle a third of the track towards the far side, with the mouse."""
    track = slider.locator(".noUi-target").first
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed(timeout=clock.ms(10))
    t, h = track.bounding_box(), handle.bounding_box()
    hx, hy = h["x"] + h["width"] / 2, h["y"] + h["height"] / 2
    left_half = hx < t["x"] + t["width"] / 2
    tx = t["x"] + t["width"] * (0.8 if left_half else 0.2)
    page.mouse.move(hx, hy)
    page.mouse.down()
    page.mouse.move(tx, hy, steps=5)
    page.mouse.up()


def tab_to(page, target, clock: Clock, max_presses: int = 30) -> int:
    """Press Tab until `target` (a locator) has the keyboard focus; returns the number of presses."""
    for n in range(1, max_presses + 1):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return n
    where = page.evaluate("() => document.activeElement.tagName + '.' + document.activeElement.className")
    pytest.fail(f"{max_presses} presses of Tab never reached the slider (the focus is on {where})")


def settle(page, area, clock: Clock, quiet_s: float = 1.0, step_s: float = 60.0) -> None:
    """Wait until the kernel is idle and the explorer's figure has not changed for `quiet_s`."""
    deadline = time.monotonic() + min(step_s, clock.left())
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        src = area.locator(".jupyter-widgets img").first.get_attribute("src")
        busy = page.evaluate(JS_KERNEL_STATUS) != "idle"
        if src != last or busy:
            last, since = src, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        page.wait_for_timeout(200)


def wait_for_redraw(page, area, before_src: str | None, clock: Clock) -> None:
    """Wait until the explorer's image in ``area`` has a new, loaded source, then until the area is
    quiet (a slider move may queue several redraws). A figure that never changes is not an error
    here: the caller's assertion reports it, with the numbers."""
    try:
        page.wait_for_function(
            """([root, before]) => { const im = root.querySelector('.jupyter-widgets img');
                                      return im && im.complete && im.src !== before; }""",
            arg=[area.element_handle(), before_src],
            timeout=clock.ms(60),
            polling=250,
        )
    except Exception:
        pass
    settle(page, area, clock)


@pytest.mark.parametrize("name", choose_notebooks())
def test_notebook_in_jupyterlab(name: str, browser, lab: LabServer, clock: Clock) -> None:
    if not (NOTEBOOKS / name).exists():
        pytest.fail(f"notebooks/{name} does not exist; the browser test needs it")
    stem = name.removesuffix(".ipynb").replace("/", "-")
    started = time.monotonic()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    console: list[str] = []
    page.on(
        "console",
        lambda m: (
            console.append(f"{m.type}: {m.text}")
            if m.type == "error" or (m.type == "warning" and "to activate" not in m.text)
            else None
        ),
    )
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    try:
        open_notebook(page, lab, name, clock)
        shot(page, f"{stem}-1-opened")

        run_all_from_menu(page, clock)
        page.wait_for_function(JS_RUN_FINISHED, timeout=clock.ms(300), polling=500)
        page.wait_for_timeout(1000)  # let the last outputs paint
        cells = page.evaluate(JS_CELLS)
        save_json(ARTIFACTS / f"{stem}-cells.json", cells)
        shot(page, f"{stem}-2-ran")

        # 1. Every code cell ran; none produced an error.
        code = [c for c in cells if c["type"] == "code"]
        errors = [
            f"{describe(c)}: {o['ename']}: {o['evalue']}"
            for c in code
            for o in c["outputs"]
            if o["output_type"] == "error"
        ]
        assert not errors, f"{name}: cells raised in the browser:\n" + "\n".join(errors)
        not_run = [describe(c) for c in code if c["execution_count"] is None and c["source"].strip()]
        assert not not_run, f"{name}: cells that did not run:\n" + "\n".join(not_run)
        if name.startswith("zh/"):  # the Chinese edition: its text, and a kernel that speaks Chinese live
            cjk = re.compile(r"[\u4e00-\u9fff]")
            prose = [c for c in cells if c["type"] == "markdown" and c["source"].strip()]
            chinese = [c for c in prose if cjk.search(c["source"])]
            assert len(chinese) >= 0.9 * len(prose), f"{name}: {len(chinese)} of {len(prose)} text cells in Chinese"
            printed = [o["text"] for c in code for o in c["outputs"] if o["output_type"] == "stream"]
            assert any(cjk.search(t) for t in printed), f"{name}: the live kernel printed no Chinese: {printed[:3]}"
            print(f"{name}: {len(chinese)} of {len(prose)} text cells in Chinese; the kernel prints Chinese")

        # 2. Figures: every image the kernel sent is an <img> that decoded to real pixels.
        n_png = sum("image/png" in o["mimes"] for c in code for o in c["outputs"])
        images = page.evaluate(JS_IMAGES)
        static = [i for i in images if not i["in_widget"]]
        assert n_png >= 1, f"{name}: the notebook sent no figure at all"
        assert len(static) >= n_png, (
            f"{name}: the kernel sent {n_png} PNG figures but the page shows {len(static)} images"
        )
        broken = [i for i in images if not (i["complete"] and i["width"] > 10 and i["height"] > 10)]
        assert not broken, f"{name}: images that did not decode: {broken}"

        # 3. Widgets: each widget output is a live view, not an error or its text fallback.
        widget_cells = [c for c in code if any(WIDGET_MIME in o["mimes"] for o in c["outputs"])]
        assert widget_cells, f"{name}: no cell displayed an ipywidget (expected an explorer)"
        panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        for c in widget_cells:
            area = panel.locator(".jp-Cell").nth(c["index"]).locator(".jp-Cell-outputArea").first
            try:  # a view takes a moment to build ("Loading widget..."); then it is there or an error
                page.wait_for_function(
                    """(root) => root.querySelector('.jupyter-widgets') ||
                                 /Error|Failed|Could not/.test(root.innerText)""",
                    arg=area.element_handle(),
                    timeout=clock.ms(20),
                    polling=250,
                )
            except Exception:
                pass  # reported below with what the cell shows
            text = area.inner_text(timeout=clock.ms(10))
            bad = [w for w in WIDGET_FAILURES if w in text]
            assert not bad, f"{name}: {describe(c)} shows {bad[0]!r} instead of its widget: {text[:300]!r}"
            assert area.locator(".jupyter-widgets").count() >= 1, (
                f"{name}: {describe(c)} shows no widget view, only: {text[:300]!r}"
            )
            for fallback in ("interactive(children=", "HBox(children=", "VBox(children=", "IntSlider(", "FloatSlider("):
                assert fallback not in text, f"{name}: {describe(c)} shows the text fallback {text[:200]!r}"

        # 4. Explorers: in each widget output holding a slider and a figure, dragging the slider
        #    moves it and redraws the figure (the kernel ran the callback, the page shows it).
        explorers = [
            c
            for c in widget_cells
            if panel.locator(".jp-Cell")
            .nth(c["index"])
            .locator(".jp-Cell-outputArea .jupyter-widgets .widget-slider")
            .count()
            and panel.locator(".jp-Cell").nth(c["index"]).locator(".jp-Cell-outputArea .jupyter-widgets img").count()
        ]
        assert explorers, f"{name}: no widget output holds both a slider and a figure (an explorer)"
        for k, c in enumerate(explorers):
            area = panel.locator(".jp-Cell").nth(c["index"]).locator(".jp-Cell-outputArea").first
            slider = area.locator(".jupyter-widgets .widget-slider").first
            img = area.locator(".jupyter-widgets img").first
            img.wait_for(state="visible", timeout=clock.ms(30))
            area.scroll_into_view_if_needed(timeout=clock.ms(10))
            before_src = img.get_attribute("src")
            before_value = slider.locator(".widget-readout").inner_text()
            shot(page, f"{stem}-3-explorer{k}-before", area)
            drag_slider(page, slider, clock)
            after_value = slider.locator(".widget-readout").inner_text()
            assert after_value != before_value, (
                f"{name}: {describe(c)}: dragging the slider did not move it (readout {before_value!r})"
            )
            wait_for_redraw(page, area, before_src, clock)  # the drag queued several redraws: the last one
            after_src = area.locator(".jupyter-widgets img").first.get_attribute("src")
            shot(page, f"{stem}-4-explorer{k}-after", area)
            shot(page, f"{stem}-5-explorer{k}-in-page")
            changed = bool(after_src) and after_src != before_src
            assert changed, (
                f"{name}: {describe(c)}: the slider moved {before_value} -> {after_value} but the figure did not change"
            )
            print(f"{name}: explorer in cell {c['index']}: slider {before_value} -> {after_value}, figure redrawn")
            if k == 0:  # the keyboard alone: click into the explorer's cell, then Tab to the slider, arrows
                img.click(timeout=clock.ms(10))
                presses = tab_to(page, slider.locator(".noUi-handle").first, clock)
                before_src, before_value = after_src, after_value
                for key in ("ArrowRight", "ArrowLeft"):  # Left where the mouse left the slider at its end
                    for _ in range(3):
                        page.keyboard.press(key)
                    if slider.locator(".widget-readout").inner_text() != before_value:
                        break
                key_value = slider.locator(".widget-readout").inner_text()
                assert key_value != before_value, (
                    f"{name}: {describe(c)}: the arrow keys did not move the focused slider ({before_value!r})"
                )
                wait_for_redraw(page, area, before_src, clock)
                key_src = area.locator(".jupyter-widgets img").first.get_attribute("src")
                shot(page, f"{stem}-6-explorer{k}-keyboard", area)
                assert key_src and key_src != before_src, (
                    f"{name}: {describe(c)}: the arrow keys moved the slider {before_value} -> {key_value} "
                    "but the figure did not change"
                )
                print(f"{name}: keyboard: Tab x{presses} to the slider, 3 x {key}: {before_value} -> {key_value}, "
                      "figure redrawn")  # fmt: skip

        # 5. No uncaught JavaScript error, and no widget error in the console.
        page_errors = [
            m for m in console if m.startswith("pageerror") or (m.startswith("error") and "widget" in m.lower())
        ]
        assert not page_errors, f"{name}: the page reported errors:\n" + "\n".join(page_errors[:10])
        print(
            f"{name}: {len(code)} code cells, {n_png} figures, {len(widget_cells)} widget cells, "
            f"{len(explorers)} explorers checked in {time.monotonic() - started:.1f} s"
        )
    except BaseException:
        shot(page, f"{stem}-failure")
        raise
    finally:
        (ARTIFACTS / f"{stem}-console.txt").write_text("\n".join(console) + "\n")
        context.close()
        lab.shutdown_kernels()
