"""A lint of the committed notebooks as a learner reads them, cell by cell, in JupyterLab (issue 24).

Each rule is one test; each finding names the notebook and the cell. The rules:

* **no duplicated markdown**: no two markdown cells of a notebook hold the same text;
* **no control characters**: no cell source holds a character below U+0020 (or U+007F) other than
  a newline, and a TAB only in code. (A LaTeX command written into a Python string without ``r``
  becomes one: ``"\\tfrac"`` is a TAB and ``frac``, ``"\\big"`` a backspace and ``ig``);
* **no sentence split across cells**: a markdown cell whose prose ends mid-sentence (its last
  character is a letter, digit, comma or closing inline ``$``, and its last line is prose, not a
  heading, list item, table row or ``$$`` display) must be followed by a markdown cell that goes
  on with it; and a markdown cell that starts with a lower-case letter (a sentence's continuation)
  must follow a markdown cell, not a code cell or a speaker note;
* **no bare expression output**: no saved ``execute_result`` whose text is ``True``, ``False`` or
  ``None``, or a tensor repr (``tensor(...)``): the echo of a claim or set-up cell's last line,
  scaffolding the learner should not read (print what a cell means to show);
* **nbval directives as tags**: no ``# NBVAL_...`` comment in a code cell; nbval reads the same
  directives from the cell's tags (``nbval-check-output``, ``nbval-ignore-output``, ``nbval-skip``,
  ``raises-exception``), which JupyterLab does not show in the code;
* **speaker notes state only printed numbers**: every number in a notebook's speaker notes
  (lecture/speaker_notes.json) appears in that notebook's saved outputs or its markdown;
* **the slide-metadata step is idempotent**: applying lecture/slide_metadata.py to a committed
  notebook changes nothing, and building the lecture edition twice gives the same notebook.

The notebooks in notebooks/ hold no speaker notes (tests/test_lecture.py checks that, and that
every note's anchor cell exists).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from lecture import slide_metadata as sm
from tests.course import NOTEBOOKS


def _where(nb, i: int) -> str:
    src = nb.cells[i].source.strip().splitlines()
    return f"cell {i} ({nb.cells[i].cell_type} {nb.cells[i].get('id', '')}: {src[0][:50] if src else ''!r})"


# --------------------------------------------------------------------------- the rules
def duplicated_markdown(nb) -> list[str]:
    seen: dict[str, int] = {}
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "markdown" or not cell.source.strip():
            continue
        key = re.sub(r"\s+", " ", cell.source.strip())
        if key in seen:
            found.append(f"{_where(nb, i)} repeats cell {seen[key]}")
        else:
            seen[key] = i
    return found


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def control_characters(nb) -> list[str]:
    found = []
    for i, cell in enumerate(nb.cells):
        bad = CONTROL.findall(cell.source)
        if cell.cell_type != "code":
            bad += re.findall("\t", cell.source)
        if bad:
            found.append(f"{_where(nb, i)}: {sorted({hex(ord(c)) for c in bad})}")
    return found


_ends_mid_sentence, _starts_lower = sm.ends_mid_sentence, sm.starts_lower


def split_sentences(nb) -> list[str]:
    found = []
    cells = nb.cells
    for i, cell in enumerate(cells):
        if cell.cell_type != "markdown" or sm.is_notes(cell):
            continue
        nxt = cells[i + 1] if i + 1 < len(cells) else None
        continues = nxt is not None and nxt.cell_type == "markdown" and not sm.is_notes(nxt)
        if _ends_mid_sentence(cell.source) and not continues:
            found.append(f"{_where(nb, i)} ends mid-sentence, and the next cell does not go on with it")
        prev = cells[i - 1] if i else None
        after_text = prev is not None and prev.cell_type == "markdown" and not sm.is_notes(prev)
        if _starts_lower(cell.source) and not after_text:
            found.append(f"{_where(nb, i)} goes on with a sentence, after a cell that is not its text")
    return found


TENSOR_REPR = re.compile(r"^tensor\(")


def bare_expression_outputs(nb) -> list[str]:
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "execute_result":
                continue
            text = str(out.get("data", {}).get("text/plain", "")).strip()
            if text in ("True", "False", "None") or TENSOR_REPR.match(text):
                found.append(f"{_where(nb, i)} echoes {text[:40]!r}")
    return found


NBVAL_COMMENT = re.compile(r"^\s*#\s*(NBVAL_\w+|PYTEST_VALIDATE_\w+)", re.M)


def nbval_comments(nb) -> list[str]:
    return [
        f"{_where(nb, i)}: {', '.join(NBVAL_COMMENT.findall(c.source))} (use the cell tag instead)"
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and NBVAL_COMMENT.search(c.source)
    ]


#: a number: digits with decimals or thousands separators, not part of a longer number ("01" in "01_autoencoder" counts)
NUMBER = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)*(?![\d])")


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def printed_text(nb) -> str:
    """What the notebook shows a reader: its markdown and its saved outputs (text, HTML, errors)."""
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not sm.is_notes(cell):
            parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(str(out.get("text", "")))
            data = out.get("data", {})
            parts += [str(data.get(k, "")) for k in ("text/plain", "text/html", "text/markdown")]
    return "\n".join(parts)


def unprinted_note_numbers(nb, notes: dict[str, str]) -> list[str]:
    shown = _numbers(printed_text(nb))
    found = []
    for anchor, text in notes.items():
        missing = sorted(_numbers(text) - shown)
        if missing:
            found.append(f"note after {anchor!r}: {missing} appear nowhere in the notebook ({text[:60]!r}...)")
    return found


def not_idempotent(nb, path: Path) -> list[str]:
    found = []
    again, _ = sm.apply(nb)
    if json.dumps(again, sort_keys=True) != json.dumps(nb, sort_keys=True):
        found.append(f"{path.name}: applying the slide metadata changes the committed notebook")
    notes = sm.load_notes().get(path.stem, {})
    lecture, _ = sm.lecture_edition(nb, notes)
    twice, _ = sm.lecture_edition(lecture, notes)
    if json.dumps(twice, sort_keys=True) != json.dumps(lecture, sort_keys=True):
        found.append(f"{path.name}: building the lecture edition from the lecture edition changes it")
    return found


# --------------------------------------------------------------------------- the tests
#: The course notebooks and the Chinese edition's (notebooks/zh/, written by `make zh`; the speaker-note and
#: slide rules read the English notes, so they skip the edition).
EDITION = sorted((NOTEBOOKS[0].parent / "zh").glob("[0-9][0-9]_*.ipynb")) if NOTEBOOKS else []


@pytest.fixture(scope="module", params=NOTEBOOKS + EDITION, ids=lambda p: f"{p.parent.name}/{p.stem}")
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def _report(path: Path, found: list[str], what: str) -> str:
    return f"{path.name}: {what}:\n  " + "\n  ".join(found)


def test_no_duplicated_markdown(notebook):
    path, nb = notebook
    found = duplicated_markdown(nb)
    assert not found, _report(path, found, "markdown cells with the same text")


def test_no_control_characters(notebook):
    path, nb = notebook
    found = control_characters(nb)
    assert not found, _report(path, found, "control characters in cell sources (a LaTeX command lost its backslash?)")


def test_no_sentence_split_across_cells(notebook):
    path, nb = notebook
    found = split_sentences(nb)
    assert not found, _report(path, found, "sentences split across cells")


def test_no_bare_expression_output(notebook):
    path, nb = notebook
    found = bare_expression_outputs(nb)
    assert not found, _report(path, found, "scaffolding echoed as a cell result (end the cell with a statement)")


def test_nbval_directives_are_tags(notebook):
    path, nb = notebook
    found = nbval_comments(nb)
    assert not found, _report(path, found, "nbval directives written as comments in the learner's code")


def test_speaker_notes_state_only_printed_numbers(notebook):
    path, nb = notebook
    if path in EDITION:
        pytest.skip("the Chinese edition has no speaker notes or slide metadata of its own")
    found = unprinted_note_numbers(nb, sm.load_notes().get(path.stem, {}))
    assert not found, _report(path, found, "speaker notes state numbers the notebook does not print")


def test_slide_metadata_step_is_idempotent(notebook):
    path, nb = notebook
    if path in EDITION:
        pytest.skip("the Chinese edition has no speaker notes or slide metadata of its own")
    found = not_idempotent(nb, path)
    assert not found, _report(path, found, "the slide-metadata step is not idempotent")


# --------------------------------------------------------------------------- the rules, on small cases
def _nb(*cells):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    return nb


def test_rules_catch_what_they_describe():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    assert duplicated_markdown(_nb(md("Same."), code("x"), md("Same.\n")))
    assert control_characters(_nb(md("$\tfrac12$ and $\big($")))
    assert not control_characters(_nb(code("x = 1\n\ty = 2")))
    assert split_sentences(_nb(md("A point has brightness"), code("x")))
    assert split_sentences(_nb(md("Text."), code("x"), md("which goes on.")))
    assert not split_sentences(_nb(md("A point has brightness"), md("$$b = a$$"), md("where a is 0.08.")))
    assert not split_sentences(_nb(md("## A heading"), code("x"), md("- a list item"), code("y")))
    echo = code("claim(...)")
    echo.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "True"}, execution_count=1)]
    assert bare_expression_outputs(_nb(echo))
    assert nbval_comments(_nb(code("# NBVAL_CHECK_OUTPUT\nprint(1)")))
    printed = code("print(x)")
    printed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="ratio 1.30 at 0.1\n")]
    assert unprinted_note_numbers(_nb(printed), {"c0": "the ratio is 1.25"})
    assert not unprinted_note_numbers(_nb(printed), {"c0": "the ratio is 1.30 at 0.1"})
