"""Grade a class's submitted notebooks: one kernel per notebook, sandboxed, with a report.

``vae-course grade SUBMISSIONS_DIR --report report.csv`` expects one folder per student, each
holding that student's notebooks (``alice/00_start_here.ipynb``, ...). For every notebook
:func:`grade_notebook`

1. copies the student's folder into a fresh temporary folder (the submission is never run in
   place, and never in the teacher's Python process);
2. starts a kernel through the wrapper script :mod:`vae_course.classroom.sandbox`, which limits
   its address space (``--memory``, RLIMIT_AS) and file size, and, where the Linux kernel offers
   Landlock (unprivileged, 5.13+), forbids writing anywhere outside the temporary folder and
   ``/dev`` and sending signals to other processes; HOME, TMPDIR and the working folder all
   point into the temporary folder;
3. runs every cell with nbclient (errors allowed, so one failing exercise does not hide the
   next) under one wall-clock limit for the whole notebook (``--timeout``);
4. reads the statuses each ``check("NN.k", fn)`` appended to ``$VAE_COURSE_RESULTS``, and turns
   what did not report into words: a missing or renamed check, a check cell that crashed,
   a timeout, a dead kernel, a file that is not a notebook.

The rows it returns (:class:`~vae_course.classroom.report.Row`) and the CSV, HTML and summary
made of them are in :mod:`vae_course.classroom.report`.

Limits of the sandbox, stated honestly: without Landlock the writes outside the folder are
only *detected* (the submissions folder is compared before and after each notebook), not
prevented; the network is not restricted; and since the check runs inside the
student's kernel, a student who sets out to forge a result can. This validates exercises; it
is not an exam proctor.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import functools
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from ..data import cache_dir
from ..exercises import all_exercises, get
from .report import NOTEBOOK_ROW, REPORT_STATUSES, Row
from .sandbox import sandbox_command
from .student import CheckCall, check_calls, function_defs

_NOTEBOOK_ID = re.compile(r"^(\d\d)[_\-. ]")
_KERNEL_NAME = "vae-course-graded"


@dataclass
class GradeOptions:
    """How to grade: per-notebook wall-clock limit (s), memory limit (MiB), parallel notebooks."""

    timeout: float = 300.0
    memory_mb: int = 4096
    jobs: int = 1
    course_dir: Path | None = None
    progress: bool = True
    extra_env: dict = field(default_factory=dict)


@dataclass
class NotebookRun:
    """What running one notebook in the sandbox left behind."""

    results: dict[str, dict]  # exercise id -> the last record its check wrote
    problem: str | None  # None, "timeout", "died" or "error": the run as a whole
    words: str  # the problem, for a learner
    changed: list[str]  # files outside the grading folder that changed meanwhile


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
    """The course's ``notebooks/`` folder beside the package, when installed from the repository."""
    d = Path(__file__).resolve().parents[2] / "notebooks"
    return d if d.is_dir() else None


def _calls_by_name(node: ast.AST) -> set[str]:
    """Names of the functions and methods called anywhere inside ``node``."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            names.add(f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None)
    return names - {None}


def reference_call_note(nb, call: CheckCall, exercise) -> str:
    """A note when the learner's function (the one passed to ``check``) calls the package's
    own reference for that exercise, e.g. ``return rms_distance(a, b)``; "" otherwise."""
    ref = getattr(exercise, "reference", None)
    fn_name = call.function.split(".")[-1]
    if ref is None or fn_name == "":
        return ""
    name = getattr(ref, "__name__", "")
    node = None
    for cell in nb.cells[: call.cell + 1]:  # the last definition before the check wins
        if cell.cell_type == "code":
            node = function_defs(cell.source).get(fn_name, node)
    if node is None or not name or name not in _calls_by_name(node):
        return ""
    return (
        f"note: the solution calls {name} from {ref.__module__}, the package's own reference "
        f"for this exercise, instead of computing it"
    )


# =========================================================================== running one notebook
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


def _cell_error(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = re.sub(r"\x1b\[[0-9;]*m", "", str(out.get("evalue", "")))
            return f"{out.get('ename', 'Error')}: {value}"[:300]
    return None


def _matplotlib_config_dir(tmp: Path) -> Path:
    """matplotlib's font cache: the teacher's (read only in the sandbox) when it exists, instead
    of rebuilding it for every notebook; a fresh folder in ``tmp`` otherwise."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    mpl = Path(os.environ.get("MPLCONFIGDIR") or cache / "matplotlib")
    return mpl if any(mpl.glob("fontlist-*.json")) else tmp / "matplotlib"


