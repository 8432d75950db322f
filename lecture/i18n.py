"""The translated editions (issue 29): one English source, the translations beside it, drift a failing test.

The English notebooks in notebooks/ stay canonical. A translation of notebook ``NN_name.ipynb`` into
language ``LANG`` lives in ``i18n/LANG/notebooks/NN_name.json``::

    {"notebook": "NN_name.ipynb",
     "cells": {"<cell id>": {"en_sha": "<sha(English source)>", "en": "<that source>", "zh": "<translation>"}}}

one entry per markdown cell, keyed by the English cell's id, in notebook order. ``en_sha`` says which
English text the translation was made from: when the English cell changes, its sha no longer matches
and the entry is *stale*; ``en`` is kept so that a translator sees what changed (``status`` prints a
diff). Code cells are not in the file: the edition copies them byte for byte.

Commands (``python -m lecture.i18n ...``; ``--lang`` defaults to ``zh``):

* ``status [NOTEBOOK ...]``: per notebook, the cells missing, stale (with a unified diff of the English
  the translation was made from against the English now) and entries of cells that no longer exist;
  exit 1 when anything needs a translator.
* ``skeleton [NOTEBOOK ...]``: add an entry ``"zh": ""`` for every markdown cell that has none
  (never overwrites one, never drops one; it puts the entries in notebook order).
* ``notes [NOTEBOOK ...] [--skeleton]``: the same for the speaker notes (lecture/speaker_notes.json, translated
  in ``i18n/LANG/speaker_notes.json``, keyed by notebook stem and anchor cell id, entries as above);
  ``--skeleton`` first adds ``"zh": ""`` for every note without an entry. ``status`` reports them too.
* ``readme [--record [SECTION ...]]``: which README.md sections that README.zh-CN.md translates changed
  since (exit 1); ``--record`` writes the current sha of each (after updating the translation).
* ``build [NOTEBOOK ...] [--no-run]``: ``make zh``. Writes ``notebooks/LANG/NN_name.ipynb``: the English
  notebook with each markdown cell's source replaced by its translation, code cells byte-identical (same
  ids), ``metadata.vae_course.lang`` set; then runs it with the course executor
  (lecture/execute_notebooks.py) with ``VAE_COURSE_LANG=LANG``, so the outputs are those of a real run in
  that language. Refuses, naming notebook and cell, when a translation is missing, empty or stale.

tests/test_i18n.py holds the drift tests (``drift`` below), which run without executing anything.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import hashlib
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
I18N = ROOT / "i18n"
LANGS = ("zh",)


def sha(source: str) -> str:
    """The first 16 hex digits of the SHA-256 of a cell's source (UTF-8): a translation's ``en_sha``."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def english_notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def translation_path(stem: str, lang: str = "zh", root: Path = ROOT) -> Path:
    return root / "i18n" / lang / "notebooks" / f"{stem}.json"


def edition_path(stem: str, lang: str = "zh", root: Path = ROOT) -> Path:
    return root / "notebooks" / lang / f"{stem}.ipynb"


def load_translation(stem: str, lang: str = "zh", root: Path = ROOT) -> dict | None:
    """The translation file of a notebook, or None when there is none yet."""
    path = translation_path(stem, lang, root)
    if not path.is_file():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("cells", {})
    return data


def write_translation(stem: str, data: dict, lang: str = "zh", root: Path = ROOT) -> None:
    path = translation_path(stem, lang, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def markdown_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "markdown"]


