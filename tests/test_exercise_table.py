"""The README's exercise table is the registry's (made by ``python -m vae_course.exercises.catalogue``),
with the kinds counted; and a check's printed verdict ends with one full stop, never two."""

from __future__ import annotations

import io
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from vae_course import exercises
from vae_course.exercises import catalogue

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_exercise_table_is_the_registry_s():
    text = README.read_text()
    assert catalogue.rewrite(text) == text, (
        "the README's exercise table is out of date: run "
        "`.venv/bin/python -m vae_course.exercises.catalogue --readme README.md`"
    )


def test_the_table_counts_every_kind_per_notebook_and_overall():
    counts = catalogue.kind_counts()
    ids = exercises.all_exercises()
    assert sum(counts["all"].values()) == len(ids)
    for nb in {e.split(".")[0] for e in ids}:
        assert sum(counts[nb].values()) == sum(e.startswith(nb + ".") for e in ids)
    lines = catalogue.exercise_table().splitlines()
    header = next(line for line in lines if line.startswith("| notebook |"))
    assert all(f" {kind} |" in header for kind in counts["all"])
    total = next(line for line in lines if line.startswith("| **all** |"))
    assert total.endswith(f" {len(ids)} |")


def test_the_readme_names_every_predict_then_run_exercise():
    # the teachers' section lists the notebooks' predict-then-run exercises by id
    line = next(line for line in README.read_text().splitlines() if "the notebooks use the kind in" in line)
    named = set(re.findall(r"\b\d\d\.\d+\b", line.split("the notebooks use the kind in", 1)[1]))
    ids = exercises.all_exercises()
    kinds = {e: exercises.REGISTRY[e].kind for e in ids if not e.startswith("99.")}
    assert named == {e for e, kind in kinds.items() if kind == "predict-then-run"}, named ^ {
        e for e, kind in kinds.items() if kind == "predict-then-run"
    }


def test_rewrite_refuses_a_readme_without_markers():
    with pytest.raises(ValueError, match="markers"):
        catalogue.rewrite("# a README without the table\n")


@pytest.fixture
def scratch_exercise():
    made = []

    def register(ex_id, **kw):
        made.append(ex_id)
        return exercises.register_prediction(ex_id, "a scratch prediction", **kw)

    yield register
    for ex_id in made:
        exercises.REGISTRY.pop(ex_id, None)


@pytest.mark.parametrize("graded", [True, False])
def test_a_predict_then_run_pass_line_ends_with_one_full_stop(scratch_exercise, graded):
    scratch_exercise(
        "99.91" if graded else "99.92",
        experiment=lambda g=None: 2.0,
        form="number",
        tol=0.5,
        explain="Doubling one gives two.",
        graded=graded,
    )
    out = io.StringIO()
    with redirect_stdout(out):
        exercises.check("99.91" if graded else "99.92", lambda: 2.1)
    line = out.getvalue().strip()
    assert line.endswith("gives two.") and ".." not in line, line


def test_a_pass_line_without_a_full_stop_gets_one(scratch_exercise):
    scratch_exercise("99.93", experiment=lambda g=None: 2.0, form="number", tol=0.5)
    out = io.StringIO()
    with redirect_stdout(out):
        exercises.check("99.93", lambda: 2.0)
    assert out.getvalue().strip().endswith("a good prediction.") and ".." not in out.getvalue()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("probes its codes.)", "probes its codes.)"),
        ("see 04.2)", "see 04.2)."),
        ("one stop.", "one stop."),
        ("none", "none."),
    ],
)
def test_a_closing_bracket_after_a_full_stop_takes_no_second_one(text, expected):
    assert exercises._sentence(text) == expected
