"""Exercise checks: the verdicts and feedback of ``check``, the registry, and the references
themselves (against independent implementations, and against answers nudged off them)."""

import math

import pytest
import torch

from vae_course import exercises
from vae_course.exercises import ExerciseFailed, Feedback, check, compare


def good_rms(a, b):
    return (a - b).pow(2).flatten(1).mean(dim=1).sqrt()


def test_correct_solution_passes(capsys):
    result = check("00.1", good_rms)
    assert result.passed and result.status == "pass" and "passed" in capsys.readouterr().out


def test_stub_is_not_attempted_not_a_traceback_and_shows_no_hint(capsys):
    def stub(a, b):
        raise NotImplementedError("write me")

    result = check("00.1", stub)
    assert result.status == "not attempted"
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "Hint" not in out and exercises.get("00.1").hints[0] not in out


@pytest.mark.parametrize(
    "fn,words",
    [
        (lambda a, b: (a - b).pow(2).mean().sqrt(), "has shape (); expected (4,)"),
        (lambda a, b: (a - b).pow(2).flatten(1).mean(dim=1), "is wrong at index (0,)"),
        (lambda a, b: good_rms(a, b).tolist(), "should be a torch.Tensor, but it is a list"),
        (lambda a, b: good_rms(a, b).long(), "dtype torch.int64"),
    ],
)
def test_wrong_solutions_get_specific_feedback(fn, words):
    with pytest.raises(ExerciseFailed) as e:
        check("00.1", fn)
    assert words in str(e.value) and "on input (" in str(e.value) and "Hint:" in str(e.value)


def test_crashing_solution_is_an_error_with_its_message():
    with pytest.raises(ExerciseFailed, match="raised ZeroDivisionError"):
        check("00.1", lambda a, b: 1 / 0)
    assert exercises.evaluate("00.1", lambda a, b: 1 / 0).status == "error"


