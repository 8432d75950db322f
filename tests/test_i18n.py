"""The translated editions cannot drift silently (issue 29; lecture/i18n.py, i18n/README.md).

For every notebook with a translation file (every one in ``REQUIRED``, once the lead flips it): no markdown
cell lacks a translation or has a stale one (its English changed since), no translation is of a cell that
is gone, notebooks/zh/ holds the edition ``make zh`` writes now (code cells byte-identical to the English
ones, markdown its current translation, same cells in the same order), and each glossary term of an
English cell appears as its Chinese term in the translation. Nothing is run. Each failure names the
notebook and the cell; the tests at the end prove that on a scratch copy.
"""

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from lecture import i18n

ROOT = Path(__file__).resolve().parents[1]
STEMS = [p.stem for p in i18n.english_notebooks()]
LANG = "zh"

#: Notebooks whose translation must exist (all of them): a notebook left out and without a translation file
#: would have its drift tests skip, e.g. a new notebook while it is being translated.
REQUIRED: list[str] = STEMS

#: Untranslated package strings fail (not skip) once this is True (tests/test_i18n_strings.py reads it).
STRINGS_REQUIRED = True


def translation_or_skip(stem: str, root: Path = ROOT) -> dict:
    data = i18n.load_translation(stem, LANG, root)
    if data is None:
        if stem in REQUIRED:
            pytest.fail(f"{stem}: no translation file {i18n.translation_path(stem, LANG, root).relative_to(root)}")
        pytest.skip(f"{stem}: no {LANG} translation yet")
    return data


@pytest.mark.parametrize("stem", STEMS)
def test_edition_is_in_step_with_its_sources(stem):
    translation_or_skip(stem)
    found = i18n.drift(stem, LANG)
    assert not found, f"{len(found)} drift problems:\n" + "\n".join(found[:30])


@pytest.mark.parametrize("stem", STEMS)
def test_edition_is_one_clean_run(stem):
    """As for the English notebooks (tests/test_execute_notebooks.py): every cell ran once, in order, no
    error, nothing on stderr, no saved progress bar."""
    from lecture.execute_notebooks import problems

    translation_or_skip(stem)
    edition = i18n.edition_path(stem, LANG)
    if not edition.is_file():
        pytest.fail(f"{stem}: no edition {edition.relative_to(ROOT)} (make zh)")
    found = problems(nbformat.read(edition, as_version=4))
    assert not found, f"{edition.relative_to(ROOT)} is not one clean run (make zh):\n" + "\n".join(found)


# --------------------------------------------------------------------------- glossary
def glossary(root: Path = ROOT) -> dict[str, str]:
    path = root / "i18n" / LANG / "glossary.json"
    return json.loads(path.read_text(encoding="utf-8"))["terms"] if path.is_file() else {}


def not_terms(root: Path = ROOT) -> dict[str, list[str]]:
    """The glossary's `not_terms`: per key that is also an everyday word, the English phrases where it is
    that word, not the course's term ("each image claim a neighbourhood" is not a checked claim)."""
    path = root / "i18n" / LANG / "glossary.json"
    return json.loads(path.read_text(encoding="utf-8")).get("not_terms", {}) if path.is_file() else {}


#: what is not prose in a markdown cell: fenced and inline code, display and inline math, link targets, HTML tags
NOT_PROSE = re.compile(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)|<[^>]+>", re.S)


def glossary_misses(
    english: str, chinese: str, terms: dict[str, str], exceptions: dict[str, list[str]] | None = None
) -> list[str]:
    """The glossary keys found in the English prose (case-insensitive, word boundaries, plural s; longest
    keys first, each span counted once) whose Chinese term is missing from ``chinese``. A longer term's
    Chinese is taken out once checked, so 变分自编码器 does not count as 自编码器 too. The phrases of
    ``exceptions`` (the glossary's `not_terms`; whitespace matches any whitespace) are taken out first."""
    prose = NOT_PROSE.sub(" ", english)
    for phrase in (p for phrases in (exceptions or {}).values() for p in phrases):
        prose = re.sub(r"\s+".join(map(re.escape, phrase.split())), " ", prose, flags=re.I)
    misses = []
    for key in sorted(terms, key=len, reverse=True):
        pattern = re.compile(rf"(?<![\w-]){re.escape(key)}(?:s|es)?(?![\w-])", re.I)
        if pattern.search(prose):
            prose = pattern.sub(" ", prose)
            if terms[key] not in chinese:
                misses.append(f"{key!r} -> {terms[key]!r}")
            chinese = chinese.replace(terms[key], " ")
    return misses


