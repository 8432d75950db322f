"""Lecture mode: the committed notebooks carry honest slide metadata (lecture/slide_metadata.py).

Checked on the committed notebooks, as RISE and the offline decks read them:
* every notebook starts with a title slide, and every cell has a slide type;
* no slide overflows the projector (the deck's layout model: at most SLIDE_BUDGET_PX of content on
  a 1280 x 720 slide; the browser test measures the built decks against the same bound);
* every figure and every widget is on a slide (never skipped, never only in the notes);
* no exercise solution is shown: solution cells are skipped, in the course notebooks and in their
  student versions, and no speaker note quotes a solution;
* the learner notebooks hold no speaker notes; the lecture edition (`make lecture`) gives every
  notebook notes, each keyed by the id of an existing cell whose first line its "after" names;
* the metadata is current: applying the script again changes nothing (after editing a notebook's
  structure, re-run `.venv/bin/python -m lecture.slide_metadata notebooks/*.ipynb`).

And, on small notebooks made here, that the rules do what the script's docstring says.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import struct
import zlib
from pathlib import Path

import nbformat
import pytest

from lecture import slide_metadata as sm
from tests.course import NOTEBOOKS
from vae_course.classroom.student import make_student_notebook, solution_lines

APPLY = ".venv/bin/python -m lecture.slide_metadata notebooks/*.ipynb"
SHOWN = ("slide", "subslide", "fragment", "-")


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _where(nb, i: int) -> str:
    src = nb.cells[i].source.strip().splitlines()
    return f"cell {i} ({nb.cells[i].cell_type}: {src[0][:60] if src else ''!r})"


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=lambda p: p.stem)
def notebook(request):
    return request.param, _read(request.param)


def test_title_slide_and_every_cell_typed(notebook):
    path, nb = notebook
    untyped = [_where(nb, i) for i, c in enumerate(nb.cells) if "slide_type" not in c.metadata.get("slideshow", {})]
    assert not untyped, f"{path.name}: cells without slide metadata (run `{APPLY}`):\n" + "\n".join(untyped[:10])
    first = nb.cells[0]
    assert first.cell_type == "markdown" and sm.heading(first.source) and sm.heading(first.source)[0] == 1, (
        f"{path.name}: the first cell must be the notebook's '# title'"
    )
    assert sm.slide_type(first) == "slide", f"{path.name}: the title cell must start the title slide"


def test_no_slide_overflows_the_projector(notebook):
    path, nb = notebook
    over = [s for s in sm.slides(nb) if s.height > sm.SLIDE_BUDGET_PX]
    assert not over, f"{path.name}: slides taller than {sm.SLIDE_BUDGET_PX} px (run `{APPLY}`):\n" + "\n".join(
        f"  {s.height} px from {_where(nb, s.start)}: cells {s.cells}" for s in over
    )


def test_every_figure_and_widget_is_on_a_slide(notebook):
    path, nb = notebook
    hidden = [_where(nb, i) for i, c in enumerate(nb.cells) if sm.has_figure(c) and sm.slide_type(c) not in SHOWN]
    assert not hidden, f"{path.name}: figure or widget cells not shown on a slide:\n" + "\n".join(hidden)


def test_no_solution_is_shown(notebook):
    path, nb = notebook
    shown = [_where(nb, i) for i, c in enumerate(nb.cells) if sm.is_solution(c) and sm.slide_type(c) != "skip"]
    assert not shown, f"{path.name}: exercise solutions on a slide:\n" + "\n".join(shown)
    student, n = make_student_notebook(nb)  # the handout keeps the slide metadata: its stubs stay skipped too
    assert n >= 1, f"{path.name}: no exercise solution found"
    for teacher_cell, student_cell in zip(nb.cells, student.cells):
        if sm.is_solution(teacher_cell):
            assert sm.slide_type(student_cell) == "skip"
    inside, outside = solution_lines(nb)
    secret = [line for line in inside if line not in outside and len(line) >= 12]
    notes = "\n".join(sm.load_notes().get(path.stem, {}).values())
    assert not [line for line in secret if line in notes], f"{path.name}: a speaker note quotes a solution"


def test_learner_notebooks_hold_no_speaker_notes(notebook):
    path, nb = notebook
    found = [_where(nb, i) for i, c in enumerate(nb.cells) if sm.is_notes(c) or sm.slide_type(c) == "notes"]
    assert not found, f"{path.name}: speaker notes belong in lecture/speaker_notes.json, not here:\n" + "\n".join(found)


def test_speaker_notes_keyed_by_existing_cells(notebook):
    path, nb = notebook
    entries = sm.load_note_entries().get(path.stem, {})
    cells = {c.get("id"): c for c in nb.cells}
    gone = [anchor for anchor in entries if anchor not in cells]
    assert not gone, f"{path.name}: speaker notes whose anchor cell is gone: {gone} (edit lecture/speaker_notes.json)"
    stale = {a: e["after"] for a, e in entries.items() if sm.first_line(cells[a].source) != e["after"]}
    assert not stale, f"{path.name}: the cell a note follows has changed; check the note and set its 'after': {stale}"
    lecture, _ = sm.lecture_edition(nb, sm.load_notes().get(path.stem, {}))
    notes = [c for c in lecture.cells if sm.is_notes(c)]
    assert len(notes) >= 5, f"{path.name}: only {len(notes)} speaker notes (lecture/speaker_notes.json)"
    assert all(c.cell_type == "markdown" and sm.slide_type(c) == "notes" for c in notes)
    for i, c in enumerate(lecture.cells):
        if sm.is_notes(c):
            assert lecture.cells[i - 1].id == c.id.removeprefix("notes-")
    shown = [(c.id, sm.slide_type(c)) for c in lecture.cells if not sm.is_notes(c)]
    assert shown == [(c.id, sm.slide_type(c)) for c in nb.cells], "the notes must not move any slide break"


def test_metadata_is_current(notebook):
    path, nb = notebook
    again, _ = sm.apply(nb)
    assert json.dumps(again, sort_keys=True) == json.dumps(nb, sort_keys=True), (
        f"{path.name}: its slide metadata or notes are out of date; run `{APPLY}`"
    )


# --------------------------------------------------------------------------- the rules, on small notebooks
def _png(width: int, height: int) -> str:
    """A real (blank) PNG of the given size, base64, as a notebook output stores it."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff" * width for _ in range(height))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    return base64.b64encode(png).decode()


