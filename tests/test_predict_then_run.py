"""The predict-then-run kind: a registry entry used only by these tests (the course notebooks are
being rewritten elsewhere), judged for each form of prediction, graded or recorded only."""

from __future__ import annotations

import pytest
import torch

from vae_course.exercises import REGISTRY, Misconception, evaluate, register_prediction


def _mean_of_uniforms(g=None):
    g = g if g is not None else torch.Generator().manual_seed(0)
    return torch.rand(200_000, generator=g).mean().item()


@pytest.fixture(autouse=True)
def test_only_entries():
    """Register the test-only entries for each test and remove them after, so the course's registry
    that other test files read (every exercise has a misconception, a broken import is reported...)
    never sees them."""
    register_prediction(
        "99.1",
        "predict the mean of many uniform draws",
        experiment=_mean_of_uniforms,
        form="number",
        tol=0.01,
        explain="A U(0, 1) draw has mean 1/2, and the mean of many draws settles there.",
        misconceptions=(Misconception("variance", "gave the variance 1/12", "1/12 is the variance.", lambda: 1 / 12),),
    )
    register_prediction("99.2", "an interval", experiment=_mean_of_uniforms, form="interval", max_width=0.2)
    register_prediction(
        "99.3",
        "a choice",
        experiment=lambda g=None: "a",
        form="choice",
        options={"a": "it settles at 1/2 (law of large numbers).", "b": "it does not drift to 1."},
        graded=False,
    )
    yield
    for key in ("99.1", "99.2", "99.3"):
        REGISTRY.pop(key, None)


def test_a_number_prediction_is_compared_and_the_gap_explained_either_way():
    right = evaluate("99.1", lambda: 0.5)
    assert right.status == "pass" and "the experiment gave 0.5" in right.feedback and "mean 1/2" in right.feedback
    assert right.extra["prediction"] == "hit"
    wrong = evaluate("99.1", lambda: 1 / 12)
    assert wrong.status == "fail" and wrong.misconception == "variance" and "too low" in wrong.feedback
    assert "mean 1/2" in wrong.feedback and wrong.extra["prediction"] == "miss"
    assert evaluate("99.1", lambda: 0.9).misconception == "unrecognised"
    assert evaluate("99.1", lambda: "half").status == "fail"


def test_not_attempted_interval_and_choice():
    def stub():
        raise NotImplementedError

    assert evaluate("99.1", stub).status == "not attempted"
    assert evaluate("99.2", lambda: (0.4, 0.6)).status == "pass"
    assert evaluate("99.2", lambda: (0.6, 0.7)).status == "fail"
    assert "wider than" in evaluate("99.2", lambda: (-10, 10)).feedback
    recorded = evaluate("99.3", lambda: "b")
    assert recorded.status == "pass" and recorded.extra["prediction"] == "miss" and "not graded" in recorded.feedback
    # the chosen option's text starts a new sentence after "the experiment shows (a)."
    assert "the experiment shows (a). It does not drift to 1." in recorded.feedback, recorded.feedback


def test_the_teacher_decides_graded_or_recorded():
    assert evaluate("99.1", lambda: 0.9, graded=False).status == "pass"
    assert evaluate("99.3", lambda: "b", graded=True).status == "fail"