def problems(nb, data: dict | None, lang: str = "zh") -> dict[str, list]:
    """What keeps a translation from matching the English notebook ``nb``.

    Returns {"missing": [cell id, ...], "empty": [...], "stale": [(cell id, old English, new English)],
    "gone": [ids of entries whose cell no longer exists]}; all empty: up to date.
    """
    cells = (data or {}).get("cells", {})
    found: dict[str, list] = {"missing": [], "empty": [], "stale": [], "gone": []}
    ids = set()
    for cell in markdown_cells(nb):
        ids.add(cell.id)
        entry = cells.get(cell.id)
        if entry is None:
            found["missing"].append(cell.id)
        elif entry.get("en_sha") != sha(cell.source):
            found["stale"].append((cell.id, entry.get("en", ""), cell.source))
        elif not entry.get(lang, "").strip():
            found["empty"].append(cell.id)
    found["gone"] = [cid for cid in cells if cid not in ids]
    return found


# --------------------------------------------------------------------------- speaker notes
def english_notes(root: Path = ROOT) -> dict[str, dict[str, str]]:
    """lecture/speaker_notes.json: {notebook stem: {anchor cell id: the English note}}."""
    data = json.loads((root / "lecture" / "speaker_notes.json").read_text(encoding="utf-8"))
    return {
        stem: {anchor: e["notes"] for anchor, e in notes.items() if not anchor.startswith("_")}
        for stem, notes in data.items()
        if not stem.startswith("_")
    }


def notes_path(lang: str = "zh", root: Path = ROOT) -> Path:
    return root / "i18n" / lang / "speaker_notes.json"


def load_notes_translation(lang: str = "zh", root: Path = ROOT) -> dict:
    """i18n/LANG/speaker_notes.json: {notebook stem: {anchor: {"en_sha", "en", LANG}}} ({} when none);
    keys starting with '_' are comments."""
    path = notes_path(lang, root)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {stem: dict(notes) for stem, notes in data.items() if not stem.startswith("_")}


def notes_problems(lang: str = "zh", root: Path = ROOT, stems: list[str] | None = None) -> dict[str, list]:
    """What keeps the notes' translation from matching lecture/speaker_notes.json, as for a notebook
    (``problems``): {"missing": [(stem, anchor)], "empty": [...], "stale": [(stem, anchor, old, new)],
    "gone": [(stem, anchor)]}."""
    english = english_notes(root)
    data = load_notes_translation(lang, root)
    found: dict[str, list] = {"missing": [], "empty": [], "stale": [], "gone": []}
    for stem in sorted(set(english) | set(data)):
        if stems is not None and stem not in stems:
            continue
        notes, entries = english.get(stem, {}), data.get(stem, {})
        for anchor, text in notes.items():
            entry = entries.get(anchor)
            if entry is None:
                found["missing"].append((stem, anchor))
            elif entry.get("en_sha") != sha(text):
                found["stale"].append((stem, anchor, entry.get("en", ""), text))
            elif not entry.get(lang, "").strip():
                found["empty"].append((stem, anchor))
        found["gone"] += [(stem, anchor) for anchor in entries if anchor not in notes]
    return found


def notes_drift(lang: str = "zh", root: Path = ROOT) -> list[str]:
    """One line per speaker note whose translation is missing, empty, stale (with a diff) or of a note
    that no longer exists; [] when the notes' translation is current."""
    found = notes_problems(lang, root)
    where = f"i18n/{lang}/speaker_notes.json"
    lines = [f"{stem}, note after cell {a}: no translation in {where}" for stem, a in found["missing"]]
    lines += [f"{stem}, note after cell {a}: the translation is empty ({where})" for stem, a in found["empty"]]
    lines += [
        f"{stem}, note after cell {a}: the English note changed since it was translated "
        f"(update its {lang!r}, 'en' and 'en_sha' in {where}):\n" + diff(old, new, f"{stem}/{a}")
        for stem, a, old, new in found["stale"]
    ]
    gone = "no such English note any more (delete it from"
    lines += [f"{stem}, note after cell {a}: {gone} {where})" for stem, a in found["gone"]]
    return lines


