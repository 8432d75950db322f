"""Issue 24: the notebooks in notebooks/ as a learner reads them, without re-running them.

Edits markdown and cell metadata only, never a code cell's outputs; one code-source edit (below).
Idempotent: a second run changes nothing (tests/test_notebook_lint.py checks the result). Per notebook:

* drops the speaker-notes cells (they live in lecture/speaker_notes.json and go into the lecture
  edition only, `make lecture`);
* drops a markdown cell that repeats an earlier one word for word (08: "Where did the KL go?" four
  times: the cell it was split from held the paragraph four times);
* restores LaTeX that lost its backslash to a Python string escape: TAB, backspace, form feed,
  vertical tab, carriage return and bell in a markdown cell become ``\\t``, ``\\b``, ``\\f``, ``\\v``,
  ``\\r``, ``\\a`` (06, Exercise 06.2: ``\\tfrac``, ``\\big``);
* moves nbval's ``# NBVAL_...`` comment lines out of the code into the cell's tags
  (``nbval-check-output``, ...), which nbval reads the same way. This edits a code cell's source
  (the comment line only);
* applies the slide metadata (lecture/slide_metadata.py), which re-joins every split cell and
  splits it again by the current rules (a fragment never starts or stops inside a sentence; a list
  that fits a slide stays one cell).

And it moves lecture/speaker_notes.json from its old keys (the heading each note followed) to the
id of the cell each note follows, if it still has the old keys.

    .venv/bin/python -m lecture.learner_notebooks notebooks/*.ipynb
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

from lecture import slide_metadata as sm

ESCAPED = {"\t": "\\t", "\b": "\\b", "\f": "\\f", "\v": "\\v", "\r": "\\r", "\a": "\\a"}
NBVAL_LINE = re.compile(r"^[ \t]*#[ \t]*NBVAL_(\w+)[ \t]*\n?", re.M)


def drop_repeated_markdown(nb) -> int:
    seen, cells = set(), []
    for cell in nb.cells:
        key = re.sub(r"\s+", " ", cell.source.strip()) if cell.cell_type == "markdown" else None
        if key and key in seen:
            continue
        if key:
            seen.add(key)
        cells.append(cell)
    dropped = len(nb.cells) - len(cells)
    nb.cells = cells
    return dropped


def restore_backslashes(nb) -> int:
    n = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown" and any(c in cell.source for c in ESCAPED):
            cell.source = "".join(ESCAPED.get(c, c) for c in cell.source)
            n += 1
    return n


def nbval_tags(nb) -> int:
    n = 0
    for cell in nb.cells:
        if cell.cell_type != "code" or not NBVAL_LINE.search(cell.source):
            continue
        tags = cell.metadata.setdefault("tags", [])
        for name in NBVAL_LINE.findall(cell.source):
            tag = f"nbval-{name.lower().replace('_', '-')}"
            if tag not in tags:
                tags.append(tag)
        cell.source = NBVAL_LINE.sub("", cell.source)
        n += 1
    return n


def clean(nb) -> tuple[nbformat.NotebookNode, dict[str, int]]:
    counts = {"notes": sum(sm.is_notes(c) for c in nb.cells)}
    nb.cells = [c for c in nb.cells if not sm.is_notes(c)]
    counts["repeated"] = drop_repeated_markdown(nb)
    counts["escapes"] = restore_backslashes(nb)
    counts["nbval"] = nbval_tags(nb)
    new, _ = sm.apply(nb)
    return new, counts


def migrate_notes(path: Path, notebooks: dict[str, nbformat.NotebookNode]) -> bool:
    """speaker_notes.json keyed by heading -> keyed by the id of the heading's cell."""
    data = json.loads(path.read_text(encoding="utf-8"))
    old = {k: v for k, v in data.items() if not k.startswith("_") and any(isinstance(t, str) for t in v.values())}
    if not old:
        return False
    for stem, notes in old.items():
        nb = notebooks.get(stem)
        if nb is None:
            raise SystemExit(f"{path}: notes for {stem}, which was not given")
        by_key = {}
        for cell in nb.cells:
            hd = sm.heading(cell.source) if cell.cell_type == "markdown" else None
            if hd:
                by_key.setdefault(sm.heading_key(hd[1]), cell)
        new = {}
        for key, text in notes.items():
            if key.startswith("_"):
                new[key] = text
                continue
            cell = by_key.get(sm.heading_key(key))
            if cell is None:
                raise SystemExit(f"{path}: {stem}: no heading {key!r} for its notes")
            new[cell.id] = {"after": sm.first_line(cell.source), "notes": text}
        data[stem] = new
    data["_about"] = (
        "Speaker notes, per notebook, keyed by the id of the cell each note follows; 'after' is that cell's "
        "first line (a guide for editors, checked by tests/test_lecture.py). `make lecture` "
        "(lecture/build_lecture.py) inserts each as a 'notes' cell after its cell, in the lecture edition "
        "only: the notebooks in notebooks/ hold no notes. A note states only numbers its notebook prints "
        "(tests/test_notebook_lint.py). Keys starting with '_' are comments."
    )
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    if not paths:
        print(__doc__.strip().splitlines()[-1].strip())
        return 2
    cleaned = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = json.dumps(nb, sort_keys=True)
        new, counts = clean(nb)
        cleaned[path.stem] = new
        if json.dumps(new, sort_keys=True) != before:
            sm.write_notebook(new, path)
            print(f"{path.name}: written ({', '.join(f'{k} {v}' for k, v in counts.items() if v) or 'metadata'})")
        else:
            print(f"{path.name}: unchanged")
    if migrate_notes(sm.NOTES_FILE, cleaned):
        print(f"{sm.NOTES_FILE.name}: keyed by cell id")
    return 0


if __name__ == "__main__":
    sys.exit(main())
