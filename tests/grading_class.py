"""A sample class of about 20 generated submissions of notebook 00 (its three exercises): right,
stubs, each named misconception, an unrecognised slip, a crash, a loop past the cell limit, a
corrupt file and a file that is not a notebook. Used by the fault tests (SIGKILL and resume).

With ``--course`` (:func:`make_sample_class`), students s01-s15 also hand in the course notebooks
01-09: s01-s03 the teacher's versions (right), s04-s05 the student versions (stubs), s06-s15 the
teacher's versions with some solutions replaced by the wrong submissions of
``tests/test_misconceptions.py``, so that each named misconception of notebooks 01-09 is committed
by one student. That class makes the committed sample class page
(``python -m tests.grading_class OUT --course``; see ``examples/class-page/README.md``)."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

from tests.grading_submissions import HEAD, write_nb

STUB = "    raise NotImplementedError('replace this line with your code')"
RMS = {
    "ok": "(a - b).pow(2).flatten(1).mean(1).sqrt()",
    "no-root": "((a - b) ** 2).reshape(len(a), -1).mean(-1)",
    "abs-not-square": "(a - b).abs().flatten(1).mean(1)",
    "sum-not-mean": "(a - b).pow(2).flatten(1).sum(1).sqrt()",
    "one-number-for-batch": "((a - b) ** 2).mean().sqrt()",
    "unrecognised": "(a - b).abs().flatten(1).max(1).values",
}
LABEL = {
    "ok": "torch.round(torch.as_tensor(phases) * n_classes).long() % n_classes",
    "floor-not-round": "(torch.as_tensor(phases) * n_classes).long() % n_classes",
    "no-wrap": "torch.round(torch.as_tensor(phases) * n_classes).long()",
    "float-labels": "torch.round(torch.as_tensor(phases) * n_classes) % n_classes",
}
PREDICT = {"ok": "(1 / 6) ** 0.5", "variance of one": "(1 / 12) ** 0.5", "mean gap": "1 / 3", "no root": "1 / 6"}


def cells(rms: str | None, label: str | None, predict: str | None, extra: str = "") -> list[str]:
    def body(expr: str | None) -> str:
        return STUB if expr is None else f"    return {expr}"

    return [
        HEAD + "\nimport torch",
        "def rms_distance(a, b):\n" + (extra + "\n" if extra else "") + body(rms and RMS[rms]),
        'check("00.1", rms_distance)',
        "def phase_to_label(phases, n_classes=8):\n" + body(label and LABEL[label]),
        'check("00.2", phase_to_label)',
        "def predicted_rms():\n" + body(predict and PREDICT[predict]),
        'check("00.3", predicted_rms)',
    ]


def make_class(out: Path) -> Path:
    """Write the class to ``out`` (one folder per student); returns ``out``."""
    plan = {
        "s01_right": ("ok", "ok", "ok"),
        "s02_right": ("ok", "ok", "ok"),
        "s03_right": ("ok", "ok", None),
        "s04_stubs": (None, None, None),
        "s05_stubs": (None, None, None),
        "s06_no_root": ("no-root", "floor-not-round", "variance of one"),
        "s07_abs": ("abs-not-square", "no-wrap", "mean gap"),
        "s08_sum": ("sum-not-mean", "float-labels", "no root"),
        "s09_batch": ("one-number-for-batch", "ok", "ok"),
        "s10_no_root": ("no-root", "no-wrap", "ok"),
        "s11_floor": ("ok", "floor-not-round", "mean gap"),
        "s12_unrecognised": ("unrecognised", "ok", "ok"),
        "s13_mixed": ("ok", "no-wrap", None),
        "s14_right": ("ok", "ok", "ok"),
        "s15_partial": ("ok", None, None),
    }
    for student, (r, l, p) in plan.items():
        write_nb(out / student, *cells(r, l, p))
    write_nb(out / "s16_crash", *cells("ok", "ok", "ok", extra="    return undefined_name"))
    nb = cells("ok", "ok", "ok")
    nb[1] = (
        "import time\n\nwhile True:  # a loop past the cell limit, before the definition\n    time.sleep(0.05)\n\n"
        + nb[1]
    )
    write_nb(out / "s17_timeout", *nb)
    (out / "s18_corrupt").mkdir(parents=True, exist_ok=True)
    (out / "s18_corrupt" / "00_start_here.ipynb").write_text('{"cells": [ {"cell_type": "code", "sou')
    (out / "s19_pdf").mkdir(parents=True, exist_ok=True)
    (out / "s19_pdf" / "00_start_here.ipynb").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    (out / "s20_no_notebook").mkdir(parents=True, exist_ok=True)
    (out / "s20_no_notebook" / "homework.py").write_text("print('my answers')\n")
    return out


def _wrong_sources() -> dict[tuple[str, str], tuple[str, list[str]]]:
    """(exercise, misconception) -> (an expression for the wrong answer: a lambda's source or a
    number, the test module's helper functions it calls), read from ``tests/test_misconceptions.py``."""
    import ast
    import inspect

    from tests import test_misconceptions as tm

    path = Path(tm.__file__)
    text = path.read_text()
    tree = ast.parse(text)
    wrong = next(
        n.value
        for n in tree.body
        if isinstance(n, ast.AnnAssign | ast.Assign) and "WRONG" in ast.unparse(n).split("=")[0]
    )
    helpers = {name for name, f in vars(tm).items() if name.startswith("_") and inspect.isfunction(f)}
    out = {}
    for key, value in zip(wrong.keys, wrong.values):
        ex, mid = ast.literal_eval(key)
        if isinstance(value, ast.Constant) and value.value is None:
            out[ex, mid] = (repr(tm._wrong_value(ex, mid)), [])
            continue
        src = ast.get_source_segment(text, value)
        used = sorted({n.id for n in ast.walk(value) if isinstance(n, ast.Name) and n.id in helpers})
        out[ex, mid] = (src, used)
    return out


def _is_number(expr: str) -> bool:
    try:
        float(expr)
    except ValueError:
        return False
    return True


def _with_wrong_answer(nb, exercise: str, expr: str, helpers: list[str]) -> None:
    """Replace the solution region of ``exercise``'s function in ``nb`` (a teacher's version) by a
    body returning ``expr`` applied to the function's own arguments."""
    import ast
    import inspect
    import re

    from tests import test_misconceptions as tm
    from vae_course.classroom.student import BEGIN_SOLUTION, END_SOLUTION, check_calls

    call = next(c for c in check_calls(nb) if c.exercise == exercise)
    cell = next(
        nb.cells[i]
        for i in reversed(range(call.cell))
        if re.search(rf"^def {re.escape(call.function)}\(", nb.cells[i].source, re.M)
    )
    fn = next(n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef) and n.name == call.function)
    args = ", ".join(a.arg for a in fn.args.args)
    lines = cell.source.split("\n")
    begin = next(i for i, line in enumerate(lines) if BEGIN_SOLUTION.match(line))
    end = next(i for i, line in enumerate(lines) if i > begin and END_SOLUTION.match(line))
    pad = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    body = [
        "import math",
        "import torch",
        "F = torch.nn.functional",
        f"return ({expr})" + ("" if _is_number(expr) else f"({args})"),
    ]
    body = [pad + b for line in body for b in line.split("\n")]
    head = [inspect.getsource(getattr(tm, h)).rstrip() + "\n\n" for h in helpers]
    cell.source = "".join(head) + "\n".join(lines[:begin] + body + lines[end + 1 :])


