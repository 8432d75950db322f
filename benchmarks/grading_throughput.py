"""Seconds of wall time per student-notebook when grading a class, default mode and ``--full``.

Builds a synthetic class from the course notebooks: student ``sNN`` hands in all nine
notebooks, as the teacher's version (right), the student version with every stub replaced by
``return None`` (wrong) or the student version untouched (not attempted), in turn. Grades it
with the default mode (only the cells the exercises need, one kernel per student) and a
smaller share of it with ``--full`` (every cell, a kernel per notebook), in one run, checks
that the verdicts of the students graded both ways agree, and prints seconds per
student-notebook with the machine's load. Run::

    .venv/bin/python benchmarks/grading_throughput.py --students 20 --full-students 1 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from vae_course.classroom.grading import GradeOptions, default_course_dir, grade
from vae_course.classroom.report import NOTEBOOK_ROW
from vae_course.classroom.student import make_student_notebook

_STUB = re.compile(r"^(\s*)raise NotImplementedError\(.*\)\s*$", re.MULTILINE)


def make_class(course: Path, out: Path, students: int) -> Path:
    """``out/sNN/NN_name.ipynb`` for every course notebook: right, wrong, untouched in turn."""
    names = sorted(p.name for p in course.glob("[0-9][0-9]_*.ipynb"))
    for k in range(students):
        folder = out / f"s{k:02d}"
        folder.mkdir(parents=True)
        for name in names:
            teacher = nbformat.read(course / name, as_version=4)
            kind = k % 3
            if kind == 0:
                shutil.copy(course / name, folder / name)
                continue
            student = make_student_notebook(teacher)[0]
            if kind == 1:
                for cell in student.cells:
                    if cell.cell_type == "code":
                        cell.source = _STUB.sub(r"\1return None", cell.source)
            nbformat.write(student, folder / name)
    return out


def timed(subs: Path, options: GradeOptions) -> tuple[list, float]:
    t0 = time.perf_counter()
    rows = grade(subs, options)
    return rows, time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=20, help="students graded in the default mode")
    parser.add_argument("--full-students", type=int, default=1, help="the first N of them graded with --full too")
    parser.add_argument("--jobs", type=int, default=2, help="kernels at once (default 2)")
    args = parser.parse_args()
    course = default_course_dir()
    n_nb = len(list(course.glob("[0-9][0-9]_*.ipynb")))
    with tempfile.TemporaryDirectory() as tmp:
        subs = make_class(course, Path(tmp) / "class", args.students)
        full_subs = Path(tmp) / "full"
        full_subs.mkdir()
        for k in range(min(args.full_students, args.students)):
            shutil.copytree(subs / f"s{k:02d}", full_subs / f"s{k:02d}")
        base = dict(timeout=600, cell_timeout=300, jobs=args.jobs, course_dir=course, progress=False)
        load0 = os.getloadavg()
        rows, fast = timed(subs, GradeOptions(**base))
        full_rows, full = timed(full_subs, GradeOptions(**base, full=True)) if args.full_students else ([], 0.0)
        load1 = os.getloadavg()
    verdicts = lambda rs: {(r.student, r.notebook, r.exercise): r.status for r in rs if r.exercise != NOTEBOOK_ROW}  # noqa: E731
    graded_both = {k: v for k, v in verdicts(rows).items() if k[0] in {r.student for r in full_rows}}
    disagree = {k: (v, verdicts(full_rows).get(k)) for k, v in graded_both.items() if verdicts(full_rows).get(k) != v}
    statuses = sorted({r.status for r in rows})
    print(f"class: {args.students} students x {n_nb} notebooks, {args.jobs} jobs, {os.cpu_count()} CPUs")
    print(f"load average before {load0[0]:.2f}, after {load1[0]:.2f} (1 min)")
    print(
        f"default mode: {fast:.1f} s for {args.students * n_nb} student-notebooks = "
        f"{fast / (args.students * n_nb):.2f} s each; statuses seen: {', '.join(statuses)}"
    )
    if args.full_students:
        m = min(args.full_students, args.students) * n_nb
        print(f"--full:       {full:.1f} s for {m} student-notebooks = {full / m:.2f} s each")
        print(f"verdicts of the students graded both ways: {'agree' if not disagree else disagree}")


if __name__ == "__main__":
    main()