def translated_notes(stem: str, lang: str = "zh", root: Path = ROOT) -> dict[str, tuple[str, bool]]:
    """The notes of one notebook for the ``lang`` lecture edition: {anchor: (text, translated)}: the
    translation where it is current, else the English note (``translated`` False), so that a build never
    shows a translation of an older English note."""
    entries = load_notes_translation(lang, root).get(stem, {})
    out = {}
    for anchor, text in english_notes(root).get(stem, {}).items():
        entry = entries.get(anchor, {})
        current = entry.get("en_sha") == sha(text) and entry.get(lang, "").strip()
        out[anchor] = (entry[lang], True) if current else (text, False)
    return out


def notes_status(stems: list[str] | None = None, lang: str = "zh", root: Path = ROOT) -> int:
    """Print what a translator has to do for the speaker notes; 1 when anything is to do."""
    found = notes_problems(lang, root, stems)
    n = sum(len(v) for s, v in english_notes(root).items() if stems is None or s in stems)
    todo = len(found["missing"]) + len(found["empty"]) + len(found["stale"])
    print(
        f"speaker notes ({notes_path(lang, root).relative_to(root)}): {n - todo}/{n} translated and current; "
        f"{len(found['missing'])} missing, {len(found['empty'])} empty, {len(found['stale'])} stale, "
        f"{len(found['gone'])} of notes gone"
    )
    for stem, a in found["missing"]:
        print(f"  missing  {stem} {a}")
    for stem, a in found["empty"]:
        print(f"  empty    {stem} {a}")
    for stem, a, old, new in found["stale"]:
        print(f"  stale    {stem} {a}: the English note changed since it was translated:")
        print("    " + diff(old, new, f"{stem}/{a}").replace("\n", "\n    "))
    for stem, a in found["gone"]:
        print(f"  gone     {stem} {a}: no such English note any more (delete the entry)")
    return 1 if any(found.values()) else 0


def notes_skeleton(lang: str = "zh", root: Path = ROOT) -> int:
    """Add ``{"en_sha", "en", lang: ""}`` for every English note without an entry (never overwrites one;
    entries in the order of lecture/speaker_notes.json, gone ones kept at the end); the number added."""
    path = notes_path(lang, root)
    raw = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    out = {k: v for k, v in raw.items() if k.startswith("_")} or {"_about": NOTES_ABOUT}
    added = 0
    for stem, notes in english_notes(root).items():
        old = raw.get(stem, {})
        entries = {}
        for anchor, text in notes.items():
            if anchor not in old:
                added += 1
            entries[anchor] = old.get(anchor) or {"en_sha": sha(text), "en": text, lang: ""}
        entries.update({a: e for a, e in old.items() if a not in entries})
        out[stem] = entries
    out.update({s: e for s, e in raw.items() if s not in out})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return added


NOTES_ABOUT = (
    "The speaker notes of lecture/speaker_notes.json translated, per notebook stem and anchor cell id: "
    "en_sha = lecture.i18n.sha of the English note translated, en = that note. The lecture edition in this "
    "language uses a translation only while it is current (else the English note, marked so); "
    "`python -m lecture.i18n notes` lists what is missing or stale, tests/test_i18n.py fails on it."
)


def diff(old: str, new: str, cell_id: str) -> str:
    """A unified diff of the English a translation was made from against the English now."""
    lines = difflib.unified_diff(
        old.splitlines(), new.splitlines(), f"{cell_id} (translated from)", f"{cell_id} (English now)", lineterm=""
    )
    return "\n".join(lines)