@pytest.mark.parametrize("stem", STEMS)
def test_glossary_terms_are_used(stem):
    terms = glossary()
    if not terms:
        pytest.skip("no glossary")
    data = translation_or_skip(stem)
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    bad = []
    for cell in i18n.markdown_cells(nb):
        entry = data["cells"].get(cell.id, {})
        if entry.get(LANG, "").strip() and entry.get("en_sha") == i18n.sha(cell.source):
            misses = glossary_misses(cell.source, entry[LANG], terms, not_terms())
            if misses:
                bad.append(f"{stem}, cell {cell.id}: {', '.join(misses)}")
    assert not bad, "glossary terms not used in the translation:\n" + "\n".join(bad)


# --------------------------------------------------------------------------- the tests, proved on a scratch copy
@pytest.fixture
def scratch(tmp_path):
    """A scratch repository with one English notebook, a complete (fake) translation and its edition, built
    by the same code as `make zh` (without running it)."""
    stem = STEMS[0]
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "notebooks" / f"{stem}.ipynb", tmp_path / "notebooks")
    i18n.skeleton([stem], LANG, tmp_path)
    data = i18n.load_translation(stem, LANG, tmp_path)
    for entry in data["cells"].values():
        entry[LANG] = "译文：" + entry["en"]
    i18n.write_translation(stem, data, LANG, tmp_path)
    assert i18n.build([stem], LANG, run=False, root=tmp_path) == 0
    assert i18n.drift(stem, LANG, tmp_path) == []
    return tmp_path, stem


