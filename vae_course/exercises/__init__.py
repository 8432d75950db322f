"""Exercise checks: compare a learner's function with the reference and say what is wrong, in words.

Conventions (shared with the grading tool, ``vae-course grade``):

* Each exercise has an id ``"NN.k"`` (notebook NN, exercise k) and is registered in
  ``vae_course/exercises/nbNN.py`` with its reference, its test cases and a hint.
* In a notebook the learner's code sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  (nbgrader's markers); the student version replaces it with a ``raise NotImplementedError``.
* The check cell calls ``check("NN.k", learner_function)``. It prints a pass line, prints a
  "not attempted yet" note for an untouched stub, and raises :class:`ExerciseFailed` (shown as
  a short message, not a traceback) with specific feedback otherwise.
* :func:`evaluate` is the verdict (status pass | fail | not attempted | error, and feedback)
  without printing it: :func:`check` prints it in
  the notebook, and the grader computes it in its own process, with the learner's function
  standing in for the one in the graded kernel (:mod:`vae_course.classroom.kernel`).
* A ``cases`` function, and a custom ``checker(fn)``, may take a ``g`` argument: a
  ``torch.Generator`` for their random inputs. The notebook's check leaves it out (each
  exercise's own fixed seed); the grader passes one seeded from ``os.urandom``, so the inputs a
  submission is judged on cannot be known in advance. Structured edge cases stay as they are.

Hints and solutions (progressive, for self-study):

* Each exercise has a ``kind``: implement, derive, predict or interpret (the README's table).
* ``hint`` is one nudge or a tuple of nudges, mildest first; none of them quotes the solution's
  code (``vae-course student`` refuses to write a version whose hints do, and a test holds every
  hint to it). "Not attempted" shows no hint; a failed check shows the first one; :func:`hint`
  shows the next.
* :func:`solution` prints the reference solution with a short explanation, unless solutions are
  turned off (:func:`disable_solutions`, which the versions handed out for grading call);
  :func:`solutions_shown` lists the exercises whose solution was shown in this kernel.
"""

from __future__ import annotations

import builtins
import copy
import importlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor

from ..i18n import lang, t, tr

STATUSES = ("pass", "fail", "not attempted", "error")
KINDS = ("implement", "derive", "predict", "interpret", "predict-then-run")


class Case(NamedTuple):
    """One input to try: positional args, keyword args, and how to describe it to a learner."""

    args: tuple
    kwargs: dict
    label: str


def case(*args: Any, label: str = "", **kwargs: Any) -> Case:
    """Build a Case: ``case(x, k=2, label="a batch of 4 digits, k=2")``."""
    return Case(args, kwargs, label or _describe(args, kwargs))


class Feedback(Exception):
    """Raised inside a comparison or custom checker: the message is what the learner reads.

    ``misconception`` names the exercise's :class:`Misconception` the wrong answer matched, if any."""

    def __init__(self, message: str = "", misconception: str = ""):
        super().__init__(message)
        self.misconception = misconception


@dataclass(frozen=True)
class Misconception:
    """A known wrong answer of an exercise, named.

    ``id`` is short and stable (it goes in the grader's report); ``teacher`` is one line a
    teacher reads on the class page; ``feedback`` is what the learner reads. ``commits`` is a
    function that commits it (same signature as the reference): a submission that fails the
    reference but agrees with it on every input is recognised as this misconception. Checkers
    that judge an answer themselves raise ``Feedback(..., misconception=id)`` instead
    (:func:`check_number` does so for its ``wrong`` answers, keyed by id)."""

    id: str
    teacher: str
    feedback: str
    commits: Callable | None = None


UNRECOGNISED = "unrecognised"


class ExerciseFailed(AssertionError):
    """A check did not pass. IPython shows only the message (no traceback)."""

    def _render_traceback_(self) -> list[str]:  # IPython hook: what to show instead of a traceback
        return [f"\x1b[31m{self}\x1b[0m"]


