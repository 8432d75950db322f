"""Lecture mode and the website, in a real (headless) browser.

* RISE: JupyterLab runs 00_start_here, then the same notebook opens as a RISE slideshow on the same
  kernel; stepping with the keyboard moves through fragments and slides (the URL and the slide's
  text change), the title and explorer slides are reached, and the explorer is run on its slide:
  its slider shows, and dragging it redraws the figure (live widgets in RISE need the capped
  jupyterlab-widgets of the `lab` extra; tests/test_lecture.py says why).
* Offline decks (build/slides/, `make slides`): a deck opened from disk with every network request
  blocked renders its slides, its figures and its maths, its speaker notes are in it, and every
  slide of every deck fits the 1280 x 720 projector slide once all its fragments are shown.
* The website (build/site/, `make site`), served from 127.0.0.1 with every other host blocked: the
  landing page links every notebook page, a notebook page's figures load and its maths is typeset,
  and the search finds a course term.

Decks and site are built first when missing or older than the notebooks or the code that builds them. Screenshots go to
artifacts/browser/lecture-*.png. Run with `make test-browser` (`-m browser`).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time
from pathlib import Path

import nbformat
import pytest

from lecture import build_lecture, build_site, build_slides
from lecture import slide_metadata as sm
from tests.browser.lab_server import LabServer, launch_chromium, start_lab

pytestmark = pytest.mark.browser  # deselected by default (pyproject.toml); `make test-browser` runs it

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = Path(os.environ.get("VAE_COURSE_BROWSER_NOTEBOOK_DIR") or ROOT / "notebooks")
ARTIFACTS = ROOT / "artifacts" / "browser"
SLIDES = ROOT / "build" / "slides"
SITE = ROOT / "build" / "site"
RISE_NOTEBOOK = "00_start_here.ipynb"
DECK_SHOWN = "04_elbo_derivation"  # the deck opened step by step: maths, fragments, figures
SITE_PAGE = "04_elbo_derivation"
JS_DECK_READY = (
    "() => window.Reveal && Reveal.isReady() && window.MathJax && MathJax.startup && !!MathJax.startup.promise"
)
JS_SLIDE_HEIGHTS = """() => {
  const out = [];
  const hs = Reveal.getHorizontalSlides();
  for (let h = 0; h < hs.length; h++) {
    const n = hs[h].querySelectorAll(':scope > section').length || 1;
    for (let v = 0; v < n; v++) {
      Reveal.slide(h, v);
      const s = Reveal.getCurrentSlide();
      s.querySelectorAll('.fragment').forEach(f => f.classList.add('visible'));
      out.push({h, v, height: s.scrollHeight, text: s.innerText.trim().slice(0, 70)});
    }
  }
  Reveal.slide(0, 0);
  return out;
}"""
JS_IMAGES = """(root) => Array.from((root || document).querySelectorAll('img')).map(
    i => ({ok: i.complete && i.naturalWidth > 10 && i.naturalHeight > 10, src: i.src.slice(0, 60)}))"""


def shot(page, name: str) -> None:
    try:
        page.screenshot(path=str(ARTIFACTS / f"lecture-{name}.png"))
    except Exception as e:  # a screenshot must never hide the real failure
        print(f"screenshot lecture-{name}.png failed: {e}")


#: the code that builds decks and site: a change to any of it makes the built ones stale too
BUILD_CODE = [ROOT / "lecture" / "build_slides.py", ROOT / "lecture" / "build_site.py", ROOT / "lecture" / "vendor.py",
              ROOT / "lecture" / "live_explorer.py",
              *(p for p in (ROOT / "lecture" / "templates").rglob("*") if p.is_file()),
              *(p for p in (ROOT / "site").rglob("*") if p.is_file() and "__pycache__" not in p.parts)]  # fmt: skip


def _stale(target: Path, sources: list[Path]) -> bool:
    sources = [*sources, *BUILD_CODE]
    return not target.exists() or any(s.stat().st_mtime > target.stat().st_mtime for s in sources)


@pytest.fixture(scope="module")
def notebooks() -> list[Path]:
    """The lecture edition of the notebooks (build/lecture/, with the speaker notes), built now."""
    paths = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert paths, f"no notebooks in {NOTEBOOKS}"
    return build_lecture.build(paths)


@pytest.fixture(scope="module")
def decks(notebooks) -> dict[str, Path]:
    """build/slides/<stem>.slides.html for every notebook (built now if missing or stale)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("lecture-*"):
        old.unlink()
    decks = {p.stem: SLIDES / f"{p.stem}.slides.html" for p in notebooks}
    if any(_stale(d, notebooks) for d in decks.values()) or not (SLIDES / "mathjax").exists():
        assert build_slides.main([*map(str, notebooks), "--out", str(SLIDES)]) == 0
    return decks


