"""Grade a class's submitted notebooks: the kernel computes, the grader judges.

``vae-course grade SUBMISSIONS_DIR --report report.csv`` expects one folder per student, each
holding that student's notebooks (``alice/00_start_here.ipynb``, ...). For every notebook
:func:`grade_notebook`

1. copies the student's folder into a fresh temporary folder (the submission is never run in
   place, and never in the teacher's Python process);
2. starts a kernel there through :mod:`vae_course.classroom.sandbox` (memory and file-size
   limits; with Landlock, reads and writes confined to that folder and the course's
   environment, no TCP; with seccomp, no network socket at all; no capabilities; every process
   it starts killed with it) and talks to it over Unix sockets in that folder
   (:mod:`vae_course.classroom.kernel`); its environment holds nothing of the teacher's;
3. runs the cells one by one: by default only those the exercises need
   (:func:`cells_to_run`: the imports and parameters, the check cells, what the learner wrote,
   cells tagged :data:`SETUP_TAG`, and what those use), every cell with ``--full``. A cell past
   ``--cell-timeout`` is interrupted and the notebook goes on, and ``--timeout`` bounds the
   whole notebook. In the default mode one kernel serves a student's notebooks in turn
   (:class:`KernelSession`: a fresh namespace and a fresh copy of the folder for each; a new
   kernel after any problem); with ``--full`` each notebook has a kernel of its own;
4. right after the last ``check("NN.k", fn)`` cell of an exercise has run, **judges** it in
   the grader's own process: inputs drawn here with a seed from ``os.urandom``, the kernel asked
   to call the notebook's ``fn`` on them (:class:`~vae_course.classroom.kernel.KernelFunction`),
   the outputs read back as data only (:mod:`vae_course.classroom.wire`), compared here with
   the reference (:func:`vae_course.exercises.evaluate`). What the notebook's own check cell
   printed is kept, as the learner saw it, but it never decides anything: nothing the
   submission writes, rebinds or monkeypatches in its kernel reaches the grader's comparison.
   A function that only hands the work to the package's own solution is noted; the exercises
   whose solution the learner displayed (``vae_course.exercises.solutions_shown()``, where the
   package has it) are listed in ``(notebook)`` rows of status ``info``.

:func:`grade` grades a class, or one deterministic share of it (:func:`shard`, ``--shard I/N``);
the shards' reports are joined by :func:`vae_course.classroom.report.merge_rows`.

The rows it returns (:class:`~vae_course.classroom.report.Row`), and the CSV, HTML pages and
gradebook exports made of them, are in :mod:`vae_course.classroom.report`.

What is not covered, stated honestly: the course package is readable by the kernel (the
notebooks import it), so a function can call the reference in disguise and pass; only the plain
cases are noted. Without Landlock (not Linux, or Linux before 5.13) reads are not confined and
writes outside the folder are only detected afterwards; without seccomp the network is open.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import os
import re
import shutil
import symtable
import sys
import tempfile
import threading
import time
import warnings
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import torch

from ..data import cache_dir
from ..exercises import all_exercises, evaluate, get
from ..parameters import course_dir, python_source
from .kernel import CallTimeout, CellRun, GradedKernel, KernelLost
from .report import NOTEBOOK_ROW, REPORT_STATUSES, Row
from .student import CheckCall, check_calls, make_student_notebook

_NOTEBOOK_ID = re.compile(r"^(\d\d)[_\-. ]")
_REFUSED = re.compile(r"^(PermissionError|OSError: \[Errno (1|13|30)\])")


@dataclass
class GradeOptions:
    """How to grade: wall-clock limits per notebook and per cell (s), memory limit (MiB),
    notebooks graded at once, and extra paths the kernels may read."""

    timeout: float = 300.0
    cell_timeout: float = 120.0
    memory_mb: int = 4096
    jobs: int = 1
    course_dir: Path | None = None
    progress: bool = True
    extra_env: dict = field(default_factory=dict)
    allow_read: tuple[str, ...] = ()
    startup_timeout: float = 120.0
    full: bool = False  # run whole notebooks (True), or only the cells the exercises need (False)
    points: dict = field(default_factory=dict)  # exercise id -> points (the teacher's override)
    predictions: dict = field(default_factory=dict)  # exercise id -> "graded" | "recorded" (predict-then-run)
    checkpoint: Path | None = None  # a folder: each notebook's rows written there as it finishes; resumed


@dataclass
class Verdict:
    """The grader's verdict on one exercise, and what the notebook's own check cell printed."""

    status: str
    feedback: str
    said: str = ""
    misconception: str = ""
    prediction: str = ""


@dataclass
class NotebookRun:
    """What running and judging one notebook in the sandbox left behind."""

    verdicts: dict[str, Verdict]  # exercise id -> verdict (only those the run got to)
    cells: dict[int, CellRun]  # cell index -> how it ran
    problem: str | None  # None, "timeout", "died", "unresponsive" or "error": the run as a whole
    words: str  # the problem, for a learner
    changed: list[str]  # files outside the grading folder that changed meanwhile
    watchdog: list[str] = field(default_factory=list)  # cells that ended without their reply or idle
    skipped: int = 0  # code cells not run (default mode: not needed by any exercise)
    solutions_shown: list[str] = field(default_factory=list)  # exercises whose solution() the learner called


# =========================================================================== what to expect
def notebook_id(name: str) -> str | None:
    """``"00"`` for ``00_start_here.ipynb``; None for a name without the two-digit prefix."""
    m = _NOTEBOOK_ID.match(name)
    return m.group(1) if m else None


def expected_exercises(notebook_name: str, course_dir: Path | None = None) -> list[str]:
    """Exercise ids a notebook must check: those registered for its number, and those the
    course notebook of the same name checks."""
    nid = notebook_id(notebook_name)
    ids = {e for e in all_exercises() if nid and e.split(".")[0] == nid}
    if course_dir is not None and (course_dir / notebook_name).exists():
        try:
            ids |= {c.exercise for c in check_calls(nbformat.read(course_dir / notebook_name, as_version=4))}
        except Exception:  # a broken course notebook: fall back on the registry
            pass
    return sorted(ids, key=lambda s: [int(p) for p in s.split(".")])


def default_course_dir() -> Path | None:
    """The course notebooks (``vae_course.parameters.course_dir``): the copy shipped inside the
    installed package (``vae_course/notebooks/`` of the wheel), else the ``notebooks/`` folder of the
    repository checkout the package was installed from; None where neither holds a course notebook."""
    return course_dir()


# =========================================================================== which cells to run
#: Cell tag a course notebook may carry on a cell an exercise needs that the static analysis
#: below would not find (none of the course's exercises needs one today).
SETUP_TAG = "exercise-setup"
_PARAMETERS = re.compile(r"\bsettings\(|^\s*(DATASET|SEED)\s*=", re.MULTILINE)


def _cell_names(source: str) -> tuple[set[str], set[str]] | None:
    """(names a cell binds at top level, global names it reads anywhere, function bodies
    included); None when the cell does not parse."""
    try:
        top = symtable.symtable(python_source(source), "<cell>", "exec")
    except (SyntaxError, ValueError):
        return None
    bound, read = set(), set()
    for sym in top.get_symbols():
        if sym.is_assigned() or sym.is_imported() or sym.is_namespace():
            bound.add(sym.get_name())
        if sym.is_referenced() and not (sym.is_namespace() or sym.is_imported()):
            read.add(sym.get_name())
    todo = list(top.get_children())
    while todo:
        table = todo.pop()
        todo += table.get_children()
        for sym in table.get_symbols():
            if sym.is_referenced() and sym.is_global():
                read.add(sym.get_name())
    return bound, read


def _course_sources(course_nb) -> set[str]:
    """The code cells of the course's notebook, teacher's and student's versions (stripped)."""
    sources = {c.source.strip() for c in course_nb.cells if c.cell_type == "code"}
    try:
        sources |= {c.source.strip() for c in make_student_notebook(course_nb)[0].cells if c.cell_type == "code"}
    except Exception:  # a broken marker in the course notebook: its teacher's version only
        pass
    return sources