@dataclass
class Exercise:
    id: str
    title: str
    reference: Callable | None = None
    cases: Callable[[], list[Case]] | None = None
    atol: float = 1e-5
    rtol: float = 1e-4
    checker: Callable[[Callable], str | None] | None = None
    solved_by: tuple[str, ...] = ()  # names of the package's functions that solve it (for the grader's note)
    hints: tuple[str, ...] = ()  # progressive nudges, mildest first
    kind: str = "implement"  # implement | derive | predict | interpret
    solution: str = ""  # the reference solution as code, shown by solution(...)
    explanation: str = ""  # why the solution is right, in a few sentences
    misconceptions: tuple[Misconception, ...] = ()  # known wrong answers, named
    points: float = 1.0  # what a pass is worth (a teacher's points file may override it)
    prediction: dict = field(default_factory=dict)  # predict-then-run: how the prediction is judged

    def misconception(self, mid: str) -> Misconception | None:
        return next((m for m in self.misconceptions if m.id == mid), None)

    def solution_text(self) -> str:
        """The code :func:`solution` prints: ``solution`` if given, else the reference's source."""
        if self.solution:
            return self.solution.strip("\n")
        candidates = []
        if self.reference is not None and self.reference.__name__ != "<lambda>":
            candidates.append(self.reference)
        scope = getattr(self.reference or self.checker, "__globals__", {})
        candidates += [scope[n] for n in self.solved_by if inspect.isfunction(scope.get(n))]
        for fn in candidates:  # the reference, else the package function that solves it
            try:
                return inspect.getsource(fn).strip("\n")
            except (OSError, TypeError):
                continue
        return ""


@dataclass
class CheckResult:
    exercise: str
    status: str
    feedback: str = ""
    cases: int = 0
    extra: dict = field(default_factory=dict)
    misconception: str = ""  # on a fail: the id of the misconception matched, or "unrecognised"

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def _ipython_display_(self) -> None:
        """The check already printed its verdict; show nothing more as a cell's last value."""


REGISTRY: dict[str, Exercise] = {}


def register(
    id: str,
    title: str,
    *,
    reference: Callable | None = None,
    cases: Callable[[], list[Case]] | None = None,
    atol: float = 1e-5,
    rtol: float = 1e-4,
    checker: Callable[[Callable], str | None] | None = None,
    hint: str | tuple[str, ...] | list[str] = "",
    solved_by: tuple[str, ...] = (),
    kind: str = "implement",
    solution: str = "",
    explanation: str = "",
    misconceptions: tuple[Misconception, ...] | list[Misconception] = (),
    points: float = 1.0,
) -> Exercise:
    """Register an exercise: either ``reference`` + ``cases`` (compared value by value), or a
    custom ``checker(fn)`` that raises :class:`Feedback` on a wrong answer and may return a note.

    ``solved_by`` names the package's functions that already solve the exercise (the grader notes
    a submission that only calls one); for a reference it defaults to the reference and the
    package functions it calls. ``hint`` is one nudge or a sequence of them (mildest first);
    ``kind`` is one of :data:`KINDS`; ``solution`` (code) and ``explanation`` are what
    :func:`solution` shows (the code defaults to the reference's source)."""
    if (reference is None) == (checker is None):
        raise ValueError(f"exercise {id}: give either reference (with cases) or checker")
    if reference is not None and cases is None:
        raise ValueError(f"exercise {id}: a reference needs cases to compare on")
    if kind not in KINDS:
        raise ValueError(f"exercise {id}: kind must be one of {KINDS}, got {kind!r}")
    ids = [m.id for m in misconceptions]
    if len(set(ids)) != len(ids) or UNRECOGNISED in ids:
        raise ValueError(f"exercise {id}: misconception ids must be distinct and not {UNRECOGNISED!r}: {ids}")
    if not points >= 0:
        raise ValueError(f"exercise {id}: points must be >= 0, got {points!r}")
    hints = (hint,) if isinstance(hint, str) else tuple(hint)
    hints = tuple(h for h in hints if h)
    solved = tuple(solved_by) or _solved_by(reference)
    ex = Exercise(
        id,
        title,
        reference,
        cases,
        atol,
        rtol,
        checker,
        solved,
        hints,
        kind,
        solution,
        explanation,
        tuple(misconceptions),
        float(points),
    )
    REGISTRY[id] = ex
    return ex


