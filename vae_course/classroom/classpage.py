"""The class page: what a class got right and wrong, on one offline HTML file, and a CSV of it.

``vae-course grade`` writes ``REPORT-class.html`` and ``REPORT-class.csv`` beside its report
(:func:`write_class_page`). Per exercise: the shares of pass / fail / not attempted / timeout /
error (a bar chart and a table), the named misconceptions matched (the registry's teacher line,
and how many students each), the solutions viewed (where the notebook recorded them) and, for
predict-then-run exercises, how many predictions were right. Per student: one line with the
score in points. Notebook-level problems (a corrupt file, no notebook) are listed by student.
The plots are matplotlib PNGs embedded as base64 (no network, no other file); fonts and sizes
are set for a projector. Hints are not reported: the grader does not see which hints were shown.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter, defaultdict
from pathlib import Path

from ..exercises import REGISTRY, UNRECOGNISED, get
from .report import (
    NOTEBOOK_ROW,
    REPORT_STATUSES,
    Row,
    _num,
    exercise_kind,
    grid,
    kind_summary,
    notebook_scores,
)

_BAR_COLOURS = {
    "pass": "#3a9d3a",
    "fail": "#d64545",
    "not attempted": "#b0b0b0",
    "timeout": "#f08c2e",
    "error": "#e6c229",
}
_STYLE = (
    "body{font-family:sans-serif;font-size:20px;max-width:1300px;margin:auto;padding:1em;color:#111}"
    "h1{font-size:34px}h2{font-size:28px;margin-top:1.4em;border-bottom:2px solid #999}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #888;padding:6px 12px;text-align:left}"
    "th{background:#eee}td.n{text-align:right;white-space:nowrap}img{max-width:100%}.muted{color:#555;font-size:17px}"
)


def _title(ex_id: str) -> str:
    """The exercise's title, without a "(derive)"-style suffix the kind column already says."""
    try:
        ex = get(ex_id)
    except KeyError:
        return ""
    return ex.title.removesuffix(f" ({ex.kind})")


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _plots(exercises: list[str], shares: dict, scores: list[float], possible: float) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.size": 16, "axes.titlesize": 18, "axes.labelsize": 16}):
        fig, ax = plt.subplots(figsize=(12, 0.7 * len(exercises) + 1.6))
        left = [0.0] * len(exercises)
        labels = [f"{e}  " + (t if len(t := _title(e)) <= 34 else t[:33] + "…") for e in exercises]
        for status in REPORT_STATUSES:
            widths = [100 * shares[e][status] for e in exercises]
            ax.barh(labels, widths, left=left, color=_BAR_COLOURS[status], label=status, edgecolor="white")
            left = [a + b for a, b in zip(left, widths)]
        ax.margins(y=0.01)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel("% of the class (the students who handed in the notebook)")
        ax.legend(ncol=5, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
        ax.set_title("Each exercise: what the class handed in", pad=40)
        bars = _png(fig)
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(12, 4))
        # one bar per whole point (scores are sums of points): bins centred on 0, 1, 2, ... (20 at most)
        width = max(1.0, float(possible) / 20)
        edges = [-width / 2 + i * width for i in range(int(float(possible) / width) + 2)]
        ax.hist(scores, bins=edges, color="#3a6fb0", edgecolor="white")
        ax.set_xlabel(f"score (points, out of {_num(possible)})")
        ax.set_ylabel("students")
        ax.set_title("Scores")
        hist = _png(fig)
        plt.close(fig)
    return bars, hist


