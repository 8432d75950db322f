"""WCAG 2.1 AA, checked in a real browser: axe-core in headless Chromium on every site page and every deck.

axe-core (npm, hash-pinned in lecture/vendor.py, fetched once into build/vendor/) is injected into
each page of build/site/ (`make site`, served from 127.0.0.1) and into each deck of build/slides/
(`make slides`, opened from disk), every other request blocked. It runs the rules tagged wcag2a,
wcag2aa, wcag21a and wcag21aa. reveal.js hides the slides that are not on screen, and axe checks
only what is rendered, so a deck is checked as it opens (its language, title, controls) and in
reveal.js's scroll view with every fragment shown (every slide rendered). The tests assert zero
violations and write every violation found, per page and rule, to artifacts/browser/a11y/site.json
and decks.json.

The Chinese site pages and decks (build/site/zh/, build/slides/zh/) are checked the same way in
test_browser_zh.py.

Keyboard: a deck steps forward and back from the arrow keys; the site's pages are reachable with
Tab alone (every link and button the page offers gets the focus, with a visible focus ring).

Decks and site are built first when missing or older than the notebooks or the build code
(tests/browser/test_browser_lecture.py's fixtures). Run with `make test-browser` (`-m browser`).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from lecture import vendor
from tests.browser.test_browser_lecture import (  # noqa: F401 (fixtures)
    ARTIFACTS,
    JS_DECK_READY,
    browser,
    decks,
    notebooks,
    offline_context,
    open_deck,
    site,
    site_url,
    watch,
)

pytestmark = pytest.mark.browser  # deselected by default (pyproject.toml); `make test-browser` runs it

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
#: axe on the document (or on the deck's current slide); violations as {rule, impact, help, targets}
JS_AXE = """async ([slide, tags]) => {
  const root = slide ? Reveal.getCurrentSlide() : document;
  const r = await axe.run(root, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return r.violations.map(v => ({rule: v.id, impact: v.impact, help: v.help,
                                 targets: v.nodes.map(n => n.target.join(' ')),
                                 summary: v.nodes.slice(0, 2).map(n => n.failureSummary)}));
}"""
#: every fragment shown; [scroll pages, slides with content that is not rendered (none in scroll view)]
JS_SHOW_ALL = """() => { document.querySelectorAll('.fragment').forEach(f => f.classList.add('visible'));
  const unseen = Array.from(document.querySelectorAll('.slides section')).filter(
      s => !s.getClientRects().length && (s.textContent.trim() || s.querySelector('img')));
  return [document.querySelectorAll('.scroll-page').length, unseen.length]; }"""


def axe(page, slide: bool = False) -> list[dict]:
    """The WCAG 2.1 A/AA violations axe finds on the page (or on a deck's current slide)."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(vendor.axe_script()))
    return page.evaluate(JS_AXE, [slide, TAGS])


def merge(found: dict[str, dict[str, set]], where: str, violations: list[dict]) -> None:
    """Collect violations per page and rule: the set of offending elements (each counted once)."""
    page = found.setdefault(where, {})
    for v in violations:
        page.setdefault(v["rule"], set()).update(v["targets"])


def report(found: dict[str, dict[str, set]], name: str) -> str:
    """Write artifacts/browser/a11y/<name>.json (a folder: the JupyterLab test clears the files of
    artifacts/browser/ when it starts); return a table: per page, rule: elements."""
    (ARTIFACTS / "a11y").mkdir(parents=True, exist_ok=True)
    data = {page: {rule: sorted(t) for rule, t in rules.items()} for page, rules in found.items()}
    (ARTIFACTS / "a11y" / f"{name}.json").write_text(json.dumps(data, indent=1), encoding="utf-8")
    lines = [f"{page}: " + ", ".join(f"{rule} x{len(t)}" for rule, t in sorted(rules.items()))
             for page, rules in found.items() if rules]  # fmt: skip
    totals = Counter()
    for rules in found.values():
        for rule, t in rules.items():
            totals[rule] += len(t)
    lines.append("total: " + (", ".join(f"{r} x{n}" for r, n in totals.most_common()) or "no violations"))
    return "\n".join(lines)


def axe_site(chromium, site_dir: Path, url: str) -> tuple[dict[str, dict[str, set]], list[str]]:
    """axe on every page of the built site; (violations per page and rule, requests to other hosts)."""
    pages = sorted(
        p.relative_to(site_dir).as_posix()
        for p in site_dir.rglob("*.html")
        if "_static" not in p.parts and p.relative_to(site_dir).parts[0] != "zh"  # zh/: test_browser_zh.py
    )
    assert len(pages) >= 11, pages
    return axe_pages(chromium, url, pages)


def axe_pages(chromium, url: str, rels: list[str], each=None) -> tuple[dict[str, dict[str, set]], list[str]]:
    """axe on each page `url/rel` once its MathJax has typeset, offline; `each(page, rel)`, if given, runs
    first on every page (a test's own checks). (violations per page and rule, requests to other hosts)."""
    context, blocked = offline_context(chromium, (url, "data:"), viewport=(1400, 1000))
    page = context.new_page()
    found: dict[str, dict[str, set]] = {}
    try:
        for rel in rels:
            page.goto(f"{url}/{rel}", timeout=90_000)
            if page.evaluate("() => !!document.querySelector('script[src*=mathjax]')"):
                page.wait_for_function(
                    "() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=90_000
                )
                page.evaluate("() => MathJax.startup.promise")
            if each is not None:
                each(page, rel)
            merge(found, rel, axe(page))
    finally:
        context.close()
    return found, blocked


def axe_decks(chromium, deck_paths: dict[str, Path]) -> tuple[dict[str, dict[str, set]], list[str]]:
    """axe on the decks' index page, and on every deck twice: as it opens (language, title, controls,
    slide number), and in reveal.js's scroll view (?view=scroll: every slide laid out one under another,
    the deck's own styles) with every fragment shown, so every slide's content is rendered and checked."""
    context, blocked = offline_context(chromium, ("file:", "data:"))
    page = context.new_page()
    found: dict[str, dict[str, set]] = {}
    try:
        index = next(iter(deck_paths.values())).parent / "index.html"  # the list of decks
        page.goto(index.resolve().as_uri(), timeout=90_000)
        merge(found, index.name, axe(page))
        for stem, deck in deck_paths.items():
            where = f"{stem}.slides.html"
            open_deck(page, deck)
            slides = page.evaluate("() => Reveal.getTotalSlides()")
            merge(found, where, axe(page))
            page.goto(deck.resolve().as_uri() + "?view=scroll", timeout=90_000)
            page.wait_for_function(JS_DECK_READY, timeout=90_000)
            page.evaluate("() => MathJax.startup.promise")
            pages, unseen = page.evaluate(JS_SHOW_ALL)
            assert pages == slides and unseen == 0, f"{stem}: {pages} pages, {slides} slides, {unseen} hidden"
            merge(found, where, axe(page))
    finally:
        context.close()
    return found, blocked


def test_every_site_page_passes_axe(browser, site, site_url) -> None:  # noqa: F811
    found, blocked = axe_site(browser, site, site_url)
    table = report(found, "site")
    print(f"axe on {len(found)} site pages ({', '.join(TAGS)}):\n{table}")
    assert not any(found.values()), f"WCAG 2.1 AA violations on the site:\n{table}"
    assert not blocked, f"the site asked other hosts for: {blocked[:5]}"


def test_every_deck_passes_axe(browser, decks) -> None:  # noqa: F811
    found, blocked = axe_decks(browser, decks)
    table = report(found, "decks")
    print(f"axe on {len(decks)} decks ({', '.join(TAGS)}):\n{table}")
    assert not any(found.values()), f"WCAG 2.1 AA violations in the decks:\n{table}"
    assert not blocked, f"decks asked the network for: {blocked[:5]}"


def test_deck_steps_from_the_keyboard(browser, decks) -> None:  # noqa: F811
    """Arrow keys move a deck forward and back, with no mouse (the page as it opens takes the keys)."""
    stem = next(iter(decks))
    context, _ = offline_context(browser, ("file:", "data:"))
    page = context.new_page()
    errors = watch(page)
    try:
        open_deck(page, decks[stem])
        indices = lambda: page.evaluate("() => JSON.stringify(Reveal.getIndices())")  # noqa: E731
        start = indices()
        seen = [start]
        for _ in range(3):
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(150)
            seen.append(indices())
        assert len(set(seen)) == len(seen), f"ArrowRight did not move the deck: {seen}"
        for _ in range(3):
            page.keyboard.press("ArrowLeft")
            page.wait_for_timeout(150)
        assert indices() == start, f"ArrowLeft did not bring the deck back to {start}: {indices()}"
        assert not errors, errors[:5]
        print(f"{stem}: ArrowRight x3 {' -> '.join(seen)}, ArrowLeft x3 back to {start}")
    finally:
        context.close()


def test_site_is_usable_from_the_keyboard(browser, site_url) -> None:  # noqa: F811
    """Tab alone reaches a notebook link on the landing page, with a visible focus ring; Enter opens it."""
    context, _ = offline_context(browser, (site_url, "data:"), viewport=(1400, 1000))
    page = context.new_page()
    try:
        page.goto(f"{site_url}/index.html")
        page.wait_for_load_state("load")
        focused = None
        for _ in range(80):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                """() => { const a = document.activeElement; const s = getComputedStyle(a);
                  const ring = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 || s.boxShadow !== 'none';
                  return {href: a.getAttribute('href') || '', article: !!a.closest('article'), ring}; }"""
            )
            if focused["article"] and focused["href"].startswith("notebooks/"):
                break
        assert focused and focused["href"].startswith("notebooks/"), f"Tab never reached a notebook link: {focused}"
        assert focused["ring"], f"the focused link shows no focus ring: {focused}"
        with page.expect_navigation(timeout=90_000):
            page.keyboard.press("Enter")
        assert page.url.endswith(focused["href"].split("#")[0]), page.url
        print(f"site: Tab reached {focused['href']} with a focus ring; Enter opened it")
    finally:
        context.close()