def add_misconceptions(exercise_id: str, *misconceptions: Misconception) -> None:
    """Name known wrong answers of a registered exercise (each nbNN module, after its exercises)."""
    ex = REGISTRY[exercise_id]
    ids = [m.id for m in ex.misconceptions + misconceptions]
    if len(set(ids)) != len(ids) or UNRECOGNISED in ids:
        raise ValueError(f"exercise {exercise_id}: misconception ids must be distinct and not {UNRECOGNISED!r}: {ids}")
    ex.misconceptions = ex.misconceptions + misconceptions


def _solved_by(reference: Callable | None) -> tuple[str, ...]:
    """The reference's name (unless a lambda) and the names of the package functions it calls."""
    if reference is None:
        return ()
    names = [] if reference.__name__ == "<lambda>" else [reference.__name__]
    code, scope = getattr(reference, "__code__", None), getattr(reference, "__globals__", {})
    for name in getattr(code, "co_names", ()):
        value = scope.get(name)
        if inspect.isfunction(value) and str(value.__module__).startswith("vae_course.") and name not in names:
            if not hasattr(builtins, name):
                names.append(name)
    return tuple(names)


def get(exercise_id: str) -> Exercise:
    """Look an exercise up by id, importing its notebook's module ``nbNN`` on first use."""
    if exercise_id not in REGISTRY:
        notebook = exercise_id.split(".")[0]
        module = f"{__name__}.nb{notebook}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as err:
            if err.name != module:  # nbNN.py exists but one of its own imports is broken: say so
                raise
    if exercise_id not in REGISTRY:
        known = ", ".join(sorted(REGISTRY)) or "none loaded"
        raise KeyError(f"no exercise {exercise_id!r}; known exercises: {known}")
    return REGISTRY[exercise_id]


