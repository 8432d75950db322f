"""Progressive hints, solutions for self-study, exercise kinds, and the answers-as-data exercises
(issue 14): every exercise passes with its solution, reads "not attempted" as a stub, and no hint
quotes solution code."""

import inspect
import math
import re
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn.functional as F

from tests.course import NOTEBOOKS
from vae_course import exercises
from vae_course.classroom.student import quoted_code, solution_lines
from vae_course.exercises import ExerciseFailed, check, hint, solution, solutions_shown

ALL = exercises.all_exercises()


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    """Each test starts with no hint shown, no solution shown, and solutions on."""
    monkeypatch.setattr(exercises, "_HINTS_SHOWN", {})
    monkeypatch.setattr(exercises, "_SOLUTIONS_SHOWN", [])
    monkeypatch.setattr(exercises, "_SOLUTIONS_OFF", [])


def _solution_function(ex):
    """The function that ``solution(ex.id)`` shows: defined from its code where it is given as
    code, else the package function whose source it shows (the reference, or the one solving it)."""
    if not ex.solution:
        if ex.reference is not None and ex.reference.__name__ != "<lambda>":
            return ex.reference
        scope = getattr(ex.reference or ex.checker, "__globals__", {})
        return next(scope[n] for n in ex.solved_by if inspect.isfunction(scope.get(n)))
    scope = {"torch": torch, "F": F, "math": math}
    names = re.findall(r"^def (\w+)\(", ex.solution, re.M)
    exec(compile(ex.solution, f"<solution {ex.id}>", "exec"), scope)
    return scope[names[0]]


# --------------------------------------------------------------------------- the set of exercises
def test_every_notebook_has_two_exercises_one_of_which_is_not_just_implement():
    by_notebook = {}
    for ex_id, ex in ALL.items():
        assert ex.kind in exercises.KINDS, ex_id
        by_notebook.setdefault(ex_id.split(".")[0], []).append(ex.kind)
    assert sorted(by_notebook) == [f"0{n}" for n in range(10)]
    for nb, kinds in by_notebook.items():
        assert len(kinds) >= 2, nb
        assert set(kinds) & {"derive", "predict", "interpret"}, f"notebook {nb} has only implement exercises"


def test_every_exercise_has_progressive_hints_a_solution_and_an_explanation():
    for ex_id, ex in ALL.items():
        assert ex.hints, ex_id
        assert ex.solution_text().strip(), f"{ex_id}: solution() would show no code"
        assert len(ex.explanation) > 40, f"{ex_id}: solution() needs a short explanation"


@pytest.mark.parametrize("ex_id", sorted(ALL))
def test_every_exercise_passes_with_its_solution_and_is_not_attempted_as_a_stub(ex_id):
    ex = ALL[ex_id]
    fn = _solution_function(ex)
    result = exercises.evaluate(ex_id, fn)
    assert result.passed, result.feedback
    n_args = len(inspect.signature(fn).parameters)

    def stub(*args, **kwargs):
        raise NotImplementedError("write me")

    stub.__signature__ = inspect.signature(fn)
    assert exercises.evaluate(ex_id, stub).status == "not attempted"
    if n_args == 0:  # an answer that is data: a wrong one fails, with feedback
        assert exercises.evaluate(ex_id, lambda: -1.0 if ex.kind == "predict" else "z").status == "fail"


# --------------------------------------------------------------------------- no hint gives it away
CODE_LIKE = re.compile(r"\w\.\w+\(|\)\.\w+|\[:, *None|torch\.\w+\(|\.detach\(\)")


def _notebook_solution_lines():
    lines = []
    for path in NOTEBOOKS:
        inside, outside = solution_lines(nbformat.read(path, as_version=4))
        lines += [line for line in inside if line not in outside]
    return lines


NOTEBOOK_CODE = _notebook_solution_lines()


@pytest.mark.parametrize("ex_id", sorted(ALL))
def test_no_hint_quotes_solution_code(ex_id):
    ex = ALL[ex_id]
    own = [line.strip() for line in ex.solution_text().split("\n") if line.strip()]
    own = [line for line in own if not line.startswith(("#", "def ", '"', "'"))]
    for k, text in enumerate(ex.hints, 1):
        assert quoted_code(text, NOTEBOOK_CODE + own) == [], f"hint {k} of {ex_id} quotes the solution"
        assert not CODE_LIKE.search(text), f"hint {k} of {ex_id} reads like code: {text!r}"


def test_the_leak_test_would_catch_the_old_kind_of_hint():
    code = ["return (a - b).pow(2).flatten(1).mean(dim=1).sqrt()"]
    assert quoted_code("just write return (a-b).pow(2).flatten(1).mean(dim=1).sqrt() here", code)
    assert CODE_LIKE.search("z_e + (z_q - z_e).detach(): in the forward pass")