def translated(nb, data: dict, lang: str = "zh", stem: str = "") -> nbformat.NotebookNode:
    """The edition of ``nb`` in ``lang``, outputs as in ``nb``: each markdown cell's source replaced by its
    translation, code cells untouched, ``metadata.vae_course.lang`` set. Raises ValueError, naming the
    notebook and the cells, when a translation is missing, empty or stale."""
    found = problems(nb, data, lang)
    bad = [f"{cid}: no translation" for cid in found["missing"]]
    bad += [f"{cid}: empty translation" for cid in found["empty"]]
    stale = "stale (the English cell changed; python -m lecture.i18n status shows how)"
    bad += [f"{cid}: {stale}" for cid, *_ in found["stale"]]
    if bad:
        shown = "\n  ".join(bad[:20]) + (f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise ValueError(f"{stem or 'notebook'}: the {lang} translation is not up to date:\n  {shown}")
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "markdown":
            cell.source = data["cells"][cell.id][lang]
    out.metadata.setdefault("vae_course", {})["lang"] = lang
    return out


def expected_sources(nb, data: dict, lang: str = "zh") -> list[tuple[str, str, str]]:
    """(cell id, cell type, source) of every cell of the edition `build` writes now."""
    return [(c.id, c.cell_type, c.source) for c in translated(nb, data, lang).cells]


def drift(stem: str, lang: str = "zh", root: Path = ROOT) -> list[str]:
    """Every way the committed edition of notebook ``stem`` has drifted from its sources, one line each,
    naming the cell: translations missing, empty or stale; an edition that is missing, a code cell that
    differs from the English one, a markdown cell that is not its translation, cells added, lost or
    moved (the edition was not rebuilt). Empty: in step. Runs nothing."""
    nb = nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)
    data = load_translation(stem, lang, root)
    where = f"{stem} ({lang})"
    if data is None:
        return [f"{where}: no translation file {translation_path(stem, lang, root).relative_to(root)}"]
    found = problems(nb, data, lang)
    lines = [f"{where}, cell {cid}: markdown cell, no translation" for cid in found["missing"]]
    lines += [f"{where}, cell {cid}: its translation is empty" for cid in found["empty"]]
    lines += [
        f"{where}, cell {cid}: the English cell changed since it was translated (stale en_sha):\n{diff(old, new, cid)}"
        for cid, old, new in found["stale"]
    ]
    lines += [f"{where}, cell {cid}: a translation of a cell that no longer exists" for cid in found["gone"]]
    edition = edition_path(stem, lang, root)
    if not edition.is_file():
        return lines + [f"{where}: no edition {edition.relative_to(root)} (make zh)"]
    ed = nbformat.read(edition, as_version=4)
    if ed.metadata.get("vae_course", {}).get("lang") != lang:
        lines.append(f"{where}: the edition's metadata.vae_course.lang is not {lang!r}")
    english = {c.id: c for c in nb.cells}
    for cell in ed.cells:
        en = english.get(cell.id)
        if en is None:
            lines.append(f"{where}, cell {cell.id}: in the edition but not in the English notebook (make zh)")
        elif en.cell_type != cell.cell_type:
            lines.append(f"{where}, cell {cell.id}: a {cell.cell_type} cell in the edition, {en.cell_type} in English")
        elif cell.cell_type == "code" and cell.source != en.source:
            lines.append(f"{where}, cell {cell.id}: code cell differs from the English one (make zh)")
        elif cell.cell_type == "markdown":
            entry = data["cells"].get(cell.id, {})
            if entry.get("en_sha") == sha(en.source) and cell.source != entry.get(lang):
                lines.append(f"{where}, cell {cell.id}: markdown is not its current translation (not rebuilt: make zh)")
    ids = [c.id for c in ed.cells]
    lost = [c.id for c in nb.cells if c.id not in set(ids)]
    lines += [f"{where}, cell {cid}: in the English notebook but not in the edition (make zh)" for cid in lost]
    if not lost and ids != [c.id for c in nb.cells if c.id in set(ids)]:
        lines.append(f"{where}: the edition's cells are in another order than the English ones (make zh)")
    return lines