def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise of every notebook module, by id."""
    import pkgutil

    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("nb"):
            importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(REGISTRY.items()))


# --------------------------------------------------------------------------- comparing values
def _describe(args: tuple, kwargs: dict) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return ", ".join(parts)


def _type_name(v: Any) -> str:
    """The type a learner should read; for a value the grader received only as a type name
    (:class:`vae_course.classroom.wire.Opaque`), that name."""
    name = getattr(v, "type_name", None)
    return name if type(v).__name__ == "Opaque" and isinstance(name, str) else type(v).__name__


def _short(v: Any) -> str:
    if isinstance(v, Tensor):
        return f"tensor of shape {tuple(v.shape)}"
    if isinstance(v, torch.nn.Module):
        return type(v).__name__
    r = repr(v)
    return r if len(r) <= 40 else r[:37] + "..."


def compare(got: Any, expected: Any, atol: float = 1e-5, rtol: float = 1e-4, where: str = "the result") -> None:
    """Raise Feedback describing the first way ``got`` differs from ``expected``."""
    if isinstance(expected, Tensor):
        if not isinstance(got, Tensor):
            raise Feedback(t("{where} should be a torch.Tensor, but it is a {type}", where=where, type=_type_name(got)))
        if got.shape != expected.shape:
            raise Feedback(
                t(
                    "{where} has shape {got}; expected {expected}",
                    where=where,
                    got=tuple(got.shape),
                    expected=tuple(expected.shape),
                )
            )
        if got.dtype.is_floating_point != expected.dtype.is_floating_point or (got.dtype == torch.bool) != (
            expected.dtype == torch.bool
        ):
            raise Feedback(
                t("{where} has dtype {got}; expected {expected}", where=where, got=got.dtype, expected=expected.dtype)
            )
        g, e = got.detach().cpu().double(), expected.detach().cpu().double()
        if torch.isnan(g).any() and not torch.isnan(e).any():
            raise Feedback(t("{where} contains NaN", where=where))
        bad = ~torch.isclose(g, e, atol=atol, rtol=rtol, equal_nan=True)
        if bad.any():
            i = tuple(int(j) for j in bad.nonzero()[0])
            at = t(" at index {i}", i=i) if g.dim() else ""
            raise Feedback(
                t(
                    "{where} is wrong{at}: got {got}, expected {expected} ({n} of {total} entries differ)",
                    where=where,
                    at=at,
                    got=f"{g[i].item():.6g}",
                    expected=f"{e[i].item():.6g}",
                    n=int(bad.sum()),
                    total=bad.numel(),
                )
            )
        return
    if isinstance(expected, tuple) and not isinstance(expected, str):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise Feedback(
                t("{where} should be a tuple of {n} values, got {got}", where=where, n=len(expected), got=_short(got))
            )
        names = getattr(expected, "_fields", None)
        for k, (a, b) in enumerate(zip(got, expected)):
            compare(a, b, atol, rtol, f"{where}[{names[k] if names else k}]")
        return
    if isinstance(expected, (float, int)) and not isinstance(expected, bool):
        if isinstance(got, Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (float, int)):
            raise Feedback(t("{where} should be a number, but it is a {type}", where=where, type=_type_name(got)))
        if not math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol):
            raise Feedback(
                t(
                    "{where} is {got}; expected {expected}",
                    where=where,
                    got=f"{float(got):.6g}",
                    expected=f"{float(expected):.6g}",
                )
            )
        return
    if got != expected:
        raise Feedback(
            t("{where} is {got}; expected {expected}", where=where, got=_short(got), expected=_short(expected))
        )


def _with_generator(f: Callable, *args: Any, generator: torch.Generator | None = None) -> Any:
    """``f(*args)``, or ``f(*args, g=generator)`` when a generator is given and ``f`` takes ``g``."""
    if generator is not None:
        try:
            takes_g = "g" in inspect.signature(f).parameters
        except (TypeError, ValueError):
            takes_g = False
        if takes_g:
            return f(*args, g=generator)
    return f(*args)


def exercise_cases(ex: Exercise, generator: torch.Generator | None = None) -> list[Case]:
    """The cases of a reference exercise: fixed ones, or drawn from ``generator`` where they can be."""
    return _with_generator(ex.cases, generator=generator)


def compare_on_cases(
    fn: Callable, reference: Callable, cases: list[Case], atol: float = 1e-5, rtol: float = 1e-4
) -> int:
    """Call fn and reference on every case (each on its own copy of the inputs) and compare."""
    for c in cases:
        expected = reference(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
        got = fn(*copy.deepcopy(c.args), **copy.deepcopy(c.kwargs))
        compare(got, expected, atol, rtol, where=t("on input ({label}), your result", label=tr(c.label)))
    return len(cases)


# --------------------------------------------------------------------------- the check
def evaluate(
    exercise_id: str, fn: Callable, generator: torch.Generator | None = None, graded: bool | None = None
) -> CheckResult:
    """The verdict on ``fn`` for exercise ``exercise_id``, without printing it.

    With ``generator``, random inputs are drawn from it (where the exercise's cases or checker
    take ``g``); without, from each exercise's fixed seed, as in the notebook. ``graded`` (for
    predict-then-run exercises) overrides whether the prediction is graded or only recorded."""
    ex = get(exercise_id)
    if not callable(fn):
        return CheckResult(ex.id, "error", t("expected a function, got {type}", type=type(fn).__name__))
    if ex.prediction:
        return _evaluate_prediction(ex, fn, generator, graded)
    cases: list[Case] = []
    try:
        if ex.checker is not None:
            note = _with_generator(ex.checker, fn, generator=generator)
            return CheckResult(ex.id, "pass", tr(note or ""))
        cases = exercise_cases(ex, generator)
        n = compare_on_cases(fn, ex.reference, cases, ex.atol, ex.rtol)
        return CheckResult(ex.id, "pass", t("matches the reference on {n} inputs", n=n), n)
    except NotImplementedError:
        return CheckResult(ex.id, "not attempted", t("the function still raises NotImplementedError"))
    except Feedback as e:
        mid = e.misconception or (_matching_misconception(ex, fn, cases) if cases else "")
        m = ex.misconception(mid)
        feedback = f"{tr(m.feedback)} ({tr(str(e))})" if m is not None and not e.misconception else tr(str(e))
        return CheckResult(ex.id, "fail", feedback, misconception=mid or UNRECOGNISED)
    except Exception as e:  # the learner's code crashed: say where, not a traceback
        return CheckResult(ex.id, "error", t("your function raised {error}: {e}", error=type(e).__name__, e=e))


def _matching_misconception(ex: Exercise, fn: Callable, cases: list[Case]) -> str:
    """The id of the first misconception whose ``commits`` agrees with ``fn`` on every case; ""."""
    for m in ex.misconceptions:
        if m.commits is None:
            continue
        try:
            compare_on_cases(fn, m.commits, cases, ex.atol, ex.rtol)
        except Exception:  # disagrees (Feedback) or crashes: not this one
            continue
        return m.id
    return ""


def check(exercise_id: str, fn: Callable) -> CheckResult:
    """Check the learner's ``fn`` for exercise ``exercise_id``; print or raise specific feedback.

    "Not attempted" shows no hint; a failure shows the first hint (then :func:`hint` the next)."""
    ex = get(exercise_id)
    label = t("Exercise {id} ({title})", id=ex.id, title=tr(ex.title))
    result = evaluate(exercise_id, fn)
    if not callable(fn):
        raise ExerciseFailed(f"{label}: {result.feedback}")
    if result.status == "not attempted":
        print(
            t(
                "⏳ {label}: not attempted yet. Replace the `raise NotImplementedError` with your "
                "code, run that cell, then this one.",
                label=label,
            )
        )
        return result
    if result.passed:
        passed = t("passed - {feedback}", feedback=result.feedback) if result.feedback else t("passed")
        print(_sentence(t("✅ {label}: {passed}", label=label, passed=passed)))
        return result
    more = ""
    if ex.hints:
        _HINTS_SHOWN[ex.id] = max(_HINTS_SHOWN.get(ex.id, 0), 1)
        more = "\n" + t("Hint: {hint}", hint=tr(ex.hints[0]))
        if len(ex.hints) > 1:
            more += "\n" + t('(hint("{id}") gives another nudge.)', id=ex.id)
    raise ExerciseFailed(t("❌ {label}: {feedback}", label=label, feedback=result.feedback) + more)


def _sentence(text: str) -> str:
    """``text`` ending in exactly one full stop (feedback may already end with one, or with ? or !)."""
    text = text.rstrip()
    # a closing bracket or quote after a full stop ends the sentence too: "(... codes.)" takes no second one
    if text.rstrip(")）\"'”’」").endswith((".", "?", "!", "…", "。", "？", "！")):
        return text
    return text + ("。" if lang() == "zh" else ".")


# --------------------------------------------------------------------------- hints and solutions
_HINTS_SHOWN: dict[str, int] = {}  # exercise id -> how many of its hints were shown
_SOLUTIONS_SHOWN: list[str] = []  # exercise ids, in the order their solution was shown
_SOLUTIONS_OFF: list[str] = []  # a reason, once solutions are turned off in this kernel


def hint(exercise_id: str) -> str:
    """Print (and return) the next hint of an exercise: the first one, then each further one."""
    ex = get(exercise_id)
    n = len(ex.hints)
    if not ex.hints:
        text = t("Exercise {id} has no hints: read its statement again, and the feedback of its check.", id=ex.id)
    else:
        k = _HINTS_SHOWN.get(ex.id, 0)
        if k >= n:
            tail = t(' solution("{id}") shows the reference.', id=ex.id) if not _SOLUTIONS_OFF else ""
            text = t("Exercise {id}: that was the last hint ({n} of {n}).", id=ex.id, n=n) + tail
            text += "\n" + t("Hint {n}: {hint}", n=n, hint=tr(ex.hints[-1]))
        else:
            _HINTS_SHOWN[ex.id] = k + 1
            text = t("Exercise {id}, hint {k} of {n}: {hint}", id=ex.id, k=k + 1, n=n, hint=tr(ex.hints[k]))
    print(text)
    return text


def solution(exercise_id: str) -> str:
    """Print (and return) the reference solution with a short explanation, for self-study.

    Records the exercise in :func:`solutions_shown`. Where solutions are turned off (the
    versions handed out for grading), it says so and shows nothing."""
    ex = get(exercise_id)
    if _SOLUTIONS_OFF:
        text = t("Solutions are turned off in this version of the notebook ({reason}).", reason=tr(_SOLUTIONS_OFF[0]))
        if ex.hints:
            text += t(' hint("{id}") still gives nudges.', id=ex.id)
        print(text)
        return text
    if ex.id not in _SOLUTIONS_SHOWN:
        _SOLUTIONS_SHOWN.append(ex.id)
    code = ex.solution_text() or t("(no code: see the explanation)")
    text = t("Exercise {id} ({title}), a reference solution:", id=ex.id, title=tr(ex.title)) + f"\n\n{code}\n"
    if ex.explanation:
        text += "\n" + t("Why: {why}", why=tr(ex.explanation)) + "\n"
    print(text)
    return text


def solutions_shown() -> list[str]:
    """The exercise ids for which :func:`solution` was called in this kernel, in order."""
    return list(_SOLUTIONS_SHOWN)


def disable_solutions(reason: str = "a version handed out for grading") -> None:
    """Turn :func:`solution` off for the rest of this kernel (student versions for grading call it)."""
    if not _SOLUTIONS_OFF:
        _SOLUTIONS_OFF.append(reason)


# --------------------------------------------------------------------------- answers that are data
def answer_of(fn: Callable, what: str = "your answer") -> Any:
    """Call a zero-argument answer function (``def my_prediction(): return 0.5``) and return its value;
    raises :class:`Feedback` when it needs arguments. NotImplementedError passes through ("not attempted")."""
    try:
        return fn()
    except TypeError as e:
        if "argument" in str(e):
            raise Feedback(f"{what} should be a function of no arguments that returns the answer ({e})") from None
        raise


def check_number(
    got: Any, expected: float, tol: float, wrong: dict[str, tuple[float, str]] | None = None, explain: str = ""
) -> float:
    """Judge a predicted number: within ``tol`` of ``expected`` passes. ``wrong`` maps a name to a
    (value, feedback) pair of a common wrong answer, so that answer gets its own explanation."""
    if isinstance(got, Tensor) and got.numel() == 1:
        got = got.item()
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        raise Feedback(t("your answer should be a number, but it is a {type}", type=_type_name(got)))
    got = float(got)
    if not math.isfinite(got):
        raise Feedback(t("your answer is {got}: a prediction must be a finite number", got=got))
    if abs(got - expected) <= tol:
        return got
    for name, (value, feedback) in (wrong or {}).items():
        if abs(got - value) <= tol:
            raise Feedback(
                t("your answer {got} is a common slip: {feedback}", got=f"{got:.4g}", feedback=tr(feedback)),
                misconception=name,
            )
    off = f"{abs(got - expected):.3g}"
    if got > expected:
        text = t("your answer {got} is too high (off by {off}).", got=f"{got:.4g}", off=off)
    else:
        text = t("your answer {got} is too low (off by {off}).", got=f"{got:.4g}", off=off)
    raise Feedback(f"{text} {tr(explain)}".strip())


def check_choice(got: Any, options: dict[str, str], right: str) -> str:
    """Judge a multiple-choice answer (a letter). ``options`` maps each letter to the feedback it
    earns; the right one's feedback becomes the pass note, so a right guess still teaches why."""
    if not isinstance(got, str) or got.strip().lower() not in options:
        letters = ", ".join(sorted(options))
        raise Feedback(
            t("answer with one of the letters {letters} (a string), got {got}", letters=letters, got=_short(got))
        )
    letter = got.strip().lower()
    if letter != right:
        raise Feedback(
            t("not ({letter}): {why}", letter=letter, why=tr(options[letter])), misconception=f"chose ({letter})"
        )
    return f"({letter}): {tr(options[letter])}"


