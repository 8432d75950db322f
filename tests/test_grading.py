"""Grading: sandboxed kernels, one status per exercise, and a class that survives bad submissions.

Covers the grading side of ``vae_course.classroom``: ``grading`` (one notebook, a class),
``report`` (summary, CSV, HTML pages, Canvas and Moodle gradebooks) and ``vae-course grade``.
Submissions written to break the grader (forged results, a rebound ``check``, monkeypatching,
reading classmates' work, the network, loops, memory, exits, signals, daemons, lost replies)
are in ``tests/tamper/``.

The kernels here start in a few seconds each; the runs of the real notebook 00 take longer (the
whole notebook runs). Grading *every* course notebook, teacher and student versions, is marked
``slow`` (`make test-grading`; each notebook runs up to a minute with ``full=True``, a second or two
in the default mode, and both must give the same verdicts).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from tests.course import COURSE
from tests.grading_submissions import CHECK1, CHECK2, HEAD, LABEL_OK, NB00, RMS_OK, write_nb
from vae_course.classroom import grading
from vae_course.classroom.cli import main
from vae_course.classroom.grading import (
    GradeOptions,
    default_course_dir,
    expected_exercises,
    grade,
    reference_call_note,
)
from vae_course.classroom.report import (
    NOTEBOOK_ROW,
    Row,
    merge_rows,
    read_csv,
    summary_table,
    write_canvas,
    write_moodle,
    write_student_pages,
)
from vae_course.classroom.sandbox import landlock_abi
from vae_course.classroom.student import check_calls, make_student_notebook
from vae_course.exercises import get

needs_landlock = pytest.mark.skipif(landlock_abi() < 1, reason="this Linux kernel has no Landlock")

RMS_NO_SQRT = "def rms_distance(a, b):\n    return (a - b).pow(2).flatten(1).mean(1)"
RMS_BY_REFERENCE = "def rms_distance(a, b):\n    from vae_course import moons\n    return moons.rms_distance(a, b)"


def by_key(rows: list[Row]) -> dict[tuple[str, str], Row]:
    return {(r.student, r.exercise): r for r in rows if r.exercise != NOTEBOOK_ROW}


def notes(rows: list[Row], student: str) -> list[str]:
    return [r.feedback for r in rows if r.student == student and r.exercise == NOTEBOOK_ROW]


# --------------------------------------------------------------------------- pure helpers
def test_expected_exercises_come_from_the_registry_and_the_course_notebook():
    assert {"00.1", "00.2"} <= set(expected_exercises(NB00, COURSE))
    assert expected_exercises("notes.ipynb", COURSE) == []


def test_reference_call_is_noted():
    nb = new_notebook(cells=[new_code_cell(RMS_BY_REFERENCE), new_code_cell(CHECK1)])
    note = reference_call_note(nb, check_calls(nb)[0], get("00.1"))
    assert "rms_distance" in note and "vae_course.moons" in note
    nb.cells[0].source = RMS_OK
    assert reference_call_note(nb, check_calls(nb)[0], get("00.1")) == ""
    # a name bound to the reference, by assignment or import, or reported so by the kernel
    for source in (
        "from vae_course import moons\nrms_distance = moons.rms_distance",
        "from vae_course.moons import rms_distance",
    ):
        nb.cells[0].source = source
        assert "vae_course.moons" in reference_call_note(nb, check_calls(nb)[0], get("00.1")), source
    nb.cells[0].source = "rms_distance = lambda a, b: 0"
    identity = {"module": "vae_course.moons", "qualname": "rms_distance"}
    assert "vae_course.moons" in reference_call_note(nb, check_calls(nb)[0], get("00.1"), identity)
    # a custom-checker exercise names the package function that solves it
    nb05 = new_notebook(
        cells=[
            new_code_cell("def straight_through_yours(soft, hard):\n    return straight_through(soft, hard)"),
            new_code_cell('check("05.5", straight_through_yours)'),
        ]
    )
    assert "straight_through" in reference_call_note(nb05, check_calls(nb05)[0], get("05.5"))


def test_summary_table_counts_passes():
    rows = [
        Row("ann", NB00, "00.1", "pass"),
        Row("ann", NB00, "00.2", "fail", "wrong"),
        Row("bo", NB00, "00.1", "timeout"),
        Row("bo", NB00, NOTEBOOK_ROW, "error", "x"),
    ]
    table = summary_table(rows)
    assert "ann" in table and "1/2" in table and "timeout" in table
    assert table.splitlines()[-1].split() == ["passed", "1/2", "0/2"]


def test_gradebook_exports_and_student_pages(tmp_path):
    rows = [
        Row("ann", NB00, "00.1", "pass", "matches the reference on 4 inputs", "✅ passed"),
        Row("ann", NB00, "00.2", "fail", "on input (x), your result is wrong"),
        Row("bo", NB00, "00.1", "not attempted", "the function still raises NotImplementedError"),
        Row("bo", NB00, "00.2", "pass"),
        Row("bo", NB00, NOTEBOOK_ROW, "error", "cell 3 was refused by the sandbox"),
        Row("bo", "01_autoencoder.ipynb", "01.1", "pass"),
        Row("bo", "01_autoencoder.ipynb", "01.2", "pass"),
    ]
    write_canvas(rows, tmp_path / "canvas.csv")
    lines = (tmp_path / "canvas.csv").read_text().splitlines()
    assert lines[0] == "Student,ID,SIS User ID,SIS Login ID,Section,00_start_here,01_autoencoder"
    assert lines[1] == "Points Possible,,,,,2,2"
    assert lines[2:] == ["ann,,,ann,,1,0", "bo,,,bo,,1,2"]
    write_moodle(rows, tmp_path / "moodle.csv")
    moodle = read_csv_rows(tmp_path / "moodle.csv")
    assert moodle[0] == [
        "Username",
        "00_start_here",
        "Feedback: 00_start_here",
        "01_autoencoder",
        "Feedback: 01_autoencoder",
    ]
    assert moodle[1][:2] == ["ann", "1"] and "00.2 fail: on input (x)" in moodle[1][2]
    pages = write_student_pages(rows, tmp_path / "pages")
    ann = pages["ann"].read_text()
    assert "on input (x), your result is wrong" in ann and "✅ passed" in ann
    assert "refused" not in ann and "01_autoencoder" not in ann, "a student's page holds only that student's rows"


def test_the_reports_count_exercise_kinds_per_notebook_and_overall(tmp_path):
    from vae_course.classroom.classpage import write_class_page
    from vae_course.classroom.report import kind_line, kind_summary

    nb04 = "04_elbo.ipynb"
    rows = [
        Row("ann", NB00, "00.1", "pass"),  # implement
        Row("ann", NB00, "00.3", "fail", "x", "", "no root"),  # predict
        Row("ann", nb04, "04.3", "pass"),  # implement
        Row("ann", nb04, "04.5", "pass"),  # derive
        Row("bo", NB00, "00.1", "fail"),
        Row("bo", NB00, "00.3", "pass"),
        Row("bo", NB00, NOTEBOOK_ROW, "error", "x"),
    ]
    kinds = kind_summary(rows)
    assert list(kinds) == ["00", "04", "all"]
    assert kinds["00"]["implement"]["exercises"] == 1 and kinds["00"]["implement"]["graded"] == 2
    assert kinds["all"]["implement"] == {
        "exercises": 2, "graded": 3, "pass": 2, "fail": 1, "not attempted": 0, "error": 0, "timeout": 0
    }  # fmt: skip
    assert list(kinds["all"]) == ["implement", "derive", "predict"]  # the registry's order of kinds
    assert kind_summary(rows, "bo")["all"]["predict"]["pass"] == 1
    assert kind_line(rows) == "implement 2 (67 % passed), derive 1 (100 % passed), predict 1 (50 % passed)"
    write_class_page(rows, tmp_path / "class.html", tmp_path / "class.csv")
    page = (tmp_path / "class.html").read_text()
    assert "<h2>Exercise kinds</h2>" in page and "notebook 04" in page and "all notebooks" in page
    assert "<td>04.5</td><td>the best mean-field variances</td><td>derive</td>" in page
    assert "kind,all,implement,2,1,0,0,0,2 exercises" in (tmp_path / "class.csv").read_text()
    ann = write_student_pages(rows, tmp_path / "pages")["ann"].read_text()
    assert "passed by kind: implement 1 of 1, derive 1 of 1)" in ann
    assert "all notebooks (passed by kind: implement 2 of 2, derive 1 of 1, predict 0 of 1)" in ann


def read_csv_rows(path: Path) -> list[list[str]]:
    import csv

    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_grade_leaves_the_callers_options_unchanged(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(
        grading, "_grade_notebook", lambda path, student, options, session=None: seen.append(options) or ([], None)
    )
    write_nb(tmp_path / "subs" / "ann", HEAD)
    options = GradeOptions(timeout=5, progress=False)
    grade(tmp_path / "subs", options)
    assert options == GradeOptions(timeout=5, progress=False) and options.course_dir is None
    assert default_course_dir() == COURSE and [o.course_dir for o in seen] == [COURSE]


# --------------------------------------------------------------------------- grading a class
@pytest.fixture(scope="module")
def synthetic_class(tmp_path_factory):
    """One grading run over small hand-made submissions, each a different way to go wrong."""
    base = tmp_path_factory.mktemp("class")
    subs = base / "submissions"
    write_nb(subs / "ann", HEAD, RMS_OK, CHECK1, LABEL_OK, CHECK2)  # all correct
    write_nb(subs / "bob", HEAD, RMS_NO_SQRT, CHECK1, LABEL_OK, CHECK2)  # forgot the square root
    write_nb(subs / "cat", HEAD, RMS_BY_REFERENCE, CHECK1, LABEL_OK, 'check("00.9", phase_to_label)')
    write_nb(subs / "dan", HEAD, "def rms_distance(a, b)\n    return a", CHECK1, LABEL_OK, CHECK2)  # syntax error
    (subs / "eve").mkdir(parents=True)
    (subs / "eve" / NB00).write_text('{"cells": [ this is not json')
    write_nb(
        subs / "fay",
        HEAD,
        "import os\nopen('scratch.txt', 'w').write('ok')\nopen(os.path.expanduser('~/home.txt'), 'w').write('ok')",
        RMS_OK,
        CHECK1,
        LABEL_OK,
        CHECK2,
    )
    before = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    rows = grade(subs, GradeOptions(timeout=120, memory_mb=2048, jobs=2, course_dir=COURSE, progress=False))
    after = {p: p.read_bytes() for p in subs.rglob("*") if p.is_file()}
    return rows, before, after


def test_correct_solutions_pass(synthetic_class):
    rows = by_key(synthetic_class[0])
    assert rows["ann", "00.1"].status == rows["ann", "00.2"].status == "pass"
    assert "matches the reference" in rows["ann", "00.1"].feedback
    assert "passed" in rows["ann", "00.1"].notebook_said, "what the notebook's own check printed is kept"


def test_a_wrong_solution_fails_with_words_naming_the_problem(synthetic_class):
    row = by_key(synthetic_class[0])["bob", "00.1"]
    assert row.status == "fail"
    assert "on input (" in row.feedback and "expected" in row.feedback


def test_calling_the_reference_is_flagged_not_failed_and_a_renamed_check_is_reported(synthetic_class):
    rows = synthetic_class[0]
    cat = by_key(rows)
    assert cat["cat", "00.1"].status == "pass" and "package's own reference" in cat["cat", "00.1"].feedback
    assert cat["cat", "00.2"].status == "error" and "missing or renamed" in cat["cat", "00.2"].feedback
    assert any('check("00.9"' in n for n in notes(rows, "cat"))


def test_a_crashing_definition_makes_its_check_an_error_that_says_why(synthetic_class):
    rows = by_key(synthetic_class[0])
    assert rows["dan", "00.1"].status == "error" and "NameError" in rows["dan", "00.1"].feedback
    assert rows["dan", "00.2"].status == "pass"


def test_a_broken_json_file_is_reported(synthetic_class):
    rows = by_key(synthetic_class[0])
    assert rows["eve", "00.1"].status == rows["eve", "00.2"].status == "error"
    assert "not valid JSON" in rows["eve", "00.1"].feedback


def test_submissions_are_never_modified(synthetic_class):
    rows, before, after = synthetic_class
    assert before == after
    assert not any(p.name in ("scratch.txt", "home.txt") for p in after), "the kernel works in a temporary copy"
    assert by_key(rows)["fay", "00.1"].status == "pass" and notes(rows, "fay") == [], "writes in its own copy are fine"


@pytest.mark.slow  # waits out real cell and notebook time limits (~18 s each): make test-grading
def test_a_loop_before_a_definition_is_named_as_the_cause(tmp_path):
    subs = tmp_path / "subs"
    write_nb(
        subs / "a_loop", HEAD, "import time\nwhile True:\n    time.sleep(0.05)\n" + RMS_OK, CHECK1, LABEL_OK, CHECK2
    )
    report = tmp_path / "out" / "report.csv"
    # 15 s: room for the first cell's imports on a busy machine, which must not be taken for the loop
    args = ["grade", str(subs), "--report", str(report), "--timeout", "90", "--cell-timeout", "15", "--no-html"]
    assert main([*args, "--course-dir", str(COURSE)]) == 0
    rows = by_key(read_csv(report))
    rms = rows["a_loop", "00.1"]
    assert (
        rms.status == "timeout" and "ran past 15 s" in rms.feedback and "rms_distance was never defined" in rms.feedback
    )
    assert rows["a_loop", "00.2"].status == "pass"


def test_a_cell_timeout_at_or_above_the_notebook_timeout_is_capped_with_a_warning(tmp_path, capsys, monkeypatch):
    seen = []
    monkeypatch.setattr(grading, "grade", lambda subs, options, *a, **k: seen.append(options) or [])
    (tmp_path / "subs").mkdir()
    args = ["grade", str(tmp_path / "subs"), "--report", str(tmp_path / "r.csv"), "--timeout", "60"]
    assert main([*args, "--cell-timeout", "60", "--no-html"]) == 0
    assert seen[-1].cell_timeout == 30 and seen[-1].timeout == 60
    assert "--cell-timeout 60 s is not below --timeout 60 s" in capsys.readouterr().err
    assert main([*args, "--cell-timeout", "20", "--no-html"]) == 0
    assert seen[-1].cell_timeout == 20 and "capped" not in capsys.readouterr().err


@pytest.mark.slow  # waits out real cell and notebook time limits (~18 s each): make test-grading
def test_an_infinite_loop_times_out_and_the_class_goes_on(tmp_path, capsys):
    subs = tmp_path / "subs"
    write_nb(subs / "a_loop", HEAD, RMS_OK, CHECK1, "import time\nwhile True:\n    time.sleep(0.05)", LABEL_OK, CHECK2)
    write_nb(subs / "b_fine", HEAD, RMS_OK, CHECK1, LABEL_OK, CHECK2)
    report = tmp_path / "out" / "report.csv"
    t0 = time.perf_counter()
    # a cell limit below the notebook's: the loop is stopped at 15 s and the notebook goes on to the end
    args = ["grade", str(subs), "--report", str(report), "--timeout", "90", "--cell-timeout", "15"]
    assert main([*args, "--course-dir", str(COURSE), "--export", "canvas", "--export", "moodle"]) == 0
    elapsed = time.perf_counter() - t0
    rows = by_key(read_csv(report))
    assert rows["a_loop", "00.1"].status == "pass", "checks that ran before the loop keep their result"
    assert rows["a_loop", "00.2"].status == "pass", "the loop's cell was interrupted, and the cells after it ran"
    assert rows["b_fine", "00.1"].status == rows["b_fine", "00.2"].status == "pass"
    assert elapsed < 90 + 60, "the loop was stopped at its limit"  # two kernel start-ups on a busy machine
    assert report.with_suffix(".html").exists()
    assert (report.parent / "report-students" / "b_fine.html").exists()
    assert (report.parent / "report-canvas.csv").read_text().splitlines()[2:] == [
        "a_loop,,,a_loop,,2",
        "b_fine,,,b_fine,,2",
    ]
    assert (report.parent / "report-moodle.csv").exists()
    out = capsys.readouterr()
    assert "a_loop" in out.out and "In force on this machine" in out.err


# --------------------------------------------------------------------------- the real notebooks
def _grade_course(
    tmp_path: Path, names: list[str], timeout: float = 240, full: bool = False, student: bool = True
) -> list[Row]:
    subs = tmp_path / ("subs-full" if full else "subs")
    for name in names:
        teacher = nbformat.read(COURSE / name, as_version=4)
        (subs / "teacher").mkdir(parents=True, exist_ok=True)
        shutil.copy(COURSE / name, subs / "teacher" / name)
        if student:
            (subs / "student").mkdir(parents=True, exist_ok=True)
            nbformat.write(make_student_notebook(teacher)[0], subs / "student" / name)
    return grade(subs, GradeOptions(timeout=timeout, jobs=2, course_dir=COURSE, progress=False, full=full))


def _assert_teacher_passes_and_student_not_attempted(rows: list[Row], names: list[str]) -> None:
    for name in names:
        expected = expected_exercises(name, COURSE)
        assert len(expected) >= 2
        for who, status in (("teacher", "pass"), ("student", "not attempted")):
            mine = {r.exercise: r for r in rows if r.student == who and r.notebook == name}
            assert {e: mine[e].status for e in expected} == {e: status for e in expected}, (who, name, mine)
            assert not [r for r in mine.values() if r.exercise == NOTEBOOK_ROW], mine


@pytest.mark.slow  # the slow test below grades every notebook, 00 included; the fast suite's kernel tests are above
def test_notebook_00_grades_pass_and_its_student_version_not_attempted(tmp_path):
    rows = _grade_course(tmp_path, [NB00])
    _assert_teacher_passes_and_student_not_attempted(rows, [NB00])


@pytest.mark.slow
def test_every_course_notebook_grades_pass_and_its_student_version_not_attempted(tmp_path):
    """...in the default mode, and the teacher's with ``full=True`` (every cell run) with the same verdicts.
    (The student versions are not run whole: every check of theirs meets the same stub either way, and
    the tamper suite compares full and default runs of student work; this keeps CI's time down.)"""
    names = sorted(p.name for p in COURSE.glob("[0-9][0-9]_*.ipynb"))  # not a scratch copy beside them
    t0 = time.perf_counter()
    rows = _grade_course(tmp_path, names, timeout=240)  # only the cells the exercises need
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    full = _grade_course(tmp_path, names, timeout=240, full=True, student=False)  # each under a minute
    whole = time.perf_counter() - t0
    statuses = lambda rs: [(r.student, r.notebook, r.exercise, r.status) for r in rs]  # noqa: E731
    assert [s for s in statuses(rows) if s[0] == "teacher"] == statuses(full)
    _assert_teacher_passes_and_student_not_attempted(rows, names)
    # the default mode runs only the cells the exercises need: its 2 x 10 notebooks take less time than
    # the teacher's 10 whole runs (running every cell, it would take about twice as long); a ratio, not
    # seconds, so that a busy machine (CI runs this beside another test file) slows both sides alike
    print(f"\ndefault mode {fast:.0f} s for {2 * len(names)} notebooks; {len(names)} whole runs {whole:.0f} s")
    assert fast < whole, f"the default mode took {fast:.0f} s for {2 * len(names)} notebooks, whole runs {whole:.0f} s"


# --------------------------------------------------------------------------- default mode, shards
def test_cells_to_run_keeps_the_set_up_the_exercises_and_what_the_learner_wrote():
    course = new_notebook(
        cells=[
            new_code_cell("import torch\nfrom vae_course.exercises import check"),
            new_code_cell("SEED = 0\nSCALE = 2.0"),
            new_code_cell("model = train_for_a_minute()  # the notebook's training"),
            new_code_cell("plot(model)"),
            new_code_cell("def helper(a):\n    return a * SCALE"),
            new_code_cell(
                "def rms_distance(a, b):\n    ### BEGIN SOLUTION\n    return helper(a - b)\n    ### END SOLUTION"
            ),
            new_code_cell(CHECK1),
        ]
    )
    calls = check_calls(course)
    assert grading.cells_to_run(course, calls, course) == [0, 1, 4, 5, 6]  # no training, no plot
    student = make_student_notebook(course)[0]
    assert grading.cells_to_run(student, check_calls(student), course) == [0, 1, 5, 6]  # the stub calls no helper
    mine = nbformat.from_dict(student)
    mine.cells.insert(3, new_code_cell("import sys\nsys.exit()"))  # a cell of the learner's own: always runs
    mine.cells[6].source = "def rms_distance(a, b):\n    return model(a) - b"  # needs the trained model
    assert grading.cells_to_run(mine, check_calls(mine), course) == [0, 1, 2, 3, 6, 7]
    assert grading.cells_to_run(mine, check_calls(mine), None) == list(range(8))  # no course notebook: all
    course.cells[2].metadata["tags"] = [grading.SETUP_TAG]
    assert 2 in grading.cells_to_run(course, calls, course)


def test_shards_split_the_class_by_student_and_merge_joins_them(tmp_path):
    work = [(s, tmp_path / s / f"{k:02d}_x.ipynb") for s in ("ann", "bob", "cat", "dan", "eve") for k in range(2)]
    shards = [grading.shard(work, i, 3) for i in (1, 2, 3)]
    assert sorted(x for sh in shards for x in sh) == sorted(work)
    assert all({s for s, _ in a}.isdisjoint({s for s, _ in b}) for a in shards for b in shards if a is not b)
    with pytest.raises(ValueError, match="1 <= I <= N"):
        grading.shard(work, 4, 3)
    a = [Row("bob", NB00, "00.1", "pass"), Row("bob", NB00, NOTEBOOK_ROW, "info", "solution viewed for 00.2")]
    b = [Row("ann", NB00, "00.1", "fail", "wrong")]
    assert [r.student for r in merge_rows([a, b])] == ["ann", "bob", "bob"]
    with pytest.raises(ValueError, match="'bob' is in report 1 and report 2"):
        merge_rows([a, a])
    assert summary_table(merge_rows([a, b])).splitlines()[-3].split()[-1] == "1/1"  # info rows are no notes


def test_grade_shard_and_merge_on_the_command_line_wiring(tmp_path, monkeypatch):
    """The command line's side of grading in shards (--shard, the reports, merge, --export, exit codes), with
    grade() stubbed: grading itself is tested above, and end to end through the command line by the slow test
    below (make test-grading)."""
    subs = tmp_path / "subs"
    for who in ("ann", "bob", "cat"):
        (subs / who).mkdir(parents=True)
    shards_asked = []

    def fake_grade(submissions, options, shard_of, only=None):
        shards_asked.append(shard_of)
        work = [(who, Path(submissions) / who / NB00) for who in ("ann", "bob", "cat")]
        return [
            Row(who, NB00, ex, "fail" if (who, ex) == ("bob", "00.1") else "pass")
            for who in sorted({who for who, _ in grading.shard(work, *shard_of)})
            for ex in ("00.1", "00.2")
        ]

    monkeypatch.setattr(grading, "grade", fake_grade)
    out = tmp_path / "out"
    for i in (1, 2):
        assert main(["grade", str(subs), "--shard", f"{i}/2", "--report", str(out / f"s{i}.csv"), "--no-html"]) == 0
    assert shards_asked == [(1, 2), (2, 2)]
    assert {r.student for r in read_csv(out / "s1.csv")} == {"ann", "cat"}
    assert {r.student for r in read_csv(out / "s2.csv")} == {"bob"}
    assert not (out / "s1.html").exists()  # --no-html
    args = ["merge", str(out / "s2.csv"), str(out / "s1.csv"), "--report", str(out / "class.csv")]
    assert main([*args, "--export", "canvas"]) == 0
    merged = read_csv(out / "class.csv")
    assert [(r.student, r.exercise, r.status) for r in merged] == [
        ("ann", "00.1", "pass"), ("ann", "00.2", "pass"), ("bob", "00.1", "fail"), ("bob", "00.2", "pass"),
        ("cat", "00.1", "pass"), ("cat", "00.2", "pass"),
    ]  # fmt: skip
    canvas = (out / "class-canvas.csv").read_text().splitlines()
    assert (out / "class.html").exists() and canvas[2:] == ["ann,,,ann,,2", "bob,,,bob,,1", "cat,,,cat,,2"]
    assert main(["grade", str(subs), "--shard", "3/2"]) == 2 and len(shards_asked) == 2  # refused before grading
    assert main(["merge", str(out / "s1.csv"), str(out / "s1.csv"), "--report", str(out / "x.csv")]) == 1


@pytest.mark.slow  # 13 s of kernels; the wiring is tested without them just above (make test-grading runs this)
def test_grade_shard_and_merge_on_the_command_line(tmp_path, capsys):
    subs = tmp_path / "subs"
    for who in ("ann", "bob", "cat"):
        write_nb(subs / who, HEAD, RMS_OK if who != "bob" else RMS_NO_SQRT, CHECK1, LABEL_OK, CHECK2)
    out = tmp_path / "out"
    for i in (1, 2):
        assert main(["grade", str(subs), "--shard", f"{i}/2", "--report", str(out / f"s{i}.csv"), "--no-html"]) == 0
    assert {r.student for r in read_csv(out / "s1.csv")} == {"ann", "cat"}
    assert {r.student for r in read_csv(out / "s2.csv")} == {"bob"}
    args = ["merge", str(out / "s2.csv"), str(out / "s1.csv"), "--report", str(out / "class.csv")]
    assert main([*args, "--export", "canvas"]) == 0
    merged = read_csv(out / "class.csv")
    assert [(r.student, r.exercise, r.status) for r in merged if r.exercise in ("00.1", "00.2")] == [
        ("ann", "00.1", "pass"), ("ann", "00.2", "pass"), ("bob", "00.1", "fail"), ("bob", "00.2", "pass"),
        ("cat", "00.1", "pass"), ("cat", "00.2", "pass"),
    ]  # fmt: skip
    assert (out / "class.html").exists() and (out / "class-canvas.csv").read_text().count("\n") == 5
    assert main(["grade", str(subs), "--shard", "3/2"]) == 2
    assert main(["merge", str(out / "s1.csv"), str(out / "s1.csv"), "--report", str(out / "x.csv")]) == 1


def test_one_kernel_serves_a_students_notebooks_each_in_a_fresh_namespace_and_folder(tmp_path):
    subs = tmp_path / "subs"
    leak = "open('left.txt', 'w').write('x')\nLEFT_BEHIND = 1"
    write_nb(subs / "ann", HEAD, leak, RMS_OK, CHECK1, LABEL_OK, CHECK2)
    looks = (
        "import os\nassert 'LEFT_BEHIND' not in globals() and not os.path.exists('left.txt')\n"
        "def rms_distance(a, b):\n    return (a - b).pow(2).flatten(1).mean(1).sqrt()"
    )
    write_nb(subs / "ann", HEAD, looks, CHECK1, LABEL_OK, CHECK2, name="00_start_here_again.ipynb")
    rows = grade(subs, GradeOptions(timeout=60, course_dir=COURSE, progress=False))
    judged = [r for r in rows if r.exercise in ("00.1", "00.2")]
    assert len(judged) == 4 and all(r.status == "pass" for r in judged), rows


def test_solutions_viewed_are_reported_for_that_notebook_only(tmp_path):
    shown = "import vae_course.exercises as ex\nex.solutions_shown = lambda: ['00.2', '01.1']  # as if solution() ran"
    write_nb(tmp_path / "subs" / "ann", HEAD, shown, RMS_OK, CHECK1, LABEL_OK, CHECK2)
    rows = grade(tmp_path / "subs", GradeOptions(timeout=60, course_dir=COURSE, progress=False))
    info = [(r.exercise, r.status, r.feedback) for r in rows if r.status == "info"]
    assert info == [(NOTEBOOK_ROW, "info", "solution viewed for 00.2")]
    assert by_key(rows)["ann", "00.2"].status == "pass"