@pytest.fixture(scope="module")
def site(notebooks) -> Path:
    """build/site/ (built now if missing or older than the notebooks or the README)."""
    if _stale(SITE / "index.html", [*notebooks, ROOT / "README.md"]):
        assert build_site.main(["--notebooks", str(build_lecture.OUT), "--out", str(SITE)]) == 0
    return SITE


@pytest.fixture(scope="module")
def browser():
    with launch_chromium() as b:
        yield b


def offline_context(browser, allowed: tuple[str, ...], viewport=(1280, 720)):
    """A browser context that aborts, and records, every request not starting with `allowed`."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(allowed):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    return context, blocked


def watch(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
    return errors


# --------------------------------------------------------------------------- offline decks
def open_deck(page, deck: Path) -> None:
    page.goto(deck.resolve().as_uri(), timeout=30_000)
    page.wait_for_function(JS_DECK_READY, timeout=30_000)
    page.evaluate("() => MathJax.startup.promise")


def test_offline_deck_renders_from_disk(browser, decks, notebooks) -> None:
    deck = decks[DECK_SHOWN]
    nb = nbformat.read(next(p for p in notebooks if p.stem == DECK_SHOWN), as_version=4)
    context, blocked = offline_context(browser, ("file:", "data:"))
    page = context.new_page()
    errors = watch(page)
    try:
        open_deck(page, deck)
        shot(page, "deck-1-title")
        assert page.evaluate("() => Reveal.getTotalSlides()") == len(sm.slides(nb))
        math = page.evaluate("() => [document.querySelectorAll('mjx-container').length, "
                             "document.querySelectorAll('mjx-merror, .MathJax_Error').length]")  # fmt: skip
        assert math[0] >= 20 and math[1] == 0, f"maths typeset / errors: {math}"
        notes = page.evaluate("() => document.querySelectorAll('aside.notes').length")
        assert notes == sum(s.notes for s in sm.slides(nb)) >= 5
        # step through with the keyboard: each press reveals a fragment or moves to the next slide
        seen = [page.evaluate("() => JSON.stringify(Reveal.getIndices())")]
        for _ in range(8):
            page.keyboard.press("Space")
            page.wait_for_timeout(150)
            seen.append(page.evaluate("() => JSON.stringify(Reveal.getIndices())"))
        assert len(set(seen)) == len(seen), f"a key press did not move the deck: {seen}"
        shot(page, "deck-2-stepped")
        # a slide with a figure, and a derivation with every fragment shown
        figure = page.evaluate(
            """() => { const s = Array.from(document.querySelectorAll('.slides section'))
                         .find(s => !s.querySelector('section') && s.querySelector('img'));
                       const i = Reveal.getIndices(s); Reveal.slide(i.h, i.v); return i; }"""
        )
        page.wait_for_timeout(300)
        shot(page, "deck-3-figure")
        images = page.evaluate(JS_IMAGES)
        assert images and all(i["ok"] for i in images), f"figures that did not decode: {images}"
        page.evaluate(
            """() => { const s = Array.from(document.querySelectorAll('.slides section'))
                         .filter(s => !s.querySelector('section') && s.querySelector('.fragment'))
                         .sort((a, b) => b.querySelectorAll('mjx-container').length -
                                         a.querySelectorAll('mjx-container').length)[0];
                       const i = Reveal.getIndices(s); Reveal.slide(i.h, i.v);
                       s.querySelectorAll('.fragment').forEach(f => f.classList.add('visible')); }"""
        )
        page.wait_for_timeout(300)
        shot(page, "deck-4-derivation")
        assert not blocked, f"the deck asked the network for: {blocked[:5]}"
        assert not errors, f"the deck reported errors: {errors[:5]}"
        print(f"{deck.name}: {len(sm.slides(nb))} slides, {math[0]} formulas, {notes} notes; a figure at {figure}")
    finally:
        context.close()


def test_every_deck_fits_the_projector(browser, decks) -> None:
    context, blocked = offline_context(browser, ("file:", "data:"))
    page = context.new_page()
    errors = watch(page)
    too_tall, counts = [], {}
    try:
        for stem, deck in decks.items():
            open_deck(page, deck)
            heights = page.evaluate(JS_SLIDE_HEIGHTS)
            counts[stem] = (len(heights), max(h["height"] for h in heights))
            too_tall += [f"{stem} slide {h['h']}.{h['v']}: {h['height']} px ({h['text']!r})"
                         for h in heights if h["height"] > sm.SLIDE_HEIGHT]  # fmt: skip
        for stem, (n, tallest) in counts.items():
            print(f"{stem}: {n} slides, tallest {tallest} px of {sm.SLIDE_HEIGHT}")
        assert not too_tall, "slides taller than the projector's slide:\n" + "\n".join(too_tall)
        assert not blocked, f"decks asked the network for: {blocked[:5]}"
        assert not errors, f"decks reported errors: {errors[:5]}"
    finally:
        context.close()


# --------------------------------------------------------------------------- the website
class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url(site):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_site_pages_figures_maths_and_search(browser, site_url, notebooks) -> None:
    context, blocked = offline_context(browser, (site_url, "data:"), viewport=(1400, 1000))
    page = context.new_page()
    errors = watch(page)
    try:
        page.goto(f"{site_url}/index.html")
        links = page.evaluate("() => Array.from(document.querySelectorAll('article a.reference.internal'))"
                              ".map(a => a.getAttribute('href'))")  # fmt: skip
        for p in notebooks:
            assert f"notebooks/{p.stem}.html" in links, f"the landing page does not link {p.stem}: {links}"
        shot(page, "site-1-landing")
        page.click(f"article a[href='notebooks/{SITE_PAGE}.html']")
        page.wait_for_load_state("load")
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise")
        page.evaluate("() => MathJax.startup.promise")
        math = page.evaluate("() => [document.querySelectorAll('mjx-container').length, "
                             "document.querySelectorAll('mjx-merror').length]")  # fmt: skip
        assert math[0] >= 20 and math[1] == 0, f"maths typeset / errors on {SITE_PAGE}: {math}"
        images = page.evaluate("() => { document.querySelectorAll('img').forEach(i => i.loading = 'eager'); }")
        page.evaluate("() => Promise.all(Array.from(document.images).map(i => i.decode().catch(() => null)))")
        images = page.evaluate(JS_IMAGES)
        nb = nbformat.read(next(p for p in notebooks if p.stem == SITE_PAGE), as_version=4)
        n_png = sum("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
        shown = [i for i in images if "/_images/" in i["src"] or i["src"].startswith("data:image/png")]
        assert len(shown) >= n_png and all(i["ok"] for i in images), f"{n_png} figures expected, page shows {images}"
        shot(page, "site-2-notebook")
        page.evaluate("() => window.scrollTo(0, document.querySelector('img').getBoundingClientRect().top - 200)")
        shot(page, "site-3-figure")
        page.goto(f"{site_url}/search.html?q=posterior+collapse")
        page.wait_for_function("() => document.querySelectorAll('#search-results li').length > 0", timeout=20_000)
        hits = page.evaluate(
            "() => Array.from(document.querySelectorAll('#search-results li a')).map(a => a.innerText)"
        )
        assert any("06" in h for h in hits), f"search for 'posterior collapse' did not find notebook 06: {hits}"
        shot(page, "site-4-search")
        assert not blocked, f"the site asked other hosts for: {blocked[:5]}"
        assert not [e for e in errors if "theme mode" not in e], f"the site reported errors: {errors[:5]}"
        print(f"site: landing links {len(notebooks)} notebooks; {SITE_PAGE}: {math[0]} formulas, {len(shown)} figures")
    finally:
        context.close()


# --------------------------------------------------------------------------- RISE in JupyterLab
JS_KERNEL_IDLE = """() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle'; }"""
JS_RAN_ALL = """() => { const p = window.jupyterapp.shell.currentWidget;
  const k = p.sessionContext.session && p.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  return p.content.widgets.filter(c => c.model.type === 'code').every(
      c => c.model.executionCount !== null || c.model.sharedModel.getSource().trim() === ''); }"""