# --------------------------------------------------------------------------- predict-then-run
PREDICTION_FORMS = ("number", "interval", "choice")


def register_prediction(
    id: str,
    title: str,
    *,
    experiment: Callable[..., Any],
    form: str = "number",
    tol: float = 0.0,
    options: dict[str, str] | None = None,
    max_width: float = math.inf,
    explain: str = "",
    graded: bool = True,
    **kw: Any,
) -> Exercise:
    """Register a predict-then-run exercise: the learner's function of no arguments returns a
    prediction (a number, an interval ``(low, high)`` or a choice, a letter of ``options``) before
    the notebook's experiment cell runs; the check runs ``experiment(g=None)`` itself (the grader
    in its own process, so the kernel's numbers decide nothing), compares and explains the gap in
    words either way. A number is right within ``tol``; an interval when it holds the result and
    is at most ``max_width`` wide; a choice when it is the letter ``experiment`` returns
    (``options`` maps each letter to why it is right or wrong). ``graded=False`` records the
    prediction without grading it (any valid prediction passes); a teacher may override this.
    ``wrong`` answers go in ``misconceptions`` (a number: its ``commits`` returns the value)."""
    if form not in PREDICTION_FORMS:
        raise ValueError(f"exercise {id}: form must be one of {PREDICTION_FORMS}, got {form!r}")
    if form == "choice" and not options:
        raise ValueError(f"exercise {id}: a choice needs options")
    spec = {
        "experiment": experiment,
        "form": form,
        "tol": float(tol),
        "options": dict(options or {}),
        "max_width": float(max_width),
        "explain": explain,
        "graded": bool(graded),
    }
    kw.setdefault("kind", "predict-then-run")
    ex = register(id, title, checker=lambda fn, g=None: _prediction_checker(id, fn, g), **kw)
    ex.prediction = spec
    return ex


