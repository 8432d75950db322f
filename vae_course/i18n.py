"""The language the package speaks (issue 29): English, or Chinese from the catalogs in i18n/zh/.

**Which language.** ``VAE_COURSE_LANG`` (``en`` or ``zh``) when set; else Chinese when the working
directory is a folder named ``zh`` (Jupyter, nbval and the course's executor start a notebook's kernel in
the notebook's folder, so every notebook of ``notebooks/zh/`` speaks Chinese); else English.
:func:`set_lang` overrides both (``vae-course student --lang zh``).

**What is translated.** Two catalogs per language, shipped in the wheel as ``vae_course/locale/LANG/``
(in the repository: ``i18n/LANG/``), English the fallback for anything missing:

* ``strings.json``, ``{"strings": {english: translation}}``: the package's own sentences, written in the
  code as templates with named fields (:func:`t`: ``t("Exercise {id}: passed", id=...)``), and the text
  the package carries as data (exercise titles, hints, feedback, explanations, misconception messages,
  the claims' why and what-to-try; :func:`tr`);
* ``outputs.json``, ``{"lines": {template: translation}}``: lines the notebooks' code cells print and the
  titles and labels of their figures, which must stay byte-identical in every edition. They are
  translated on their way out (:func:`activate`: a filter on ``sys.stdout``, a hook on matplotlib's
  ``Text.set_text``). A template is the English text with each number replaced by ``{0}``, ``{1}``, ...
  (:func:`template_of`), so that one entry covers every run's numbers.

Text with no translation stays English and is recorded (:func:`missed`); ``python -m lecture.i18n
untranslated`` lists the catalogs' empty entries. Figures need a CJK font (Debian: ``fonts-noto-cjk``):
without one, figure text stays English and one line says so.
"""

from __future__ import annotations

import json
import os
import re
import sys
from functools import cache
from pathlib import Path

