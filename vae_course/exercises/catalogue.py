"""The README's exercise tables, made from the registry: every exercise with its kind and its named
misconceptions, and the kinds counted per notebook and overall.

``python -m vae_course.exercises.catalogue --readme README.md`` (``make exercises-readme``) rewrites the text
between the README's markers (:data:`BEGIN`, :data:`END`); ``--check`` only says whether it is current (a test
holds it current, so an exercise added to a ``nbNN.py`` needs this command, not a hand-edited row).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from . import KINDS, all_exercises

BEGIN = "<!-- exercise table: made by `python -m vae_course.exercises.catalogue --readme README.md` -->"
END = "<!-- end of the exercise table -->"
THINKING = ("derive", "predict", "interpret", "predict-then-run")  # the kinds that are not "implement"


def kind_counts() -> dict[str, Counter]:
    """{notebook "NN": Counter(kind -> exercises)} for every registered exercise, and "all"."""
    counts: dict[str, Counter] = {}
    for ex_id, ex in all_exercises().items():
        counts.setdefault(ex_id.split(".")[0], Counter())[ex.kind] += 1
    counts["all"] = sum(counts.values(), Counter())
    return counts


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def exercise_table() -> str:
    """The markdown between the markers: the exercises, then the kind counts."""
    exercises = all_exercises()
    lines = ["| id | kind | exercise | named misconceptions |", "|----|------|----------|----------------------|"]
    for ex_id, ex in exercises.items():
        named = ", ".join(f"`{m.id}`" for m in ex.misconceptions) or "-"
        title = ex.title.removesuffix(f" ({ex.kind})")  # the kind has its own column
        lines.append(f"| {ex_id} | {ex.kind} | {_cell(title)} | {_cell(named)} |")
    counts = kind_counts()
    kinds = [k for k in KINDS if counts["all"][k]]
    lines += ["", "| notebook | " + " | ".join(kinds) + " | all |", "|---" * (len(kinds) + 2) + "|"]
    for nb, c in counts.items():
        name = "**all**" if nb == "all" else nb
        lines.append(f"| {name} | " + " | ".join(str(c[k]) for k in kinds) + f" | {sum(c.values())} |")
    total = sum(counts["all"].values())
    thinking = sum(counts["all"][k] for k in THINKING)
    named = sum(bool(ex.misconceptions) for ex in exercises.values())
    lines += [
        "",
        f"{thinking} of the {total} exercises ({100 * thinking / max(1, total):.0f} %) ask to derive, predict or "
        f"interpret (predict-then-run included); {named} of the {total} name the usual wrong answers "
        f"({sum(len(ex.misconceptions) for ex in exercises.values())} named misconceptions in all).",
    ]
    return "\n".join(lines)


def rewrite(text: str) -> str:
    """``text`` (the README) with the table between the markers made afresh."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"the README has no exercise-table markers: {BEGIN!r} ... {END!r}")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{exercise_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--readme", type=Path, default=Path("README.md"), help="the README to rewrite")
    parser.add_argument("--check", action="store_true", help="only say whether the table is current (exit 1 if not)")
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    new = rewrite(text)
    if args.check:
        if new != text:
            print(f"{args.readme}: the exercise table is out of date; run python -m vae_course.exercises.catalogue")
            return 1
        print(f"{args.readme}: the exercise table is current")
        return 0
    if new != text:
        args.readme.write_text(new)
        print(f"{args.readme}: exercise table rewritten ({len(all_exercises())} exercises)")
    else:
        print(f"{args.readme}: exercise table already current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
