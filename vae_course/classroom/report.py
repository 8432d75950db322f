"""The grading report: its rows, the CSV, a plain-text summary and an HTML page.

One :class:`Row` per student, notebook and exercise (plus ``(notebook)`` rows for problems of
the notebook as a whole): ``student, notebook, exercise, status, feedback`` with status
pass | fail | not attempted | error | timeout. :func:`write_csv` / :func:`read_csv` keep them
in a CSV file; :func:`summary_table` is the grid printed after grading (one line per student,
one column per exercise); :func:`write_html` puts the grid and every row's feedback, coloured
by status, on one page. The rows are made by :mod:`vae_course.classroom.grading`.
"""

from __future__ import annotations

import csv
import html
from dataclasses import dataclass
from pathlib import Path

REPORT_STATUSES = ("pass", "fail", "not attempted", "error", "timeout")
NOTEBOOK_ROW = "(notebook)"
FIELDS = ("student", "notebook", "exercise", "status", "feedback")
_COLOURS = {"pass": "#d7f5d7", "fail": "#ffd6d6", "not attempted": "#eeeeee", "error": "#ffe9b3", "timeout": "#ffc9a6"}


@dataclass
class Row:
    """One line of the report."""

    student: str
    notebook: str
    exercise: str
    status: str
    feedback: str = ""


# --------------------------------------------------------------------------- CSV
def write_csv(rows: list[Row], path: Path | str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for r in rows:
            w.writerow([r.student, r.notebook, r.exercise, r.status, r.feedback])


def read_csv(path: Path | str) -> list[Row]:
    with open(path, newline="") as f:
        return [Row(**row) for row in csv.DictReader(f)]


# --------------------------------------------------------------------------- summary
def _exercise_order(exercise: str) -> list[int]:
    return [int(p) for p in exercise.split(".")]


def _align(header: list[str], lines: list[list[str]], totals: list[str]) -> str:
    """Columns padded to their widest cell, a rule under the header and above the totals."""
    widths = [max(len(row[k]) for row in (header, *lines, totals)) for k in range(len(header))]
    rule = "  ".join("-" * w for w in widths)

    def fmt(row: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()

    return "\n".join([fmt(header), rule, *map(fmt, lines), rule, fmt(totals)])


def summary_table(rows: list[Row]) -> str:
    """A plain-text table: one line per student, one column per exercise, and passes out of all."""
    exercises = sorted({r.exercise for r in rows if r.exercise != NOTEBOOK_ROW}, key=_exercise_order)
    students = list(dict.fromkeys(r.student for r in rows))
    grid = {(r.student, r.exercise): r.status for r in rows}
    notes = {s: sum(r.student == s and r.exercise == NOTEBOOK_ROW for r in rows) for s in students}

    def passed(who: list[str], what: list[str]) -> int:
        return sum(grid.get((s, e)) == "pass" for s in who for e in what)

    header = ["student", *exercises, "passed", "notes"]
    lines = [
        [
            s,
            *(grid.get((s, e), "-") for e in exercises),
            f"{passed([s], exercises)}/{len(exercises)}",
            str(notes[s] or ""),
        ]
        for s in students
    ]
    totals = ["passed", *(f"{passed(students, [e])}/{len(students)}" for e in exercises), "", ""]
    return _align(header, lines, totals)


# --------------------------------------------------------------------------- HTML
def write_html(rows: list[Row], path: Path | str, title: str = "vae-course grading report") -> None:
    """An HTML page: the summary table, then every row with its feedback, coloured by status."""
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f"<pre>{html.escape(summary_table(rows))}</pre>",
        "<table><tr>" + "".join(f"<th>{f}</th>" for f in FIELDS) + "</tr>",
    ]
    for r in rows:
        body.append(
            f'<tr style="background:{_COLOURS.get(r.status, "#fff")}">'
            + "".join(
                f"<td>{html.escape(str(v))}</td>" for v in (r.student, r.notebook, r.exercise, r.status, r.feedback)
            )
            + "</tr>"
        )
    body.append("</table>")
    style = (
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}"
    )
    Path(path).write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )
