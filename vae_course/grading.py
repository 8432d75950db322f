"""Grade a class's submitted notebooks: one kernel per notebook, sandboxed, with a report.

``vae-course grade SUBMISSIONS_DIR --report report.csv`` expects one folder per student, each
holding that student's notebooks (``alice/00_start_here.ipynb``, ...). For every notebook it

1. copies the student's folder into a fresh temporary folder (the submission is never run in
   place, and never in the teacher's Python process);
2. starts a kernel through a small wrapper (this file, run as a script) that limits its
   address space (``--memory``, RLIMIT_AS) and file size, and, where the Linux kernel offers
   Landlock (unprivileged, 5.13+), forbids writing anywhere outside the temporary folder
   and ``/dev`` and sending signals to other processes; HOME, TMPDIR and the working folder
   all point into the temporary folder;
3. runs every cell with nbclient (errors allowed, so one failing exercise does not hide the
   next) under one wall-clock limit for the whole notebook (``--timeout``);
4. reads the statuses each ``check("NN.k", fn)`` appended to ``$VAE_COURSE_RESULTS``, and turns
   what did not report into words: a missing or renamed check, a check cell that crashed,
   a timeout, a dead kernel, a file that is not a notebook.

The report has one row per student, notebook and exercise (plus ``(notebook)`` rows for
problems of the notebook as a whole): ``student, notebook, exercise, status, feedback`` with
status pass | fail | not attempted | error | timeout.

Limits of the sandbox, stated honestly: without Landlock the writes outside the folder are
only *detected* (the submissions folder is compared before and after each notebook), not
prevented; the network is not restricted; and since the check runs inside the
student's kernel, a student who sets out to forge a result can. This validates exercises; it
is not an exam proctor.

This module imports only the standard library at the top, because the sandbox wrapper runs it
as a plain script before the kernel starts.
"""
from __future__ import annotations

import ast
import asyncio
import csv
import ctypes
import html
import json
import os
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPORT_STATUSES = ("pass", "fail", "not attempted", "error", "timeout")
NOTEBOOK_ROW = "(notebook)"
FIELDS = ("student", "notebook", "exercise", "status", "feedback")
_NOTEBOOK_ID = re.compile(r"^(\d\d)[_\-. ]")


@dataclass
class Row:
    """One line of the report."""

    student: str
    notebook: str
    exercise: str
    status: str
    feedback: str = ""


@dataclass
class GradeOptions:
    """How to grade: per-notebook wall-clock limit (s), memory limit (MiB), parallel notebooks."""

    timeout: float = 300.0
    memory_mb: int = 4096
    jobs: int = 1
    course_dir: Path | None = None
    progress: bool = True
    extra_env: dict = field(default_factory=dict)


# =========================================================================== the sandbox
# Landlock constants (linux/landlock.h).
_SYS_LANDLOCK = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_FS_WRITE_FILE, _FS_REMOVE_DIR, _FS_REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_FS_MAKE = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1


