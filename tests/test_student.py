"""Student versions (``vae_course.classroom.student``, ``vae-course student``): every solution
replaced by a stub, and no trace of it left in the file."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from tests.course import NOTEBOOKS
from vae_course import exercises
from vae_course.classroom.cli import main
from vae_course.classroom.student import (
    SOLUTIONS_OFF_LINE,
    SolutionMarkerError,
    check_calls,
    find_leaks,
    hint_leaks,
    make_student_notebook,
    python_source,
    strip_source,
    write_student_versions,
)

SOLVED = '''import torch
from vae_course.exercises import check

def rms_distance(a, b):
    """RMS distance per image."""
    ### BEGIN SOLUTION
    diff = (a - b).pow(2).flatten(1)
    return diff.mean(dim=1).sqrt()
    ### END SOLUTION'''


def test_stub_keeps_indentation_names_the_exercise_and_stays_valid_python():
    out, n = strip_source(SOLVED, exercise_of={"rms_distance": "00.1"})
    assert n == 1
    assert "diff" not in out and "BEGIN SOLUTION" not in out
    tree = ast.parse(out)
    fn = next(node for node in tree.body if isinstance(node, ast.FunctionDef))
    raise_stmt = fn.body[-1]
    assert isinstance(raise_stmt, ast.Raise) and raise_stmt.col_offset == 4
    message = raise_stmt.exc.args[0].value
    assert "Exercise 00.1 (RMS pixel distance)" in message and "hint('00.1')" in message
    assert exercises.get("00.1").hints[0] not in message, "hints come one at a time, after a first try"


def test_markdown_hidden_tests_and_top_level_regions():
    md, n = strip_source("Why?\n### BEGIN SOLUTION\nBecause the KL is zero.\n### END SOLUTION", "markdown")
    assert n == 1 and md == "Why?\nYOUR ANSWER HERE"
    code, n = strip_source("x = 1\n### BEGIN HIDDEN TESTS\nassert x == 1\n### END HIDDEN TESTS\ny = 2")
    assert n == 0 and code == "x = 1\ny = 2"
    top, n = strip_source("### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION")
    assert n == 1 and top.splitlines()[-1].startswith("raise NotImplementedError(")


@pytest.mark.parametrize(
    "source, words",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", "line 2: '### BEGIN SOLUTION' has no matching"),
        ("def f():\n    return 1\n    ### END SOLUTION", "line 3: an END marker without a BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "line 2: a BEGIN marker inside"),
    ],
)
def test_broken_markers_are_reported_with_their_line(source, words):
    with pytest.raises(SolutionMarkerError, match=words):
        strip_source(source)


def test_a_stub_that_would_break_the_cell_is_refused():
    nb = new_notebook(cells=[new_code_cell("x = (1 +\n### BEGIN SOLUTION\n2\n### END SOLUTION\n)")])
    with pytest.raises(SolutionMarkerError, match="invalid Python"):
        make_student_notebook(nb)


def test_outputs_counts_and_metadata_are_cleared_and_leaks_are_found():
    cell = new_code_cell(
        SOLVED,
        execution_count=3,
        outputs=[new_output("stream", text="diff.mean(dim=1).sqrt()")],
        metadata={"tags": ["parameters"], "nbgrader": {"checksum": "abc"}, "execution": {}},
    )
    nb = new_notebook(
        cells=[cell, new_code_cell('check("00.1", rms_distance)')],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "widgets": {"state": "diff"},
        },
    )
    student, n = make_student_notebook(nb)
    assert n == 1 and find_leaks(nb, student) == []
    assert student.cells[0].outputs == [] and student.cells[0].execution_count is None
    assert student.cells[0].metadata == {"tags": ["parameters"]}
    assert set(student.metadata) == {"kernelspec"}
    assert nb.cells[0].outputs, "the teacher's notebook must not be modified"
    # find_leaks catches what a careless conversion would leave behind
    leaky = nbformat.from_dict(json.loads(json.dumps(student)))
    leaky.cells[0].outputs = [new_output("stream", text="    return diff.mean(dim=1).sqrt()\n")]
    leaky.cells[0].execution_count = 1
    problems = find_leaks(nb, leaky)
    assert any("outputs" in p for p in problems) and any("diff.mean" in p for p in problems)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_student_version_of_every_course_notebook_has_no_solution(path):
    teacher = nbformat.read(path, as_version=4)
    student, n = make_student_notebook(teacher)
    calls = check_calls(teacher)
    assert n >= 2 and len({c.exercise for c in calls}) >= 2, "every notebook carries at least two exercises"
    assert find_leaks(teacher, student) == []
    text = json.dumps(student)
    assert "BEGIN SOLUTION" not in text.replace("`### BEGIN SOLUTION`", "")  # prose may name the markers
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
            ast.parse(python_source(cell.source))
    assert check_calls(student) == calls, "the check cells stay as they were"


def test_cli_student_writes_every_notebook_and_refuses_to_overwrite_the_source(tmp_path, capsys):
    src = tmp_path / "course"
    src.mkdir()
    nb = new_notebook(
        cells=[new_markdown_cell("# 00"), new_code_cell(SOLVED), new_code_cell('check("00.1", rms_distance)')]
    )
    nbformat.write(nb, src / "00_start_here.ipynb")
    assert main(["student", str(src), str(tmp_path / "out")]) == 0
    assert "1 solution replaced" in capsys.readouterr().out
    written = (tmp_path / "out" / "00_start_here.ipynb").read_text()
    assert "diff" not in written and "NotImplementedError" in written
    assert main(["student", str(src), str(src)]) == 1
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError):
        write_student_versions(tmp_path / "empty", tmp_path / "x")


def _course(tmp_path):
    src = tmp_path / "course"
    src.mkdir(exist_ok=True)
    nb = new_notebook(
        cells=[new_markdown_cell("# 00"), new_code_cell(SOLVED), new_code_cell('check("00.1", rms_distance)')]
    )
    nbformat.write(nb, src / "00_start_here.ipynb")
    return src, nb


def test_a_hint_that_quotes_the_solution_is_refused(tmp_path, monkeypatch):
    src, nb = _course(tmp_path)
    assert hint_leaks(nb) == []
    monkeypatch.setattr(exercises, "REGISTRY", exercises.all_exercises())
    exercises.register(
        "00.1",
        "RMS pixel distance",
        reference=exercises.get("00.1").reference,
        cases=exercises.get("00.1").cases,
        hint=("a fair nudge", "then type   diff = (a-b).pow(2).flatten(1)   and you are done"),
    )
    assert any("hint 2 of 00.1" in leak for leak in hint_leaks(nb))
    with pytest.raises(SolutionMarkerError, match="hint 2 of 00.1 quotes the solution"):
        write_student_versions(src, tmp_path / "out")
    assert not (tmp_path / "out" / "00_start_here.ipynb").exists()


def test_the_workbook_never_overwrites_a_learners_work(tmp_path, capsys):
    src, _ = _course(tmp_path)
    book = tmp_path / "exercises"
    assert [p.name for p, _ in write_student_versions(src, book)] == ["00_start_here.ipynb"]
    fresh = (book / "00_start_here.ipynb").read_text()
    assert [p.name for p, _ in write_student_versions(src, book)] == ["00_start_here.ipynb"], "unchanged: rewritten"
    work = nbformat.read(book / "00_start_here.ipynb", as_version=4)
    work.cells[1].source = work.cells[1].source.replace("raise NotImplementedError", "return 0  # my try\n    #")
    nbformat.write(work, book / "00_start_here.ipynb")
    capsys.readouterr()
    assert write_student_versions(src, book) == []
    err = capsys.readouterr().err
    assert "kept 1 notebook" in err and "00_start_here.ipynb" in err and "delete" in err
    assert "my try" in (book / "00_start_here.ipynb").read_text()
    (book / "00_start_here.ipynb").unlink()  # to start afresh
    write_student_versions(src, book)
    assert (book / "00_start_here.ipynb").read_text() == fresh


def test_solutions_can_be_turned_off_in_the_versions_handed_out(tmp_path, monkeypatch):
    src, nb = _course(tmp_path)
    student, _ = make_student_notebook(nb, solutions=False)
    assert student.cells[1].source.startswith(SOLUTIONS_OFF_LINE)
    assert check_calls(student) == check_calls(nb) and find_leaks(nb, student) == []
    monkeypatch.setenv("VAE_COURSE_SOLUTIONS", "off")
    write_student_versions(src, tmp_path / "graded")
    assert SOLUTIONS_OFF_LINE in (tmp_path / "graded" / "00_start_here.ipynb").read_text()
    monkeypatch.delenv("VAE_COURSE_SOLUTIONS")
    write_student_versions(src, tmp_path / "selfstudy")
    assert SOLUTIONS_OFF_LINE not in (tmp_path / "selfstudy" / "00_start_here.ipynb").read_text()
    # the line does turn solution() off
    monkeypatch.setattr(exercises, "_SOLUTIONS_OFF", [])
    exec(SOLUTIONS_OFF_LINE, {})
    assert "turned off" in exercises.solution("00.1")


def test_cli_no_solutions_writes_versions_that_turn_solution_off(tmp_path):
    import shutil

    from vae_course.classroom.cli import main
    from vae_course.classroom.student import SOLUTIONS_OFF_LINE

    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "notebooks" / "00_start_here.ipynb", src)
    assert main(["student", str(src), str(tmp_path / "open")]) == 0
    assert main(["student", str(src), str(tmp_path / "graded"), "--no-solutions"]) == 0
    first_code = [
        next(
            c.source
            for c in nbformat.read(tmp_path / d / "00_start_here.ipynb", as_version=4).cells
            if c.cell_type == "code"
        )
        for d in ("open", "graded")
    ]
    assert SOLUTIONS_OFF_LINE not in first_code[0] and first_code[1].startswith(SOLUTIONS_OFF_LINE)
