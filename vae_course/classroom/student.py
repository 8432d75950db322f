"""Student versions of the course notebooks: solutions out, stubs in, nothing left to peek at.

The teacher's notebooks mark every solution with nbgrader's delimiters::

    def rms(a, b):
        \"\"\"...\"\"\"
        ### BEGIN SOLUTION
        return (a - b).pow(2).flatten(1).mean(1).sqrt()
        ### END SOLUTION

:func:`make_student_notebook` replaces each marked region of a code cell with a stub at the
indentation of the ``BEGIN`` line (``raise NotImplementedError("Exercise 00.1 ...")``),
so the cell still defines the function and its check reports "not attempted"; a marked region
of a Markdown cell becomes ``YOUR ANSWER HERE``; ``### BEGIN HIDDEN TESTS`` regions are
dropped. Outputs, execution counts and every metadata key outside a short allow-list are
removed, so no executed result of a solution survives. :func:`find_leaks` re-checks the
result against the teacher's version, and :func:`write_student_versions` refuses to write a
notebook in which it finds any solution text, or whose exercises' hints quote a line of the
solution code (:func:`hint_leaks`: a hint is a nudge, never the answer). Stubs carry no hint:
``hint("NN.k")`` gives them one at a time, after a first try.

The same function writes a learner's self-study workbook (``make exercises``): a notebook
already in the output folder that differs from a fresh student version holds the learner's work
and is never overwritten (delete it, or the folder, to start afresh). With ``solutions=False``
(or ``VAE_COURSE_SOLUTIONS=off`` in the environment) each version turns ``solution("NN.k")`` off
in its first code cell, for versions handed out for grading.

The readers of notebook source here (:func:`check_calls`, :func:`function_defs`) also serve
:mod:`vae_course.classroom.grading`, to know which checks a submission calls. This is the
``vae-course student SRC OUT`` command (:mod:`vae_course.classroom.cli`).
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import sys
from pathlib import Path
from typing import NamedTuple

import nbformat

from ..parameters import python_source

BEGIN_SOLUTION = re.compile(r"^\s*#{1,3}\s*BEGIN SOLUTION\b")
END_SOLUTION = re.compile(r"^\s*#{1,3}\s*END SOLUTION\b")
BEGIN_HIDDEN = re.compile(r"^\s*#{1,3}\s*BEGIN HIDDEN TESTS\b")
END_HIDDEN = re.compile(r"^\s*#{1,3}\s*END HIDDEN TESTS\b")
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](\d+\.\d+)["']\s*,\s*([A-Za-z_][\w.]*)""")

#: Cell metadata that a student version keeps (everything else, e.g. execution timings or
#: nbgrader checksums of the solution, is dropped).
CELL_METADATA_KEPT = ("tags", "slideshow", "jupyter", "editable", "deletable", "name")
NOTEBOOK_METADATA_KEPT = ("kernelspec", "language_info", "title", "authors")
MARKDOWN_STUB = "YOUR ANSWER HERE"


class SolutionMarkerError(ValueError):
    """A BEGIN/END SOLUTION pair is broken; the message names the cell and line."""


class CheckCall(NamedTuple):
    """A ``check("NN.k", fn)`` call found in a notebook's source."""

    cell: int
    exercise: str
    function: str


# --------------------------------------------------------------------------- reading source
def check_calls(nb: nbformat.NotebookNode) -> list[CheckCall]:
    """Every ``check("NN.k", name)`` call in the code cells, in order."""
    calls = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            calls += [CheckCall(i, m.group(1), m.group(2)) for m in CHECK_CALL.finditer(cell.source)]
    return calls