def cells_to_run(nb, calls: list[CheckCall], course_nb=None) -> list[int]:
    """Indices of the code cells the default mode runs, in order.

    Seeds: every cell up to and including the parameters cell (tagged ``parameters``, or
    calling ``settings(`` or assigning ``DATASET``/``SEED``), every ``check(...)`` cell, every
    cell tagged :data:`SETUP_TAG`, and every cell that is not one of the course notebook's own
    (``course_nb``, teacher's or student's version): what the learner wrote or changed always
    runs, so whatever it does (an ``exit()``, a read outside its folder) happens as in a full
    run. Then, transitively, for every name a chosen cell reads (function bodies included, by
    :mod:`symtable`), the last earlier cell that binds it. Without ``course_nb`` every cell runs.
    """
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and c.source.strip()]
    if course_nb is None:
        return code
    ours = _course_sources(course_nb)
    names = {i: _cell_names(nb.cells[i].source) for i in code}
    params = next(
        (
            i
            for i in code
            if "parameters" in (nb.cells[i].metadata.get("tags") or []) or _PARAMETERS.search(nb.cells[i].source)
        ),
        code[0] if code else -1,
    )
    check_cells = {c.cell for c in calls}
    chosen = {
        i
        for i in code
        if i <= params
        or i in check_cells
        or SETUP_TAG in (nb.cells[i].metadata.get("tags") or [])
        or nb.cells[i].source.strip() not in ours
        or names[i] is None
    }
    todo = sorted(chosen)
    while todo:
        i = todo.pop()
        if names[i] is None:
            continue
        bound_here, read = names[i]
        for name in read:
            if name in bound_here and name not in _read_before_bound(nb.cells[i].source, name):
                continue
            j = next((j for j in reversed(code) if j < i and names[j] is not None and name in names[j][0]), None)
            if j is not None and j not in chosen:
                chosen.add(j)
                todo.append(j)
    return sorted(chosen)


