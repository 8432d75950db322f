"""No answer above its question (issue 28): for every exercise whose answer is data (a number or a
multiple-choice letter, including predict-then-run), the cells before its check cell do not print
or state that answer: not in a markdown cell, not in code outside the solution regions, not in a
code cell's saved output.

What counts as stating a number: a literal with at least two significant digits that the answer
rounds to at the literal's precision (0.49 or 0.488 for 0.4883; "49 %" too). Answers with a single
significant digit (0.5, 0.06) are not searched: every notebook prints such numbers for other
reasons, and a match would say nothing. A letter counts as stated where a cell above says
"answer is (b)", "(b) is right" or "(b) is correct". Answers that are functions (implement and
most derive exercises) are not searched for as numbers: their code leaks are solution code, which
tests/test_hints_solutions.py and the student-version leak check look for; where a derive
exercise's answer is a formula, ``STATED`` lists the ways the text or code above could write it
(04.5's 1 / M_jj was once printed in a section before the exercise that derives it).

``KNOWN`` lists what the test flags today in notebooks owned elsewhere (to shrink to none)."""

from __future__ import annotations

import math
import re

import nbformat
import pytest

from tests.course import NOTEBOOKS
from tests.test_hints_solutions import _solution_function
from vae_course import exercises
from vae_course.classroom.student import BEGIN_SOLUTION, END_SOLUTION

CHECK = re.compile(r"""\bcheck\(\s*["'](\d\d\.\d+)["']""")
NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(\s*%)?")

# derive exercises whose answer is a formula: the ways a cell above could state it (regular expressions)
STATED: dict[str, tuple[str, ...]] = {
    "01.1": (r"softplus\}?\(l(_i)?\)\s*-\s*x", r"softplus\(logits\)\s*-\s*x"),
    "01.2": (r"sigmoid\}?\(l(_i)?\)\s*-\s*x(_i)?(?!\)\^)", r"sigmoid\(logits\)\s*-\s*x"),  # not (sigmoid(l) - x)^2
    "04.7": (r"e\^\{?s\}?\s*-\s*\(?1\s*\+\s*s", r"logvar\.exp\(\)\s*-\s*1\s*-\s*logvar", r"\\tfrac12\\mu\^2"),
    "04.5": (r"1\s*/\s*M_\{?jj", r"-\s*\\?log\s*M_\{?jj", r"-\s*M\w*\.diagonal\(\)\.log\(\)"),
    "04.4": (r"2\s*M\s*-\s*Q", r"2\s*M\s*-\s*\\?(mathrm\{)?diag", r"det\s*\(?\s*2\s*M"),
}

# exercise -> why it is flagged today (notebooks owned by other sessions; to shrink to none)
KNOWN: dict[str, str] = {}


def _visible_text(cell: nbformat.NotebookNode) -> str:
    """What a learner sees of a cell before running the exercise: its source outside the solution
    regions, and, for code, its saved outputs."""
    lines, inside = [], False
    for line in cell.source.split("\n"):
        if BEGIN_SOLUTION.match(line):
            inside = True
        elif END_SOLUTION.match(line):
            inside = False
        elif not inside:
            lines.append(line)
    parts = ["\n".join(lines)]
    for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
        if "text" in out:
            parts.append(out["text"] if isinstance(out["text"], str) else "".join(out["text"]))
        for key in ("text/plain", "text/markdown"):
            value = out.get("data", {}).get(key)
            if value:
                parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


def _significant_digits(literal: str) -> int:
    return len(literal.replace(".", "").lstrip("0"))


def states_number(text: str, answer: float) -> list[str]:
    """The literals in ``text`` that state ``answer`` (two or more significant digits, rounded)."""
    found = []
    for m in NUMBER.finditer(text):
        literal, percent = m.group(1), bool(m.group(2))
        if not percent and re.match(r" s\b", text[m.end(1) :]):
            continue  # a run time in seconds ("45 s of training"): the machine's, not a stated answer
        if _significant_digits(literal) < 2:
            continue
        decimals = len(literal.split(".")[1]) if "." in literal else 0
        value = float(literal) / (100 if percent else 1)
        step = 10.0 ** -(decimals + (2 if percent else 0))
        if abs(value - answer) <= step / 2 + 1e-12:
            found.append(m.group(0).strip())
    return found


def states_letter(text: str, letter: str) -> list[str]:
    pattern = rf"answer is \(?{letter}\)|\({letter}\) is (?:right|correct)"
    return re.findall(pattern, text, flags=re.I)