def _figure_cell(source: str, height: int = 300):
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": _png(600, height), "text/plain": ""})]
    return cell


def _toy():
    md, code = nbformat.v4.new_markdown_cell, nbformat.v4.new_code_cell
    printed = code("print(loss)")
    printed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="loss 1.23\n")]
    checked = code('check("99.1", f)')
    checked.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Exercise 99.1: passed\n")]
    derivation = "\n\n".join(f"Step {k}:\n\n$$\na_{k} = b_{k} \\\\\nc = d\n$$" for k in range(6))
    nb = nbformat.v4.new_notebook(
        cells=[
            md("# 99 · A toy\n\nWhat this is about."),
            code("import torch\nimport numpy as np"),
            md("## 1. First idea\n\nSome words.\n\n### A detail\n\nMore words."),
            _figure_cell("plt.plot(x)\nplt.show()"),
            code("model = train(x)"),
            printed,
            md(f"## 2. A derivation\n\n{derivation}"),
            code("def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION"),
            checked,
            _figure_cell("\n".join(f"big_{k}()" for k in range(10)), height=640),
        ]
    )
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    return nb


def test_rules_on_a_toy_notebook():
    nb, missing = sm.apply(_toy(), {"c2": "Say this.", "no-such-cell": "lost"})
    assert missing == ["no-such-cell"]
    types = [(sm.slide_type(c), c.source.splitlines()[0][:20]) for c in nb.cells]
    by_start = {src: t for t, src in types}
    assert by_start["# 99 · A toy"] == "slide"
    assert by_start["import torch"] == "skip"  # set-up
    assert by_start["## 1. First idea"] == "slide"
    assert by_start["### A detail"] == "subslide"  # split out of the cell it was in
    assert by_start["**Speaker notes.** S"] == "notes"
    assert by_start["plt.plot(x)"] == "-"  # a figure stays on its slide
    assert by_start["model = train(x)"] == "skip"  # no output, defines nothing
    assert by_start["print(loss)"] == "-"
    assert by_start["def f(x):"] == "skip"  # a solution
    assert by_start['check("99.1", f)'] == "-"
    pieces = [t for t, src in types if src.startswith("Step")]
    assert "fragment" in pieces and len(pieces) == 5  # revealed step by step (step 0 stays with its heading)...
    assert "subslide" in pieces  # ... and continues on a new subslide when the slide is full
    big = next(c for c in nb.cells if c.source.startswith("big_0()"))
    assert sm.input_hidden(big)  # too tall with its code: the deck shows the figure alone
    assert all(s.height <= sm.SLIDE_BUDGET_PX for s in sm.slides(nb))
    assert nb.metadata["rise"]["scroll"] is True


