"""The ``vae-course`` command: the course notebooks for a learner, and the teacher's tools.

    vae-course notebooks my-course/                   # copy the course notebooks out of the installed package
    vae-course student notebooks/ handout/            # student versions: solutions replaced by stubs
    vae-course grade submissions/ --report report.csv  # run and grade one folder per student
    vae-course grade submissions/ --shard 2/4 --report shard-2.csv  # a quarter of the class
    vae-course merge shard-*.csv --report class.csv    # one report (and gradebooks) from the shards

``grade`` writes the CSV (one row per student, notebook and exercise), an HTML page beside it
with one page per student to send on, optionally Canvas and Moodle gradebooks (``--export``),
and prints a summary table and the protections in force on this machine. The work is done by
:mod:`vae_course.classroom.student` and :mod:`vae_course.classroom.grading` (see
:mod:`vae_course.classroom.sandbox` for how submissions are isolated, and
:mod:`vae_course.classroom.report` for the report). Installed as the ``vae-course`` script;
``python -m vae_course.classroom.cli`` runs it too.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def _notebooks(args: argparse.Namespace) -> int:
    import shutil

    from .grading import default_course_dir

    src = default_course_dir()
    if src is None:
        print("vae-course notebooks: this installation holds no course notebooks", file=sys.stderr)
        return 1
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob("[0-9][0-9]_*.ipynb")):
        if (dest / path.name).exists():  # a learner's own work is never overwritten
            print(f"{dest / path.name}: kept (already there; delete it to get a fresh copy)")
            continue
        shutil.copyfile(path, dest / path.name)
        print(f"{dest / path.name}: copied")
    print(f"open them with:  jupyter lab {dest / '00_start_here.ipynb'}")
    return 0


def _student(args: argparse.Namespace) -> int:
    from .student import SolutionMarkerError, write_student_versions

    try:
        written = write_student_versions(args.src_dir, args.out_dir, solutions=False if args.no_solutions else None)
    except (SolutionMarkerError, OSError, ValueError) as e:
        print(f"vae-course student: {e}", file=sys.stderr)
        return 1
    for path, n in written:
        print(f"{path}: {n} solution{'s' if n != 1 else ''} replaced by stubs")
    return 0


def _grade(args: argparse.Namespace) -> int:
    import shutil

    from .grading import GradeOptions, grade, read_points
    from .sandbox import missing_protections, protections

    points, predictions = {}, {}
    if args.points:
        try:
            points, predictions = read_points(args.points)
        except (OSError, ValueError, KeyError) as e:
            print(f"vae-course grade: --points {args.points}: {e}", file=sys.stderr)
            return 2
    if args.cell_timeout >= args.timeout:
        capped = args.timeout / 2
        print(
            f"warning: --cell-timeout {args.cell_timeout:g} s is not below --timeout {args.timeout:g} s: one cell that "
            f"loops would use the whole notebook's time and every later exercise would time out; capped at "
            f"{capped:g} s",
            file=sys.stderr,
        )
        args.cell_timeout = capped
    report = Path(args.report)
    checkpoint = report.with_name(report.stem + "-progress")
    if args.fresh and args.only is None:
        shutil.rmtree(checkpoint, ignore_errors=True)
    options = GradeOptions(
        timeout=args.timeout,
        cell_timeout=args.cell_timeout,
        memory_mb=args.memory,
        jobs=args.jobs,
        course_dir=Path(args.course_dir) if args.course_dir else None,
        allow_read=tuple(args.allow_read or ()),
        full=args.full,
        points=points,
        predictions=predictions,
        checkpoint=checkpoint,
    )
    if options.course_dir is None:
        from .grading import default_course_dir

        options.course_dir = default_course_dir()
    print(
        f"course notebooks: {options.course_dir}"
        if options.course_dir
        else "course notebooks: none found (give --course-dir): every notebook runs whole, as with --full",
        file=sys.stderr,
    )
    try:
        shard_of = _parse_shard(args.shard)
    except ValueError as e:
        print(f"vae-course grade: {e}", file=sys.stderr)
        return 2
    print(
        f"grading {args.submissions_dir}: {args.timeout:g} s per notebook, {args.cell_timeout:g} s per cell, "
        f"{args.memory} MiB per kernel. Verdicts are computed here, on inputs drawn here; the kernels only "
        "run the students' code. In force on this machine: " + "; ".join(protections()) + ".",
        file=sys.stderr,
    )
    for line in missing_protections():
        print(f"not available here: {line}", file=sys.stderr)
    t0 = time.perf_counter()
    try:
        rows = grade(args.submissions_dir, options, shard_of, only=args.only)
    except (OSError, ValueError) as e:
        print(f"vae-course grade: {e}", file=sys.stderr)
        return 1
    return _write_reports(rows, args, t0)


def _parse_shard(text: str | None) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4); None -> (1, 1)."""
    if not text:
        return 1, 1
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard expects I/N (e.g. 2/4), got {text!r}") from None
    if not (n >= 1 and 1 <= i <= n):
        raise ValueError(f"--shard I/N needs 1 <= I <= N, got {text!r}")
    return i, n