@functools.lru_cache(maxsize=4096)
def _read_before_bound(source: str, name: str) -> frozenset[str]:
    """``{name}`` when the cell's top level reads ``name`` (anywhere, function bodies included)
    before its first top-level statement that binds it; empty otherwise."""
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return frozenset({name})
    for stmt in tree.body:
        binds = any(
            isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) for n in ast.walk(stmt)
        ) or (isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and stmt.name == name)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            binds |= any((a.asname or a.name.split(".")[0]) == name for a in stmt.names)
        reads = any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) for n in ast.walk(stmt))
        if reads and not (binds and isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))):
            if not binds or isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For)):
                return frozenset({name})
        if binds:
            return frozenset()
    return frozenset({name})


def _course_notebook(name: str, course_dir: Path | None):
    """The course's own notebook of that name, or None."""
    if course_dir is None or not (course_dir / name).exists():
        return None
    try:
        return nbformat.read(course_dir / name, as_version=4)
    except Exception:
        return None


# =========================================================================== calling the reference
def _calls_by_name(node: ast.AST) -> set[str]:
    """Names of the functions and methods called anywhere inside ``node``."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            names.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None)
    return names - {None}


def _bound_name(value: ast.AST) -> str | None:
    """``x`` for ``... = x`` or ``... = mod.x``."""
    return value.id if isinstance(value, ast.Name) else value.attr if isinstance(value, ast.Attribute) else None


def _last_binding(nb, call: CheckCall, name: str) -> tuple[str, object] | None:
    """How ``name`` was last bound before (or in) the check cell: ("def", node), ("assign", the
    name it was bound to) or ("import", the imported name); None when not found."""
    found = None
    for cell in nb.cells[: call.cell + 1]:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(python_source(cell.source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
                found = ("def", node)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                found = ("assign", _bound_name(node.value))
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (alias.asname or alias.name) == name:
                        found = ("import", alias.name)
    return found


def _module_of(exercise, name: str) -> str:
    for f in (exercise.reference, exercise.checker):
        value = getattr(f, "__globals__", {}).get(name)
        if value is not None and getattr(value, "__module__", None):
            return value.__module__
    return "the course package"


def reference_call_note(nb, call: CheckCall, exercise, identity: dict | None = None) -> str:
    """A note when the learner's function (the one passed to ``check``) only hands the work to
    the package's own solution for that exercise: its body calls it (``return rms_distance(a,
    b)``), its name is bound to it (``rms_distance = moons.rms_distance``, or imported), or, as
    the kernel reports (``identity``), it *is* it. "" otherwise. A disguised call is not seen."""
    solved = set(getattr(exercise, "solved_by", ()) or ())
    ref = getattr(exercise, "reference", None)
    if ref is not None and getattr(ref, "__name__", "<lambda>") != "<lambda>":
        solved.add(ref.__name__)
    fn_name = call.function.split(".")[-1]
    if not solved or not fn_name:
        return ""
    hit = None
    binding = _last_binding(nb, call, fn_name)
    if binding and binding[0] == "def":
        hit = next(iter(sorted(_calls_by_name(binding[1]) & solved)), None)
    elif binding and binding[1] in solved:
        hit = binding[1]
    if hit is None and identity and str(identity.get("module", "")).startswith("vae_course."):
        qual = str(identity.get("qualname", "")).split(".")[-1]
        hit = qual if qual in solved else None
    if hit is None:
        return ""
    return (
        f"note: the solution calls {hit} from {_module_of(exercise, hit)}, the package's own reference "
        f"for this exercise, instead of computing it"
    )


# =========================================================================== the kernel's world
def _snapshot(*folders: Path) -> dict[str, tuple[int, int]]:
    """(size, mtime) of every file under the folders, to detect writes outside the sandbox."""
    snap = {}
    for folder in folders:
        if folder is None or not folder.exists():
            continue
        for dirpath, _, files in os.walk(folder):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    st = os.stat(p)
                    snap[p] = (st.st_size, st.st_mtime_ns)
                except OSError:
                    pass
    return snap


def _changed_since(before: dict[str, tuple[int, int]], *folders: Path) -> list[str]:
    """Files under the folders that are new, changed or gone since the snapshot ``before``."""
    changed = sorted(p for p, sig in _snapshot(*folders).items() if before.get(p) != sig)
    return changed + sorted(p for p in before if not os.path.exists(p))


def _first_line(source: str) -> str:
    lines = [line for line in source.strip().split("\n") if line.strip()]
    return (lines[0][:60] + ("..." if len(lines[0]) > 60 else "")) if lines else ""


def _data_dir() -> Path | None:
    try:
        return cache_dir()
    except Exception:
        return None


def _kernel_env(root: Path, work: Path, options: GradeOptions) -> dict[str, str]:
    """The kernel's whole environment: built here, nothing of the teacher's inherited (it could
    hold tokens or paths a student would then print), and every folder inside ``root``."""
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    mpl = tmp / "matplotlib"
    mpl.mkdir(exist_ok=True)
    teacher_mpl = Path(os.environ.get("MPLCONFIGDIR") or Path.home() / ".cache" / "matplotlib")
    for f in teacher_mpl.glob("fontlist-*.json"):  # matplotlib's font cache: copied, not shared
        shutil.copy(f, mpl / f.name)
    data = _data_dir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(work),
        "TMPDIR": str(tmp),
        "MPLCONFIGDIR": str(mpl),
        "IPYTHONDIR": str(tmp / "ipython"),
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTER_CONFIG_DIR": str(tmp / "jupyter"),
        "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"),
        "VAE_COURSE_DATA": str(data) if data else str(tmp / "data"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "MALLOC_ARENA_MAX": "2",
    }
    for name in ("VAE_COURSE_CLAIMS", "OMP_NUM_THREADS", "LC_ALL", "TZ"):
        if name in os.environ:
            env[name] = os.environ[name]
    if options.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // options.jobs))
    env.update({str(k): str(v) for k, v in options.extra_env.items()})
    return env


def _read_paths(options: GradeOptions) -> list[str]:
    """What a kernel may read besides its own folder and the course environment: the course's
    data cache (its offline data sets) and the teacher's ``--allow-read`` paths."""
    data = _data_dir()
    return ([str(data)] if data and data.exists() else []) + [str(p) for p in options.allow_read]


