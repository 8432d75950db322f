"""The grading report: its rows, the CSV, a summary, HTML pages and gradebook exports.

One :class:`Row` per student, notebook and exercise (plus ``(notebook)`` rows for problems of
the notebook as a whole): ``student, notebook, exercise, status, feedback, notebook_said`` with
status pass | fail | not attempted | error | timeout (a ``(notebook)`` row: error, or info for a
note that grades nothing, such as a solution the learner viewed); ``feedback`` is the grader's
words, ``notebook_said`` what the notebook's own check cell printed (as the learner saw it; it
decides nothing). :func:`write_csv` / :func:`read_csv` keep them in a CSV file;
:func:`merge_rows` joins the reports of several shards; :func:`summary_table` is the grid
printed after grading; :func:`write_html` puts the grid and every row on one page and writes
one page per student beside it, to send on (:func:`write_student_pages`).

Gradebooks (one row per student, one score column per notebook, the score being the number of
its exercises that pass):

* :func:`write_canvas` follows the columns of Canvas's gradebook export, which its import reads
  back: ``Student, ID, SIS User ID, SIS Login ID, Section``, then one column per assignment,
  and a second row ``Points Possible`` with each column's maximum. The student folder's name
  goes in ``Student`` and ``SIS Login ID``; ``ID`` (Canvas's user id) is left empty, so Canvas
  matches on the login: name the folders by login, or paste the ids from your Canvas export. A
  column whose name matches no assignment becomes a new assignment on import.
* :func:`write_moodle` writes what Moodle's "Import grades: CSV file" maps: an identity column
  ``Username`` (the folder's name; map it to *username*, or rename it to an email or ID number
  column), one grade column per notebook (map it to a grade item, or to *new grade item*) and
  one ``Feedback: NOTEBOOK`` column each (map it to that item's feedback).

The rows are made by :mod:`vae_course.classroom.grading`.
"""

from __future__ import annotations

import csv
import html
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from ..i18n import lang, t

REPORT_STATUSES = ("pass", "fail", "not attempted", "error", "timeout")
NOTEBOOK_ROW = "(notebook)"
FIELDS = (
    "student",
    "notebook",
    "exercise",
    "status",
    "feedback",
    "notebook_said",
    "misconception",
    "points",
    "prediction",
)
_COLOURS = {
    "info": "#e3ecff",
    "pass": "#d7f5d7",
    "fail": "#ffd6d6",
    "not attempted": "#eeeeee",
    "error": "#ffe9b3",
    "timeout": "#ffc9a6",
}
_STYLE = (
    "body{font-family:sans-serif;max-width:70em}table{border-collapse:collapse}"
    "td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}"
    "pre.said{margin:0;white-space:pre-wrap;font-size:90%}"
)


@dataclass
class Row:
    """One line of the report."""

    student: str
    notebook: str
    exercise: str
    status: str
    feedback: str = ""
    notebook_said: str = ""
    misconception: str = ""  # a fail: the named misconception matched, or "unrecognised"
    points: float = 1.0  # what the exercise is worth (registry, or the teacher's points file)
    prediction: str = ""  # predict-then-run: "hit" or "miss" (graded or recorded only)