def _edit(path: Path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def _first(nb, cell_type: str):
    return next(c for c in nb.cells if c.cell_type == cell_type and c.source.strip())


def test_a_changed_english_sentence_fails_naming_the_cell(scratch):
    root, stem = scratch
    english = root / "notebooks" / f"{stem}.ipynb"
    cell = _first(nbformat.read(english, as_version=4), "markdown")

    def change(nb):
        c = next(c for c in nb.cells if c.id == cell.id)
        c.source = c.source.replace(c.source.split()[0], c.source.split()[0] + " Changed", 1)

    _edit(english, change)
    found = i18n.drift(stem, LANG, root)
    assert any(f"cell {cell.id}: the English cell changed" in line and "+" in line for line in found), found
    with pytest.raises(ValueError, match=f"{cell.id}: stale"):
        i18n.translated(nbformat.read(english, as_version=4), i18n.load_translation(stem, LANG, root), LANG, stem)


def test_a_cell_without_translation_fails(scratch):
    root, stem = scratch
    data = i18n.load_translation(stem, LANG, root)
    gone = next(iter(data["cells"]))
    del data["cells"][gone]
    i18n.write_translation(stem, data, LANG, root)
    assert any(f"cell {gone}: markdown cell, no translation" in line for line in i18n.drift(stem, LANG, root))
    assert i18n.build([stem], LANG, run=False, root=root) == 1  # make zh refuses


def test_a_code_cell_that_differs_fails(scratch):
    root, stem = scratch
    edition = i18n.edition_path(stem, LANG, root)
    cell = _first(nbformat.read(edition, as_version=4), "code")

    def change(nb):
        next(c for c in nb.cells if c.id == cell.id).source += "\nx = 1"

    _edit(edition, change)
    assert any(f"cell {cell.id}: code cell differs" in line for line in i18n.drift(stem, LANG, root))


def test_an_edition_not_rebuilt_fails(scratch):
    root, stem = scratch
    data = i18n.load_translation(stem, LANG, root)
    cid = next(iter(data["cells"]))
    data["cells"][cid][LANG] += " 改过的译文。"
    i18n.write_translation(stem, data, LANG, root)
    assert any(f"cell {cid}: markdown is not its current translation" in line for line in i18n.drift(stem, LANG, root))
    assert i18n.build([stem], LANG, run=False, root=root) == 0
    assert i18n.drift(stem, LANG, root) == []


def test_a_new_english_cell_fails_until_translated_and_rebuilt(scratch):
    root, stem = scratch
    english = root / "notebooks" / f"{stem}.ipynb"

    def add(nb):
        nb.cells.insert(1, nbformat.v4.new_markdown_cell("A new paragraph."))

    _edit(english, add)
    new_id = nbformat.read(english, as_version=4).cells[1].id
    found = i18n.drift(stem, LANG, root)
    assert any(f"cell {new_id}: markdown cell, no translation" in line for line in found)
    assert any(f"cell {new_id}: in the English notebook but not in the edition" in line for line in found)


def test_the_status_command_shows_a_diff_and_skeleton_never_overwrites(scratch, capsys):
    root, stem = scratch
    before = i18n.load_translation(stem, LANG, root)
    i18n.skeleton([stem], LANG, root)
    assert i18n.load_translation(stem, LANG, root) == before
    assert i18n.status([stem], LANG, root) == 0
    english = root / "notebooks" / f"{stem}.ipynb"
    cell = _first(nbformat.read(english, as_version=4), "markdown")
    _edit(english, lambda nb: setattr(next(c for c in nb.cells if c.id == cell.id), "source", "Brand new text."))
    capsys.readouterr()
    assert i18n.status([stem], LANG, root) == 1
    out = capsys.readouterr().out
    assert f"stale    {cell.id}" in out and "+Brand new text." in out


def test_the_glossary_check_sees_a_missing_term():
    terms = {"autoencoder": "自编码器", "variational autoencoder": "变分自编码器", "prior": "先验"}
    english = "A Variational Autoencoder has a prior; two autoencoders, and `prior` in code."
    assert glossary_misses(english, "变分自编码器有先验；两个自编码器。", terms) == []
    assert glossary_misses(english, "变分自编码器有先验；两个编码器。", terms) == ["'autoencoder' -> '自编码器'"]
    assert glossary_misses("the `prior` object", "对象", terms) == []
    # a key that is also an everyday word: the glossary's not_terms phrases are skipped, nothing else is
    claims = {"claim": "论断"}
    skip = {"claim": ["image claim a neighbourhood"]}
    assert glossary_misses("each image\n  claim a neighbourhood", "占据一片邻域", claims, skip) == []
    assert glossary_misses("the claim holds; each image claim a neighbourhood", "成立", claims, skip) == [
        "'claim' -> '论断'"
    ]


# --------------------------------------------------------------------------- speaker notes
def test_speaker_notes_are_translated_and_current():
    """Every note of lecture/speaker_notes.json has a current translation in i18n/zh/speaker_notes.json:
    an English note changed since it was translated, or without a translation, fails naming notebook and
    anchor (``python -m lecture.i18n notes`` prints the same, with diffs)."""
    found = i18n.notes_drift(LANG)
    assert not found, f"{len(found)} speaker-note translation problems:\n" + "\n".join(found[:30])


def test_speaker_notes_use_the_glossary():
    terms = glossary()
    bad = []
    for stem, entries in i18n.load_notes_translation(LANG).items():
        for anchor, entry in entries.items():
            current = entry.get(LANG, "").strip() and entry.get("en_sha") == i18n.sha(entry.get("en", ""))
            misses = glossary_misses(entry["en"], entry[LANG], terms, not_terms()) if current else []
            bad += [f"{stem}, note after cell {anchor}: {', '.join(misses)}"] if misses else []
    assert not bad, "glossary terms not used in the notes' translation:\n" + "\n".join(bad)


@pytest.fixture
def notes_scratch(tmp_path):
    """A scratch copy of the English notes and their translation."""
    (tmp_path / "lecture").mkdir()
    (tmp_path / "i18n" / LANG).mkdir(parents=True)
    shutil.copy(ROOT / "lecture" / "speaker_notes.json", tmp_path / "lecture")
    shutil.copy(i18n.notes_path(LANG), i18n.notes_path(LANG, tmp_path))
    assert i18n.notes_drift(LANG, tmp_path) == []
    return tmp_path


def _edit_note(root: Path, change) -> tuple[str, str]:
    path = root / "lecture" / "speaker_notes.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    stem = next(s for s in data if not s.startswith("_"))
    anchor = next(a for a in data[stem] if not a.startswith("_"))
    change(data[stem], anchor)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return stem, anchor


def test_a_changed_english_note_fails_naming_notebook_and_anchor(notes_scratch, capsys):
    root = notes_scratch
    stem, anchor = _edit_note(root, lambda notes, a: notes[a].update(notes=notes[a]["notes"] + " Brand new."))
    found = i18n.notes_drift(LANG, root)
    assert len(found) == 1 and found[0].startswith(f"{stem}, note after cell {anchor}: the English note changed")
    assert "+" in found[0] and "Brand new." in found[0]
    # the lecture edition then shows the English note, not the translation of the older one
    text, current = i18n.translated_notes(stem, LANG, root)[anchor]
    assert not current and text.endswith("Brand new.")
    assert i18n.notes_status(None, LANG, root) == 1
    assert f"stale    {stem} {anchor}" in capsys.readouterr().out


def test_a_note_without_translation_fails_and_skeleton_never_overwrites(notes_scratch):
    root = notes_scratch
    stem, _ = _edit_note(root, lambda notes, a: notes.update({"new-anchor": {"after": "x", "notes": "New note."}}))
    assert i18n.notes_drift(LANG, root) == [
        f"{stem}, note after cell new-anchor: no translation in i18n/{LANG}/speaker_notes.json"
    ]
    before = i18n.load_notes_translation(LANG, root)
    assert i18n.notes_skeleton(LANG, root) == 1
    after = i18n.load_notes_translation(LANG, root)
    assert after[stem].pop("new-anchor") == {"en_sha": i18n.sha("New note."), "en": "New note.", LANG: ""}
    assert after == before
    assert i18n.notes_drift(LANG, root) == [
        f"{stem}, note after cell new-anchor: the translation is empty (i18n/{LANG}/speaker_notes.json)"
    ]


def test_the_chinese_lecture_edition_shows_current_translations_and_marks_english(tmp_path, monkeypatch):
    """A current translation is shown under the Chinese label; a note whose translation is stale or missing
    is shown in English, marked so (never the translation of an older English note)."""
    from lecture import build_lecture
    from lecture import slide_metadata as sm
    from lecture.languages import LABELS

    stem = STEMS[1]
    edition = i18n.edition_path(stem, LANG)
    if not edition.is_file():
        pytest.fail(f"{stem}: no edition {edition.relative_to(ROOT)} (make zh)")
    notes = i18n.translated_notes(stem, LANG)
    stale = next(iter(notes))
    real = i18n.translated_notes
    monkeypatch.setattr(i18n, "translated_notes", lambda s, lang: {**real(s, lang), stale: (notes[stale][0], False)})
    (out,) = build_lecture.build([edition], tmp_path, lang=LANG)
    shown = {c.id.removeprefix("notes-"): c.source for c in nbformat.read(out, as_version=4).cells if sm.is_notes(c)}
    english = i18n.english_notes()[stem]
    assert shown[stale] == LABELS[LANG]["notes_en"] + english[stale]
    zh = i18n.load_notes_translation(LANG)[stem]
    assert all(shown[a] == LABELS[LANG]["notes"] + zh[a][LANG] for a in english if a != stale)


def test_speaker_notes_keep_their_numbers():
    """A note states numbers its notebook prints (tests/test_notebook_lint.py); its translation states the same
    ones (digits, as in the English: "2 维", not "二维")."""
    number = re.compile(r"\d+(?:\.\d+)?")
    bad = [
        f"{stem}, note after cell {anchor}: {sorted(number.findall(e['en']))} in English, "
        f"{sorted(number.findall(e[LANG]))} in the translation"
        for stem, entries in i18n.load_notes_translation(LANG).items()
        for anchor, e in entries.items()
        if e.get(LANG, "").strip() and sorted(number.findall(e["en"])) != sorted(number.findall(e[LANG]))
    ]
    assert not bad, "the numbers of a speaker note and its translation differ:\n" + "\n".join(bad)


def test_the_live_explorers_words_are_chinese_on_chinese_pages():
    """The explorer's note, canvas name, caption and fold summary come from lecture/live_explorer.py's WORDS
    in the page's language (a dense decoder and 08's code decoder): no English left on a Chinese page."""
    import json

    from lecture import live_explorer
    from tests.explorer_fixture import CODE_SLIDERS, SLIDERS, small_vae, small_vqvae
    from vae_course.explorer import export_decoder

    cases = [(export_decoder(small_vae()), SLIDERS), (export_decoder(small_vqvae(), background=2), CODE_SLIDERS)]
    for spec, sliders in cases:
        for compact in (False, True):
            zh = live_explorer.explorer_html(spec, sliders, "x", compact, lang="zh")
            en = live_explorer.explorer_html(spec, sliders, "x", compact, lang="en")
            english = ("Live explorer", "drawn in this page", "decoded", "default setting", "blank paper")
            assert not [w for w in english if w in zh], (spec["format"], compact, zh[:600])
            assert "实时探索器" in zh and "Live explorer" in en
            fold = json.dumps(live_explorer.WORDS["zh"]["snapshot"])  # in the script, as JSON (\\u-escaped)
            assert fold in zh and json.dumps(live_explorer.SNAPSHOT_SUMMARY) in en
    assert set(live_explorer.WORDS["zh"]) == set(live_explorer.WORDS["en"])