def function_defs(source: str) -> dict[str, ast.FunctionDef]:
    """Top-level and nested function definitions of a cell, by name (empty if it does not parse)."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return {}
    return {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _enclosing_function(source: str, lineno: int) -> str | None:
    """Name of the innermost function whose body contains 1-based line ``lineno`` of ``source``."""
    best = None
    for name, node in function_defs(source).items():
        if node.lineno <= lineno <= (node.end_lineno or node.lineno):
            if best is None or node.lineno > best[1]:
                best = (name, node.lineno)
    return best[0] if best else None


# --------------------------------------------------------------------------- stripping
def _stub(indent: str, exercise: str | None) -> list[str]:
    """The lines that replace a solution: a comment and a ``raise`` naming the exercise (no hint:
    hints come one at a time from ``hint("NN.k")``)."""
    from ..i18n import t, tr

    msg = t("write this part yourself, then run the check cell below it.")
    if exercise:
        title = exercise
        try:
            from ..exercises import get

            ex = get(exercise)
            title = f"{ex.id} ({tr(ex.title)})"
        except (KeyError, ImportError):
            pass
        msg = t(
            "Exercise {title}: {msg} Stuck after a try? from vae_course.exercises import hint; hint({ex})",
            title=title,
            msg=msg,
            ex=repr(exercise),
        )
    return [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError({msg!r})"]


_REGIONS = ((BEGIN_SOLUTION, END_SOLUTION, "SOLUTION"), (BEGIN_HIDDEN, END_HIDDEN, "HIDDEN TESTS"))


def _region_end(lines: list[str], i: int, end: re.Pattern, kind: str, where: str) -> int:
    """Index of the END line closing the ``kind`` region opened at ``lines[i]``; raises
    :class:`SolutionMarkerError` for a nested BEGIN or a missing END."""
    j = i + 1
    while j < len(lines) and not end.match(lines[j]):
        if BEGIN_SOLUTION.match(lines[j]) or BEGIN_HIDDEN.match(lines[j]):
            raise SolutionMarkerError(
                f"{where}, line {j + 1}: a BEGIN marker inside the {kind} region opened at line {i + 1}"
            )
        j += 1
    if j == len(lines):
        raise SolutionMarkerError(f"{where}, line {i + 1}: '### BEGIN {kind}' has no matching '### END {kind}'")
    return j


def strip_source(
    source: str,
    cell_type: str = "code",
    exercise_of: dict[str, str] | None = None,
    where: str = "cell",
) -> tuple[str, int]:
    """Replace every marked solution region of one cell; return the new source and the count.

    ``exercise_of`` maps a function name to its exercise id (from the notebook's check cells),
    so the stub can name the exercise and give its hint. Hidden-test regions are dropped.
    """
    lines = source.split("\n")
    out: list[str] = []
    n, i = 0, 0
    while i < len(lines):
        line = lines[i]
        region = next(((end, kind) for begin, end, kind in _REGIONS if begin.match(line)), None)
        if region is None:
            if END_SOLUTION.match(line) or END_HIDDEN.match(line):
                raise SolutionMarkerError(f"{where}, line {i + 1}: an END marker without a BEGIN before it")
            out.append(line)
            i += 1
            continue
        end, kind = region
        j = _region_end(lines, i, end, kind, where)
        if kind == "SOLUTION":
            n += 1
            if cell_type == "code":
                indent = line[: len(line) - len(line.lstrip())]
                fn = _enclosing_function(source, i + 1)
                out += _stub(indent, (exercise_of or {}).get(fn or ""))
            else:
                out.append(MARKDOWN_STUB)
        i = j + 1
    return "\n".join(out), n


def _check_stub_parses(teacher_source: str, student_source: str, where: str) -> None:
    """A stub must leave the cell valid Python where it was valid before."""
    try:
        ast.parse(python_source(teacher_source))
    except SyntaxError:
        return
    try:
        ast.parse(python_source(student_source))
    except SyntaxError as e:
        raise SolutionMarkerError(
            f"{where}: the stub leaves invalid Python ({e.msg}, line {e.lineno}); "
            "put the markers around whole statements"
        ) from e


def _clear_cell(cell, stripped: bool) -> None:
    """Drop what a student must not see: metadata outside the allow-list, outputs, execution
    counts, and the attachments of a cell that had a solution."""
    cell.metadata = {k: v for k, v in cell.metadata.items() if k in CELL_METADATA_KEPT}
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    if "attachments" in cell and stripped:
        del cell["attachments"]


SOLUTIONS_OFF_LINE = "import vae_course.exercises as _ex; _ex.disable_solutions()  # a version for grading"


def make_student_notebook(nb: nbformat.NotebookNode, solutions: bool = True) -> tuple[nbformat.NotebookNode, int]:
    """Student version of a notebook (a new object) and the number of solutions removed.

    With ``solutions=False`` its first code cell starts by turning ``solution(...)`` off."""
    student = copy.deepcopy(nb)
    exercise_of = {c.function: c.exercise for c in check_calls(nb)}
    total = 0
    for i, cell in enumerate(student.cells):
        where = f"cell {i} ({cell.cell_type})"
        n = 0
        if cell.cell_type in ("code", "markdown"):
            cell.source, n = strip_source(cell.source, cell.cell_type, exercise_of, where)
            total += n
            if n and cell.cell_type == "code":
                _check_stub_parses(nb.cells[i].source, cell.source, where)
        _clear_cell(cell, stripped=bool(n))
    student.metadata = {k: v for k, v in student.metadata.items() if k in NOTEBOOK_METADATA_KEPT}
    if not solutions:
        first = next((c for c in student.cells if c.cell_type == "code"), None)
        if first is not None and SOLUTIONS_OFF_LINE not in first.source:
            first.source = SOLUTIONS_OFF_LINE + "\n" + first.source
    return student, total


# --------------------------------------------------------------------------- verifying
def solution_lines(nb: nbformat.NotebookNode) -> tuple[list[str], set[str]]:
    """(lines inside solution regions, lines outside them), each stripped, from all cell sources."""
    inside, outside = [], set()
    for cell in nb.cells:
        in_region = False
        for line in cell.source.split("\n"):
            if BEGIN_SOLUTION.match(line) or BEGIN_HIDDEN.match(line):
                in_region = True
            elif END_SOLUTION.match(line) or END_HIDDEN.match(line):
                in_region = False
            elif line.strip():
                (inside.append if in_region else outside.add)(line.strip())
    return inside, outside


def find_leaks(teacher: nbformat.NotebookNode, student: nbformat.NotebookNode) -> list[str]:
    """Every trace of a solution left in ``student``: solution lines still in a cell's source
    (unless the same line also appears outside the solutions), any output or execution count,
    and any solution line found anywhere in the serialized file (metadata included)."""
    inside, outside = solution_lines(teacher)
    secret = [line for line in dict.fromkeys(inside) if line not in outside]
    leaks = []
    student_lines = {line.strip() for cell in student.cells for line in cell.source.split("\n")}
    leaks += [f"solution line in a cell: {line!r}" for line in secret if line in student_lines]
    for i, cell in enumerate(student.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count") is not None):
            leaks.append(f"cell {i} still has outputs or an execution count")
    text = json.dumps(student)
    leaks += [
        f"solution text in the file: {line!r}"
        for line in secret
        if len(line) >= 12 and line not in student_lines and json.dumps(line)[1:-1] in text
    ]
    return leaks


def _squeeze(text: str) -> str:
    """Text without whitespace, so that re-spaced code still matches."""
    return re.sub(r"\s+", "", text)


def quoted_code(hint: str, code_lines: list[str], min_len: int = 12) -> list[str]:
    """The lines of ``code_lines`` (12 characters or more, whitespace ignored) that ``hint`` quotes."""
    squeezed = _squeeze(hint)
    lines = {_squeeze(line.split("  #")[0]) for line in code_lines}
    return sorted(line for line in lines if len(line) >= min_len and line in squeezed)


def hint_leaks(nb: nbformat.NotebookNode) -> list[str]:
    """Every hint of the notebook's exercises (those its check cells name) that quotes a line of
    the solution code: of the notebook's solution regions, or of the exercise's reference solution
    (the code ``solution("NN.k")`` shows), whitespace ignored, lines of 12 characters or more."""
    from ..exercises import get

    inside, outside = solution_lines(nb)
    secret = [line for line in dict.fromkeys(inside) if line not in outside]
    leaks = []
    for ex_id in dict.fromkeys(c.exercise for c in check_calls(nb)):
        try:
            ex = get(ex_id)
        except KeyError:
            continue
        code = secret + [line.strip() for line in ex.solution_text().split("\n") if line.strip()]
        code = [line for line in code if not line.startswith(("#", "def ", '"', "'"))]
        for k, text in enumerate(ex.hints, 1):
            leaks += [f"hint {k} of {ex_id} quotes the solution: {line!r}" for line in quoted_code(text, code)]
    return leaks


def _solutions_default() -> bool:
    return os.environ.get("VAE_COURSE_SOLUTIONS", "on").strip().lower() not in ("off", "0", "no", "false")


def write_student_versions(
    src_dir: Path | str, out_dir: Path | str, solutions: bool | None = None
) -> list[tuple[Path, int]]:
    """Write the student version of every ``*.ipynb`` in ``src_dir`` to ``out_dir``.

    Returns (written path, solutions removed) per notebook written. Raises
    :class:`SolutionMarkerError` naming the notebook, cell and line when markers are broken, any
    solution text survives, or a hint quotes the solution. A notebook already in ``out_dir``
    that differs from its fresh student version (a learner's work) is kept as it is, and a note
    on stderr says so and how to start afresh. ``solutions=False`` (default: the environment's
    ``VAE_COURSE_SOLUTIONS``, on unless "off") turns ``solution(...)`` off in every version.
    """
    if solutions is None:
        solutions = _solutions_default()
    src, out = Path(src_dir), Path(out_dir)
    if not src.is_dir():
        raise NotADirectoryError(f"expected a folder of course notebooks, got {src}")
    if out.resolve() == src.resolve():
        raise ValueError("OUT_DIR must differ from SRC_DIR: writing there would overwrite the solutions")
    notebooks = sorted(p for p in src.glob("*.ipynb") if not p.name.startswith("."))
    if not notebooks:
        raise FileNotFoundError(f"no .ipynb files in {src}")
    out.mkdir(parents=True, exist_ok=True)
    written, kept = [], []
    for path in notebooks:
        teacher = nbformat.read(path, as_version=4)
        try:
            student, n = make_student_notebook(teacher)
        except SolutionMarkerError as e:
            raise SolutionMarkerError(f"{path.name}: {e}") from None
        leaks = find_leaks(teacher, student) + hint_leaks(teacher)
        if leaks:
            raise SolutionMarkerError(f"{path.name}: solution text would leak: " + "; ".join(leaks[:3]))
        if not solutions:
            student, _ = make_student_notebook(teacher, solutions=False)
        target = out / path.name
        text = nbformat.writes(student) + "\n"
        if target.exists() and target.read_text() != text:
            kept.append(target)
            continue
        target.write_text(text)
        written.append((target, n))
    if kept:
        names = ", ".join(p.name for p in kept)
        print(
            f"kept {len(kept)} notebook{'s' if len(kept) != 1 else ''} in {out} that already "
            f"hold{'s' if len(kept) == 1 else ''} your work "
            f"({names}): nothing of yours was overwritten. To start one afresh, delete (or rename) it and run "
            "this again.",
            file=sys.stderr,
        )
    return written