# --------------------------------------------------------------------------- CSV
def write_csv(rows: list[Row], path: Path | str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for r in rows:
            w.writerow([_num(getattr(r, f)) if f == "points" else getattr(r, f) for f in FIELDS])


def _num(x: float) -> str:
    """``1`` for 1.0, ``1.5`` for 1.5."""
    return f"{float(x):g}"


def read_csv(path: Path | str) -> list[Row]:
    with open(path, newline="") as f:
        rows = [Row(**{k: v for k, v in row.items() if k in FIELDS}) for row in csv.DictReader(f)]
    for r in rows:
        r.points = float(r.points) if r.points not in ("", None) else 1.0
    return rows


def merge_rows(reports: list[list[Row]]) -> list[Row]:
    """The rows of several shards' reports as one report, students in name order.

    A student found in two reports is an error (the same shard given twice, or shards of
    different splits): the message names the student and does not guess which to keep."""
    owner: dict[str, int] = {}
    for k, rows in enumerate(reports):
        for r in rows:
            if owner.setdefault(r.student, k) != k:
                raise ValueError(
                    f"student {r.student!r} is in report {owner[r.student] + 1} and report {k + 1}: "
                    "merge the reports of one split (vae-course grade --shard I/N, same N), each once"
                )
    merged = [r for rows in reports for r in rows]
    order = {s: i for i, s in enumerate(sorted(owner))}
    return sorted(merged, key=lambda r: order[r.student])  # stable: each student's rows keep their order


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


class Grid(NamedTuple):
    """Who did which exercise how: the one tally behind the summary table and the class page."""

    students: list[str]  # in the order they first appear in the rows
    exercises: list[str]  # the graded exercises, in course order
    status: dict[tuple[str, str], str]  # (student, exercise) -> status

    def count(self, exercise: str) -> dict[str, int]:
        """How many students got each of REPORT_STATUSES on ``exercise``."""
        c = Counter(st for (_, e), st in self.status.items() if e == exercise)
        return {s: c.get(s, 0) for s in REPORT_STATUSES}

    def passed(self, students: list[str], exercises: list[str]) -> int:
        """How many of these (student, exercise) pairs passed."""
        return sum(self.status.get((s, e)) == "pass" for s in students for e in exercises)


def grid(rows: list[Row]) -> Grid:
    """The status of every (student, exercise) of the rows (the notebook-wide rows left out)."""
    graded = [r for r in rows if r.exercise != NOTEBOOK_ROW]
    return Grid(
        list(dict.fromkeys(r.student for r in rows)),
        sorted({r.exercise for r in graded}, key=_exercise_order),
        {(r.student, r.exercise): r.status for r in graded},
    )


def summary_table(rows: list[Row]) -> str:
    """A plain-text table: one line per student, one column per exercise, and passes out of all."""
    g = grid(rows)
    students, exercises, passed = g.students, g.exercises, g.passed
    notes = {
        s: sum(r.student == s and r.exercise == NOTEBOOK_ROW and r.status != "info" for r in rows) for s in students
    }

    header = ["student", *exercises, "passed", "notes"]
    lines = [
        [
            s,
            *(g.status.get((s, e), "-") for e in exercises),
            f"{passed([s], exercises)}/{len(exercises)}",
            str(notes[s] or ""),
        ]
        for s in students
    ]
    totals = ["passed", *(f"{passed(students, [e])}/{len(students)}" for e in exercises), "", ""]
    return _align(header, lines, totals)


# --------------------------------------------------------------------------- scores
def notebook_scores(rows: list[Row]) -> tuple[list[str], list[str], dict[tuple[str, str], tuple[float, float]]]:
    """(students, notebooks, {(student, notebook): (points scored, points possible)}): each passing
    exercise scores its points; the points possible are those of every exercise of the notebook."""
    students = list(dict.fromkeys(r.student for r in rows))
    notebooks = sorted({r.notebook for r in rows if r.exercise != NOTEBOOK_ROW} or {r.notebook for r in rows})
    total = {}
    for nb in notebooks:
        worth = {r.exercise: float(r.points) for r in rows if r.notebook == nb and r.exercise != NOTEBOOK_ROW}
        n = sum(worth.values())
        for s in students:
            mine = [r for r in rows if r.student == s and r.notebook == nb and r.exercise != NOTEBOOK_ROW]
            total[s, nb] = (sum(float(r.points) for r in mine if r.status == "pass"), n)
    return students, notebooks, total


# --------------------------------------------------------------------------- exercise kinds
def exercise_kind(exercise: str) -> str:
    """The registry's kind of an exercise (implement, derive, ...); "unknown" for an id it lacks."""
    from ..exercises import get

    try:
        return get(exercise).kind
    except KeyError:
        return "unknown"


def kind_summary(rows: list[Row], student: str | None = None) -> dict[str, dict[str, dict[str, int]]]:
    """The exercise kinds counted, per notebook number ("00", ...) and over "all":
    ``{scope: {kind: {"exercises": distinct exercises, "graded": verdicts, and each status's count}}}``,
    over the class, or over one ``student``'s rows. Kinds in the registry's order."""
    from ..exercises import KINDS

    graded = [r for r in rows if r.exercise != NOTEBOOK_ROW and (student is None or r.student == student)]
    out: dict[str, dict[str, dict[str, int]]] = {}
    seen: dict[tuple[str, str], set[str]] = {}
    for r in sorted(graded, key=lambda r: _exercise_order(r.exercise)):
        kind = exercise_kind(r.exercise)
        for scope in (r.exercise.split(".")[0], "all"):
            c = out.setdefault(scope, {}).setdefault(
                kind, {"exercises": 0, "graded": 0, **dict.fromkeys(REPORT_STATUSES, 0)}
            )
            c["graded"] += 1
            c[r.status] = c.get(r.status, 0) + 1
            if r.exercise not in seen.setdefault((scope, kind), set()):
                seen[scope, kind].add(r.exercise)
                c["exercises"] += 1
    order = {k: i for i, k in enumerate(KINDS)}
    return {
        scope: dict(sorted(kinds.items(), key=lambda kv: order.get(kv[0], len(order))))
        for scope, kinds in sorted(out.items(), key=lambda kv: (kv[0] == "all", kv[0]))
    }


def kind_line(rows: list[Row], student: str | None = None, scope: str = "all") -> str:
    """One line: each kind's exercises and the share of verdicts that passed, e.g.
    ``implement 5 (60 % passed), derive 2 (35 % passed)``."""
    kinds = kind_summary(rows, student).get(scope, {})
    return ", ".join(
        f"{k} {c['exercises']} ({100 * c['pass'] / max(1, c['graded']):.0f} % passed)" for k, c in kinds.items()
    )


def notebook_number(notebook: str) -> str:
    """``"04"`` for ``04_elbo.ipynb`` (the exercises' prefix); the name itself otherwise."""
    m = re.match(r"^(\d\d)[_\-. ]", notebook)
    return m.group(1) if m else notebook


def _stem(notebook: str) -> str:
    return notebook[:-6] if notebook.endswith(".ipynb") else notebook


def _one_line(rows: list[Row], student: str, notebook: str) -> str:
    """The feedback of one student's notebook in one line (for a gradebook's comment column)."""
    mine = [r for r in rows if r.student == student and r.notebook == notebook]
    parts = [
        f"{r.exercise} {r.status}" + (f": {r.feedback}" if r.status != "pass" and r.feedback else "") for r in mine
    ]
    return "; ".join(parts)


def write_canvas(rows: list[Row], path: Path | str) -> None:
    """A gradebook CSV in the columns Canvas's import reads (see the module's docstring)."""
    students, notebooks, score = notebook_scores(rows)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Student", "ID", "SIS User ID", "SIS Login ID", "Section", *map(_stem, notebooks)])
        w.writerow(
            ["Points Possible", "", "", "", "", *(_num(max(score[s, nb][1] for s in students)) for nb in notebooks)]
        )
        for s in students:
            w.writerow([s, "", "", s, "", *(_num(score[s, nb][0]) for nb in notebooks)])


def write_moodle(rows: list[Row], path: Path | str) -> None:
    """A gradebook CSV for Moodle's CSV grade import (see the module's docstring)."""
    students, notebooks, score = notebook_scores(rows)
    header = ["Username"]
    for nb in notebooks:
        header += [_stem(nb), f"Feedback: {_stem(nb)}"]
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for s in students:
            line = [s]
            for nb in notebooks:
                passed, n = score[s, nb]
                line += [_num(passed), f"{_num(passed)}/{_num(n)} points. {_one_line(rows, s, nb)}"]
            w.writerow(line)


EXPORTS = {"canvas": write_canvas, "moodle": write_moodle}


# --------------------------------------------------------------------------- HTML
def _rows_table(rows: list[Row], fields: tuple[str, ...]) -> str:
    head = "<table><tr>" + "".join(f"<th>{html.escape(t(f.replace('_', ' ')))}</th>" for f in fields) + "</tr>"
    body = []
    for r in rows:
        cells = []
        for f in fields:
            value = str(getattr(r, f))
            value = t(value) if f == "status" else value  # the verdict in the report's language; colour by r.status
            cells.append(
                f'<td><pre class="said">{html.escape(value)}</pre></td>'
                if f == "notebook_said"
                else f"<td>{html.escape(value)}</td>"
            )
        body.append(f'<tr style="background:{_COLOURS.get(r.status, "#fff")}">' + "".join(cells) + "</tr>")
    return head + "".join(body) + "</table>"


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html lang='{lang()}'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}</body></html>\n"
    )