# =========================================================================== judging one exercise
def _fresh_generator() -> torch.Generator:
    """A generator for the inputs of one judgement, seeded from the operating system."""
    return torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)


def _said(run: CellRun, limit: int = 1000) -> str:
    """What a check cell showed the learner, shortened for the report."""
    text = run.text.strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _restore_rng(kernel: GradedKernel) -> None:
    """Put the kernel's random-number generators back as they were before the grader's calls
    (so the notebook's later cells run as they would have); nothing if it cannot answer."""
    if kernel.alive():
        try:
            kernel.restore_rng()
        except (KernelLost, CallTimeout):
            pass


def _interrupted_before(cells: dict[int, CellRun] | None, nb, call: CheckCall) -> int | None:
    """The last cell before the check cell that was interrupted at the cell limit, or None."""
    hits = [i for i, r in (cells or {}).items() if i < call.cell and r.status == "interrupted"]
    return hits[-1] if hits else None


def judge(
    kernel: GradedKernel,
    nb,
    ex_id: str,
    call: CheckCall,
    run: CellRun,
    options: GradeOptions,
    cells: dict[int, CellRun] | None = None,
) -> Verdict:
    """The grader's verdict on exercise ``ex_id``, whose check cell (``call``) just ran as ``run``
    (``cells``: how the earlier cells ran, to name a timeout as the cause of what follows)."""
    said = _said(run)
    where = f'check("{ex_id}", {call.function})'
    if run.status == "interrupted":
        return Verdict(
            "timeout",
            f"the check cell {where} ran past the {options.cell_timeout:g} s limit per cell and was interrupted",
            said,
        )
    try:
        info = kernel.resolve(call.function)
        if not info.get("ok"):
            etype, msg = (list(info.get("error") or ["Error", ""]) + ["", ""])[:2]
            late = _interrupted_before(cells, nb, call)
            if late is not None:
                return Verdict(
                    "timeout",
                    f"timeout: your cell {late} (it starts {_first_line(nb.cells[late].source)!r}) ran past "
                    f"{options.cell_timeout:g} s and was interrupted, so {call.function} was never defined",
                    said,
                )
            raised = f"; the check cell raised {run.error}" if run.error else ""
            return Verdict(
                "error", f"{where} could not be judged: {call.function} is not defined ({etype}: {msg}){raised}", said
            )
        if not info.get("callable"):
            return Verdict("error", f"{where}: expected a function, got {info.get('type', 'something else')}", said)
        kernel.save_rng()
        try:
            mode = options.predictions.get(ex_id)
            graded = None if mode is None else mode != "recorded"
            result = evaluate(ex_id, kernel.function(call.function, options.cell_timeout), _fresh_generator(), graded)
        finally:
            _restore_rng(kernel)
    except CallTimeout:
        return Verdict(
            "timeout",
            f"your function did not return within {options.cell_timeout:g} s when the grader called it",
            said,
        )
    except KernelLost as e:
        return Verdict("error", f"{where} could not be judged: {e}", said)
    try:
        note = reference_call_note(nb, call, get(ex_id), info)
    except KeyError:
        note = ""
    feedback = f"{result.feedback}; {note}" if result.feedback and note else result.feedback or note
    return Verdict(result.status, feedback, said, result.misconception, str(result.extra.get("prediction", "")))


# =========================================================================== running one notebook
def _stopped_words(status: str, cell_index: int, nb, options: GradeOptions) -> tuple[str, str]:
    """(problem, words) for a run that stopped at cell ``cell_index``."""
    where = f"cell {cell_index} (it starts {_first_line(nb.cells[cell_index].source)!r})"
    if status == "deadline":
        return "timeout", f"the notebook ran past its {options.timeout:g} s limit (still running {where})"
    if status == "died":
        return "died", (
            f"the kernel died while running {where} (memory limit {options.memory_mb} MiB exceeded, "
            "or the process crashed or exited)"
        )
    return "unresponsive", (
        f"the kernel stopped answering: {where} ran past the {options.cell_timeout:g} s limit per cell "
        "and ignored the interrupt, so the notebook could not go on"
    )


