import json

import pytest
import torch

from vae_course import exercises
from vae_course.exercises import ExerciseFailed, Feedback, case, check, compare


def good_rms(a, b):
    return (a - b).pow(2).flatten(1).mean(dim=1).sqrt()


def test_correct_solution_passes_and_is_recorded(tmp_path, monkeypatch, capsys):
    log = tmp_path / "results.jsonl"
    monkeypatch.setenv("VAE_COURSE_RESULTS", str(log))
    result = check("00.1", good_rms)
    assert result.passed and "passed" in capsys.readouterr().out
    assert json.loads(log.read_text()) == {"exercise": "00.1", "status": "pass", "feedback": result.feedback}


def test_stub_is_not_attempted_not_a_traceback(capsys):
    def stub(a, b):
        raise NotImplementedError("write me")

    result = check("00.1", stub)
    assert result.status == "not attempted"
    assert "not attempted yet" in capsys.readouterr().out


@pytest.mark.parametrize("fn,words", [
    (lambda a, b: (a - b).pow(2).mean().sqrt(), "has shape (); expected (4,)"),
    (lambda a, b: (a - b).pow(2).flatten(1).mean(dim=1), "is wrong at index (0,)"),
    (lambda a, b: good_rms(a, b).tolist(), "should be a torch.Tensor, but it is a list"),
    (lambda a, b: good_rms(a, b).long(), "dtype torch.int64"),
])
def test_wrong_solutions_get_specific_feedback(fn, words):
    with pytest.raises(ExerciseFailed) as e:
        check("00.1", fn)
    assert words in str(e.value) and "on input (" in str(e.value) and "Hint:" in str(e.value)


def test_crashing_solution_is_an_error_with_its_message(tmp_path, monkeypatch):
    log = tmp_path / "r.jsonl"
    monkeypatch.setenv("VAE_COURSE_RESULTS", str(log))
    with pytest.raises(ExerciseFailed, match="raised ZeroDivisionError"):
        check("00.1", lambda a, b: 1 / 0)
    assert json.loads(log.read_text())["status"] == "error"


def test_failure_shows_no_traceback_in_ipython():
    assert ExerciseFailed("x")._render_traceback_() == ["\x1b[31mx\x1b[0m"]


def test_unknown_exercise_lists_known_ones():
    with pytest.raises(KeyError, match="00.1"):
        check("00.9", good_rms)


def test_compare_edge_cases():
    compare(1.0, 1.0 + 1e-9)
    with pytest.raises(Feedback, match="should be a number"):
        compare("a", 1.0)
    with pytest.raises(Feedback, match=r"result\[1\]"):
        compare((torch.zeros(2), torch.ones(2)), (torch.zeros(2), torch.zeros(2)))
    with pytest.raises(Feedback, match="NaN"):
        compare(torch.tensor([float("nan")]), torch.tensor([1.0]))


def test_custom_checker_and_registration_rules():
    def checker(fn):
        if fn(2) != 4:
            raise Feedback(f"square(2) should be 4, got {fn(2)}")
        return "square works"

    exercises.register("99.1", "square", checker=checker)
    assert check("99.1", lambda v: v * v).feedback == "square works"
    with pytest.raises(ExerciseFailed, match="should be 4, got 3"):
        check("99.1", lambda v: v + 1)
    with pytest.raises(ValueError):
        exercises.register("99.2", "bad", reference=good_rms)
    exercises.REGISTRY.pop("99.1")


def test_every_registered_exercise_passes_with_its_own_reference():
    for ex_id, ex in exercises.all_exercises().items():
        if ex.reference is not None:
            assert exercises.compare_on_cases(ex.reference, ex.reference, ex.cases(), ex.atol, ex.rtol) > 0, ex_id