def make_sample_class(out: Path, course: Path | None = None) -> Path:
    """:func:`make_class`, and the course notebooks 01-09 for students s01-s15 (see the module's docstring)."""
    from vae_course.classroom.grading import default_course_dir
    from vae_course.classroom.student import check_calls, make_student_notebook

    make_class(out)
    course = course or default_course_dir()
    wrong = _wrong_sources()
    students = sorted(p.name for p in out.iterdir() if p.name[:3] <= "s15")
    _add_00_experiments(out, students, wrong)
    for name in sorted(p.name for p in course.glob("0[1-9]_*.ipynb")):
        teacher = nbformat.read(course / name, as_version=4)
        exercises = [c.exercise for c in check_calls(teacher)]
        for k, student in enumerate(students):
            if k in (3, 4):  # s04, s05: stubs
                nbformat.write(make_student_notebook(teacher)[0], out / student / name)
                continue
            nb = nbformat.read(course / name, as_version=4)
            for n, ex in enumerate(exercises):
                _commit_misconception(nb, k, ex, n, wrong)
            nbformat.write(nb, out / student / name)
    return out


def _commit_misconception(nb, student: int, exercise: str, position: int, wrong: dict) -> None:
    """Students s06-s15 (``student`` 5-14): the named misconceptions of ``exercise`` (the
    ``position``-th exercise of its notebook) spread over them, one student each; the others keep
    the right answer."""
    named = sorted(m for e, m in wrong if e == exercise)
    slot = (student - 5 - 3 * (int(exercise.split(".")[0]) + position)) % 10
    if student >= 5 and slot < len(named):
        _with_wrong_answer(nb, exercise, *wrong[exercise, named[slot]])


def _add_00_experiments(out: Path, students: list[str], wrong: dict) -> None:
    """Notebook 00's predict-then-run exercises (00.4, 00.5) for students s01-s15 of the course class
    (:func:`make_class` writes 00.1-00.3 only, which keeps the fault tests short): the registry's
    solution, a stub for s04-s05, and their named misconceptions spread over s06-s15 as for 01-09."""
    from vae_course.exercises import get

    for k, student in enumerate(students):
        path = out / student / "00_start_here.ipynb"
        nb = nbformat.read(path, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell("import math"))
        for n, ex in enumerate(("00.4", "00.5"), start=3):
            head, *body = get(ex).solution.split("\n")
            if k in (3, 4):
                source = head + "\n" + STUB
            else:
                source = "\n".join([head, "    ### BEGIN SOLUTION", *body, "    ### END SOLUTION"])
            name = head.removeprefix("def ").split("(")[0]
            nb.cells += [nbformat.v4.new_code_cell(source), nbformat.v4.new_code_cell(f'check("{ex}", {name})')]
            _commit_misconception(nb, k, ex, n, wrong)
        nbformat.write(nb, path)


if __name__ == "__main__":
    if "--course" in sys.argv[2:]:
        make_sample_class(Path(sys.argv[1]))
    else:
        make_class(Path(sys.argv[1]))
