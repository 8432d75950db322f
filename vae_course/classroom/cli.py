"""The ``vae-course`` command for teachers.

    vae-course student notebooks/ handout/            # student versions: solutions replaced by stubs
    vae-course grade submissions/ --report report.csv  # run and grade one folder per student

``grade`` writes the CSV (one row per student, notebook and exercise), an HTML page beside it,
and prints a summary table. The work is done by :mod:`vae_course.classroom.student` and
:mod:`vae_course.classroom.grading` (see :mod:`vae_course.classroom.sandbox` for how submissions
are isolated, :mod:`vae_course.classroom.report` for the report). Installed as the
``vae-course`` script; ``python -m vae_course.classroom.cli`` runs it too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _student(args: argparse.Namespace) -> int:
    from .student import SolutionMarkerError, write_student_versions

    try:
        written = write_student_versions(args.src_dir, args.out_dir)
    except (SolutionMarkerError, OSError, ValueError) as e:
        print(f"vae-course student: {e}", file=sys.stderr)
        return 1
    for path, n in written:
        print(f"{path}: {n} solution{'s' if n != 1 else ''} replaced by stubs")
    return 0


def _grade(args: argparse.Namespace) -> int:
    from .grading import GradeOptions, grade
    from .report import summary_table, write_csv, write_html
    from .sandbox import landlock_abi

    options = GradeOptions(
        timeout=args.timeout,
        memory_mb=args.memory,
        jobs=args.jobs,
        course_dir=Path(args.course_dir) if args.course_dir else None,
    )
    abi = landlock_abi()
    print(
        f"grading {args.submissions_dir}: {args.timeout:g} s and {args.memory} MiB per notebook; writes outside "
        + (
            f"the grading folder are blocked (Landlock ABI {abi})"
            if abi
            else "the grading folder are only detected (this Linux kernel has no Landlock)"
        ),
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    try:
        rows = grade(args.submissions_dir, options)
    except (OSError, ValueError) as e:
        print(f"vae-course grade: {e}", file=sys.stderr)
        return 1
    report = Path(args.report)
    report.parent.mkdir(parents=True, exist_ok=True)
    write_csv(rows, report)
    outputs = [str(report)]
    if not args.no_html:
        write_html(rows, report.with_suffix(".html"))
        outputs.append(str(report.with_suffix(".html")))
    print(summary_table(rows) if rows else "no notebooks found (expected STUDENT/NN_name.ipynb)")
    print(f"\n{len(rows)} rows in {' and '.join(outputs)} ({time.perf_counter() - t0:.1f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vae-course", description="Hand out and grade the vae-course notebooks.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("student", help="write student versions: solutions replaced by stubs, outputs cleared")
    p.add_argument("src_dir", help="folder of course notebooks (with solutions)")
    p.add_argument("out_dir", help="folder to write the student versions to")
    p.set_defaults(run=_student)
    g = sub.add_parser("grade", help="run every student's notebooks in sandboxed kernels and report per exercise")
    g.add_argument("submissions_dir", help="folder with one sub-folder per student, holding their notebooks")
    g.add_argument("--report", default="report.csv", help="CSV to write (an HTML page goes beside it)")
    g.add_argument("--timeout", type=float, default=300.0, help="wall-clock seconds per notebook (default 300)")
    g.add_argument("--memory", type=int, default=4096, help="address-space limit per kernel in MiB (default 4096)")
    g.add_argument("--jobs", type=int, default=1, help="notebooks graded at the same time (default 1)")
    g.add_argument(
        "--course-dir",
        help="the course notebooks, to know which exercises each notebook has "
        "(default: the notebooks/ folder beside the package)",
    )
    g.add_argument("--no-html", action="store_true", help="write only the CSV")
    g.set_defaults(run=_grade)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