def test_failure_shows_its_message_and_no_traceback_in_ipython(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        shell.run_cell("from vae_course.exercises import ExerciseFailed\nraise ExerciseFailed('your result is wrong')")
    finally:
        InteractiveShell.clear_instance()  # later tests in this process must not run "inside IPython"
    shown = "".join(capsys.readouterr())
    assert "your result is wrong" in shown and "Traceback" not in shown and "ExerciseFailed" not in shown


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


def test_custom_checker_and_registration_rules(monkeypatch):
    def checker(fn):
        if fn(2) != 4:
            raise Feedback(f"square(2) should be 4, got {fn(2)}")
        return "square works"

    # a private copy of the whole registry (every notebook's module loaded first, so none registers
    # into the copy): whatever this test registers is gone after it, even when it fails midway
    monkeypatch.setattr(exercises, "REGISTRY", exercises.all_exercises())
    exercises.register("99.1", "square", checker=checker)
    assert check("99.1", lambda v: v * v).feedback == "square works"
    with pytest.raises(ExerciseFailed, match="should be 4, got 3"):
        check("99.1", lambda v: v + 1)
    with pytest.raises(ValueError):
        exercises.register("99.2", "bad", reference=good_rms)


# Implementations written here from each exercise's statement, independent of the package's
# references: each must pass its check, so a wrong reference (or wrong cases) fails here.
INDEPENDENT = {
    "00.1": good_rms,
    "00.2": lambda phases, n_classes=8: torch.round(torch.as_tensor(phases) * n_classes).long() % n_classes,
    "02.1": lambda z0, z1, steps: torch.stack([z0 + (z1 - z0) * k / (steps - 1) for k in range(steps)]),
    "02.2": lambda x, refs: (
        torch.cdist(x.flatten(1).double(), refs.flatten(1).double()).min(1).values.float() / x[0].numel() ** 0.5
    ),
    "04.7": lambda mu, logvar: 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(-1),
    "06.1": lambda mu, logvar, eps: mu + logvar.exp().sqrt() * eps,
    "06.5": lambda w: (w - w.max(0).values).exp().mean(0).log() + w.max(0).values,
    "06.2": lambda mu, logvar: (mu * 1.0, (logvar.exp() - 1) / 2),
    "07.2": lambda x, logits, mu, logvar, pm, plv: (
        torch.distributions.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
        - torch.distributions.kl_divergence(
            torch.distributions.Normal(mu, (logvar / 2).exp()), torch.distributions.Normal(pm, (plv / 2).exp())
        ).sum(-1)
    ),
    "07.3": lambda mu, logvar: (mu.mean(0), (mu.var(0, unbiased=False) + logvar.exp().mean(0)).log()),
    "08.3": lambda z, idx, count, total, decay: _ema_loop(z, idx, count, total, decay),
    "08.1": lambda n: torch.stack([torch.tensor(0.5 / float(v), dtype=torch.float64) for v in n]),
}


def _ema_loop(z, idx, count, total, decay):
    count, total = count.clone(), total.clone()
    for k in range(len(count)):
        mine = z[idx == k]
        count[k] = decay * count[k] + (1 - decay) * len(mine)
        total[k] = decay * total[k] + (1 - decay) * mine.sum(0)
    n = count.sum()
    smoothed = (count + 1e-5) / (n + len(count) * 1e-5) * n  # Laplace smoothing, as in VectorQuantizer
    return count, total, total / smoothed[:, None]


@pytest.mark.parametrize("ex_id", sorted(INDEPENDENT))
def test_reference_agrees_with_an_independent_implementation(ex_id):
    assert check(ex_id, INDEPENDENT[ex_id]).passed


def _nudged(value):
    """A wrong answer near the right one: floats off by 0.5, integers by 1, booleans flipped."""
    if isinstance(value, tuple):
        return (_nudged(value[0]), *value[1:])
    if isinstance(value, torch.Tensor):
        return ~value if value.dtype == torch.bool else value + (0.5 if value.is_floating_point() else 1)
    return value + 0.5 if isinstance(value, float) else value + 1


@pytest.mark.parametrize("ex_id", [e for e, ex in exercises.all_exercises().items() if ex.reference is not None])
def test_every_reference_passes_its_cases_and_a_nudged_answer_does_not(ex_id):
    ex = exercises.get(ex_id)
    assert exercises.compare_on_cases(ex.reference, ex.reference, ex.cases(), ex.atol, ex.rtol) > 0
    with pytest.raises(Feedback):
        exercises.compare_on_cases(
            lambda *a, **k: _nudged(ex.reference(*a, **k)), ex.reference, ex.cases(), ex.atol, ex.rtol
        )


# The grader judges on fresh inputs: a generator seeded from os.urandom replaces each exercise's
# fixed seed wherever its cases or checker take one (structured edge cases stay as they are).
@pytest.mark.parametrize("ex_id", sorted(INDEPENDENT))
def test_independent_implementations_pass_on_fresh_random_inputs(ex_id):
    for seed in (11, 12, 13):
        result = exercises.evaluate(ex_id, INDEPENDENT[ex_id], torch.Generator().manual_seed(seed))
        assert result.passed, (seed, result.feedback)


def test_fresh_inputs_differ_from_the_notebooks_and_keep_the_edge_cases():
    ex = exercises.get("00.1")
    fixed, fresh = exercises.exercise_cases(ex), exercises.exercise_cases(ex, torch.Generator().manual_seed(5))
    assert [c.label for c in fixed] == [c.label for c in fresh]
    assert not torch.equal(fixed[0].args[0], fresh[0].args[0]), "the random batches are new"
    assert torch.equal(fixed[3].args[0], fresh[3].args[0]), "all-black vs all-white stays"
    assert exercises.exercise_cases(ex)[0].args[0].equal(fixed[0].args[0]), "the notebook's cases stay fixed"


def _mask_noise(x, fraction):
    flat = x.flatten(1).clone()
    k = round(fraction * flat.shape[1])
    idx = torch.rand(flat.shape).argsort(dim=1)[:, :k]
    return flat.scatter(1, idx, 0.0).reshape(x.shape)


@pytest.mark.parametrize(
    "ex_id, fn",
    [
        ("03.6", _mask_noise),
        ("04.3", lambda v: torch.logsumexp(v, 0) - math.log(v.shape[0])),
        ("05.5", lambda soft, hard: soft + (hard - soft).detach()),
    ],
)
def test_custom_checkers_judge_fresh_inputs_too(ex_id, fn):
    for seed in (21, 22):
        assert exercises.evaluate(ex_id, fn, torch.Generator().manual_seed(seed)).passed
    assert exercises.evaluate(ex_id, lambda *a: a[-1].detach() * 0, torch.Generator().manual_seed(23)).status in (
        "fail",
        "error",
    )


def test_each_exercise_names_the_package_functions_that_solve_it():
    assert exercises.get("00.1").solved_by == ("rms_distance",)
    assert exercises.get("05.1").solved_by == ("score_function",)  # from inside the reference's lambda
    assert exercises.get("08.1").solved_by == ("kmeans_step_size",)
    for ex_id, name in (("03.6", "mask_noise"), ("04.3", "log_mean_exp"), ("05.5", "straight_through")):
        assert name in exercises.get(ex_id).solved_by


def test_evaluate_does_not_print(capsys):
    assert exercises.evaluate("00.1", good_rms).passed
    assert capsys.readouterr().out == ""


def test_get_reports_a_broken_import_inside_an_exercise_module(monkeypatch):
    with pytest.raises(KeyError, match="no exercise '99.1'"):
        exercises.get("99.1")  # there is no nb99.py: no such exercise

    def import_module(name):  # nb98.py exists, but an import inside it fails
        raise ModuleNotFoundError("No module named 'scipy_missing'", name="scipy_missing")

    monkeypatch.setattr(exercises.importlib, "import_module", import_module)
    with pytest.raises(ModuleNotFoundError, match="scipy_missing"):
        exercises.get("98.1")


def test_a_right_cdist_answer_to_02_2_passes():
    """torch.cdist in float32 loses ~2e-4 near distance 0; the check's tolerance must let a right answer pass."""
    import math

    from vae_course.exercises import evaluate

    def answer(images, refs):
        a, b = images.reshape(len(images), -1).float(), refs.reshape(len(refs), -1).float()
        return (torch.cdist(a, b) / math.sqrt(a.shape[1])).min(1).values

    assert evaluate("02.2", answer).status == "pass"
