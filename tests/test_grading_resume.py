"""Nothing lost: verdicts written as each notebook finishes, resumed after a crash, half-written
files redone, ``--only STUDENT``, points from the teacher's file, the class page.

The fault test (SIGKILL at random moments while grading the sample class of about 20 submissions,
several times, then resume, and compare with an uninterrupted run) is slow: it runs in
``make test-grading`` (marked slow), not in ``make test``."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.grading_class import make_class
from tests.grading_submissions import HEAD, write_nb
from tests.processes import processes_naming
from vae_course.classroom import grading
from vae_course.classroom.classpage import class_summary, write_class_page
from vae_course.classroom.grading import GradeOptions, _part_path, grade, read_points
from vae_course.classroom.report import Row, read_csv

ROOT = Path(__file__).resolve().parents[1]


def _key(rows: list[Row]) -> list[tuple]:
    """What must be equal between runs (feedback quotes random inputs, so it may differ)."""
    return sorted((r.student, r.notebook, r.exercise, r.status, r.misconception, r.points) for r in rows)


def test_checkpoint_resume_skips_finished_and_redoes_half_written(tmp_path, monkeypatch):
    calls = []

    def fake(path, student, options, session=None):
        calls.append(student)
        return [Row(student, path.name, "00.1", "pass", "ok")], None

    monkeypatch.setattr(grading, "_grade_notebook", fake)
    for s in ("ann", "bob", "cat"):
        write_nb(tmp_path / "subs" / s, HEAD)
    opts = GradeOptions(progress=False, checkpoint=tmp_path / "progress")
    first = grade(tmp_path / "subs", opts)
    assert calls == ["ann", "bob", "cat"] and len(first) == 3
    calls.clear()
    assert _key(grade(tmp_path / "subs", opts)) == _key(first) and calls == [], "finished students are not re-run"
    item = ("bob", tmp_path / "subs" / "bob" / "00_start_here.ipynb")
    part = _part_path(tmp_path / "progress", item)
    part.write_text(part.read_text()[:40])  # a power cut mid-write
    again = grade(tmp_path / "subs", opts)
    assert calls == ["bob"] and _key(again) == _key(first), "the half-written file is detected and redone"
    calls.clear()
    write_nb(tmp_path / "subs" / "cat", HEAD, "x = 1")  # a new submission: graded again
    grade(tmp_path / "subs", opts)
    assert calls == ["cat"]
    calls.clear()
    only = grade(tmp_path / "subs", opts, only="ann")
    assert calls == ["ann"] and _key(only) == _key(first), "--only re-grades one student into the whole report"
    with pytest.raises(ValueError, match="no such student"):
        grade(tmp_path / "subs", opts, only="zed")


def test_points_file_sets_scores_and_is_checked(tmp_path):
    f = tmp_path / "points.json"
    f.write_text(json.dumps({"points": {"00.1": 3, "00.2": 0.5}}))
    points, predictions = read_points(f)
    assert points == {"00.1": 3.0, "00.2": 0.5} and predictions == {}
    rows = grading.apply_points(
        [Row("a", "00_start_here.ipynb", "00.1", "pass"), Row("a", "00_start_here.ipynb", "00.3", "fail")], points
    )
    assert [r.points for r in rows] == [3.0, 1.0]
    assert class_summary(rows)["scores"]["a"] == (3.0, 4.0)
    f.write_text(json.dumps({"points": {"00.1": -1}}))
    with pytest.raises(ValueError, match=">= 0"):
        read_points(f)
    f.write_text(json.dumps({"points": {"42.9": 1}}))
    with pytest.raises(KeyError):
        read_points(f)


def test_class_page_is_one_offline_file_with_plots_and_a_csv(tmp_path):
    rows = [
        Row("a", "00_start_here.ipynb", "00.1", "pass"),
        Row("b", "00_start_here.ipynb", "00.1", "fail", "x", "", "no-root"),
        Row("c", "00_start_here.ipynb", "00.1", "fail", "x", "", "unrecognised"),
        Row("d", "00_start_here.ipynb", "00.1", "timeout"),
        Row("d", "00_start_here.ipynb", "(notebook)", "info", "solution viewed for 00.1", points=0),
    ]
    k = write_class_page(rows, tmp_path / "class.html", tmp_path / "class.csv")
    page = (tmp_path / "class.html").read_text()
    assert "data:image/png;base64," in page and "http" not in page.replace("http-equiv", "")
    assert "forgot the square root" in page and "1 student" in page
    assert k["counts"]["00.1"] == {"pass": 1, "fail": 2, "not attempted": 0, "error": 0, "timeout": 1}
    assert k["viewed"] == {"00.1": 1}
    assert "misconception,00.1 no-root" in (tmp_path / "class.csv").read_text()


def _grade_cmd(subs: Path, report: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "vae_course.classroom.cli",
        "grade",
        str(subs),
        "--report",
        str(report),
        "--cell-timeout",
        "30",
        "--timeout",
        "120",
        "--no-html",
    ]


@pytest.mark.slow
def test_resume_after_sigkill_equals_an_uninterrupted_run(tmp_path):
    """SIGKILL the grader (its whole process group, kernels included) at random moments, several
    times; resume each time; the final report equals an uninterrupted run's."""
    subs = make_class(tmp_path / "class")
    clean = tmp_path / "clean" / "report.csv"
    start = time.perf_counter()
    subprocess.run(_grade_cmd(subs, clean), check=True, capture_output=True, timeout=1800)
    whole = time.perf_counter() - start  # an uninterrupted run's time on this machine
    report = tmp_path / "killed" / "report.csv"
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    kills, killed = 0, []
    # kill moments drawn as fractions of the uninterrupted run's time, so that a fast machine (which
    # finishes the remaining work quickly) is interrupted as often as a slow one
    for _ in range(int(os.environ.get("VAE_COURSE_KILLS", "4"))):
        p = subprocess.Popen(_grade_cmd(subs, report), start_new_session=True, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.08, 0.2) * whole)
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            kills += 1
            killed.append(p.pid)
        p.wait()
    subprocess.run(_grade_cmd(subs, report), check=True, capture_output=True, timeout=1800)
    assert kills >= 2, f"only {kills} kill(s) landed before the grader finished (seed {seed}, whole run {whole:.0f} s)"
    got, want = read_csv(report), read_csv(clean)
    assert len({(r.student, r.exercise) for r in got if r.exercise != "(notebook)"}) == len(
        [r for r in got if r.exercise != "(notebook)"]
    ), "no student counted twice"
    assert _key(got) == _key(want)
    # each killed grader's kernels end too (their sandbox wrappers notice the grader is gone), none orphaned
    deadline, left = time.monotonic() + 15, None
    while left != [] and time.monotonic() < deadline:
        left = [p for pid in killed for p in processes_naming(f"--grader\0{pid}\0")]
        time.sleep(0.5)
    assert left == [], f"kernels of killed graders still running: {left}"
    print(f"\n{kills} SIGKILLs (seed {seed}), resumed; report equal to the uninterrupted run ({len(got)} rows)")