def _write_reports(rows, args: argparse.Namespace, t0: float) -> int:
    from .classpage import write_class_page
    from .report import EXPORTS, kind_line, summary_table, write_csv, write_html

    report = Path(args.report)
    report.parent.mkdir(parents=True, exist_ok=True)
    write_csv(rows, report)
    outputs = [str(report)]
    if not args.no_html:
        write_html(rows, report.with_suffix(".html"))
        outputs += [str(report.with_suffix(".html")), str(report.with_name(report.stem + "-students")) + "/"]
        page = report.with_name(report.stem + "-class.html")
        write_class_page(rows, page, report.with_name(report.stem + "-class.csv"))
        outputs += [str(page), str(report.with_name(report.stem + "-class.csv"))]
    for lms in dict.fromkeys(args.export or ()):
        target = report.with_name(f"{report.stem}-{lms}.csv")
        EXPORTS[lms](rows, target)
        outputs.append(str(target))
    print(summary_table(rows) if rows else "no notebooks found (expected STUDENT/NN_name.ipynb)")
    if rows and kind_line(rows):
        print(f"exercise kinds: {kind_line(rows)}")
    print(f"\n{len(rows)} rows in {', '.join(outputs)} ({time.perf_counter() - t0:.1f} s)")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from .report import merge_rows, read_csv

    t0 = time.perf_counter()
    try:
        rows = merge_rows([read_csv(p) for p in args.reports])
    except (OSError, ValueError, TypeError) as e:
        print(f"vae-course merge: {e}", file=sys.stderr)
        return 1
    return _write_reports(rows, args, t0)


def _add_outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--report", default="report.csv", help="CSV to write (an HTML page goes beside it)")
    p.add_argument("--no-html", action="store_true", help="write only the CSV (no HTML pages)")
    p.add_argument(
        "--export",
        action="append",
        choices=("canvas", "moodle"),
        help="also write a gradebook CSV that Canvas or Moodle imports (REPORT-canvas.csv, REPORT-moodle.csv); "
        "may be given twice",
    )


def _add_lang(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lang",
        choices=("en", "zh"),
        help="the language of the stubs, feedback and pages it writes (default: $VAE_COURSE_LANG, else English; "
        "the Chinese notebooks are notebooks/zh/, `make zh`)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="vae-course", description="Copy out, hand out and grade the vae-course notebooks."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    n = sub.add_parser("notebooks", help="copy the course notebooks (shipped with the package) into a folder")
    n.add_argument("dest", help="folder to copy them to (created if needed; notebooks already there are kept)")
    n.set_defaults(run=_notebooks)
    p = sub.add_parser("student", help="write student versions: solutions replaced by stubs, outputs cleared")
    p.add_argument("src_dir", help="folder of course notebooks (with solutions)")
    p.add_argument("out_dir", help="folder to write the student versions to")
    p.add_argument(
        "--no-solutions",
        action="store_true",
        help="versions handed out for grading: solution('NN.k') answers that solutions are turned off",
    )
    _add_lang(p)
    p.set_defaults(run=_student)
    g = sub.add_parser("grade", help="run every student's notebooks in sandboxed kernels and report per exercise")
    g.add_argument("submissions_dir", help="folder with one sub-folder per student, holding their notebooks")
    _add_outputs(g)
    g.add_argument("--timeout", type=float, default=300.0, help="wall-clock seconds per notebook (default 300)")
    g.add_argument(
        "--cell-timeout",
        type=float,
        default=120.0,
        help="seconds per cell; a cell past it is interrupted and the notebook goes on (default 120)",
    )
    g.add_argument("--memory", type=int, default=4096, help="address-space limit per kernel in MiB (default 4096)")
    g.add_argument("--jobs", type=int, default=1, help="notebooks graded at the same time (default 1)")
    g.add_argument(
        "--course-dir",
        help="the course notebooks, to know which exercises each notebook has and which cells they need "
        "(default: the copy shipped with the package, or the checkout's notebooks/ folder)",
    )
    g.add_argument(
        "--full",
        action="store_true",
        help="run every cell of every notebook (default: only the cells the exercises need; same verdicts)",
    )
    g.add_argument(
        "--points",
        metavar="FILE",
        help='JSON: {"points": {"01.2": 2}, "predictions": {"NN.k": "recorded"}}: points per exercise (default: '
        "the registry's, 1 each) and predict-then-run exercises graded or only recorded",
    )
    g.add_argument("--only", metavar="STUDENT", help="re-grade one student into the existing report")
    g.add_argument(
        "--fresh",
        action="store_true",
        help="start afresh: forget the verdicts kept in REPORT-progress/ (by default an interrupted run resumes)",
    )
    g.add_argument("--shard", metavar="I/N", help="grade only the I-th of N shares of the students (1-based)")
    g.add_argument(
        "--allow-read",
        action="append",
        metavar="PATH",
        help="a further path the kernels may read (e.g. a data folder the notebooks need)",
    )
    _add_lang(g)
    g.set_defaults(run=_grade)
    m = sub.add_parser("merge", help="join the reports of several shards (vae-course grade --shard) into one")
    m.add_argument("reports", nargs="+", help="the shards' CSV reports")
    _add_outputs(m)
    _add_lang(m)
    m.set_defaults(run=_merge)
    args = parser.parse_args(argv)
    if getattr(args, "lang", None):
        from ..i18n import set_lang

        set_lang(args.lang)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