# --------------------------------------------------------------------------- hints, one at a time
def test_failed_check_shows_the_first_hint_and_hint_the_next(capsys):
    ex = exercises.get("00.1")
    with pytest.raises(ExerciseFailed) as e:
        check("00.1", lambda a, b: (a - b).pow(2).mean().sqrt())
    assert ex.hints[0] in str(e.value) and ex.hints[1] not in str(e.value)
    assert 'hint("00.1")' in str(e.value)
    assert ex.hints[1] in hint("00.1") and "hint 2 of 3" in capsys.readouterr().out
    assert ex.hints[2] in hint("00.1")
    last = hint("00.1")
    assert "last hint" in last and 'solution("00.1")' in last


def test_hint_before_any_check_starts_at_the_first():
    first = hint("04.7")
    assert "hint 1 of" in first and exercises.get("04.7").hints[0] in first
    assert "hint 2 of" in hint("04.7")


# --------------------------------------------------------------------------- solutions
def test_solution_shows_code_and_explanation_and_is_recorded(capsys):
    assert solutions_shown() == []
    text = solution("02.5")
    assert "return 0.05**0.5" in text and "Why:" in text and "fixed-variance VAE" in text
    solution("02.5")
    solution("00.1")
    assert solutions_shown() == ["02.5", "00.1"]
    assert "rms_distance" in capsys.readouterr().out


def test_solutions_can_be_turned_off():
    exercises.disable_solutions()
    text = solution("00.1")
    assert "turned off" in text and "rms_distance" not in text
    assert solutions_shown() == []
    assert "solution(" not in hint("00.2") + hint("00.2") + hint("00.2") + hint("00.2")


# --------------------------------------------------------------------------- answers that are data
@pytest.mark.parametrize(
    "ex_id, answer, words",
    [
        ("00.3", (1 / 12) ** 0.5, "spread of ONE uniform pixel"),
        ("00.3", 0.9, "too high"),
        ("02.5", 0.5, "encoder's noise"),
        ("03.2", 0.3, "already 0"),
        ("07.1", 3, "one of the letters"),
        ("08.4", 69, "halves the count"),
        ("08.4", "1146", "should be a number"),
        ("08.2", "c", "no centroid to jump to"),
    ],
)
def test_wrong_predictions_and_choices_get_feedback_that_teaches(ex_id, answer, words):
    result = exercises.evaluate(ex_id, lambda: answer)
    assert result.status == "fail" and words in result.feedback


def test_an_answer_function_that_needs_arguments_is_told_so():
    result = exercises.evaluate("00.3", lambda x: 0.4)
    assert result.status == "fail" and "no arguments" in result.feedback


def test_predictions_are_judged_on_fresh_inputs_too():
    for ex_id, answer in (("00.3", (1 / 6) ** 0.5), ("02.5", 0.05**0.5), ("03.2", 0.06), ("08.4", 1146.0)):
        assert exercises.evaluate(ex_id, lambda a=answer: a, torch.Generator().manual_seed(31)).passed


def test_the_ema_update_matches_the_models_update_with_its_smoothing():
    from vae_course.models.vq import VectorQuantizer

    q = VectorQuantizer(5, 3, ema=True, decay=0.9, eps=1e-5)
    g = torch.Generator().manual_seed(0)
    flat, idx = torch.randn(20, 3, generator=g), torch.randint(0, 5, (20,), generator=g)
    before_count, before_sum = q.ema_count.clone(), q.ema_sum.clone()
    q._ema_update(flat, idx, torch.bincount(idx, minlength=5))
    count, total, codes = exercises.get("08.3").reference(flat, idx, before_count, before_sum, 0.9)
    assert torch.allclose(count, q.ema_count) and torch.allclose(codes, q.codebook.data, atol=1e-6)


def test_the_ema_update_keeps_a_never_used_code_finite():
    count = torch.tensor([2.0, 0.0, 1.0], dtype=torch.float64)  # code 1: never used
    total = torch.tensor([[1.0], [0.0], [2.0]], dtype=torch.float64)
    z, idx = torch.tensor([[0.5]], dtype=torch.float64), torch.tensor([0])
    count, total, codes = exercises.get("08.3").reference(z, idx, count, total, 0.9)
    assert torch.isfinite(codes).all() and codes[1].item() == 0.0


def test_the_readme_lists_every_exercise_with_its_kind():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Exercises\n") :]
    section = section[: section.index("\n## ", 5)]
    rows = dict(re.findall(r"^\| (\d\d\.\d+) \| ([\w-]+) \|", section, re.M))
    assert rows == {ex_id: ex.kind for ex_id, ex in ALL.items()}
