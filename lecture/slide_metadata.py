"""Slide metadata for the course notebooks, assigned from their structure, and the lecture edition.

Every cell gets ``metadata.slideshow.slide_type`` (what RISE in JupyterLab and nbconvert's reveal.js
decks read) by these rules, in order:

* the speaker-notes cells (``speaker_notes.json``, keyed by the id of the cell each follows) are
  ``notes``: the speaker view shows them, the room does not. They are in the lecture edition only
  (`lecture_edition`, `make lecture`): the learner notebooks in notebooks/ hold none;
* a cell tagged ``remove-cell`` (the "Open in Colab" install cell, lecture/colab_cell.py) is ``skip``;
* a code cell holding an exercise solution (``### BEGIN SOLUTION``) is ``skip``: no solution is
  ever shown to the room (the exercise's text and its ``check(...)`` cell stay on the slide);
* a set-up code cell is ``skip``: imports, seeding and data loading before the first section,
  a cell that is mostly imports, and a cell with no output that defines nothing (assertions, a
  training run whose numbers the next cell prints). The parameters cell is shown where a heading
  introduces it ("### Parameters"), skipped elsewhere; a cell with a figure or a widget is never skipped;
* the first cell (the notebook's ``#`` title) starts the title slide; a ``#``/``##`` heading starts a
  slide, a ``###`` heading a subslide (markdown cells are first split so that every heading starts
  its own cell);
* a long markdown cell (a derivation, a list of objectives) is split at blank lines and around
  ``$$`` blocks, never inside a sentence, and a list only where it is taller than a slide; the
  pieces after the first are ``fragment``: revealed one step at a time;
* any other cell (a figure, a printed number, the text about it) stays on the current slide (``-``),
  unless the slide would overflow the projector: then it starts a continuation subslide.

"Overflow" is measured with `cell_height`, a model of the offline deck's layout (1280 x 720 px
slides, the fonts set in lecture/templates/course_reveal): a slide holds at most `SLIDE_BUDGET_PX`
of content. The browser test measures the real decks against the same bound.

Applying the rules is idempotent: `apply` on its own output returns it unchanged. A split cell is
joined with its pieces and split again from the whole (never split twice, never a piece added next
to an existing one: a taken piece id or a paragraph a cell holds twice is an error), and notes cells
are replaced, not added twice. Run it on the notebooks with

    .venv/bin/python -m lecture.slide_metadata notebooks/*.ipynb          # write
    .venv/bin/python -m lecture.slide_metadata --check notebooks/*.ipynb  # exit 1 if anything would change
"""

from __future__ import annotations

import argparse
import ast
import base64
import copy
import json
import re
import struct
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from vae_course.classroom.student import BEGIN_SOLUTION

HERE = Path(__file__).resolve().parent
NOTES_FILE = HERE / "speaker_notes.json"

# --------------------------------------------------------------------------- the deck's layout model
# Logical slide size of the offline decks (reveal.js scales it to the screen) and the fonts of
# lecture/templates/course_reveal/index.html.j2. Heights in CSS pixels.
SLIDE_WIDTH, SLIDE_HEIGHT = 1280, 720
SLIDE_BUDGET_PX = 680  # content a slide may hold (the rest is reveal's margin)
CONTENT_WIDTH_PX = 1200
TEXT_LINE_PX, TEXT_CHARS = 31, 95  # markdown: 22 px font, line-height 1.4
HEADING_PX = {1: 78, 2: 64, 3: 50, 4: 40, 5: 36, 6: 36}
PARAGRAPH_GAP_PX = 14
MATH_ROW_PX = 52  # one row of displayed maths (fractions, sums, underbraces)
TABLE_ROW_PX = 40
CODE_LINE_PX, CODE_CHARS = 22, 105  # code: 16 px monospace, line-height 1.3
CODE_PAD_PX = 22
CODE_MAX_PX = 450  # a longer code cell scrolls inside its box (max-height in the deck's CSS)
OUTPUT_LINE_PX, OUTPUT_CHARS = 20, 118  # text outputs: 15 px monospace
OUTPUT_MAX_PX = 300  # longer text output scrolls inside its box
IMAGE_MAX_PX = 520  # figures are scaled down to at most this height (keeping their aspect)
#: Smaller boxes for a cell too tall for a slide on its own; the deck gives the cell the tag
#: lecture-code-N / lecture-out-N / lecture-img-N, whose CSS caps that part at N px.
CODE_TIERS, OUTPUT_TIERS, IMAGE_TIERS = (300, 200, 120), (200, 120), (440, 360, 300, 240, 180, 120)
CELL_GAP_PX = 10
WIDGET_NOTE_PX = 40  # the caption under a widget's static snapshot

