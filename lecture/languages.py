"""The languages of the decks and the website (issue 29): the English edition and the Chinese one.

The Chinese decks and site are built from the Chinese notebooks (notebooks/zh/, `make zh`) exactly as the
English ones are from notebooks/, into a ``zh/`` folder beside them (build/slides/zh/, build/site/zh/).
Every page and deck of either language gets a visible, labelled language switch (``switch``) that links to
the same page in the other language (or that language's index page where there is no such page).

Speaker notes: lecture/speaker_notes.json is English and keyed by cell id; their Chinese translation is
i18n/zh/speaker_notes.json, keyed the same way (lecture/i18n.py checks it against the English). The Chinese
notebooks keep the English cell ids, so the Chinese lecture edition gets each note in Chinese
(``LABELS[...]["notes"]``), or, while its translation is missing or stale, the English note marked as such
(``LABELS[...]["notes_en"]``).
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path

#: language -> what the builders write in it. ``html``: the page's lang attribute; ``code``: nbconvert's
#: language_code (ISO 639-1); ``sphinx``: Sphinx's ``language``
LABELS = {
    "en": {
        "html": "en",
        "name": "English",
        "switch": "Language:",
        "nav": "Language",
        "for_lecturers": "For lecturers",
        "notes": "**Speaker notes.** ",
        "notes_en": "**Speaker notes.** ",
        "for_lecturers_en": "For lecturers",
    },
    "zh": {
        "html": "zh-CN",
        "code": "zh",
        "sphinx": "zh_CN",
        "name": "中文",
        "switch": "语言：",
        "nav": "语言",
        "for_lecturers": "供讲师参考",
        "notes": "**讲稿。** ",
        #: a note whose translation is missing or older than the English note: the English, marked so
        "notes_en": "**讲稿（英文原文，译文待更新）。** ",
        "for_lecturers_en": "供讲师参考（英文原文，译文待更新）",
    },
}
LANGS = tuple(LABELS)
OTHER = {"en": "zh", "zh": "en"}

STYLE = (
    ".lang-switch{font-size:0.95rem;margin:0 0 0.5rem 0}"
    ".lang-switch a{font-weight:600;text-decoration:underline}"
    ".lang-switch-fixed{position:fixed;top:6px;right:12px;z-index:40;background:#fff;padding:2px 8px;"
    "border:1px solid #767676;border-radius:4px;font:16px/1.4 sans-serif}"
)


def switch(lang: str, href: str, fixed: bool = False) -> str:
    """The language switch of a page in ``lang``: a labelled nav landmark with one link, to ``href`` (the
    same page in the other language). ``fixed``: pinned to the window's corner (decks)."""
    other = LABELS[OTHER[lang]]
    own = LABELS[lang]
    cls = "lang-switch lang-switch-fixed" if fixed else "lang-switch"
    return (
        f'<nav class="{cls}" aria-label="{html.escape(own["nav"])}"><style>{STYLE}</style>'
        f"{html.escape(own['switch'])} "
        f'<a href="{html.escape(href)}" hreflang="{other["html"]}" lang="{other["html"]}">{other["name"]}</a></nav>'
    )


def counterpart(page: Path, root: Path, other_root: Path) -> str:
    """The relative link from ``page`` (under ``root``) to the same page under ``other_root``, or to
    ``other_root``'s index.html where it has no such page."""
    rel = page.relative_to(root)
    target = other_root / rel if (other_root / rel).is_file() else other_root / "index.html"
    return Path(os.path.relpath(target, page.parent)).as_posix()


def set_html_lang(page: str, lang: str) -> str:
    """The page's ``<html lang=...>`` set to the language's tag (nbconvert writes ISO 639-1: "zh")."""
    return re.sub(r"<html([^>]*?) lang=\"[^\"]*\"", rf'<html\1 lang="{LABELS[lang]["html"]}"', page, count=1)


def add_switch(page: str, lang: str, href: str, fixed: bool = False) -> str:
    """``page`` with the language switch: a site page's at the top of its article (`<article ...>`), any
    other page's (a deck, an index) right after `<body ...>`. Idempotent."""
    page = re.sub(r'<nav class="lang-switch[^"]*".*?</nav>', "", page, flags=re.S)
    nav = switch(lang, href, fixed)
    m = re.search(r'<article class="bd-article"[^>]*>', page)
    if m is None:
        m = re.search(r"<body[^>]*>", page)
    if m is None:
        raise ValueError("a page with neither <article class=bd-article> nor <body>")
    return page[: m.end()] + "\n" + nav + page[m.end() :]
