"""The Chinese site and decks (issue 29) in headless Chromium, offline.

build/site/zh/ and build/slides/zh/ (built from notebooks/zh/ by `make site` and `make slides`, through the
Chinese lecture edition build/lecture/zh/) are checked as the English ones are in test_browser_a11y.py:
axe-core finds no WCAG 2.1 A/AA violation on any Chinese site page or deck (each deck as it opens and in
reveal.js's scroll view, every fragment shown). Every page and deck of both languages declares its
language (`zh-CN` / `en`) and shows the language switch: a labelled link to the same page in the other
language that exists and declares that language. The Chinese site's live explorers redraw, from the
keyboard, what torch's decoder draws. Built first when missing or older than the Chinese notebooks, the
Chinese README or the build code. Run with `make test-browser` (`-m browser`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lecture import build_lecture, build_site, build_slides
from tests.browser.test_browser_a11y import TAGS, axe_decks, axe_pages, report
from tests.browser.test_browser_explorer import move_last_slider
from tests.browser.test_browser_explorer import report as explorer_report
from tests.browser.test_browser_lecture import (  # noqa: F401 (fixtures)
    ROOT,
    SITE,
    SLIDES,
    _stale,
    browser,
    offline_context,
)

pytestmark = pytest.mark.browser  # deselected by default (pyproject.toml); `make test-browser` runs it

ZH_NOTEBOOKS = ROOT / "notebooks" / "zh"
LANG_OF = re.compile(r'<html[^>]* lang="([^"]+)"')
SWITCH = re.compile(r'<nav class="lang-switch[^"]*" aria-label="([^"]+)">.*?<a href="([^"]+)" hreflang="([^"]+)"', re.S)


@pytest.fixture(scope="module")
def zh_lecture() -> list[Path]:
    """The Chinese lecture edition (build/lecture/zh/), built now, and the English one it switches to."""
    paths = sorted(ZH_NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    assert paths, "no Chinese notebooks (make zh)"
    build_lecture.build(build_lecture.default_notebooks())
    return build_lecture.build(paths, build_lecture.OUT_ZH, lang="zh")


@pytest.fixture(scope="module")
def zh_site(zh_lecture) -> Path:
    if _stale(SITE / "zh" / "index.html", [*zh_lecture, ROOT / "README.zh-CN.md", ROOT / "lecture" / "languages.py"]):
        assert build_site.main(["--notebooks", str(build_lecture.OUT), "--out", str(SITE)]) == 0
    return SITE / "zh"


@pytest.fixture(scope="module")
def zh_decks(zh_lecture) -> dict[str, Path]:
    decks = {p.stem: SLIDES / "zh" / f"{p.stem}.slides.html" for p in zh_lecture}
    if any(_stale(d, [*zh_lecture, ROOT / "lecture" / "languages.py"]) for d in decks.values()):
        assert build_slides.main(["--out", str(SLIDES)]) == 0
    return decks


@pytest.fixture(scope="module")
def zh_site_url(zh_site):
    import functools
    import http.server
    import threading

    from tests.browser.test_browser_lecture import _Quiet

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def switch_problems(page: Path, lang: str) -> list[str]:
    """What is wrong with a built page's language and its language switch (empty: nothing)."""
    text = page.read_text(encoding="utf-8")
    found = LANG_OF.search(text)
    problems = [] if found and found.group(1) == lang else [f"{page}: <html lang> is {found and found.group(1)!r}"]
    switch = SWITCH.search(text)
    if not switch:
        return [*problems, f"{page}: no language switch"]
    target = (page.parent / switch.group(2)).resolve()
    other = {"en": "zh-CN", "zh-CN": "en"}[lang]
    if switch.group(3) != other:
        problems.append(f"{page}: the switch goes to {switch.group(3)!r}, not {other!r}")
    if not target.is_file():
        problems.append(f"{page}: the switch's page {switch.group(2)} does not exist")
    elif (LANG_OF.search(target.read_text(encoding="utf-8")) or [None, None])[1] != other:
        problems.append(f"{page}: the switch's page {switch.group(2)} is not in {other}")
    elif target.name != page.name and target.name != "index.html":
        problems.append(f"{page}: the switch goes to another page, {switch.group(2)}")
    return problems