def test_apply_is_idempotent_and_keeps_ids_unique():
    once, _ = sm.apply(_toy(), {"c2": "Say this."})
    twice, _ = sm.apply(once, {"c2": "Say this."})
    assert json.dumps(once, sort_keys=True) == json.dumps(twice, sort_keys=True)
    ids = [c.id for c in twice.cells]
    assert len(ids) == len(set(ids))
    nbformat.validate(twice)
    assert sum(sm.is_notes(c) for c in twice.cells) == 1
    changed, _ = sm.apply(once, {"c2-p1": "Other notes."})  # notes are replaced, not added
    assert [c.source for c in changed.cells if sm.is_notes(c)] == ["**Speaker notes.** Other notes."]


def test_a_split_cell_is_split_again_from_the_whole():
    """Applying to a notebook whose split cell was edited (its pieces changed, or its source grew
    back to the whole text) never leaves stale pieces: the cell is joined and split again; a piece
    id that is already taken, or a paragraph held twice, is an error instead of a duplicate cell."""
    once, _ = sm.apply(_toy())
    whole = _toy().cells[6].source
    regrown = copy.deepcopy(once)
    next(c for c in regrown.cells if c.id == "c6").source = whole  # the old pieces are still there
    with pytest.raises(ValueError, match="twice"):
        sm.apply(regrown)
    repeated = _toy()
    repeated.cells[6].source += "\n\nSome closing words.\n\nSome closing words."
    with pytest.raises(ValueError, match="twice"):
        sm.apply(repeated)
    edited = copy.deepcopy(once)
    piece = next(c for c in edited.cells if c.id == "c6-p2")
    piece.source = piece.source.replace("Step", "Stage", 1)
    again, _ = sm.apply(edited)
    assert [c.id for c in again.cells] == [c.id for c in once.cells]
    assert next(c for c in again.cells if c.id == "c6-p2").source.startswith("Stage")


def test_fragments_never_split_a_sentence_or_a_short_list():
    md = nbformat.v4.new_markdown_cell
    filler = "Many " + " ".join(["words"] * 60)
    text = f"## A section\n\n{filler}.\n\nA point has brightness\n\n$$ b = a $$\n\nwhere $a$ is small.\n\n"
    text += f"{filler}.\n\n- one\n\n- two\n\n- three\n\n{filler}."
    pieces = sm.split_markdown(md(text))
    assert len(pieces) > 2
    assert any(p.startswith("A point has brightness") and p.endswith("where $a$ is small.") for p in pieces)
    assert "- one\n\n- two\n\n- three" in pieces


def test_heading_keys_survive_renumbering():
    assert sm.heading_key("## 4. The `beta` trade-off") == sm.heading_key("## 7. The beta trade-off")
    assert sm.heading_key("# 00 · Start here") == "start here"


def test_widget_snapshot_finds_the_saved_figure():
    nb = _toy()
    png = _png(100, 80)
    nb.metadata["widgets"] = {
        sm.WIDGET_STATE_MIME: {
            "state": {
                "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_slider", "IPY_MODEL_out"]}},
                "slider": {"model_name": "FloatSliderModel", "state": {}},
                "out": {
                    "model_name": "OutputModel",
                    "state": {"outputs": [{"output_type": "display_data", "data": {"image/png": png}}]},
                },
            }
        }
    }
    outputs = sm.widget_snapshot(nb, "box")
    assert [o["data"]["image/png"] for o in outputs] == [png]
    assert sm.png_size(png) == (100, 80)