JS_PRESENT = """() => { const s = Array.from(document.querySelectorAll('.reveal section.present')).pop();
  return {hash: location.hash, text: s ? s.innerText.trim().slice(0, 200) : ''}; }"""


def explorer_slide_title(nb) -> str:
    """The first line of the (sub)slide that holds the notebook's first widget, as the slide shows it."""
    for s in sm.slides(nb):
        if any(sm.has_widget(nb.cells[i]) for i in s.cells):
            first = nb.cells[s.start].source.strip().splitlines()[0]
            return first.lstrip("#").strip()
    raise AssertionError("the notebook has no widget")


@pytest.fixture(scope="module")
def rise(browser, tmp_path_factory, decks):
    """00_start_here run in JupyterLab, then opened as a RISE slideshow on the same kernel."""
    work = tmp_path_factory.mktemp("rise-lab")
    src = work / "src"
    src.mkdir()
    shutil.copy(NOTEBOOKS / RISE_NOTEBOOK, src / RISE_NOTEBOOK)
    lab: LabServer = start_lab(src, work / "lab", ARTIFACTS / "lecture-jupyter-server.log", timeout=120)
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(lab.url(f"lab/tree/{RISE_NOTEBOOK}?reset"), timeout=90_000)
        page.wait_for_function(JS_KERNEL_IDLE, timeout=90_000, polling=500)
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
        page.wait_for_function(JS_RAN_ALL, timeout=240_000, polling=500)
        slides = context.new_page()
        outside: list[str] = []
        slides.on("requestfailed", lambda r: outside.append(r.url) if "127.0.0.1" not in r.url else None)
        slides.goto(lab.url(f"rise/{RISE_NOTEBOOK}"), timeout=90_000)
        slides.wait_for_selector(".reveal .slides section.present", timeout=90_000)
        slides.wait_for_timeout(1500)
        yield lab, slides, outside
    finally:
        context.close()
        lab.stop()