#: A markdown cell taller than this is split into fragments at its paragraphs.
FRAGMENT_SPLIT_PX = 300
#: A list taller than this (a slide less its heading) is cut into its items; a shorter one stays whole,
#: one list in one cell, as the learner reads it.
LIST_CUT_PX = SLIDE_BUDGET_PX - HEADING_PX[1] - PARAGRAPH_GAP_PX
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
NOTES_TAG = "lecture-notes"
NOTES_PREFIX = "**Speaker notes.** "
HEADING = re.compile(r"^(#{1,6})\s+(.*\S)\s*$")
SETUP_CALLS = {"seed_everything", "settings", "use_course_style", "get_device", "set_num_threads", "filterwarnings"}
#: notebook-level RISE options (JupyterLab's RISE reads metadata.rise). Not centred: a live cell
#: grows when it runs (an explorer's sliders and figure appear under its code), and a slide centred
#: for its code alone would push them off the bottom of the screen; at the top they stay on it.
RISE_OPTIONS = {
    "scroll": True,
    "center": False,
    "start_slideshow_at": "beginning",
    "transition": "none",
    "theme": "white",
}


# --------------------------------------------------------------------------- small readers
def heading(source: str) -> tuple[int, str] | None:
    """(level, text) of the heading on the cell's first non-blank line, or None."""
    for line in source.splitlines():
        if line.strip():
            m = HEADING.match(line)
            return (len(m.group(1)), m.group(2)) if m else None
    return None