def _prediction_checker(exercise_id: str, fn: Callable, g: torch.Generator | None = None) -> str:
    result = _evaluate_prediction(get(exercise_id), fn, g, None)
    if result.status == "not attempted":
        raise NotImplementedError
    if result.status == "fail":
        raise Feedback(result.feedback, result.misconception)
    return result.feedback


def _read_prediction(form: str, got: Any, options: dict[str, str]) -> Any:
    """The prediction in its form, or Feedback saying what form it should have."""
    if isinstance(got, Tensor) and got.numel() == 1:
        got = got.item()
    if form == "number":
        if isinstance(got, bool) or not isinstance(got, (int, float)) or not math.isfinite(float(got)):
            raise Feedback(f"your prediction should be a finite number, got {_short(got)}")
        return float(got)
    if form == "interval":
        ok = isinstance(got, (tuple, list)) and len(got) == 2
        ok = ok and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in got)
        if not ok or not got[0] <= got[1]:
            raise Feedback(f"your prediction should be an interval (low, high) with low <= high, got {_short(got)}")
        return (float(got[0]), float(got[1]))
    if not isinstance(got, str) or got.strip().lower() not in options:
        raise Feedback(f"your prediction should be one of the letters {', '.join(sorted(options))}, got {_short(got)}")
    return got.strip().lower()