def test_rise_slideshow_steps_through_slides(rise, notebooks) -> None:
    lab, page, outside = rise
    nb = nbformat.read(NOTEBOOKS / RISE_NOTEBOOK, as_version=4)
    title = nb.cells[0].source.splitlines()[0].lstrip("# ").strip()
    first = page.evaluate(JS_PRESENT)
    assert title.lower() in first["text"].lower(), f"the slideshow does not open on the title slide: {first}"
    shot(page, "rise-1-title")
    states = [first]
    for _ in range(4):
        page.keyboard.press("Space")
        page.wait_for_timeout(400)
        states.append(page.evaluate(JS_PRESENT))
    hashes = [s["hash"] for s in states]
    assert len(set(hashes)) == len(hashes), f"a key press did not move the slideshow: {hashes}"
    assert len({s["text"] for s in states}) >= 2, "the slide's content never changed"
    shot(page, "rise-2-stepped")
    marker = explorer_slide_title(nb)
    for _ in range(60):  # on to the explorer's slide
        if page.evaluate(JS_PRESENT)["text"].lower().startswith(marker.lower()):
            break
        page.keyboard.press("Space")
        page.wait_for_timeout(250)
    reached = page.evaluate(JS_PRESENT)["text"].lower().startswith(marker.lower())
    assert reached, f"no slide starts with {marker!r}, the explorer's"
    shot(page, "rise-3-explorer-slide")
    assert not outside, f"the slideshow asked other hosts for: {outside[:5]}"
    print(f"RISE: {RISE_NOTEBOOK}: stepped {' -> '.join(hashes)}; explorer at {page.evaluate(JS_PRESENT)['hash']}")


def test_rise_explorer_is_live_on_its_slide(rise) -> None:
    lab, page, _ = rise
    # the innermost present section is the slide on screen (a vertical stack's section is present
    # too, and holds its later subslides); the explorer's cell ends that slide
    slide = page.locator(".reveal section.present").last
    cell = slide.locator(".jp-CodeCell").last
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")  # run the cell and stay on the slide (Shift+Enter moves on)
    slider = cell.locator(".widget-slider").first
    try:
        slider.wait_for(state="visible", timeout=10_000)
    except Exception:
        try:
            text = cell.locator(".jp-OutputArea").first.inner_text(timeout=3_000)
        except Exception:
            text = "(no output area)"
        pytest.fail(f"the explorer ran but shows no live widget on its slide, only: {text[:120]!r}")
    finally:
        shot(page, "rise-4-explorer-run")
    img = cell.locator(".jupyter-widgets img").first
    img.wait_for(state="attached", timeout=20_000)
    img.scroll_into_view_if_needed()  # the slide scrolls (metadata rise.scroll): sliders and figure in view
    shot(page, "rise-5-explorer-in-view")
    before = img.get_attribute("src")
    box = slider.locator(".noUi-handle").first.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 150, box["y"] + 2, steps=5)
    page.mouse.up()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and img.get_attribute("src") == before:
        page.wait_for_timeout(250)
    shot(page, "rise-6-explorer-dragged")
    assert img.get_attribute("src") != before, "the explorer's figure did not change"
    readout = slider.locator(".widget-readout").first.inner_text()
    print(f"RISE: the explorer is live on its slide: the slider reads {readout!r} after the drag, the figure changed")