def test_every_page_and_deck_has_its_language_and_a_switch(zh_site, zh_decks) -> None:
    pages = [p for p in SITE.rglob("*.html") if "_static" not in p.parts and "jupyter_execute" not in p.parts]
    decks = [*SLIDES.glob("*.html"), *(SLIDES / "zh").glob("*.html")]
    problems = []
    for page in [*pages, *decks]:
        lang = "zh-CN" if "zh" in page.relative_to(SITE if SITE in page.parents else SLIDES).parts else "en"
        problems += switch_problems(page, lang)
    zh_pages = [p for p in pages if zh_site in p.parents]
    assert len(zh_pages) >= 13 and len(decks) >= 22, (len(zh_pages), len(decks))
    assert not problems, "\n".join(problems[:20])
    index = (zh_site / "index.html").read_text(encoding="utf-8")
    assert "笔记本" in index and all(f"notebooks/{stem}.html" in index for stem in zh_decks)
    print(f"language and switch checked on {len(pages)} site pages ({len(zh_pages)} Chinese) and {len(decks)} decks")


def test_every_chinese_site_page_passes_axe(browser, zh_site, zh_site_url) -> None:  # noqa: F811
    rels = sorted(p.relative_to(SITE).as_posix() for p in zh_site.rglob("*.html") if "_static" not in p.parts)

    def lang_and_switch(page, rel: str) -> None:
        assert page.evaluate("() => document.documentElement.lang") == "zh-CN", rel
        switch = page.locator("nav.lang-switch a")
        assert switch.is_visible() and switch.inner_text() == "English", rel

    found, blocked = axe_pages(browser, zh_site_url, rels, each=lang_and_switch)
    table = report(found, "site-zh")
    print(f"axe on {len(found)} Chinese site pages ({', '.join(TAGS)}):\n{table}")
    assert len(found) >= 13
    assert not any(found.values()), f"WCAG 2.1 AA violations on the Chinese site:\n{table}"
    assert not blocked, f"the Chinese site asked other hosts for: {blocked[:5]}"


def test_every_chinese_deck_passes_axe(browser, zh_decks) -> None:  # noqa: F811
    found, blocked = axe_decks(browser, zh_decks)
    table = report(found, "decks-zh")
    print(f"axe on {len(zh_decks)} Chinese decks ({', '.join(TAGS)}):\n{table}")
    assert not any(found.values()), f"WCAG 2.1 AA violations in the Chinese decks:\n{table}"
    assert not blocked, f"the Chinese decks asked the network for: {blocked[:5]}"


def test_chinese_site_explorers_draw_the_torch_decoder(browser, zh_site, zh_site_url) -> None:  # noqa: F811
    pages = sorted(p for p in (zh_site / "notebooks").glob("*.html") if "live-explorer" in p.read_text("utf-8"))
    if not pages:
        pytest.skip("no notebook exports its explorer's decoder yet (vae_course.explorer.embed_decoder)")
    context, blocked = offline_context(browser, (zh_site_url, "data:"), viewport=(1400, 1000))
    page = context.new_page()
    try:
        for path in pages:
            page.goto(f"{zh_site_url}/zh/notebooks/{path.name}", timeout=90_000)
            for uid in page.evaluate("() => Array.from(document.querySelectorAll('.live-explorer')).map(e => e.id)"):
                seen = move_last_slider(page, uid)
                assert seen[1]["label"] != seen[0]["label"], seen
                # a dense decoder's canvas name, or 08's code explorer's (lecture/live_explorer.py WORDS["zh"])
                assert seen[1]["label"].startswith("解码器在" if len(seen[0]["z"]) == 2 else "解码器的"), seen
                assert page.evaluate("(id) => document.getElementById(id).lang", uid) == "", uid
                print(explorer_report(f"zh site {path.stem}", seen))
    finally:
        context.close()
    assert not blocked, blocked[:5]


def test_every_chinese_deck_fits_the_projector(browser, zh_decks) -> None:  # noqa: F811
    """As the English decks (test_browser_lecture.py): every slide, all fragments shown, within 720 px. The
    height model counts a wide (CJK) character as two Latin ones (lecture/slide_metadata.py)."""
    from lecture import slide_metadata as sm
    from tests.browser.test_browser_lecture import JS_SLIDE_HEIGHTS, open_deck

    context, blocked = offline_context(browser, ("file:", "data:"))
    page = context.new_page()
    too_tall = []
    try:
        for stem, deck in zh_decks.items():
            open_deck(page, deck)
            heights = page.evaluate(JS_SLIDE_HEIGHTS)
            too_tall += [f"zh/{stem} slide {h['h']}.{h['v']}: {h['height']} px ({h['text'][:40]!r})"
                         for h in heights if h["height"] > sm.SLIDE_HEIGHT]  # fmt: skip
            print(f"zh/{stem}: {len(heights)} slides, tallest {max(h['height'] for h in heights)} px")
    finally:
        context.close()
    assert not too_tall, "Chinese slides taller than the projector's slide:\n" + "\n".join(too_tall)
    assert not blocked, blocked[:5]