def heading_key(text: str) -> str:
    """A heading's text reduced to what survives renumbering and retyping: '## 4. The β-VAE!' -> 'the β-vae'."""
    text = re.sub(r"^[\d\s.·:)-]+", "", text.strip().lstrip("#").strip())
    text = re.sub(r"[`*_$\\]", "", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def png_size(data: str) -> tuple[int, int]:
    """(width, height) of a base64 PNG, read from its IHDR chunk."""
    raw = base64.b64decode(data[:64])
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return (640, 480)
    return struct.unpack(">II", raw[16:24])


def is_notes(cell) -> bool:
    return NOTES_TAG in cell.get("metadata", {}).get("tags", [])


def is_solution(cell) -> bool:
    return cell.cell_type == "code" and any(BEGIN_SOLUTION.match(line) for line in cell.source.splitlines())


def has_widget(cell) -> bool:
    return any(WIDGET_MIME in o.get("data", {}) for o in cell.get("outputs", []))


def has_figure(cell) -> bool:
    return any("image/png" in o.get("data", {}) or WIDGET_MIME in o.get("data", {}) for o in cell.get("outputs", []))


def input_hidden(cell) -> bool:
    """Whether the decks show this code cell without its code (an explorer's wiring, or the
    plotting code of a figure that would not fit on the slide with it); JupyterLab shows it all."""
    return bool(cell.get("metadata", {}).get("lecture", {}).get("hide_input"))


def slide_type(cell) -> str:
    return cell.get("metadata", {}).get("slideshow", {}).get("slide_type", "-")


# --------------------------------------------------------------------------- widget snapshots
def widget_snapshot(nb, model_id: str) -> list[dict]:
    """The outputs (figures, text) that the widget `model_id` showed when the notebook was saved.

    Walks the saved widget state (notebook metadata) from the widget down its children to every
    Output widget and returns their outputs: the picture an explorer showed at its default
    setting, which a static page or an offline deck shows in its place."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE_MIME, {}).get("state", {})
    found, todo, seen = [], [model_id], set()
    while todo:
        mid = todo.pop(0)
        if mid in seen or mid not in state:
            continue
        seen.add(mid)
        model = state[mid]
        s = model.get("state", {})
        if model.get("model_name") == "OutputModel":
            found += s.get("outputs", [])
        for child in s.get("children", []):
            if isinstance(child, str) and child.startswith("IPY_MODEL_"):
                todo.append(child[len("IPY_MODEL_") :])
    return found


# --------------------------------------------------------------------------- the height model
def _width(line: str) -> int:
    """The line's width in Latin characters: a wide (CJK) character counts two (the Chinese edition)."""
    return len(line) + sum(unicodedata.east_asian_width(c) in "WF" for c in line)


def _text_lines(line: str, chars: int) -> int:
    return max(1, -(-_width(line) // chars))


def markdown_height(source: str) -> int:
    """Rendered height of a markdown cell on a slide (px), block by block."""
    h, math_rows, in_math, in_fence = 0, 0, False, False
    for raw in source.splitlines():
        line = raw.strip()
        if in_fence or line.startswith("```"):
            in_fence = in_fence != line.startswith("```")
            h += CODE_LINE_PX
            continue
        if in_math or line.startswith("$$"):
            if not in_math:
                in_math, math_rows, line = True, 1, line[2:]
            math_rows += line.count("\\\\")
            if line.endswith("$$"):  # the block closes on this line
                h += math_rows * MATH_ROW_PX + PARAGRAPH_GAP_PX
                in_math = False
            continue
        if not line:
            h += PARAGRAPH_GAP_PX
            continue
        m = HEADING.match(line)
        if m:
            h += HEADING_PX[len(m.group(1))]
        elif line.startswith("|"):
            wide = _width(line) > len(line)  # a Chinese row wraps (the English rows' heights stay as they were)
            h += 0 if set(line) <= set("|-: ") else TABLE_ROW_PX * (_text_lines(line, TEXT_CHARS) if wide else 1)
        else:
            display = re.sub(r"\$[^$]*\$", "xxxxxx", line)  # inline maths: roughly six characters wide
            display = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", display)
            extra = 6 if re.search(r"\\frac|\\sum|\\underbrace|\\int", line) else 0
            h += _text_lines(display, TEXT_CHARS) * TEXT_LINE_PX + extra
    if in_math:
        h += math_rows * MATH_ROW_PX
    return h


def code_input_height(source: str, cap: int = CODE_MAX_PX) -> int:
    n = sum(_text_lines(line, CODE_CHARS) for line in source.splitlines()) or 1
    return min(cap, n * CODE_LINE_PX) + CODE_PAD_PX


def output_height(output: dict, text_cap: int = OUTPUT_MAX_PX, image_cap: int = IMAGE_MAX_PX) -> int:
    data = output.get("data", {})
    if "image/png" in data:
        w, h = png_size(data["image/png"])
        scale = min(1.0, CONTENT_WIDTH_PX / w, image_cap / h)
        return int(h * scale) + 16  # the image and its margins
    if output.get("output_type") == "stream":
        text = output.get("text", "")
    elif output.get("output_type") == "error":
        text = "\n".join(output.get("traceback", []))
    else:
        text = data.get("text/plain", "") if not data.get("text/html") else data.get("text/plain", "")
    if not text.strip():
        return 0
    n = sum(_text_lines(line, OUTPUT_CHARS) for line in text.rstrip("\n").splitlines())
    return min(text_cap, n * OUTPUT_LINE_PX) + 10


def cell_height(cell, nb=None) -> int:
    """Height (px) the cell takes on a slide of the offline deck; 0 for cells the room does not see.

    A cell with a widget is shown without its code (the explorer's wiring) and with the widget's
    saved snapshot in place of the live widget, as the decks show it."""
    if slide_type(cell) in ("skip", "notes"):
        return 0
    if cell.cell_type == "markdown":
        return markdown_height(cell.source)
    if cell.cell_type != "code":
        return 0
    outputs = []
    for o in cell.get("outputs", []):
        if WIDGET_MIME in o.get("data", {}):
            snap = widget_snapshot(nb, o["data"][WIDGET_MIME]["model_id"]) if nb is not None else []
            outputs += snap
        else:
            outputs.append(o)
    fit = cell.get("metadata", {}).get("lecture", {})
    h = 0 if input_hidden(cell) else code_input_height(cell.source, fit.get("code_max", CODE_MAX_PX))
    caps = fit.get("output_max", OUTPUT_MAX_PX), fit.get("image_max", IMAGE_MAX_PX)
    h += sum(output_height(o, *caps) for o in outputs)
    if has_widget(cell):
        h += WIDGET_NOTE_PX
    return h


@dataclass
class Slide:
    """One (sub)slide of a notebook: the indices of the cells the room sees on it, and its height."""

    kind: str  # "slide" or "subslide"
    start: int  # index of the cell that starts it
    cells: list[int] = field(default_factory=list)
    height: int = 0
    notes: int = 0


def slides(nb) -> list[Slide]:
    """The notebook's (sub)slides as the metadata defines them, each with its estimated height."""
    out: list[Slide] = []
    for i, cell in enumerate(nb.cells):
        t = slide_type(cell)
        if t in ("slide", "subslide") or not out:
            out.append(Slide(t if t in ("slide", "subslide") else "slide", i))
        if t == "notes":
            out[-1].notes += 1
        h = cell_height(cell, nb)
        if h:
            out[-1].cells.append(i)
            out[-1].height += h + (CELL_GAP_PX if len(out[-1].cells) > 1 else 0)
    return out


# --------------------------------------------------------------------------- splitting cells
LIST_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s+")


def _is_list(block: str) -> bool:
    """Whether a paragraph block is (or ends in) a list: its last item line starts a list item."""
    lines = [line for line in block.splitlines() if line.strip()]
    starts = [line for line in lines if LIST_ITEM.match(line)]
    return bool(starts) and all(
        LIST_ITEM.match(line) or line.startswith(" ") for line in lines[lines.index(starts[0]) :]
    )


def _list_items(block: str) -> list[str]:
    """A block holding a list, cut into its lead-in (if any) and its top-level items (an item keeps
    its indented continuation lines)."""
    items: list[list[str]] = []
    started = False
    for line in block.splitlines():
        if LIST_ITEM.match(line):
            started = True
            items.append([line])
        elif items and (started or not LIST_ITEM.match(line)):
            items[-1].append(line)
        else:
            items.append([line])
    return ["\n".join(i) for i in items] if started else [block]


def _blocks(source: str) -> list[str]:
    """Paragraph blocks of a markdown source: split at blank lines outside fences and $$ blocks,
    and at every heading line; a $$ block is its own block."""
    blocks, cur, in_fence, in_math = [], [], False, False

    def flush():
        if any(line.strip() for line in cur):
            blocks.append("\n".join(cur).strip("\n"))
        cur.clear()

    for line in source.splitlines():
        s = line.strip()
        if in_fence:
            cur.append(line)
            in_fence = not s.startswith("```")
            continue
        if in_math:
            cur.append(line)
            if s.endswith("$$"):
                in_math = False
            continue
        if s.startswith("```"):
            cur.append(line)
            in_fence = True
            continue
        if s.startswith("$$"):
            cur.append(line)
            closed = s.endswith("$$") and len(s) > 2
            in_math = not closed
            continue
        if not s:
            flush()
            continue
        if HEADING.match(line):
            flush()
        cur.append(line)
    flush()
    return blocks


_NOT_PROSE = re.compile(r"^\s*(#{1,6}\s|[-*+]\s|\d+[.)]\s|\||>|```)")


def ends_mid_sentence(source: str) -> bool:
    """Whether markdown text stops inside a sentence: its last line is prose (not a heading, list
    item, table row, quote, fence or ``$$`` display) ending in a letter, a digit, a comma or inline maths."""
    text = source.rstrip()
    if not text or text.endswith("$$"):
        return False
    last = text.splitlines()[-1]
    if _NOT_PROSE.match(last) or re.fullmatch(r"\*\*[^*]+\*\*", last.strip()):  # a bold label ("**Pitfalls**")
        return False
    return bool(re.search(r"[\w,]\**$|[^$]\$$", text))


def starts_lower(source: str) -> bool:
    """Whether markdown text starts with a lower-case letter: the rest of a sentence begun before it."""
    return bool(re.match(r"[a-z]", source.lstrip()))


def split_markdown(cell) -> list[str]:
    """The sources of the cells a markdown cell becomes: one per heading, and, when it is long
    (a derivation), one per paragraph block. Blocks that open with a lead-in ending in ':' stay
    with what follows them, and so do the pieces of one sentence (a block ending mid-sentence, a
    block starting in lower case: a fragment never starts or stops inside a sentence). A list is cut
    into its items only when it is taller than a slide (`LIST_CUT_PX`). A cell that needs no split gives
    [its source]."""
    blocks = _blocks(cell.source)
    if not blocks:
        return [cell.source]
    # group: a heading starts a new piece; inside a long cell every block does, and every item
    # of a list that is itself too tall for the rest of a slide
    long_cell = markdown_height(cell.source) > FRAGMENT_SPLIT_PX
    cut: set[int] = set()  # indices of the items of a list cut because it is taller than a slide
    if long_cell:
        kept = []
        for b in blocks:
            items = _list_items(b) if markdown_height(b) > LIST_CUT_PX else [b]
            if len(items) > 1:
                cut.update(range(len(kept), len(kept) + len(items)))
            kept += items
        blocks = kept
    pieces: list[list[str]] = [[blocks[0]]]
    for i, b in enumerate(blocks[1:], 1):
        prev = pieces[-1][-1]
        starts_heading = bool(HEADING.match(b.splitlines()[0]))
        prev_is_heading_only = bool(HEADING.match(prev)) and "\n" not in prev
        mid_sentence = ends_mid_sentence(prev) or starts_lower(b)
        same_list = i not in cut and _is_list(prev) and bool(LIST_ITEM.match(b))  # a loose list is one list
        if starts_heading:
            pieces.append([b])
        elif long_cell and not (prev_is_heading_only or prev.rstrip().endswith(":") or mid_sentence or same_list):
            pieces.append([b])
        else:
            pieces[-1].append(b)
    if len(pieces) == 1:
        return [cell.source]
    return ["\n\n".join(p) for p in pieces]


def _new_id(base: str, k: int, taken: set[str]) -> str:
    """The id of piece k of the cell `base`. Never a fresh id in place of a taken one: a taken id
    means the cell's pieces are already in the notebook, and adding more would duplicate them."""
    cid = f"{base[:56]}-p{k}"
    if cid in taken:
        raise ValueError(f"cell {base}: piece id {cid} is already taken (the cell was split before)")
    return cid


def piece_of(cell) -> int:
    """k for the k-th piece split off a markdown cell (0 for any other cell)."""
    return int(cell.get("metadata", {}).get("lecture", {}).get("piece", 0) or 0)


def _join_pieces(nb) -> None:
    """Join every split cell's pieces back into it (the inverse of `_split_cells`): the pieces that
    follow their cell, in order. Splitting always starts from the whole cell, so a cell is never
    split twice, and editing a piece or a changed splitting rule cannot leave stale pieces behind."""
    cells: list = []
    for cell in nb.cells:
        prev = cells[-1] if cells else None
        k = piece_of(cell)
        if (
            k
            and cell.cell_type == "markdown"
            and prev is not None
            and prev.cell_type == "markdown"
            and not piece_of(prev)
            and cell.get("id", "").startswith(f"{prev.get('id', '')[:56]}-p")
        ):
            tight = _is_list(prev.source.rstrip().split("\n\n")[-1]) and bool(LIST_ITEM.match(cell.source.lstrip()))
            prev.source = prev.source.rstrip("\n") + ("\n" if tight else "\n\n") + cell.source.strip("\n")
            continue
        cells.append(cell)
    nb.cells = cells


def _split_cells(nb) -> None:
    _join_pieces(nb)
    taken = {c.get("id", "") for c in nb.cells}
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "markdown" or is_notes(cell):
            cells.append(cell)
            continue
        pieces = split_markdown(cell)
        if len(pieces) == 1:
            cells.append(cell)
            continue
        repeated = [p for i, p in enumerate(pieces) if p.strip() in {q.strip() for q in pieces[:i]}]
        if repeated:
            raise ValueError(f"cell {cell.get('id')}: holds the same paragraph twice: {repeated[0][:60]!r}")
        base = cell.get("id") or "md"
        for k, src in enumerate(pieces):
            if k == 0:
                new = cell
                new.source = src
            else:
                new = nbformat.v4.new_markdown_cell(src)
                new.id = _new_id(base, k, taken)
                taken.add(new.id)
                new.metadata = {"lecture": {"piece": k}}
            cells.append(new)
    nb.cells = cells


# --------------------------------------------------------------------------- speaker notes
def load_notes(path: Path = NOTES_FILE) -> dict[str, dict[str, str]]:
    """speaker_notes.json: {notebook stem: {anchor cell id: notes}}: each note follows the cell with that id."""
    return {nb: {cid: e["notes"] for cid, e in entries.items()} for nb, entries in load_note_entries(path).items()}


def load_note_entries(path: Path = NOTES_FILE) -> dict[str, dict[str, dict[str, str]]]:
    """speaker_notes.json as written: {notebook stem: {anchor cell id: {"after": the anchor cell's first
    line (a reader's guide to where the note goes, checked by tests/test_lecture.py), "notes": text}}}."""
    data = json.loads(path.read_text(encoding="utf-8"))
    return {nb: {k: v for k, v in notes.items() if not k.startswith("_")} for nb, notes in data.items() if nb[0] != "_"}


def first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def _notes_cell(anchor: str, text: str):
    cell = nbformat.v4.new_markdown_cell(NOTES_PREFIX + text.strip())
    cell.id = f"notes-{anchor}"[:64]
    cell.metadata = {"tags": [NOTES_TAG], "slideshow": {"slide_type": "notes"}}
    return cell


def _insert_notes(nb, notes: dict[str, str]) -> list[str]:
    """Insert a notes cell after the cell with each anchor id; returns the anchors not found."""
    ids = {c.get("id") for c in nb.cells}
    missing = [anchor for anchor in notes if anchor not in ids]
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if cell.get("id") in notes:
            cells.append(_notes_cell(cell.id, notes[cell.id]))
    nb.cells = cells
    return missing


# --------------------------------------------------------------------------- set-up cells
def _python(source: str) -> ast.Module | None:
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _visible_output(cell) -> bool:
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream" and o.get("text", "").strip():
            return True
        if o.get("data"):
            return True
    return False


#: The standard tag (Jupyter Book, myst-nb) of a cell no reader needs, such as the "Open in Colab"
#: install cell (lecture/colab_cell.py): skipped in the slides, left out of the website.
REMOVED_TAG = "remove-cell"


def is_setup(cell, before_first_section: bool, previous) -> bool:
    """Whether a code cell is set-up the room need not see (module docstring has the rules)."""
    if cell.cell_type != "code" or has_figure(cell):
        return False
    if "parameters" in cell.metadata.get("tags", []):
        hd = heading(previous.source) if previous is not None and previous.cell_type == "markdown" else None
        return not (hd and "parameter" in hd[1].lower())
    tree = _python(cell.source)
    if tree is None:
        return False
    body = tree.body
    if not body:
        return True
    if any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for s in body):
        return False
    imports = sum(isinstance(s, (ast.Import, ast.ImportFrom)) for s in body)
    if 2 * imports >= len(body):
        return True
    if before_first_section:
        return True
    if not _visible_output(cell):
        return True
    calls = [s.value.func for s in body if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call)]
    names = {getattr(f, "id", getattr(f, "attr", "")) for f in calls}
    return bool(names) and names <= SETUP_CALLS and len(calls) == len(body)


# --------------------------------------------------------------------------- the rules
def _base_type(cell, index: int, before_first_section: bool, previous) -> str:
    if is_notes(cell):
        return "notes"
    if REMOVED_TAG in cell.get("metadata", {}).get("tags", []):
        return "skip"
    if is_solution(cell):
        return "skip"
    if cell.cell_type == "code" and is_setup(cell, before_first_section, previous):
        return "skip"
    if cell.cell_type == "raw":
        return "skip"
    if index == 0:
        return "slide"
    if cell.cell_type == "markdown":
        hd = heading(cell.source)
        if hd and hd[0] <= 2:
            return "slide"
        if hd and hd[0] == 3:
            return "subslide"
        if cell.metadata.get("lecture", {}).get("piece"):
            return "fragment"
    return "-"


def _set_type(cell, t: str) -> None:
    cell.metadata["slideshow"] = {"slide_type": t}


FIT_KEYS = ("hide_input", "code_max", "output_max", "image_max")


def fit_tags(cell) -> list[str]:
    """The deck's tags for a cell's smaller boxes (see the CSS in lecture/templates/course_reveal)."""
    fit = cell.get("metadata", {}).get("lecture", {})
    names = {"code_max": "code", "output_max": "out", "image_max": "img"}
    return [f"lecture-{names[k]}-{fit[k]}" for k in names if k in fit]


def _fit(cell, nb) -> None:
    """Make a code cell fit a slide on its own: an explorer, and a figure too tall with its code,
    are shown without their code; a cell still too tall gets smaller scrolling boxes for its code
    and text output, then smaller figures (tiers above)."""
    lecture = {k: v for k, v in cell.metadata.pop("lecture", {}).items() if k not in FIT_KEYS}
    if lecture:
        cell.metadata["lecture"] = lecture
    if cell.cell_type != "code" or slide_type(cell) in ("skip", "notes"):
        return

    def mark(**kw):
        cell.metadata["lecture"] = {**cell.metadata.get("lecture", {}), **kw}

    def too_tall():
        return cell_height(cell, nb) > SLIDE_BUDGET_PX

    if has_widget(cell) or (has_figure(cell) and too_tall()):
        mark(hide_input=True)
    for tier in CODE_TIERS:
        if too_tall() and not input_hidden(cell):
            mark(code_max=tier)
    texts = [o for o in cell.get("outputs", []) if "image/png" not in o.get("data", {})]
    for tier in OUTPUT_TIERS:
        if too_tall() and texts:
            mark(output_max=tier)
    for tier in IMAGE_TIERS:
        if too_tall() and has_figure(cell):
            mark(image_max=tier)


def apply(nb, notes: dict[str, str] | None = None, split: bool = True) -> tuple[nbformat.NotebookNode, list[str]]:
    """A copy of `nb` with slide types, and speaker notes if given (keyed by the id of the cell each
    follows; none for the learner notebooks in notebooks/); also the anchors not found. ``split=False``
    keeps the cells as they are (a translated edition keeps the English notebook's cells and ids)."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not is_notes(c)]
    if split:
        _split_cells(nb)
    missing = _insert_notes(nb, notes or {})
    sections = [
        i for i, c in enumerate(nb.cells) if i and c.cell_type == "markdown" and (heading(c.source) or (9,))[0] <= 2
    ]
    first_section = sections[0] if sections else len(nb.cells)
    height = 0
    seen_on_slide = 0
    previous = None
    for i, cell in enumerate(nb.cells):
        t = _base_type(cell, i, i < first_section, previous)
        if cell.cell_type == "markdown" and not is_notes(cell):
            previous = cell
        elif cell.cell_type == "code":
            previous = cell
        _set_type(cell, t)
        _fit(cell, nb)
        h = cell_height(cell, nb)
        if t in ("slide", "subslide"):
            height, seen_on_slide = h, (1 if h else 0)
            continue
        if not h:
            continue
        extra = h + (CELL_GAP_PX if seen_on_slide else 0)
        if seen_on_slide and height + extra > SLIDE_BUDGET_PX:
            _set_type(cell, "subslide")  # a continuation slide: the projector has no more room
            height, seen_on_slide = h, 1
        else:
            height += extra
            seen_on_slide += 1
    nb.metadata["rise"] = dict(RISE_OPTIONS)
    return nb, missing


def lecture_edition(nb, notes: dict[str, str], split: bool = True) -> tuple[nbformat.NotebookNode, list[str]]:
    """The lecture edition of a learner notebook: the same cells and slide metadata, with each note
    (keyed by the id of the cell it follows) as a RISE ``notes`` cell; also the anchors not found."""
    return apply(nb, notes, split)


def write_notebook(nb, path: Path) -> None:
    """Write as the course's tools do (nbformat.write: sorted keys, one-space indent)."""
    nbformat.validate(nb)
    nbformat.write(nb, path)


def _same(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a notebook would change")
    parser.add_argument("--out", type=Path, help="write the results to this folder instead of in place")
    args = parser.parse_args(argv)
    status = 0
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        new, _ = apply(nb)  # the learner edition: no speaker notes (lecture/build_lecture.py adds them)
        shown = slides(new)
        worst = max(s.height for s in shown)
        line = f"{path.name}: {len(shown)} slides, tallest {worst} px"
        if args.check:
            if not _same(nb, new):
                print(f"{line}: OUT OF DATE (run: .venv/bin/python -m lecture.slide_metadata {path})")
                status = 1
            else:
                print(f"{line}: up to date")
            continue
        target = (args.out / path.name) if args.out else path
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
        if target != path or not _same(nb, new):
            write_notebook(new, target)
            print(f"{line}: written to {target}")
        else:
            print(f"{line}: unchanged")
    return status


if __name__ == "__main__":
    sys.exit(main())