class KernelSession:
    """One sandboxed kernel in its own temporary folder, reused for one student's notebooks.

    :meth:`kernel_for` hands out the kernel for the next notebook: a fresh copy of the student's
    folder (``work-N`` inside the sandbox's folder, made the current directory) and a fresh
    namespace (IPython's ``reset``: every name the previous notebook defined is gone; modules
    stay imported, which is what saves the seconds of ``import torch``). A kernel whose
    notebook ended in any problem (died, timed out, stopped answering, could not be set up) is
    stopped with everything it started, and the next notebook gets a new one. With
    ``reuse=False`` every notebook gets a new kernel.
    """

    def __init__(self, folder: Path, options: GradeOptions, reuse: bool = True):
        self.folder, self.options, self.reuse = folder, options, reuse
        self._tmp = tempfile.TemporaryDirectory(prefix="vae-course-grade-", ignore_cleanup_errors=True)
        self.root = Path(self._tmp.name)
        self.kernel: GradedKernel | None = None
        self.used = 0

    def kernel_for(self) -> tuple[GradedKernel, Path]:
        """The kernel to run the next notebook in, and its working folder (a fresh copy)."""
        self.used += 1
        work = self.root / f"work-{self.used}"
        shutil.copytree(self.folder, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        if self.kernel is not None and not (self.reuse and self.kernel.alive()):
            self.discard()
        if self.kernel is None:
            home = self.root / "home"
            home.mkdir(exist_ok=True)
            env = _kernel_env(self.root, home, self.options)
            self.kernel = GradedKernel(self.root, work, env, self.options.memory_mb, _read_paths(self.options))
            self.kernel.start(self.options.startup_timeout)
        code = f"import os as _os\n_os.chdir({str(work)!r})\nget_ipython().reset(new_session=False)\n"
        run = self.kernel.run(code, 30.0, store_history=False)
        if run.status != "ok":
            raise KernelLost(f"the kernel could not be readied for this notebook ({run.error or run.status})")
        self.kernel.helper_ready = False  # the reset removed the grader's helper: set up again on use
        return self.kernel, work

    def discard(self) -> None:
        """Stop the kernel (the next notebook starts a new one)."""
        if self.kernel is not None:
            self.kernel.stop()
            self.kernel = None

    def close(self) -> None:
        self.discard()
        self._tmp.cleanup()


def _run_and_judge(
    nb,
    path: Path,
    expected: list[str],
    calls: list[CheckCall],
    options: GradeOptions,
    session: KernelSession | None = None,
) -> NotebookRun:
    """Run ``nb`` (read from ``path``) on a copy of the student's folder, judging each expected
    exercise right after its last check cell has run: every cell with ``options.full``, else
    only those :func:`cells_to_run` chooses. ``session`` is the student's kernel (reused from
    their previous notebook); without it the notebook gets a kernel of its own."""
    course_nb = None if options.full else _course_notebook(path.name, options.course_dir)
    run_these = set(cells_to_run(nb, calls, course_nb))
    skipped = 0
    shown: list[str] = []
    last = {c.exercise: c for c in calls if c.exercise in expected}
    at_cell: dict[int, list[tuple[str, CheckCall]]] = defaultdict(list)
    for ex_id, call in last.items():
        at_cell[call.cell].append((ex_id, call))
    verdicts: dict[str, Verdict] = {}
    cells: dict[int, CellRun] = {}
    problem, words = None, ""
    watched = path.parent.parent  # every submission (the teacher's course folder may be edited meanwhile)
    before = _snapshot(watched)
    own = session is None
    session = session or KernelSession(path.parent, options, reuse=False)
    try:
        kernel, _ = session.kernel_for()
        deadline = time.monotonic() + options.timeout
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            if i not in run_these:
                skipped += 1
                continue
            run = kernel.run(cell.source, options.cell_timeout, deadline=deadline)
            cells[i] = run
            if run.status in ("deadline", "died", "unresponsive"):
                problem, words = _stopped_words(run.status, i, nb, options)
                if run.status == "deadline":
                    for ex_id, _ in at_cell.get(i, []):  # this very check cell: its own timeout
                        verdicts[ex_id] = Verdict("timeout", words, _said(run))
                break
            for ex_id, call in at_cell.get(i, []):
                verdicts[ex_id] = judge(kernel, nb, ex_id, call, run, options, cells)
            if not kernel.alive():
                problem, words = _stopped_words("died", i, nb, options)
                break
        if problem is None:
            nid = notebook_id(path.name)
            shown = [e for e in kernel.solutions_shown() if nid and e.split(".")[0] == nid]
    except KernelLost as e:
        problem, words = "error", f"the notebook could not be run: {e}"
    finally:
        if own:
            session.close()
        elif problem is not None or any(r.status == "interrupted" for r in cells.values()):
            session.discard()  # a kernel that misbehaved serves no further notebook
    watchdog = [f"cell {i}: {r.watchdog}" for i, r in cells.items() if r.watchdog]
    return NotebookRun(verdicts, cells, problem, words, _changed_since(before, watched), watchdog, skipped, shown)


# =========================================================================== from a run to rows
def _unjudged(ex_id: str, calls: list[CheckCall], run: NotebookRun) -> tuple[str, str]:
    """(status, feedback) of an expected exercise the run did not judge."""
    mine = [c for c in calls if c.exercise == ex_id]
    if not mine:
        return "error", f'no check("{ex_id}", ...) cell ran: the check cell is missing or renamed'
    if run.problem == "timeout":
        return "timeout", f'{run.words}, before reaching check("{ex_id}", {mine[-1].function})'
    return "error", run.words or f'check("{ex_id}", {mine[-1].function}) was not reached'


def _notebook_problems(nb, calls: list[CheckCall], expected: list[str], run: NotebookRun) -> list[str]:
    """Problems of the notebook as a whole: checks of unknown exercises, accesses the sandbox
    refused, and files changed outside the grading folder."""
    notes = [
        f'check("{ex_id}", ...) is not an exercise of this notebook (a renamed check?)'
        for ex_id in sorted({c.exercise for c in calls} - set(expected))
    ]
    for i, cell_run in sorted(run.cells.items()):
        if cell_run.error and _REFUSED.match(cell_run.error):
            notes.append(
                f"cell {i} was refused by the sandbox (a read, write or connection outside its grading folder): "
                f"{cell_run.error}"
            )
    checked = {c.exercise for c in calls}
    if run.problem in ("died", "unresponsive") and all(e in run.verdicts for e in expected if e in checked):
        notes.append(run.words)  # every exercise was judged before; say what happened after
    if run.changed:
        shown = ", ".join(run.changed[:3]) + (f" and {len(run.changed) - 3} more" if len(run.changed) > 3 else "")
        notes.append(f"files outside the grading folder changed while this notebook ran: {shown}")
    return notes


_MAGIC = {b"%PDF": "a PDF document", b"PK\x03\x04": "a zip archive (or a Word/Office file)", b"\x89PNG": "a PNG image"}


def _unreadable(e: Exception, path: Path | None = None) -> str:
    try:
        head = path.read_bytes()[:8] if path is not None else b""
    except OSError:
        head = b""
    what = next((w for magic, w in _MAGIC.items() if head.startswith(magic)), None)
    if what:
        return f"this file is {what}, not a notebook: hand in the .ipynb file saved from Jupyter; nothing could run"
    kind = "not valid JSON" if isinstance(e, ValueError) or "JSON" in type(e).__name__ else "not readable"
    return f"the notebook file is {kind} (corrupt or cut short), so nothing could run: {type(e).__name__}: {e}"[:400]


def grade_notebook(path: Path, student: str, options: GradeOptions) -> list[Row]:
    """Grade one submitted notebook in its own sandboxed kernel; never raises for bad input."""
    rows, _ = _grade_notebook(path, student, options)
    return rows


def _grade_notebook(
    path: Path, student: str, options: GradeOptions, session: KernelSession | None = None
) -> tuple[list[Row], NotebookRun | None]:
    name = path.name
    expected = expected_exercises(name, options.course_dir)
    if not expected:
        note = (
            "no exercises are known for this notebook name: is it a course notebook (named like 00_start_here.ipynb)?"
        )
        return [Row(student, name, NOTEBOOK_ROW, "error", note)], None
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        return [Row(student, name, ex_id, "error", _unreadable(e, path)) for ex_id in expected], None
    calls = check_calls(nb)
    run = _run_and_judge(nb, path, expected, calls, options, session)
    rows = []
    for ex_id in expected:
        v = run.verdicts.get(ex_id)
        if v is None:
            v = Verdict(*_unjudged(ex_id, calls, run))
        rows.append(Row(student, name, ex_id, v.status, v.feedback, v.said, v.misconception, 1.0, v.prediction))
    rows += [Row(student, name, NOTEBOOK_ROW, "error", note) for note in _notebook_problems(nb, calls, expected, run)]
    rows += [Row(student, name, NOTEBOOK_ROW, "info", f"solution viewed for {ex_id}") for ex_id in run.solutions_shown]
    return rows, run


# =========================================================================== a class
def find_submissions(submissions_dir: Path) -> list[tuple[str, Path]]:
    """(student, notebook path) for every ``STUDENT/*.ipynb`` under the folder; a student folder
    holding no notebook gives (student, the folder), reported as such rather than skipped."""
    if not submissions_dir.is_dir():
        raise NotADirectoryError(f"expected a folder with one sub-folder per student, got {submissions_dir}")
    found = []
    for student in sorted(p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        notebooks = sorted(student.glob("*.ipynb"))
        found += [(student.name, nb) for nb in notebooks] or [(student.name, student)]
    return found


def _no_notebook(student: str, folder: Path) -> list[Row]:
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[:5]
    seen = f"it holds {', '.join(files)}" if files else "it is empty"
    return [Row(student, "(none)", NOTEBOOK_ROW, "error", f"no notebook (.ipynb) in this student's folder: {seen}", "")]


def shard(work: list[tuple[str, Path]], index: int, count: int) -> list[tuple[str, Path]]:
    """Shard ``index`` of ``count`` (1-based): every ``count``-th student in name order, from the
    ``index``-th on, with all their notebooks. The shards of a class are disjoint and together
    hold it all, whichever machine computes them."""
    if not (count >= 1 and 1 <= index <= count):
        raise ValueError(f"--shard I/N needs 1 <= I <= N, got {index}/{count}")
    students = sorted({s for s, _ in work})
    mine = set(students[index - 1 :: count])
    return [(s, p) for s, p in work if s in mine]


def _grade_one(item: tuple[str, Path], options: GradeOptions, session: KernelSession | None = None) -> list[Row]:
    """Grade one notebook of one student, turning a crash of the grader into an error row."""
    student, path = item
    t0 = time.perf_counter()
    run = None
    if path.is_dir():
        return _no_notebook(student, path)
    try:
        rows, run = (
            _grade_notebook(path, student, options, session) if session else _grade_notebook(path, student, options)
        )
    except Exception as e:  # a bug of ours must not stop the class
        rows = [Row(student, path.name, NOTEBOOK_ROW, "error", f"grading failed: {type(e).__name__}: {e}")]
        if session is not None:
            session.discard()
    if options.progress and not sys.stderr.isatty():  # on a terminal the progress bar says it
        counts = ", ".join(
            f"{sum(r.status == s for r in rows)} {s}" for s in REPORT_STATUSES if any(r.status == s for r in rows)
        )
        print(f"{student}/{path.name}: {counts} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
    for line in run.watchdog if run and options.progress else []:
        print(f"  watchdog: {line}; the grader went on", file=sys.stderr, flush=True)
    return rows


def _grade_student(items: list[tuple[str, Path]], options: GradeOptions, done=None) -> list[Row]:
    """Grade one student's notebooks in turn: in one kernel (:class:`KernelSession`) in the
    default mode, in a kernel each with ``options.full``. ``done(item, rows)`` is called as each
    notebook finishes (the checkpoint)."""
    done = done or (lambda item, rows: None)
    out = []
    session = None
    if not options.full and items and not items[0][1].is_dir():
        session = KernelSession(items[0][1].parent, options, reuse=True)
    try:
        for item in items:
            rows = _grade_one(item, options, session) if session else _grade_one(item, options)
            done(item, rows)
            out += rows
        return out
    finally:
        if session is not None:
            session.close()


# =========================================================================== nothing lost
def _part_path(checkpoint: Path, item: tuple[str, Path]) -> Path:
    student, path = item
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", student) + "-" + hashlib.sha256(student.encode()).hexdigest()[:8]
    return checkpoint / safe / ((path.name if not path.is_dir() else "(none)") + ".json")


def _fingerprint(item: tuple[str, Path], options: GradeOptions) -> str:
    """What a notebook's verdicts depend on: its bytes, and the options that change verdicts."""
    student, path = item
    h = hashlib.sha256(f"{student}\0{path.name}\0".encode())
    h.update(path.read_bytes() if path.is_file() else repr(sorted(p.name for p in path.iterdir())).encode())
    h.update(repr((options.timeout, options.cell_timeout, options.memory_mb, options.full)).encode())
    h.update(repr(sorted(options.predictions.items())).encode())
    return h.hexdigest()


def _write_part(part: Path, fingerprint: str, rows: list[Row]) -> None:
    """Write one notebook's rows so that a crash at any moment leaves either the old state or the
    whole new file: a temporary file, flushed to disk, then renamed over; a checksum inside."""
    data = json.dumps({"fingerprint": fingerprint, "rows": [dataclasses.asdict(r) for r in rows]})
    text = json.dumps({"sha256": hashlib.sha256(data.encode()).hexdigest(), "data": data})
    part.parent.mkdir(parents=True, exist_ok=True)
    tmp = part.with_name(part.name + f".tmp-{os.getpid()}-{threading.get_ident()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, part)
    try:
        fd = os.open(part.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def _read_part(part: Path, fingerprint: str) -> list[Row] | None:
    """The rows of a finished notebook, or None when the file is missing, half-written, corrupt
    or from another version of the submission (it is then graded again)."""
    try:
        outer = json.loads(part.read_text())
        data = outer["data"]
        if hashlib.sha256(data.encode()).hexdigest() != outer["sha256"]:
            return None
        inner = json.loads(data)
        if inner["fingerprint"] != fingerprint:
            return None
        return [Row(**r) for r in inner["rows"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _Progress:
    """A progress bar with an ETA on a terminal (stderr); nothing elsewhere."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.done, self.t0 = total, 0, time.monotonic()
        self.on = enabled and total > 0 and sys.stderr.isatty()
        self.lock = threading.Lock()

    def step(self, label: str) -> None:
        with self.lock:
            self.done += 1
            if not self.on:
                return
            spent = time.monotonic() - self.t0
            eta = spent / self.done * (self.total - self.done)
            width = 30
            bar = "#" * round(width * self.done / self.total)
            line = (
                f"\r[{bar:<{width}}] {self.done}/{self.total} notebooks, {_clock(spent)} spent, "
                f"ETA {_clock(eta)}  {label[:30]:<30}"
            )
            print(line, end="\n" if self.done == self.total else "", file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}:{s:02d}"


def apply_points(rows: list[Row], points: dict | None = None) -> list[Row]:
    """Set each exercise row's points: the teacher's override, else the registry's (default 1)."""
    points = points or {}
    for r in rows:
        if r.exercise == NOTEBOOK_ROW:
            r.points = 0.0
            continue
        try:
            r.points = float(points.get(r.exercise, get(r.exercise).points))
        except KeyError:
            r.points = float(points.get(r.exercise, 1.0))
    return rows


def read_points(path: Path | str) -> tuple[dict, dict]:
    """The teacher's points file: JSON ``{"points": {"01.2": 2, ...}, "predictions": {"09.1":
    "recorded", ...}}`` (both optional). Returns (points, predictions); raises ValueError with
    words for an unknown exercise or a bad value."""
    data = json.loads(Path(path).read_text())
    if not isinstance(data, dict) or set(data) - {"points", "predictions"}:
        raise ValueError(f"{path}: expected an object with 'points' and/or 'predictions'")
    points, predictions = data.get("points", {}), data.get("predictions", {})
    for ex_id, value in points.items():
        get(ex_id)  # KeyError names the known exercises
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{path}: points of {ex_id} must be a number >= 0, got {value!r}")
    for ex_id, mode in predictions.items():
        if not get(ex_id).prediction:
            raise ValueError(f"{path}: {ex_id} is not a predict-then-run exercise")
        if mode not in ("graded", "recorded"):
            raise ValueError(f"{path}: the prediction of {ex_id} must be 'graded' or 'recorded', got {mode!r}")
    return {k: float(v) for k, v in points.items()}, dict(predictions)


def grade(
    submissions_dir: Path | str,
    options: GradeOptions | None = None,
    shard_of: tuple[int, int] = (1, 1),
    only: str | None = None,
) -> list[Row]:
    """Grade every student's notebooks (``options.jobs`` at a time), or only those of the
    students in :func:`shard` ``shard_of`` = (I, N); rows in student order.

    With ``options.checkpoint`` (a folder), each notebook's rows are written there as soon as it
    is graded (atomically, with a checksum); run again after a crash, it grades only what has no
    valid file yet (a half-written or changed one is redone). ``only`` re-grades that student and
    returns every student's rows from the checkpoint (the report as a whole).
    ``options`` is not modified: a missing ``course_dir`` is filled in on a copy.
    """
    options = options or GradeOptions()
    if options.course_dir is None:
        options = dataclasses.replace(options, course_dir=default_course_dir())
    if options.course_dir is None and not options.full:
        warnings.warn(
            "no course notebooks found (neither shipped with the package nor in a checkout): every "
            "notebook runs whole, as with full=True, and only the registry names the exercises; "
            "give course_dir (vae-course grade --course-dir) to run only the cells the exercises need",
            stacklevel=2,
        )
    work = shard(find_submissions(Path(submissions_dir)), *shard_of)
    if only is not None and only not in {s for s, _ in work}:
        raise ValueError(f"--only {only}: no such student folder in {submissions_dir}")
    checkpoint = Path(options.checkpoint) if options.checkpoint else None
    finished: dict[tuple[str, Path], list[Row]] = {}
    prints: dict[tuple[str, Path], str] = {}
    if checkpoint is not None:
        for item in work:
            prints[item] = _fingerprint(item, options)
            part = _part_path(checkpoint, item)
            if only is not None and item[0] == only:
                part.unlink(missing_ok=True)
                continue
            rows = _read_part(part, prints[item])
            if rows is not None:
                finished[item] = rows
    if only is not None:
        todo = [item for item in work if item[0] == only]
    else:
        todo = [item for item in work if item not in finished]
    progress = _Progress(len(todo), options.progress)
    lock = threading.Lock()

    def done(item, rows):
        if checkpoint is not None:
            _write_part(_part_path(checkpoint, item), prints[item], rows)
        with lock:
            finished[item] = rows
        progress.step(f"{item[0]}/{item[1].name}")

    if options.full:  # a kernel per notebook, as many at once as jobs
        units = [[item] for item in todo]
    else:  # a kernel per student, serving their notebooks in turn
        by_student: dict[str, list[tuple[str, Path]]] = defaultdict(list)
        for item in todo:
            by_student[item[0]].append(item)
        units = list(by_student.values())
    one = functools.partial(_grade_student, options=options, done=done)
    if options.jobs > 1:
        with ThreadPoolExecutor(options.jobs) as pool:
            list(pool.map(one, units))
    else:
        for unit in units:
            one(unit)
    return apply_points([r for item in work if item in finished for r in finished[item]], options.points)