def class_summary(rows: list[Row]) -> dict:
    """The numbers of the class page (also used by the CSV and the tests)."""
    g = grid(rows)
    students, exercises = g.students, g.exercises
    graded = [r for r in rows if r.exercise != NOTEBOOK_ROW]
    shares, counts, misconceptions, predictions, viewed = {}, {}, {}, {}, defaultdict(set)
    for e in exercises:
        mine = [r for r in graded if r.exercise == e]
        counts[e] = g.count(e)
        shares[e] = {s: n / max(1, sum(counts[e].values())) for s, n in counts[e].items()}
        misconceptions[e] = Counter(r.misconception for r in mine if r.status == "fail" and r.misconception)
        made = [r for r in mine if r.prediction]
        if made or (REGISTRY.get(e) is not None and REGISTRY[e].prediction):
            predictions[e] = (sum(r.prediction == "hit" for r in made), len(made))
    for r in rows:
        if r.exercise == NOTEBOOK_ROW and r.status == "info" and r.feedback.startswith("solution viewed for "):
            viewed[r.feedback.removeprefix("solution viewed for ")].add(r.student)
    _, notebooks, score = notebook_scores(rows)
    per_student = {
        s: (sum(score[s, nb][0] for nb in notebooks), sum(score[s, nb][1] for nb in notebooks)) for s in students
    }
    possible = max((p for _, p in per_student.values()), default=0.0)
    problems = [r for r in rows if r.exercise == NOTEBOOK_ROW and r.status == "error"]
    return {
        "students": students,
        "exercises": exercises,
        "counts": counts,
        "shares": shares,
        "misconceptions": misconceptions,
        "predictions": predictions,
        "viewed": {e: len(v) for e, v in viewed.items()},
        "scores": per_student,
        "possible": possible,
        "problems": problems,
        "statuses": g.status,
        "kinds": kind_summary(rows),
    }


def _teacher_line(ex_id: str, mid: str) -> str:
    if mid == UNRECOGNISED:
        return "a wrong answer none of the named misconceptions describes"
    try:
        m = get(ex_id).misconception(mid)
    except KeyError:
        m = None
    return m.teacher if m else ""


def write_class_page(rows: list[Row], path: Path | str, csv_path: Path | str | None = None) -> dict:
    """Write the class page (one offline HTML file) and, with ``csv_path``, its CSV; returns the summary."""
    k = class_summary(rows)
    exercises, n = k["exercises"], len(k["students"])
    esc = html.escape
    parts = [f"<h1>Class page: {n} students, {len(exercises)} exercises</h1>"]
    if exercises:
        bars, hist = _plots(exercises, k["shares"], [s for s, _ in k["scores"].values()], k["possible"])
        parts.append(bars)
        head = "".join(f"<th>{esc(s)}</th>" for s in REPORT_STATUSES)
        body = ""
        for e in exercises:
            cells = "".join(
                f'<td class="n">{k["counts"][e][s]} ({100 * k["shares"][e][s]:.0f}%)</td>' for s in REPORT_STATUSES
            )
            body += f"<tr><td>{esc(e)}</td><td>{esc(_title(e))}</td><td>{esc(exercise_kind(e))}</td>{cells}</tr>"
        parts.append(f"<table><tr><th>exercise</th><th>title</th><th>kind</th>{head}</tr>{body}</table>")
        parts.append(_kinds_table(k["kinds"]))
        parts.append("<h2>What the class misunderstood</h2>")
        lines = ""
        for e in exercises:
            for mid, c in k["misconceptions"][e].most_common():
                lines += (
                    f'<tr><td>{esc(e)}</td><td>{esc(mid)}</td><td>{esc(_teacher_line(e, mid))}</td><td class="n">'
                    f"{c} student{'s' if c != 1 else ''}</td></tr>"
                )
        parts.append(
            f"<table><tr><th>exercise</th><th>misconception</th><th>what it means</th><th>how many</th></tr>{lines}"
            "</table>"
            if lines
            else "<p>No failing answer in this class.</p>"
        )
        if k["predictions"]:
            parts.append("<h2>Predictions (predict-then-run)</h2><table><tr><th>exercise</th><th>right</th></tr>")
            for e, (hit, made) in k["predictions"].items():
                share = f" ({100 * hit / made:.0f}%)" if made else ""
                parts.append(f'<tr><td>{esc(e)}</td><td class="n">{hit} of {made} predictions{share}</td></tr>')
            parts.append("</table>")
        parts.append("<h2>Solutions viewed and hints</h2>")
        viewed = ", ".join(f"{esc(e)}: {c}" for e, c in sorted(k["viewed"].items())) or "none recorded"
        parts.append(
            f"<p>Solutions viewed (students): {viewed}.</p><p class='muted'>Hints used are not recorded: the grader "
            "does not see which hints a learner opened.</p>"
        )
        parts.append("<h2>Scores</h2>" + hist)
    lines = ""
    for s in k["students"]:
        got, possible = k["scores"][s]
        marks = " ".join(
            {"pass": "✔", "fail": "✘", "not attempted": "·", "timeout": "◔", "error": "!"}.get(
                k["statuses"].get((s, e), ""), "-"
            )
            for e in exercises
        )
        lines += f'<tr><td>{esc(s)}</td><td class="n">{_num(got)} / {_num(possible)}</td><td>{esc(marks)}</td></tr>'
    parts.append(
        "<h2>Students</h2><p class='muted'>✔ pass, ✘ fail, · not attempted, ◔ timeout, ! error; one mark per "
        f"exercise ({', '.join(map(esc, exercises))}).</p>"
        f"<table><tr><th>student</th><th>points</th><th>exercises</th></tr>{lines}</table>"
    )
    if k["problems"]:
        parts.append("<h2>Submissions with a problem</h2><table><tr><th>student</th><th>what</th></tr>")
        parts += [f"<tr><td>{esc(r.student)}</td><td>{esc(r.feedback)}</td></tr>" for r in k["problems"]]
        parts.append("</table>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Class page</title>"
        f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )
    Path(path).write_text(page)
    if csv_path is not None:
        _write_csv(k, csv_path)
    return k