def status(stems: list[str], lang: str = "zh", root: Path = ROOT) -> int:
    """Print what a translator has to do, per notebook; 1 when anything is to do."""
    todo = 0
    for stem in stems:
        nb = nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)
        data = load_translation(stem, lang, root)
        n = len(markdown_cells(nb))
        if data is None:
            print(f"{stem}: no translation file ({n} markdown cells; python -m lecture.i18n skeleton {stem})")
            todo += 1
            continue
        found = problems(nb, data, lang)
        done = n - len(found["missing"]) - len(found["empty"]) - len(found["stale"])
        print(
            f"{stem}: {done}/{n} cells translated and current; {len(found['missing'])} missing, "
            f"{len(found['empty'])} empty, {len(found['stale'])} stale, {len(found['gone'])} of cells gone"
        )
        for cid in found["missing"]:
            print(f"  missing  {cid}")
        for cid in found["empty"]:
            print(f"  empty    {cid}")
        for cid, old, new in found["stale"]:
            print(f"  stale    {cid}: the English changed since it was translated:")
            print("    " + diff(old, new, cid).replace("\n", "\n    "))
        for cid in found["gone"]:
            print(f"  gone     {cid}: its cell no longer exists in the English notebook (delete the entry)")
        todo += any(found.values())
    return 1 if todo else 0


def skeleton(stems: list[str], lang: str = "zh", root: Path = ROOT) -> None:
    """Add ``{"en_sha", "en", lang: ""}`` for every markdown cell without an entry; keep every entry."""
    for stem in stems:
        nb = nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)
        data = load_translation(stem, lang, root) or {"notebook": f"{stem}.ipynb", "cells": {}}
        old = data["cells"]
        cells = {}
        added = 0
        for cell in markdown_cells(nb):
            if cell.id in old:
                cells[cell.id] = old[cell.id]
            else:
                cells[cell.id] = {"en_sha": sha(cell.source), "en": cell.source, lang: ""}
                added += 1
        cells.update({cid: entry for cid, entry in old.items() if cid not in cells})  # gone: kept, at the end
        write_translation(stem, {"notebook": f"{stem}.ipynb", "cells": cells}, lang, root)
        print(f"{stem}: {added} entries added, {len(old)} kept")