def _answers(ex: exercises.Exercise) -> list:
    """The answers that are data: the reference solution's value, and a predict-then-run's result."""
    fn = _solution_function(ex)
    try:
        if any(p.default is p.empty for p in __import__("inspect").signature(fn).parameters.values()):
            return []  # an answer that is a function
    except (TypeError, ValueError):
        return []
    value = fn()
    answers = [value]
    if ex.prediction and ex.prediction["form"] == "number":
        answers.append(float(ex.prediction["experiment"]()))
    out = []
    for a in answers:
        if isinstance(a, str):
            out.append(a.strip().lower())
        elif isinstance(a, (int, float)) and math.isfinite(float(a)) and not isinstance(a, bool):
            out.append(float(a))
    return out


def flags(nb: nbformat.NotebookNode, registry: dict[str, exercises.Exercise]) -> dict[str, list[str]]:
    """exercise id -> what the cells above its first check cell state of its answer."""
    flagged: dict[str, list[str]] = {}
    seen: set[str] = set()
    for k, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for ex_id in CHECK.findall(cell.source):
            if ex_id in seen or ex_id not in registry:
                continue
            seen.add(ex_id)
            above = "\n".join(_visible_text(c) for c in nb.cells[:k])
            hits = []
            for answer in _answers(registry[ex_id]):
                if isinstance(answer, str):
                    hits += states_letter(above, answer)
                else:
                    hits += states_number(above, answer)
            hits += [m.group(0) for pattern in STATED.get(ex_id, ()) for m in re.finditer(pattern, above)]
            if hits:
                flagged[ex_id] = sorted(set(hits))
    return flagged


def test_the_detector_sees_a_printed_answer_and_ignores_the_solution_region():
    ex = exercises.get("02.4")
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("The share of the path mid-fade is 0.49 for r = 3."),
            nbformat.v4.new_code_cell('check("02.4", predicted_fade_width)'),
        ]
    )
    assert flags(nb, {"02.4": ex}) == {"02.4": ["0.49"]}
    nb.cells[0] = nbformat.v4.new_code_cell(
        "def predicted_fade_width():\n    ### BEGIN SOLUTION\n    return 0.4883\n    ### END SOLUTION"
    )
    assert flags(nb, {"02.4": ex}) == {}
    out = nbformat.v4.new_output("stream", name="stdout", text="share 48.8 %\n")
    nb.cells.insert(0, nbformat.v4.new_code_cell("print(x)", outputs=[out]))
    assert flags(nb, {"02.4": ex}) == {"02.4": ["48.8 %"]}
    assert states_letter("so the answer is (b).", "b") and not states_letter("option (b) is wrong", "b")


def test_the_detector_sees_a_derived_formula_stated_above_its_exercise():
    ex = exercises.get("04.5")
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("The mean-field q uses $1/M_{jj}$, the ELBO's optimum (section 4)."),
            nbformat.v4.new_code_cell('check("04.5", best_mean_field_logvar)'),
        ]
    )
    assert flags(nb, {"04.5": ex}) == {"04.5": ["1/M_{jj"]}
    nb.cells[0] = nbformat.v4.new_code_cell("q = diag_gaussian(m, -M.diagonal().log())")
    assert flags(nb, {"04.5": ex}) == {"04.5": ["-M.diagonal().log()"]}
    nb.cells[0] = nbformat.v4.new_markdown_cell("The marginal q uses $(M^{-1})_{jj}$.")
    assert flags(nb, {"04.5": ex}) == {}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_exercise_has_its_answer_printed_or_stated_above_its_check(path):
    registry = exercises.all_exercises()
    found = flags(nbformat.read(path, as_version=4), registry)
    mine = {e for e in KNOWN if e.split(".")[0] == path.name[:2]}
    assert set(found) == mine, f"{path.name}: answers stated above their check: {found}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_exercises_are_numbered_in_reading_order(path):
    # a learner meets NN.1, NN.2, ... in that order: an exercise added in the middle renumbers the later ones
    # (the ids a class's old reports use change with it; the closing note of such a change says so)
    nb = nbformat.read(path, as_version=4)
    met = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            met += [i for i in CHECK.findall(cell.source) if i not in met]
    expected = sorted(met, key=lambda i: int(i.split(".")[1]))
    assert met == expected, f"{path.name}: checks appear in the order {met}; number them {expected} in reading order"
    registered = sorted(e for e in exercises.all_exercises() if e.startswith(path.name[:2] + "."))
    assert sorted(met) == registered, f"{path.name}: checked {sorted(met)}, registered {registered}"