def _evaluate_prediction(ex: Exercise, fn: Callable, generator: torch.Generator | None, graded: bool | None):
    """Judge a predict-then-run exercise: run the experiment, compare, explain the gap in words.
    ``extra`` holds ``prediction`` ("hit" or "miss"), ``predicted``, ``result`` and ``graded``."""
    spec = ex.prediction
    graded = spec["graded"] if graded is None else graded
    try:
        predicted = _read_prediction(spec["form"], answer_of(fn, "your prediction"), spec["options"])
    except NotImplementedError:
        return CheckResult(
            ex.id, "not attempted", t("no prediction yet: the function still raises NotImplementedError")
        )
    except Feedback as e:
        return CheckResult(ex.id, "fail", str(e), misconception=UNRECOGNISED)
    except Exception as e:
        return CheckResult(ex.id, "error", t("your prediction raised {error}: {e}", error=type(e).__name__, e=e))
    result = _with_generator(spec["experiment"], generator=generator)
    form, tol = spec["form"], spec["tol"]
    mid = ""
    if form == "number":
        result = float(result)
        gap = predicted - result
        hit = abs(gap) <= tol
        words = t("you predicted {p}; the experiment gave {r}: ", p=f"{predicted:.4g}", r=f"{result:.4g}")
        if hit:
            words += t("within {tol}, a good prediction.", tol=f"{tol:g}")
        elif gap > 0:
            words += t("{gap} too high.", gap=f"{abs(gap):.3g}")
        else:
            words += t("{gap} too low.", gap=f"{abs(gap):.3g}")
        for m in ex.misconceptions:
            if not hit and m.commits is not None and abs(predicted - float(m.commits())) <= tol:
                mid, words = m.id, f"{words} {tr(m.feedback)}"
                break
    elif form == "interval":
        result = float(result)
        low, high = predicted
        wide = high - low > spec["max_width"]
        hit = low <= result <= high and not wide
        interval = f"[{low:.4g}, {high:.4g}]"
        if wide:
            words = t(
                "your interval {interval} is wider than {w}: commit to a narrower one.",
                interval=interval,
                w=f"{spec['max_width']:g}",
            )
        elif hit:
            words = t("the experiment gave {r}, inside your interval {interval}.", r=f"{result:.4g}", interval=interval)
        elif result < low:
            words = t("the experiment gave {r}, below your interval {interval}.", r=f"{result:.4g}", interval=interval)
        else:
            words = t("the experiment gave {r}, above your interval {interval}.", r=f"{result:.4g}", interval=interval)
    else:
        result = str(result).strip().lower()
        hit = predicted == result
        words = t("you predicted ({p}); the experiment shows ({r}).", p=predicted, r=result)
        option = tr(spec["options"][predicted])
        words += f" {option[:1].upper()}{option[1:]}"  # a new sentence after "shows (b)."
        if not hit:
            mid = f"chose ({predicted})" if ex.misconception(f"chose ({predicted})") else ""
    if spec["explain"]:
        words = f"{words} {tr(spec['explain'])}"
    extra = {"prediction": "hit" if hit else "miss", "predicted": predicted, "result": result, "graded": graded}
    if not graded:
        return CheckResult(ex.id, "pass", t("prediction recorded (not graded): {words}", words=words), extra=extra)
    if hit:
        return CheckResult(ex.id, "pass", words, extra=extra)
    return CheckResult(ex.id, "fail", words, extra=extra, misconception=mid or UNRECOGNISED)