def test_deck_template_loads_nothing_from_the_network(tmp_path):
    """The offline deck of a small notebook: no URL to fetch, maths left for the local MathJax,
    the speaker notes in reveal's notes, the solution absent."""
    from lecture import build_slides

    nb, _ = sm.apply(_toy(), {"c2": "Point at the loss."})
    path = tmp_path / "99_toy.ipynb"
    nbformat.write(nb, path)
    deck, n = build_slides.build_deck(path, tmp_path)
    html = deck.read_text()
    assert not build_slides.EXTERNAL.findall(html)
    assert 'src="mathjax/tex-chtml-full.js"' in html and 'src="reveal.js/dist/reveal.js"' in html
    assert '<aside class="notes">' in html and "Point at the loss." in html
    assert "return x + 1" not in html
    assert n == len(sm.slides(nb)) and html.count("<section") >= n


# --------------------------------------------------------------------------- live widgets in RISE
# RISE's slideshow page is its own app with its own copies of JupyterLab's packages, and it loads
# the widget manager as a federated extension. The manager takes the JupyterLab packages it uses
# from the page's shared scope, with no copy of its own: one the page does not share and the
# manager does not load, so every widget on every slide shows as text (jupyterlab-contrib/rise#119:
# jupyterlab-widgets 3.0.11 and later take @jupyterlab/console). `make test-browser` drags a
# slider on a slide; this reads the two installed bundles, in a second, so that an upgrade which
# breaks it fails here already. It also says when the cap in pyproject.toml can go.
SHARED = re.compile(r'\b\w\("(@[\w./-]+)","(\d[^"]*)"')  # RISE registers: i("@jupyterlab/notebook","4.3.4",...)
CONSUMED = re.compile(r'"(@(?:jupyterlab|lumino|jupyter)/[\w-]+)"')  # what the manager's remoteEntry asks for


def _rise_shared() -> dict[str, str]:
    rise = pytest.importorskip("jupyterlab_rise", reason="jupyterlab-rise comes with the `lab` extra")
    bundle = Path(rise.__file__).parent / "static" / "bundle.js"
    shared = dict(SHARED.findall(bundle.read_text(encoding="utf-8", errors="replace")))
    assert len(shared) >= 40 and "@jupyterlab/notebook" in shared, (
        f"read only {len(shared)} shared packages from {bundle}: its format changed, update SHARED"
    )
    return shared


def _widget_manager_entry() -> Path:
    from jupyter_core.paths import jupyter_path

    for base in jupyter_path("labextensions"):
        found = sorted(Path(base, "@jupyter-widgets", "jupyterlab-manager", "static").glob("remoteEntry.*.js"))
        if found:
            return found[0]
    pytest.fail("no @jupyter-widgets/jupyterlab-manager labextension installed (it comes with ipywidgets)")


def test_rise_slideshow_can_load_the_widget_manager():
    shared = _rise_shared()
    entry = _widget_manager_entry()
    consumed = set(CONSUMED.findall(entry.read_text(encoding="utf-8")))
    assert "@jupyterlab/notebook" in consumed, f"read nothing the widget manager consumes from {entry}"
    missing = sorted(consumed - shared.keys())
    assert not missing, (
        f"the widget manager ({entry.parent.parent.name}, {entry.name}) needs {missing}, which RISE's slideshow "
        f"page does not share, so widgets would show as text on the slides: keep jupyterlab-widgets below the "
        f"version that added them (pyproject.toml, `lab` extra) or take a jupyterlab-rise that shares them"
    )


def test_the_shared_scope_check_reads_both_webpack_formats():
    """Both ways a remoteEntry names what it consumes (jupyterlab-widgets 3.0.10 and 3.0.17) are read,
    and a package the page does not share is reported."""
    shared = _rise_shared()
    old = 'x("default","@jupyterlab/notebook",[1,4,1,0]),y("default","@jupyterlab/no-such-package",[1,4,6,2])'
    new = '"@jupyterlab/notebook",import:null,requiredVersion:"^4.6.2"},{"@jupyterlab/no-such-package",import:null'
    for entry in (old, new):
        consumed = set(CONSUMED.findall(entry))
        assert consumed == {"@jupyterlab/notebook", "@jupyterlab/no-such-package"}
        assert sorted(consumed - shared.keys()) == ["@jupyterlab/no-such-package"]