LANG_ENV = "VAE_COURSE_LANG"
LANGS = ("en", "zh")
#: the CJK fonts tried for figures, in order (Debian's fonts-noto-cjk first)
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Zen Hei", "SimHei")
#: a number as printed: 12, -0.5, 3.2e-05, 1,000 (not a digit inside a word such as nb05 or x2)
NUMBER = re.compile(r"(?<![\w.])[-−]?\d+(?:,\d{3})*(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
PLACEHOLDER = re.compile(r"\{(\d+)\}")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")

_state: dict = {"lang": None, "missed": set(), "active": False}


def lang() -> str:
    """The language in force: :func:`set_lang`'s, else ``$VAE_COURSE_LANG``, else ``zh`` in a folder named zh."""
    if _state["lang"]:
        return _state["lang"]
    forced = os.environ.get(LANG_ENV, "").strip().lower()
    if forced:
        if forced not in LANGS:
            raise ValueError(f"{LANG_ENV} must be one of {LANGS}, got {forced!r}")
        return forced
    try:
        return "zh" if Path.cwd().name == "zh" else "en"
    except OSError:  # the working directory was deleted
        return "en"


def set_lang(value: str | None) -> None:
    """Speak ``value`` from now on in this process (None: back to the environment's rule)."""
    if value is not None and value not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, got {value!r}")
    _state["lang"] = value


def locale_dir() -> Path | None:
    """The catalogs: ``vae_course/locale/`` in an installed wheel, else the checkout's ``i18n/``."""
    package = Path(__file__).resolve().parent
    for d in (package / "locale", package.parent / "i18n"):
        if d.is_dir():
            return d
    return None


@cache
def catalog(language: str, name: str) -> dict[str, str]:
    """``{english: translation}`` of one catalog (``strings`` or ``outputs``); empty translations left out."""
    folder = locale_dir()
    path = None if folder is None else folder / language / f"{name}.json"
    if path is None or not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    entries = data.get("strings" if name == "strings" else "lines", {})
    return {k: v for k, v in entries.items() if v}


def template_of(text: str) -> tuple[str, list[str]]:
    """``text`` with its numbers replaced by ``{0}``, ``{1}``, ... and the numbers, in order."""
    numbers: list[str] = []

    def hole(m: re.Match) -> str:
        numbers.append(m.group(0))
        return f"{{{len(numbers) - 1}}}"

    return NUMBER.sub(hole, text), numbers


def _fill(template: str, numbers: list[str]) -> str:
    return PLACEHOLDER.sub(
        lambda m: numbers[int(m.group(1))] if int(m.group(1)) < len(numbers) else m.group(0), template
    )


def lookup(text: str, name: str = "strings", language: str | None = None) -> str | None:
    """The translation of ``text`` in catalog ``name``: exact, else by its numbers' template; None if none."""
    entries = catalog(language or lang(), name)
    if text in entries:
        return entries[text]
    template, numbers = template_of(text)
    if numbers and template in entries:
        return _fill(entries[template], numbers)
    return None


def tr(text: str, name: str = "strings") -> str:
    """``text`` in the language in force (English, and recorded as missed, where it has no translation)."""
    if not text or lang() == "en":
        return text
    found = lookup(text, name)
    if found is None:
        _miss(name, text)
        return text
    return found


def _miss(name: str, text: str) -> None:
    """Record a text with no translation: one with words (two Latin letters in a row), none in Chinese."""
    if re.search(r"[A-Za-z]{2}", text) and not CJK.search(text):
        _state["missed"].add((name, text))


def t(template: str, **fields) -> str:
    """A sentence of the package: ``template`` (named fields) translated, then filled in."""
    text = tr(template) if lang() != "en" else template
    return text.format(**fields) if fields else text


def missed() -> list[tuple[str, str]]:
    """(catalog, text) of every text this process met with no translation, sorted."""
    return sorted(_state["missed"])


# --------------------------------------------------------------------------- what notebook code prints and draws
def translate_output(text: str) -> str:
    """A printed text or a figure's text, line by line through ``outputs.json`` (then ``strings.json``)."""
    if lang() == "en" or not text:
        return text
    if "\n" in text.strip("\n"):  # a figure's several-line title may be one entry
        whole = lookup(text, "outputs")
        if whole is not None:
            return whole
    lines = text.split("\n")
    out = []
    for line in lines:
        found = lookup(line, "outputs") if line.strip() else None
        if found is None and line.strip():
            found = lookup(line, "strings")
        if found is None:
            _miss("outputs", line)
        out.append(line if found is None else found)
    return "\n".join(out)


class TranslatingStream:
    """A text stream that translates each complete line written to it (:func:`translate_output`) and
    passes it on; a partial line waits for its end or for ``flush`` (the kernel flushes after each cell)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        if lines:
            self._stream.write("\n".join(translate_output(line) for line in lines) + "\n")
        return len(text)

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, ""
            self._stream.write(translate_output(pending))
        self._stream.flush()

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def cjk_font() -> str | None:
    """The first of :data:`CJK_FONTS` matplotlib can find, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    if not names & set(CJK_FONTS):
        # matplotlib's font cache predates a font installed later (apt-get install fonts-noto-cjk): add
        # the system's CJK font files to this process's font list (the cache itself is left alone)
        for path in font_manager.findSystemFonts():
            if re.search(r"CJK|SourceHanSans|wqy|simhei", Path(path).name, re.I):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        names = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in names), None)


def _hook_matplotlib() -> None:
    import matplotlib as mpl
    from matplotlib.text import Text

    font = cjk_font()
    if font is None:
        print(
            t(
                "(No CJK font found, so figure titles and labels stay in English. "
                "Install one, e.g. Debian's fonts-noto-cjk: apt-get install fonts-noto-cjk)"
            )
        )
        return
    family = list(mpl.rcParams["font.sans-serif"])
    mpl.rcParams["font.sans-serif"] = [font, *[f for f in family if f != font]]
    # and as an explicit list of families, so that a glyph the CJK font lacks (✓, ✗, some math signs) is
    # drawn from matplotlib's own DejaVu Sans, glyph by glyph (matplotlib >= 3.6), not left as a box
    mpl.rcParams["font.family"] = [font, "DejaVu Sans"]
    mpl.rcParams["axes.unicode_minus"] = False  # CJK fonts lack U+2212; a hyphen-minus reads the same
    if getattr(Text.set_text, "_vae_course_i18n", False):
        return
    original = Text.set_text

    def set_text(self, s):
        if isinstance(s, str) and lang() != "en":
            s = translate_output(s)
        return original(self, s)

    set_text._vae_course_i18n = True
    Text.set_text = set_text


def activate() -> None:
    """Where the language is not English: translate what notebook code prints (``sys.stdout``) and draws
    (matplotlib's text, with a CJK font). Once per process; ``import vae_course`` calls it."""
    if _state["active"] or lang() == "en":
        return
    _state["active"] = True
    if not isinstance(sys.stdout, TranslatingStream) and sys.stdout is not None:
        sys.stdout = TranslatingStream(sys.stdout)
    try:
        _hook_matplotlib()
    except ImportError:
        pass