def _kinds_table(kinds: dict) -> str:
    """Per notebook and overall: each kind's number of exercises and the share of verdicts that passed."""
    names = list(kinds.get("all", {}))  # the registry's order of kinds
    if not names:
        return ""
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    body = ""
    for scope, counts in kinds.items():
        cells = ""
        for n in names:
            c = counts.get(n)
            cells += (
                f'<td class="n">{c["exercises"]} ({100 * c["pass"] / max(1, c["graded"]):.0f}% passed)</td>'
                if c
                else '<td class="n">-</td>'
            )
        label = "all notebooks" if scope == "all" else f"notebook {scope}"
        body += f"<tr><td>{'<b>' + label + '</b>' if scope == 'all' else label}</td>{cells}</tr>"
    return (
        "<h2>Exercise kinds</h2><p class='muted'>Exercises of each kind, and the share of the class's verdicts on "
        "them that passed.</p>"
        f"<table><tr><th></th>{head}</tr>{body}</table>"
    )


def _write_csv(k: dict, path: Path | str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["section", "id", "title", *REPORT_STATUSES, "detail"])
        for e in k["exercises"]:
            hit, made = k["predictions"].get(e, (0, 0))
            detail = f"predictions right {hit}/{made}" if e in k["predictions"] else ""
            if k["viewed"].get(e):
                detail = (detail + "; " if detail else "") + f"solutions viewed {k['viewed'][e]}"
            w.writerow(["exercise", e, _title(e), *(k["counts"][e][s] for s in REPORT_STATUSES), detail])
        for e in k["exercises"]:
            for mid, c in k["misconceptions"][e].most_common():
                w.writerow(["misconception", f"{e} {mid}", _teacher_line(e, mid), "", c, "", "", "", ""])
        for scope, counts in k["kinds"].items():
            for kind, c in counts.items():
                detail = f"{c['exercises']} exercise{'s' if c['exercises'] != 1 else ''}"
                w.writerow(["kind", scope, kind, *(c[s] for s in REPORT_STATUSES), detail])
        for s, (got, possible) in k["scores"].items():
            w.writerow(["student", s, "", "", "", "", "", "", f"{_num(got)}/{_num(possible)} points"])