def landlock_abi() -> int:
    """Landlock ABI version of the running Linux kernel, 0 when unavailable."""
    nums = _SYS_LANDLOCK.get(os.uname().machine)
    if sys.platform != "linux" or nums is None:
        return 0
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        abi = libc.syscall(nums[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0
    return max(abi, 0)


def restrict_writes(allowed: list[str]) -> int:
    """Forbid this process and its children, for good, to write outside ``allowed`` folders.

    Uses Landlock: reading and executing stay allowed everywhere; creating, writing, renaming,
    truncating and deleting files are allowed only beneath the given paths. From ABI 6 on,
    signals to processes outside the sandbox are blocked too. Returns the ABI used (0: not
    available, nothing restricted).
    """
    abi = landlock_abi()
    if abi < 1:
        return 0
    create, add_rule, restrict_self = _SYS_LANDLOCK[os.uname().machine]
    handled = _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE
    handled |= _FS_REFER if abi >= 2 else 0
    handled |= _FS_TRUNCATE if abi >= 3 else 0
    scoped = _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET if abi >= 6 else 0

    class RulesetAttr(ctypes.Structure):
        _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                    ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    libc = ctypes.CDLL(None, use_errno=True)
    attr = RulesetAttr(handled, 0, scoped)
    size = ctypes.sizeof(RulesetAttr) if abi >= 6 else 8
    fd = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in allowed:
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rights = handled if os.path.isdir(path) else handled & (_FS_WRITE_FILE | _FS_TRUNCATE)
                rule = PathBeneath(rights, pfd)
                if libc.syscall(add_rule, fd, 1, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
                    raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
            finally:
                os.close(pfd)
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: required before restrict_self
        if libc.syscall(restrict_self, fd, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)
    return abi


def sandbox_command(root: Path | str, memory_mb: int, command: list[str]) -> list[str]:
    """The command that runs ``command`` under the limits: this file as a script, then exec."""
    return [sys.executable, os.path.abspath(__file__), "--sandbox", str(root), "--memory-mb", str(memory_mb),
            "--", *command]


def _sandbox_main(argv: list[str]) -> int:
    """Script entry: ``grading.py --sandbox ROOT --memory-mb N -- command...``; limits, then exec."""
    if len(argv) < 6 or argv[0] != "--sandbox" or argv[2] != "--memory-mb" or argv[4] != "--":
        print("usage: grading.py --sandbox ROOT --memory-mb N -- command ...", file=sys.stderr)
        return 2
    root, memory_mb, command = argv[1], int(argv[3]), argv[5:]
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    fsize = 1 << 30  # no single file over 1 GiB
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    restrict_writes([root, "/dev"])
    os.execvp(command[0], command)
    return 127  # not reached


# =========================================================================== what to expect
def notebook_id(name: str) -> str | None:
    """``"00"`` for ``00_start_here.ipynb``; None for a name without the two-digit prefix."""
    m = _NOTEBOOK_ID.match(name)
    return m.group(1) if m else None


def expected_exercises(notebook_name: str, course_dir: Path | None = None) -> list[str]:
    """Exercise ids a notebook must check: those registered for its number, and those the
    course notebook of the same name checks."""
    from .exercises import all_exercises
    from .student import check_calls

    nid = notebook_id(notebook_name)
    ids = {e for e in all_exercises() if nid and e.split(".")[0] == nid}
    if course_dir is not None and (course_dir / notebook_name).exists():
        import nbformat

        try:
            ids |= {c.exercise for c in check_calls(nbformat.read(course_dir / notebook_name, as_version=4))}
        except Exception:  # a broken course notebook: fall back on the registry
            pass
    return sorted(ids, key=lambda s: [int(p) for p in s.split(".")])


def default_course_dir() -> Path | None:
    """The course's ``notebooks/`` folder next to the package, when installed from the repository."""
    d = Path(__file__).resolve().parent.parent / "notebooks"
    return d if d.is_dir() else None


def reference_call_note(nb, call, exercise) -> str:
    """A note when the learner's function (the one passed to ``check``) calls the package's
    own reference for that exercise, e.g. ``return rms_distance(a, b)``; "" otherwise."""
    from .student import function_defs

    ref = getattr(exercise, "reference", None)
    if ref is None or call.function.split(".")[-1] == "":
        return ""
    name = getattr(ref, "__name__", "")
    fn_name = call.function.split(".")[-1]
    node = None
    for cell in nb.cells[: call.cell + 1]:  # the last definition before the check wins
        if cell.cell_type == "code":
            node = function_defs(cell.source).get(fn_name, node)
    if node is None or not name:
        return ""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
            if called == name:
                return (f"note: the solution calls {name} from {ref.__module__}, the package's own reference "
                        f"for this exercise, instead of computing it")
    return ""


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


def _first_line(source: str) -> str:
    lines = [line for line in source.strip().split("\n") if line.strip()]
    return (lines[0][:60] + ("..." if len(lines[0]) > 60 else "")) if lines else ""


def _cell_error(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = re.sub(r"\x1b\[[0-9;]*m", "", str(out.get("evalue", "")))
            return f"{out.get('ename', 'Error')}: {value}"[:300]
    return None


def _kernel_env(root: Path, work: Path, options: GradeOptions) -> dict[str, str]:
    env = dict(os.environ)
    try:
        from .data import cache_dir

        data = str(cache_dir())
    except Exception:
        data = str(root / "data")
    tmp = root / "tmp"
    tmp.mkdir(exist_ok=True)
    # matplotlib's font cache: reuse the teacher's (read only in the sandbox) when it exists,
    # instead of rebuilding it for every notebook.
    mpl = Path(os.environ.get("MPLCONFIGDIR") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib")
    if not any(mpl.glob("fontlist-*.json")):
        mpl = tmp / "matplotlib"
    env.update({
        "HOME": str(work), "TMPDIR": str(tmp), "MPLCONFIGDIR": str(mpl),
        "IPYTHONDIR": str(tmp / "ipython"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "VAE_COURSE_RESULTS": str(root / "results.jsonl"), "VAE_COURSE_DATA": data,
        "PYTHONDONTWRITEBYTECODE": "1", "MALLOC_ARENA_MAX": "2",
    })
    if options.jobs > 1 and "OMP_NUM_THREADS" not in os.environ:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // options.jobs))
    env.update(options.extra_env)
    return env


async def _execute(nb, root: Path, work: Path, options: GradeOptions) -> tuple[str | None, str]:
    """Run the notebook in a sandboxed kernel; return (problem, words): problem is None,
    "timeout" or "died"/"error"; ``nb`` receives the outputs."""
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    argv = sandbox_command(root, options.memory_mb,
                           [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"])

    class Specs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            return KernelSpec(argv=argv, display_name="graded (sandboxed)", language="python")

    km = AsyncKernelManager(kernel_name="vae-course-graded", kernel_spec_manager=Specs())
    km.connection_file = str(root / "kernel.json")
    deadline: list[float] = []
    current: list = [None]

    def remaining(cell) -> int:
        if not deadline:  # the clock starts at the first cell, after the kernel is up
            deadline.append(time.monotonic() + options.timeout)
        current[0] = cell
        return max(1, int(deadline[0] - time.monotonic() + 0.999))

    client = NotebookClient(nb, km=km, timeout_func=remaining, allow_errors=True, startup_timeout=120,
                            kernel_name="vae-course-graded", resources={"metadata": {"path": str(work)}})
    problem, words = None, ""
    pgid, log = None, None
    try:
        log = open(root / "kernel.log", "wb")  # the kernel's own stdout/stderr, kept off the teacher's terminal
        async with client.async_setup_kernel(env=_kernel_env(root, work, options), cwd=str(work),
                                             stdout=log, stderr=log):
            pgid = getattr(km.provisioner, "pgid", None)
            await client.async_execute()
    except CellTimeoutError:
        cell = current[0]
        where = f" (still running the cell that starts {_first_line(cell.source)!r})" if cell is not None else ""
        problem, words = "timeout", f"the notebook ran past its {options.timeout:g} s limit{where}"
    except DeadKernelError:
        problem, words = "died", (f"the kernel died (memory limit {options.memory_mb} MiB exceeded, "
                                  f"or the process crashed or exited)")
    except Exception as e:  # the kernel would not start, or nbclient failed: report, go on
        problem, words = "error", f"the notebook could not be run: {type(e).__name__}: {e}"[:400]
    finally:
        if log is not None:
            log.close()
        pgid = pgid or getattr(km.provisioner, "pgid", None)
        try:
            if await km.is_alive():
                await km.shutdown_kernel(now=True)
        except Exception:
            pass
        if pgid:  # the kernel runs in its own session: end whatever it started, too
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    return problem, words


def grade_notebook(path: Path, student: str, options: GradeOptions) -> list[Row]:
    """Grade one submitted notebook in its own sandboxed kernel; never raises for bad input."""
    import nbformat

    from .exercises import get
    from .student import check_calls

    name = path.name
    course_dir = options.course_dir
    expected = expected_exercises(name, course_dir)

    def rows_all(status: str, feedback: str) -> list[Row]:
        return [Row(student, name, e, status, feedback) for e in expected] or [
            Row(student, name, NOTEBOOK_ROW, status, feedback)]

    if not expected:
        return [Row(student, name, NOTEBOOK_ROW, "error",
                    "no exercises are known for this notebook name: is it a course notebook "
                    "(named like 00_start_here.ipynb)?")]
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        kind = "not valid JSON" if isinstance(e, ValueError) or "JSON" in type(e).__name__ else "not readable"
        return rows_all("error", f"the notebook file is {kind}, so nothing could run: {type(e).__name__}: {e}"[:400])

    calls = check_calls(nb)
    rows: list[Row] = []
    watched = [path.parent.parent]  # every submission (the teacher's course folder may be edited meanwhile)
    before = _snapshot(*watched)
    with tempfile.TemporaryDirectory(prefix="vae-course-grade-") as tmp:
        root = Path(tmp)
        work = root / "work"
        shutil.copytree(path.parent, work, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        (root / "results.jsonl").touch()
        problem, words = asyncio.run(_execute(nb, root, work, options))
        results: dict[str, dict] = {}
        for line in (root / "results.jsonl").read_text(errors="replace").splitlines():
            try:
                rec = json.loads(line)
                results[str(rec["exercise"])] = rec  # the last run of a check counts
            except (ValueError, KeyError, TypeError):
                continue
    changed = sorted(p for p, sig in _snapshot(*watched).items() if before.get(p) != sig)
    changed += sorted(p for p in before if not os.path.exists(p))

    for ex_id in expected:
        mine = [c for c in calls if c.exercise == ex_id]
        if ex_id in results and results[ex_id].get("status") in REPORT_STATUSES:
            rec = results[ex_id]
            feedback = str(rec.get("feedback", ""))
            if mine:
                try:
                    note = reference_call_note(nb, mine[-1], get(ex_id))
                except KeyError:
                    note = ""
                feedback = f"{feedback}; {note}" if feedback and note else feedback or note
            rows.append(Row(student, name, ex_id, rec["status"], feedback))
        elif not mine:
            rows.append(Row(student, name, ex_id, "error",
                            f'no check("{ex_id}", ...) cell ran: the check cell is missing or renamed'))
        else:
            err = _cell_error(nb.cells[mine[-1].cell])
            if err:
                rows.append(Row(student, name, ex_id, "error",
                                f'the check cell check("{ex_id}", {mine[-1].function}) did not report: it raised {err}'))
            elif problem:
                rows.append(Row(student, name, ex_id, "timeout" if problem == "timeout" else "error", words))
            else:
                rows.append(Row(student, name, ex_id, "error", f'the check cell check("{ex_id}", '
                                f"{mine[-1].function}) ran without reporting (was check redefined?)"))
    for ex_id in sorted({c.exercise for c in calls} - set(expected)):
        rows.append(Row(student, name, NOTEBOOK_ROW, "error",
                        f'check("{ex_id}", ...) is not an exercise of this notebook (a renamed check?)'))
    for i, cell in enumerate(nb.cells):
        err = _cell_error(cell) if cell.cell_type == "code" else None
        if err and err.startswith(("PermissionError", "OSError: [Errno 30]")):
            rows.append(Row(student, name, NOTEBOOK_ROW, "error",
                            f"cell {i} was refused a write outside its grading folder: {err}"))
    if changed:
        shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
        rows.append(Row(student, name, NOTEBOOK_ROW, "error",
                        f"files outside the grading folder changed while this notebook ran: {shown}"))
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


def grade(submissions_dir: Path | str, options: GradeOptions | None = None) -> list[Row]:
    """Grade every student's notebooks (``options.jobs`` at a time); rows in student order."""
    options = options or GradeOptions()
    if options.course_dir is None:
        options.course_dir = default_course_dir()
    work = find_submissions(Path(submissions_dir))

    def one(item: tuple[str, Path]) -> list[Row]:
        student, path = item
        t0 = time.perf_counter()
        try:
            rows = grade_notebook(path, student, options)
        except Exception as e:  # a bug of ours must not stop the class
            rows = [Row(student, path.name, NOTEBOOK_ROW, "error", f"grading failed: {type(e).__name__}: {e}")]
        if options.progress:
            counts = ", ".join(f"{sum(r.status == s for r in rows)} {s}" for s in REPORT_STATUSES
                               if any(r.status == s for r in rows))
            print(f"{student}/{path.name}: {counts} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        return rows

    if options.jobs > 1:
        with ThreadPoolExecutor(options.jobs) as pool:
            chunks = list(pool.map(one, work))
    else:
        chunks = [one(item) for item in work]
    return [r for chunk in chunks for r in chunk]


# =========================================================================== reports
def write_csv(rows: list[Row], path: Path | str) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FIELDS)
        for r in rows:
            w.writerow([r.student, r.notebook, r.exercise, r.status, r.feedback])


def read_csv(path: Path | str) -> list[Row]:
    with open(path, newline="") as f:
        return [Row(**row) for row in csv.DictReader(f)]


def summary_table(rows: list[Row]) -> str:
    """A plain-text table: one line per student, one column per exercise, and passes out of all."""
    exercises = sorted({r.exercise for r in rows if r.exercise != NOTEBOOK_ROW},
                       key=lambda s: [int(p) for p in s.split(".")])
    students = list(dict.fromkeys(r.student for r in rows))
    grid = {(r.student, r.exercise): r.status for r in rows}
    notes = {s: sum(r.student == s and r.exercise == NOTEBOOK_ROW for r in rows) for s in students}
    header = ["student", *exercises, "passed", "notes"]
    lines = [[s, *(grid.get((s, e), "-") for e in exercises),
              f"{sum(grid.get((s, e)) == 'pass' for e in exercises)}/{len(exercises)}", str(notes[s] or "")]
             for s in students]
    totals = ["passed", *(f"{sum(grid.get((s, e)) == 'pass' for s in students)}/{len(students)}" for e in exercises), "", ""]
    table = [header, *lines, totals]
    widths = [max(len(row[k]) for row in table) for k in range(len(header))]
    fmt = lambda row: "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip()  # noqa: E731
    out = [fmt(header), "  ".join("-" * w for w in widths), *map(fmt, lines), "  ".join("-" * w for w in widths), fmt(totals)]
    return "\n".join(out)


_COLOURS = {"pass": "#d7f5d7", "fail": "#ffd6d6", "not attempted": "#eeeeee", "error": "#ffe9b3", "timeout": "#ffc9a6"}


def write_html(rows: list[Row], path: Path | str, title: str = "vae-course grading report") -> None:
    """An HTML page: the summary table, then every row with its feedback, coloured by status."""
    body = [f"<h1>{html.escape(title)}</h1>", f"<pre>{html.escape(summary_table(rows))}</pre>",
            "<table><tr>" + "".join(f"<th>{f}</th>" for f in FIELDS) + "</tr>"]
    for r in rows:
        body.append(f'<tr style="background:{_COLOURS.get(r.status, "#fff")}">' + "".join(
            f"<td>{html.escape(str(v))}</td>" for v in (r.student, r.notebook, r.exercise, r.status, r.feedback)) + "</tr>")
    body.append("</table>")
    style = ("body{font-family:sans-serif}table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:4px 8px;text-align:left;vertical-align:top}")
    Path(path).write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                          f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


if __name__ == "__main__":  # the sandbox wrapper: python grading.py --sandbox ROOT --memory-mb N -- cmd...
    sys.exit(_sandbox_main(sys.argv[1:]))