def _kernel_env(root: Path, work: Path, options: GradeOptions) -> dict[str, str]:
    """The kernel's environment: HOME, TMPDIR and friends inside ``root``, results to ``root``."""
    env = dict(os.environ)
    try:
        data = str(cache_dir())
    except Exception:
        data = str(root / "data")
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    env.update(
        {
            "HOME": str(work),
            "TMPDIR": str(tmp),
            "MPLCONFIGDIR": str(_matplotlib_config_dir(tmp)),
            "IPYTHONDIR": str(tmp / "ipython"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
            "VAE_COURSE_RESULTS": str(root / "results.jsonl"),
            "VAE_COURSE_DATA": data,
            "PYTHONDONTWRITEBYTECODE": "1",
            "MALLOC_ARENA_MAX": "2",
        }
    )
    if options.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // options.jobs))
    env.update(options.extra_env)
    return env


def _sandboxed_kernel_manager(root: Path, options: GradeOptions) -> AsyncKernelManager:
    """A kernel manager whose only kernel is ipykernel started through the sandbox script."""
    argv = sandbox_command(
        root, options.memory_mb, [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    )

    class Specs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(argv=argv, display_name="graded (sandboxed)", language="python")

    km = AsyncKernelManager(kernel_name=_KERNEL_NAME, kernel_spec_manager=Specs())
    km.connection_file = str(root / "kernel.json")
    return km


class _NotebookClock:
    """One wall-clock limit for the whole notebook, as nbclient's per-cell ``timeout_func``.

    The clock starts at the first cell, after the kernel is up; each cell gets what is left.
    ``cell`` is the cell running last, to name it when time runs out.
    """

    def __init__(self, limit: float):
        self.limit, self.deadline, self.cell = limit, None, None

    def __call__(self, cell) -> int:
        if self.deadline is None:
            self.deadline = time.monotonic() + self.limit
        self.cell = cell
        return max(1, int(self.deadline - time.monotonic() + 0.999))


def _run_failure(e: Exception, clock: _NotebookClock, options: GradeOptions) -> tuple[str, str]:
    """(problem, words) for an exception that stopped the notebook."""
    if isinstance(e, CellTimeoutError):
        cell = clock.cell
        where = f" (still running the cell that starts {_first_line(cell.source)!r})" if cell is not None else ""
        return "timeout", f"the notebook ran past its {options.timeout:g} s limit{where}"
    if isinstance(e, DeadKernelError):
        return "died", (
            f"the kernel died (memory limit {options.memory_mb} MiB exceeded, or the process crashed or exited)"
        )
    # the kernel would not start, or nbclient failed: report, go on
    return "error", f"the notebook could not be run: {type(e).__name__}: {e}"[:400]


async def _stop_kernel(km: AsyncKernelManager, pgid: int | None) -> None:
    """Shut the kernel down, then kill its whole process group (whatever it started, too)."""
    pgid = pgid or getattr(km.provisioner, "pgid", None)
    try:
        if await km.is_alive():
            await km.shutdown_kernel(now=True)
    except Exception:
        pass
    if pgid:  # the kernel runs in its own session
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


async def _execute(nb, root: Path, work: Path, options: GradeOptions) -> tuple[str | None, str]:
    """Run the notebook in a sandboxed kernel; return (problem, words): problem is None,
    "timeout" or "died"/"error"; ``nb`` receives the outputs."""
    km = _sandboxed_kernel_manager(root, options)
    clock = _NotebookClock(options.timeout)
    client = NotebookClient(
        nb,
        km=km,
        timeout_func=clock,
        allow_errors=True,
        startup_timeout=120,
        kernel_name=_KERNEL_NAME,
        resources={"metadata": {"path": str(work)}},
    )
    problem, words, pgid = None, "", None
    try:
        # the kernel's own stdout/stderr go to a log, kept off the teacher's terminal
        with open(root / "kernel.log", "wb") as log:
            async with client.async_setup_kernel(
                env=_kernel_env(root, work, options), cwd=str(work), stdout=log, stderr=log
            ):
                pgid = getattr(km.provisioner, "pgid", None)
                await client.async_execute()
    except Exception as e:
        problem, words = _run_failure(e, clock, options)
    finally:
        await _stop_kernel(km, pgid)
    return problem, words


def _read_results(path: Path) -> dict[str, dict]:
    """The records the checks appended (one JSON line each); the last run of a check counts."""
    results: dict[str, dict] = {}
    for line in path.read_text(errors="replace").splitlines():
        try:
            rec = json.loads(line)
            results[str(rec["exercise"])] = rec
        except (ValueError, KeyError, TypeError):
            continue
    return results


def _run_sandboxed(nb, path: Path, options: GradeOptions) -> NotebookRun:
    """Run ``nb`` (read from ``path``) on a copy of the student's folder; ``nb`` receives the outputs."""
    watched = path.parent.parent  # every submission (the teacher's course folder may be edited meanwhile)
    before = _snapshot(watched)
    with tempfile.TemporaryDirectory(prefix="vae-course-grade-") as tmp:
        root = Path(tmp)
        work = root / "work"
        shutil.copytree(path.parent, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        (root / "results.jsonl").touch()
        problem, words = asyncio.run(_execute(nb, root, work, options))
        results = _read_results(root / "results.jsonl")
    return NotebookRun(results, problem, words, _changed_since(before, watched))


# =========================================================================== from a run to rows
def _with_reference_note(feedback: str, nb, call: CheckCall, ex_id: str) -> str:
    try:
        note = reference_call_note(nb, call, get(ex_id))
    except KeyError:
        note = ""
    return f"{feedback}; {note}" if feedback and note else feedback or note


def _silent_check_status(ex_id: str, nb, call: CheckCall, run: NotebookRun) -> tuple[str, str]:
    """(status, feedback) for a check cell that is there but reported nothing."""
    err = _cell_error(nb.cells[call.cell])
    if err:
        return "error", f'the check cell check("{ex_id}", {call.function}) did not report: it raised {err}'
    if run.problem:
        return ("timeout" if run.problem == "timeout" else "error"), run.words
    return "error", f'the check cell check("{ex_id}", {call.function}) ran without reporting (was check redefined?)'


def _exercise_status(ex_id: str, nb, calls: list[CheckCall], run: NotebookRun) -> tuple[str, str]:
    """(status, feedback) of one expected exercise: what its check reported, or why it did not."""
    mine = [c for c in calls if c.exercise == ex_id]
    rec = run.results.get(ex_id)
    if rec is not None and rec.get("status") in REPORT_STATUSES:
        feedback = str(rec.get("feedback", ""))
        return rec["status"], (_with_reference_note(feedback, nb, mine[-1], ex_id) if mine else feedback)
    if not mine:
        return "error", f'no check("{ex_id}", ...) cell ran: the check cell is missing or renamed'
    return _silent_check_status(ex_id, nb, mine[-1], run)


def _notebook_problems(nb, calls: list[CheckCall], expected: list[str], run: NotebookRun) -> list[str]:
    """Problems of the notebook as a whole: checks of unknown exercises, refused writes, and
    files changed outside the grading folder."""
    notes = [
        f'check("{ex_id}", ...) is not an exercise of this notebook (a renamed check?)'
        for ex_id in sorted({c.exercise for c in calls} - set(expected))
    ]
    for i, cell in enumerate(nb.cells):
        err = _cell_error(cell) if cell.cell_type == "code" else None
        if err and err.startswith(("PermissionError", "OSError: [Errno 30]")):
            notes.append(f"cell {i} was refused a write outside its grading folder: {err}")
    if run.changed:
        shown = ", ".join(run.changed[:3]) + (f" and {len(run.changed) - 3} more" if len(run.changed) > 3 else "")
        notes.append(f"files outside the grading folder changed while this notebook ran: {shown}")
    return notes


def _unreadable(e: Exception) -> str:
    kind = "not valid JSON" if isinstance(e, ValueError) or "JSON" in type(e).__name__ else "not readable"
    return f"the notebook file is {kind}, so nothing could run: {type(e).__name__}: {e}"[:400]


def grade_notebook(path: Path, student: str, options: GradeOptions) -> list[Row]:
    """Grade one submitted notebook in its own sandboxed kernel; never raises for bad input."""
    name = path.name
    expected = expected_exercises(name, options.course_dir)
    if not expected:
        return [
            Row(
                student,
                name,
                NOTEBOOK_ROW,
                "error",
                "no exercises are known for this notebook name: is it a course notebook "
                "(named like 00_start_here.ipynb)?",
            )
        ]
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        return [Row(student, name, ex_id, "error", _unreadable(e)) for ex_id in expected]
    calls = check_calls(nb)
    run = _run_sandboxed(nb, path, options)
    rows = [Row(student, name, ex_id, *_exercise_status(ex_id, nb, calls, run)) for ex_id in expected]
    rows += [Row(student, name, NOTEBOOK_ROW, "error", note) for note in _notebook_problems(nb, calls, expected, run)]
    return rows


# =========================================================================== a class
def find_submissions(submissions_dir: Path) -> list[tuple[str, Path]]:
    """(student, notebook path) for every ``STUDENT/*.ipynb`` under the folder."""
    if not submissions_dir.is_dir():
        raise NotADirectoryError(f"expected a folder with one sub-folder per student, got {submissions_dir}")
    found = []
    for student in sorted(p for p in submissions_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for nb in sorted(student.glob("*.ipynb")):
            found.append((student.name, nb))
    return found


def _grade_one(item: tuple[str, Path], options: GradeOptions) -> list[Row]:
    """Grade one notebook of one student, turning a crash of the grader into an error row."""
    student, path = item
    t0 = time.perf_counter()
    try:
        rows = grade_notebook(path, student, options)
    except Exception as e:  # a bug of ours must not stop the class
        rows = [Row(student, path.name, NOTEBOOK_ROW, "error", f"grading failed: {type(e).__name__}: {e}")]
    if options.progress:
        counts = ", ".join(
            f"{sum(r.status == s for r in rows)} {s}" for s in REPORT_STATUSES if any(r.status == s for r in rows)
        )
        print(f"{student}/{path.name}: {counts} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
    return rows


def grade(submissions_dir: Path | str, options: GradeOptions | None = None) -> list[Row]:
    """Grade every student's notebooks (``options.jobs`` at a time); rows in student order.

    ``options`` is not modified: a missing ``course_dir`` is filled in on a copy.
    """
    options = options or GradeOptions()
    if options.course_dir is None:
        options = dataclasses.replace(options, course_dir=default_course_dir())
    work = find_submissions(Path(submissions_dir))
    one = functools.partial(_grade_one, options=options)
    if options.jobs > 1:
        with ThreadPoolExecutor(options.jobs) as pool:
            chunks = list(pool.map(one, work))
    else:
        chunks = [one(item) for item in work]
    return [r for chunk in chunks for r in chunk]