def student_page_name(student: str) -> str:
    """A file name for a student's page (the folder name, with anything unusual replaced)."""
    return (re.sub(r"[^A-Za-z0-9_.-]", "_", student).strip(".") or "student") + ".html"


def write_student_pages(rows: list[Row], folder: Path | str, title: str = "vae-course feedback") -> dict[str, Path]:
    """One HTML page per student in ``folder``, with only that student's rows: a page to send on. In the
    language in force (``vae-course grade --lang zh``: vae_course/i18n.py)."""
    title = t(title)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    students, notebooks, score = notebook_scores(rows)
    pages = {}
    for s in students:
        mine = [r for r in rows if r.student == s]
        kinds = kind_summary(rows, s)

        def by_kind(scope: str, kinds: dict = kinds) -> str:
            got = ", ".join(
                t("{kind} {k} of {n}", kind=t(k), k=c["pass"], n=c["graded"]) for k, c in kinds.get(scope, {}).items()
            )
            return t(" (passed by kind: {got})", got=html.escape(got)) if got else ""

        lines = "".join(
            f"<li>{html.escape(nb)}: {t('{k} of {n} points', k=_num(score[s, nb][0]), n=_num(score[s, nb][1]))}"
            f"{by_kind(notebook_number(nb))}</li>"
            for nb in notebooks
            if any(r.notebook == nb for r in mine)
        )
        if len(kinds) > 2:  # several notebooks: the whole too
            lines += f"<li>{t('all notebooks')}{by_kind('all')}</li>"
        body = (
            f"<h1>{html.escape(title)}: {html.escape(s)}</h1><ul>{lines}</ul>"
            "<p>"
            + t(
                "Each exercise was checked by calling your function on new random inputs and comparing "
                "its results with the reference. 'notebook said' is what your own check cell printed."
            )
            + "</p>"
            + _rows_table(mine, ("notebook", "exercise", "status", "feedback", "notebook_said"))
        )
        path = folder / student_page_name(s)
        path.write_text(_page(f"{title}: {s}", body))
        pages[s] = path
    return pages


def write_html(rows: list[Row], path: Path | str, title: str = "vae-course grading report") -> None:
    """An HTML page (the summary table, then every row, coloured by status), and beside it a
    folder ``<name>-students/`` with one page per student, linked from the table."""
    path = Path(path)
    folder = path.with_name(path.stem + "-students")
    pages = write_student_pages(rows, folder)
    links = "".join(
        f'<li><a href="{html.escape(folder.name)}/{html.escape(p.name)}">{html.escape(s)}</a></li>'
        for s, p in pages.items()
    )
    body = (
        f"<h1>{html.escape(title)}</h1><pre>{html.escape(summary_table(rows))}</pre>"
        f"<h2>One page per student, to send on</h2><ul>{links}</ul><h2>Every exercise</h2>" + _rows_table(rows, FIELDS)
    )
    path.write_text(_page(title, body))