def build(stems: list[str], lang: str = "zh", run: bool = True, jobs: int = 2, root: Path = ROOT) -> int:
    """``make zh``: write each edition, then run it with the course executor in ``lang``."""
    written = []
    failed = 0
    for stem in stems:
        nb = nbformat.read(root / "notebooks" / f"{stem}.ipynb", as_version=4)
        data = load_translation(stem, lang, root)
        if data is None:
            print(f"{stem}: no translation file {translation_path(stem, lang, root).relative_to(root)}: skipped")
            failed += 1
            continue
        try:
            out = translated(nb, data, lang, stem)
        except ValueError as e:
            print(f"REFUSED {e}")
            failed += 1
            continue
        path = edition_path(stem, lang, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.validate(out)
        nbformat.write(out, path)
        written.append(path)
    if run and written:
        import tempfile
        from concurrent.futures import ThreadPoolExecutor

        from lecture import execute_notebooks as ex

        failed_dir = Path(tempfile.gettempdir()) / "vae-course-runs" / lang
        start = time.perf_counter()
        with ThreadPoolExecutor(max(1, jobs)) as pool:
            runs = pool.map(lambda p: ex.execute(p, failed_dir, env={"VAE_COURSE_LANG": lang}, slides=False), written)
            for ok, line in runs:
                print(line, flush=True)
                failed += not ok
        print(f"{len(written)} {lang} notebooks run in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


# --------------------------------------------------------------------------- the run-time catalogs
FIGURE_CALLS = {"set_title", "set_xlabel", "set_ylabel", "suptitle", "title", "xlabel", "ylabel", "text", "set_label"}
FIGURE_KEYWORDS = {"label", "title", "xlabel", "ylabel", "desc"}  # desc: a progress bar's label
DATA_KEYWORDS = {"why", "try_", "title", "hint", "explanation", "feedback", "teacher", "explain"}


def _literal(node) -> str | None:
    """A string literal's text; an f-string's with ``0`` for each field (so its numbers' template is the
    one a run's text has when the fields are numbers); None for anything else."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            else:
                parts.append("0")
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # "a" "b" + f"c"
        left, right = _literal(node.left), _literal(node.right)
        return None if left is None or right is None else left + right
    return None


def _code_strings(source: str) -> dict[str, list[str]]:
    """From Python source: t("...") templates, claims' why and try_, Feedback messages, figure text."""
    import ast

    from vae_course.parameters import python_source

    found: dict[str, list[str]] = {"t": [], "data": [], "figure": []}
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return found
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        if name == "t" and node.args:
            found["t"].append(_literal(node.args[0]))
        elif name in ("claim", "register", "register_prediction", "Misconception", "Feedback"):
            args = node.args[2:] if name == "claim" else node.args[1:] if name != "Feedback" else node.args[:1]
            values = [*args, *(k.value for k in node.keywords if k.arg in DATA_KEYWORDS or name == "Feedback")]
            for v in values:
                if isinstance(v, (ast.Tuple, ast.List)):
                    found["data"] += [_literal(e) for e in v.elts]
                elif isinstance(v, ast.Dict):
                    found["data"] += [_literal(e) for e in v.values]
                else:
                    found["data"].append(_literal(v))
        elif name in FIGURE_CALLS and node.args:
            found["figure"].append(_literal(node.args[0]))
        if name not in ("claim",):
            found["figure"] += [_literal(k.value) for k in node.keywords if k.arg in FIGURE_KEYWORDS]
    return {k: [s for s in v if s] for k, v in found.items()}


def _all_literals(source: str) -> list[str]:
    """Every string literal and f-string (fields as 0) of a module, docstrings left out."""
    import ast

    tree = ast.parse(source)
    docs = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body and isinstance(n.body[0], ast.Expr)
    }
    inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for n in ast.walk(tree):
        if isinstance(n, (ast.Constant, ast.JoinedStr)) and id(n) not in docs and id(n) not in inner:
            text = _literal(n)
            if text:
                found.append(text)
    return found


def _keyed(texts) -> list[str]:
    """Catalog keys: each text as its numbers' template (vae_course.i18n.template_of), in first-seen order."""
    from vae_course.i18n import template_of

    keys = []
    for text in texts:
        if text and re.search(r"[A-Za-z]{2}", text) and not re.match(r"\s*(def|import|from|return) ", text):  # no code
            key = template_of(text)[0]
            if key not in keys:
                keys.append(key)
    return keys


def catalog_texts(root: Path = ROOT) -> dict[str, list[str]]:
    """What the two run-time catalogs must hold: ``strings`` (the package's t() templates and data texts,
    the notebooks' claims) and ``outputs`` (the lines the English notebooks printed in their last run, and
    their figures' titles and labels)."""
    from vae_course import exercises

    strings: list[str] = []
    figures: list[str] = []
    for path in sorted((root / "vae_course").rglob("*.py")):
        found = _code_strings(path.read_text(encoding="utf-8"))
        strings += found["t"] + found["data"]
        figures += found["figure"]
        if path.parent.name == "exercises" and path.name.startswith("nb"):  # checkers' notes and messages
            strings += [s for s in _all_literals(path.read_text(encoding="utf-8")) if len(s.split()) >= 4]
    for ex in exercises.all_exercises().values():
        strings += [ex.title, *ex.hints, ex.explanation]
        for m in ex.misconceptions:
            strings += [m.feedback, m.teacher]
        if ex.prediction:
            strings += [ex.prediction["explain"], *ex.prediction["options"].values()]
    printed: list[str] = []
    for path in english_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            found = _code_strings(cell.source)
            strings += found["t"] + found["data"]
            figures += found["figure"]
            for o in cell.get("outputs", []):
                if o.get("output_type") == "stream" and o.get("name") == "stdout":  # not the checks' own lines
                    printed += [line for line in o["text"].split("\n") if not line.startswith(("✅", "⏳", "❌"))]
    return {"strings": _keyed(strings), "outputs": _keyed(printed + figures)}


def extract(lang: str = "zh", root: Path = ROOT) -> dict[str, tuple[int, int]]:
    """Write i18n/LANG/strings.json and outputs.json with every text `catalog_texts` finds, keeping each
    translation already there (an entry whose text is no longer found is kept too, under ``_unused``
    only when empty: dropped). Returns {catalog: (entries, translated)}."""
    texts = catalog_texts(root)
    counts = {}
    for name, field in (("strings", "strings"), ("outputs", "lines")):
        path = root / "i18n" / lang / f"{name}.json"
        old = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        before = old.get(field, {})
        entries = {key: before.get(key, "") for key in texts[name]}
        entries.update({k: v for k, v in before.items() if v and k not in entries})  # translated: never lost
        about = old.get("_about") or (
            f"Run-time catalog ({name}) of the {lang} edition, written by `python -m lecture.i18n extract` "
            "(which keeps every translation). Key: the English text, its numbers written {0}, {1}, ... "
            "(vae_course/i18n.py); value: the translation (same placeholders, any order), empty: not yet."
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"_about": about, field: entries}, ensure_ascii=False, indent=1) + "\n", "utf-8")
        counts[name] = (len(entries), sum(bool(v) for v in entries.values()))
    return counts


def untranslated(lang: str = "zh", root: Path = ROOT) -> dict[str, list[str]]:
    """The catalogs' entries with no translation yet, by catalog."""
    out = {}
    for name, field in (("strings", "strings"), ("outputs", "lines")):
        path = root / "i18n" / lang / f"{name}.json"
        entries = json.loads(path.read_text(encoding="utf-8")).get(field, {}) if path.is_file() else {}
        out[name] = [k for k, v in entries.items() if not v]
    return out


# --------------------------------------------------------------------------- README.<lang>.md
#: README.zh-CN.md ends with a record of the English README sections it translates, each with the sha of the
#: English it was made from: ``<!-- translates README.md ... -->`` (tests/test_readme_zh.py checks it)
README_RECORD = re.compile(r"<!-- translates README\.md[^\n]*\n(.*?)-->", re.S)
#: a block of README.md that `make params-readme` rewrites after a run, which no translation restates
GENERATED = re.compile(r"<!-- test-params:start -->.*?<!-- test-params:end -->", re.S)
INTRO = "(introduction)"


def readme_path(lang: str = "zh", root: Path = ROOT) -> Path:
    return root / {"zh": "README.zh-CN.md"}[lang]


def readme_sections(text: str) -> dict[str, str]:
    """README.md's sections by their ``## `` title (the text before the first: ``INTRO``), each without the
    blocks that are regenerated from a run (``GENERATED``). A ``## `` inside a fenced block is not a title."""
    sections, title, lines, fenced = {}, INTRO, [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if line.startswith("## ") and not fenced:
            sections[title] = "\n".join(lines)
            title, lines = line[3:].strip(), []
        else:
            lines.append(line)
    sections[title] = "\n".join(lines)
    return {t: GENERATED.sub("", body).strip() for t, body in sections.items()}


def readme_record(lang: str = "zh", root: Path = ROOT) -> dict[str, str]:
    """{English section title: en_sha} from the translated README's record ({} if it has none)."""
    m = README_RECORD.search(readme_path(lang, root).read_text(encoding="utf-8"))
    rows = [line.rsplit(" ", 1) for line in (m.group(1).splitlines() if m else []) if line.strip()]
    return {title.strip(): digest for title, digest in rows}


def readme_drift(lang: str = "zh", root: Path = ROOT) -> list[str]:
    """The English README sections the translation records whose English changed (or is gone), one line each."""
    record = readme_record(lang, root)
    where = readme_path(lang, root).name
    if not record:
        return [f"{where}: no record of the README.md sections it translates (python -m lecture.i18n readme --record)"]
    now = readme_sections((root / "README.md").read_text(encoding="utf-8"))
    lines = []
    for title, digest in record.items():
        if title not in now:
            lines.append(f"{where}: translates README.md section '{title}', which no longer exists")
        elif sha(now[title]) != digest:
            lines.append(
                f"{where}: README.md section '{title}' changed since it was translated (stale en_sha {digest}): "
                f"update the translation (git log -p README.md shows what changed), then "
                f"python -m lecture.i18n readme --record"
            )
    return lines


def record_readme(titles: list[str] | None = None, lang: str = "zh", root: Path = ROOT) -> list[str]:
    """Write the translated README's record with the current sha of each section it translates (``titles``,
    default: those it records now; the others keep their recorded sha); returns the titles recorded."""
    path = readme_path(lang, root)
    text = path.read_text(encoding="utf-8")
    now = readme_sections((root / "README.md").read_text(encoding="utf-8"))
    kept = readme_record(lang, root)
    titles = titles or list(kept)
    unknown = [t for t in titles if t not in now]
    if unknown:
        raise SystemExit(f"README.md has no section {unknown}")
    # naming sections re-records those and keeps every other section's recorded sha (in README order)
    shas = {**kept, **{t: sha(now[t]) for t in titles}}
    ordered = [t for t in now if t in shas] + [t for t in shas if t not in now]
    record = (
        "<!-- translates README.md (tests/test_readme_zh.py; python -m lecture.i18n readme --record): "
        "section en_sha\n" + "".join(f"{t} {shas[t]}\n" for t in ordered) + "-->"
    )
    text = README_RECORD.sub(lambda _: record, text) if README_RECORD.search(text) else text.rstrip() + "\n\n" + record
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
    return titles


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["status", "skeleton", "build", "extract", "untranslated", "readme", "notes"])
    ap.add_argument("notebooks", nargs="*", help="notebook names or paths (default: all)")
    ap.add_argument("--lang", default="zh", choices=LANGS)
    ap.add_argument("--no-run", action="store_true", help="build: write the editions without running them")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--record", action="store_true", help="readme: record the current sha of each translated section")
    ap.add_argument("--skeleton", action="store_true", help="notes: first add an empty entry for each new note")
    args = ap.parse_intermixed_args(argv)
    if args.command == "readme":
        if args.record:
            print(f"recorded {len(record_readme(args.notebooks or None, args.lang))} sections")
            return 0
        found = readme_drift(args.lang)
        print("\n".join(found) or f"{readme_path(args.lang).name}: every translated section is current")
        return 1 if found else 0  # notebooks may come after the options
    if args.command == "notes":
        if args.skeleton:
            print(f"{notes_skeleton(args.lang)} entries added to {notes_path(args.lang).relative_to(ROOT)}")
        return notes_status([Path(n).stem for n in args.notebooks] or None, args.lang)
    stems = [Path(n).stem for n in args.notebooks] or [p.stem for p in english_notebooks()]
    unknown = [s for s in stems if not (NOTEBOOKS / f"{s}.ipynb").is_file()]
    if unknown:
        ap.error(f"no English notebook {', '.join(unknown)} in notebooks/")
    if args.command == "status":
        return max(status(stems, args.lang), notes_status(stems, args.lang))
    if args.command == "extract":
        for name, (n, done) in extract(args.lang).items():
            print(f"i18n/{args.lang}/{name}.json: {n} entries, {done} translated")
        return 0
    if args.command == "untranslated":
        for name, keys in untranslated(args.lang).items():
            print(f"{name}: {len(keys)} untranslated")
            for key in keys:
                print(f"  {key!r}")
        return 0
    if args.command == "skeleton":
        skeleton(stems, args.lang)
        return 0
    return build(stems, args.lang, run=not args.no_run, jobs=args.jobs)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `status | head` closed the pipe: stop quietly (Python docs' signal recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
