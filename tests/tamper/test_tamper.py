"""The tamper suite: submissions written to break the grader, and what the report says of each.

One grading run (``jobs=2``) over a class of small notebooks named like the course's
``00_start_here.ipynb``, each trying one family of attacks (see ``ATTACKS``), plus a second run
with a short per-cell limit for the loops. Every test states the outcome the grader must give,
and ``test_nothing_outside_the_students_copy_changed`` checks that the submissions folder, the
teacher's files and the decoys are exactly as before, that no file appeared in /tmp, and that no
process the kernels started is left running.

The confinement checks that need Landlock (reads, writes, signals) or seccomp (network) are
skipped where this Linux does not offer them; everything about verdicts holds everywhere.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import uuid
from pathlib import Path

import pytest

from tests.course import COURSE
from tests.grading_submissions import CHECK1, CHECK2, HEAD, LABEL_OK, NB00, RMS_OK, write_nb
from vae_course.classroom import grading
from vae_course.classroom.grading import GradeOptions, grade
from vae_course.classroom.report import NOTEBOOK_ROW, Row
from vae_course.classroom.sandbox import landlock_abi, seccomp_available

pytestmark = pytest.mark.tamper  # deselected by default (pyproject.toml); `make test-grading` runs it

ABI = landlock_abi()
needs_landlock = pytest.mark.skipif(ABI < 1, reason="this Linux kernel has no Landlock")
needs_seccomp = pytest.mark.skipif(not seccomp_available(), reason="no seccomp filter here")
needs_scoped_signals = pytest.mark.skipif(ABI < 6, reason="Landlock below ABI 6 does not scope signals")

RMS_STUB = "def rms_distance(a, b):\n    raise NotImplementedError('Exercise 00.1')"
LABEL_STUB = "def phase_to_label(phases, n_classes=8):\n    raise NotImplementedError('Exercise 00.2')"
MARKER = f"vae-course-tamper-{uuid.uuid4().hex}"  # in the daemons' command lines and the /tmp file names


# --------------------------------------------------------------------------- the submissions
def _class(base: Path, listener: tuple[int, int, str]) -> Path:
    subs, teacher = base / "submissions", base / "teacher"
    teacher.mkdir()
    (teacher / "answers.txt").write_text("the teacher's answers")
    decoy = base / "vae-course-grade-decoy" / "work"  # what another student's grading copy looks like
    decoy.mkdir(parents=True)
    (decoy / NB00).write_text("another student's notebook")
    tcp_port, udp_port, abstract = listener
    grader_pid = os.getpid()
    kill_sig = int(signal.SIGKILL) if ABI >= 6 else 0  # never a real kill where signals are not scoped

    write_nb(subs / "honest", HEAD, RMS_OK, CHECK1, LABEL_OK, CHECK2)
    # forge the results file, rebind check (to print a pass, then to run the reference)
    write_nb(
        subs / "forger",
        HEAD,
        RMS_STUB,
        "import json\n"
        "for path in ('results.jsonl', '../results.jsonl'):\n"
        "    with open(path, 'a') as f:\n"
        "        for ex in ('00.1', '00.2'):\n"
        "            f.write(json.dumps({'exercise': ex, 'status': 'pass', 'feedback': 'forged'}) + '\\n')",
        "_real_check = check\ncheck = lambda ex, fn: print(f'✅ Exercise {ex}: passed')",
        CHECK1,
        LABEL_STUB,
        "from vae_course.exercises import get\n\ndef check(ex, fn):\n    return _real_check(ex, get(ex).reference)",
        CHECK2,
    )
    # monkeypatch the package, torch, and the channel the answers travel through
    write_nb(
        subs / "patcher",
        HEAD,
        "def rms_distance(a, b):\n    return (a - b).pow(2).flatten(1).mean(1)  # no square root",
        "import json\nimport vae_course.exercises as E\nimport vae_course.moons as M\n"
        "M.rms_distance = rms_distance\n"
        "E.compare = lambda *a, **k: None\n"
        "E.evaluate = lambda ex, fn, generator=None: E.CheckResult(ex, 'pass', 'forged')\n"
        "torch.isclose = lambda a, b, **k: torch.ones_like(a, dtype=torch.bool)\n"
        "torch.allclose = lambda *a, **k: True\n"
        "torch.Tensor.__eq__ = lambda self, other: True\n"
        "_dumps = json.dumps\n"
        "json.dumps = lambda obj, *a, **k: _dumps({**obj, 'value': 0} if isinstance(obj, dict) and 'value' in obj "
        "else obj, *a, **k)",
        CHECK1,
        "def phase_to_label(phases, n_classes=8):\n    return phases  # wrong, but it returns something",
        CHECK2,
    )
    # hand the work to the package's own solution: imported under the name, and bound by assignment
    write_nb(
        subs / "borrower",
        HEAD,
        "from vae_course.moons import rms_distance",
        CHECK1,
        "import vae_course.moons\nphase_to_label = vae_course.moons.phase_label",
        CHECK2,
    )
    # read classmates' work, the teacher's files, the course's solutions, /etc; write outside
    write_nb(
        subs / "snoop",
        HEAD,
        (f"open({str(subs / 'honest' / NB00)!r}).read()"),
        (f"import os\nos.listdir({str(subs)!r})"),
        (f"open({str(decoy / NB00)!r}).read()"),
        ("import os\nos.listdir('/tmp')"),
        (f"open({str(teacher / 'answers.txt')!r}).read()"),
        (f"open({str(COURSE / NB00)!r}).read()"),
        ("open('/etc/hostname').read()"),
        (f"import os\nos.listdir({str(Path.home())!r})"),
        (f"open({str(subs / 'snoop' / NB00)!r}, 'w').write('overwritten')"),
        (f"open({str(teacher / 'answers.txt')!r}, 'a').write('changed')"),
        (f"open('/tmp/{MARKER}-written', 'w').write('x')"),
        "import os\nopen('scratch.txt', 'w').write('fine')\nopen(os.path.expanduser('~/home.txt'), 'w').write('fine')",
        RMS_OK,
        CHECK1,
        LABEL_OK,
        CHECK2,
    )
    # the network: connect out (TCP, UDP), listen, and reach another sandbox's (here a decoy's) sockets
    reach_other_kernel = f"import socket\nsocket.socket(socket.AF_UNIX).connect('\\0{abstract}')"
    write_nb(
        subs / "netter",
        HEAD,
        *([reach_other_kernel] if ABI >= 6 else []),  # below ABI 6 abstract sockets are open to all
        (f"import socket\nsocket.create_connection(('127.0.0.1', {tcp_port}), timeout=5)"),
        (f"import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {udp_port}))"),
        ("import socket\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()"),
        ("import socket\nsocket.socket(socket.AF_INET6, socket.SOCK_STREAM)"),
        RMS_OK,
        CHECK1,
        LABEL_OK,
        CHECK2,
    )
    # exhaust memory, at the top level and inside the function the grader calls
    write_nb(
        subs / "hog",
        HEAD,
        "hoard = bytearray(20 * 2**30)",
        "def rms_distance(a, b):\n    hoard = bytearray(20 * 2**30)\n    return (a - b).pow(2).mean()",
        CHECK1,
        LABEL_OK,
        CHECK2,
    )
    # exit the kernel between the two exercises
    write_nb(subs / "quitter", HEAD, RMS_OK, CHECK1, "import os\nos._exit(3)", LABEL_OK, CHECK2)
    # signal the grader and the sandbox's wrapper, leave daemons behind, then kill its own group
    daemon = f"import time\\ntime.sleep(600)  # {MARKER}"
    write_nb(
        subs / "signaller",
        HEAD,
        RMS_OK,
        CHECK1,
        LABEL_OK,
        CHECK2,
        (f"import os\nos.kill({grader_pid}, {kill_sig})"),
        (f"import os\nos.kill(os.getppid(), {kill_sig})"),
        f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', '{daemon}'], start_new_session=True)",
        "import os, subprocess, sys\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    subprocess.Popen([sys.executable, '-c', '{daemon}'])\n"
        "    os._exit(0)",
        "import os, time\ntime.sleep(1)\nos.killpg(0, 9)",
    )
    # lose messages: hold the next two requests unread (ipykernel 7's wedge), then drop two replies
    write_nb(
        subs / "wedger",
        HEAD,
        "k = get_ipython().kernel\n"
        "_orig_dispatch, _held, _hold = k.dispatch_shell, [], [2]\n"
        "async def _dispatch(msg, *args, **kwargs):\n"
        "    try:\n"
        "        kind = k.session.deserialize(k.session.feed_identities(msg, copy=False)[1], content=False,"
        " copy=False)['header']['msg_type']\n"
        "    except Exception:\n"
        "        kind = None\n"
        "    if kind == 'execute_request' and _hold[0] > 0 and not _held:\n"
        "        _hold[0] -= 1\n"
        "        _held.append((msg, args, kwargs))\n"
        "        return\n"
        "    while _held:\n"
        "        m, a, kw = _held.pop()\n"
        "        await _orig_dispatch(m, *a, **kw)\n"
        "    await _orig_dispatch(msg, *args, **kwargs)\n"
        "k.dispatch_shell = _dispatch",
        RMS_OK,
        CHECK1,
        "_orig_send, _drop = k.session.send, [2]\n"
        "def _send(stream, msg_or_type, *args, **kwargs):\n"
        "    if msg_or_type == 'execute_reply' and _drop[0] > 0:\n"
        "        _drop[0] -= 1\n"
        "        return None\n"
        "    return _orig_send(stream, msg_or_type, *args, **kwargs)\n"
        "k.session.send = _send",
        LABEL_OK,
        CHECK2,
    )
    return subs


def _serve(stop: threading.Event, seen: list) -> tuple[int, int, str]:
    """A TCP and a UDP listener on 127.0.0.1, and an abstract Unix socket (as another kernel's
    would be), that record anything reaching them."""
    abstract = f"{MARKER}-socket"
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind("\0" + abstract)
    unix.listen()
    unix.settimeout(0.2)
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.settimeout(0.2)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.2)

    def loop():
        while not stop.is_set():
            for sock in (tcp, udp, unix):
                try:
                    seen.append(sock.recvfrom(16) if sock is udp else sock.accept()[1])
                except OSError:
                    pass
        for sock in (tcp, udp, unix):
            sock.close()

    threading.Thread(target=loop, daemon=True).start()
    return tcp.getsockname()[1], udp.getsockname()[1], abstract


def _state(base: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file()}


def _processes_with(marker: str) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(name))
            except OSError:
                pass
    return found


@pytest.fixture(scope="module")
def tampered(tmp_path_factory):
    """Grade the whole class once; keep the rows, each notebook's run, and the world before/after."""
    base = tmp_path_factory.mktemp("tamper")
    stop, seen = threading.Event(), []
    subs = _class(base, _serve(stop, seen))
    before = _state(base)
    runs = {}
    original = grading._grade_notebook

    def recording(path, student, options, session=None):
        rows, run = original(path, student, options, session)
        runs[student] = run
        return rows, run

    mp = pytest.MonkeyPatch()
    mp.setattr(grading, "_grade_notebook", recording)
    try:
        rows = grade(
            subs, GradeOptions(timeout=240, cell_timeout=60, memory_mb=2048, jobs=2, course_dir=COURSE, progress=False)
        )
    finally:
        mp.undo()
    stop.set()
    return {"rows": rows, "runs": runs, "before": before, "after": _state(base), "seen": seen, "base": base}


def verdicts(rows: list[Row], student: str) -> dict[str, tuple[str, str]]:
    """The verdicts on the two exercises these notebooks check (any later exercise of notebook
    00 in the registry is reported missing for all of them alike)."""
    return {r.exercise: (r.status, r.feedback) for r in rows if r.student == student and r.exercise in ("00.1", "00.2")}


def notes(rows: list[Row], student: str) -> list[str]:
    return [r.feedback for r in rows if r.student == student and r.exercise == NOTEBOOK_ROW]


def said(rows: list[Row], student: str, exercise: str) -> str:
    return next(r.notebook_said for r in rows if r.student == student and r.exercise == exercise)


# --------------------------------------------------------------------------- the verdicts
def test_the_honest_control_passes_cleanly(tampered):
    rows = tampered["rows"]
    assert {e: s for e, (s, _) in verdicts(rows, "honest").items()} == {"00.1": "pass", "00.2": "pass"}
    assert notes(rows, "honest") == []


def test_forged_results_and_a_rebound_check_do_not_pass_an_untouched_stub(tampered):
    """The notebook printed "passed" twice (its check was rebound, once to run the reference);
    the results file was stuffed with passes. The grader called the stubs themselves."""
    rows = tampered["rows"]
    v = verdicts(rows, "forger")
    assert v["00.1"][0] == v["00.2"][0] == "not attempted", v
    assert "passed" in said(rows, "forger", "00.1") and "passed" in said(rows, "forger", "00.2")


def test_monkeypatching_the_package_torch_or_the_channel_changes_nothing(tampered):
    """compare, evaluate, the reference, torch.isclose/allclose/__eq__ and json.dumps were all
    replaced in the kernel; the comparison runs in the grader, on the values that came back."""
    rows = tampered["rows"]
    v = verdicts(rows, "patcher")
    assert v["00.1"][0] == "fail" and "on input (" in v["00.1"][1], v
    assert v["00.2"][0] == "fail" and "should be a torch.Tensor, but it is a int" in v["00.2"][1], v
    assert "passed" in said(rows, "patcher", "00.1"), "the notebook's own (patched) check said pass"


def test_handing_the_work_to_the_package_is_flagged(tampered):
    v = verdicts(tampered["rows"], "borrower")
    for ex, name in (("00.1", "rms_distance"), ("00.2", "phase_label")):
        status, feedback = v[ex]
        assert status == "pass" and "package's own reference" in feedback and name in feedback, (ex, feedback)


@needs_landlock
def test_reading_classmates_the_teacher_and_etc_is_refused_and_reported(tampered):
    rows = tampered["rows"]
    refused = [n for n in notes(rows, "snoop") if "refused by the sandbox" in n]
    assert len(refused) == 11, notes(rows, "snoop")  # every attempt cell, not the writes in its own copy
    joined = "\n".join(refused)
    for what in ("honest", "submissions", "decoy", "/tmp", "answers.txt", "notebooks", "hostname", "-written"):
        assert what in joined, what
    assert {e: s for e, (s, _) in verdicts(rows, "snoop").items()} == {"00.1": "pass", "00.2": "pass"}


@needs_seccomp
def test_the_network_is_closed_both_ways(tampered):
    rows = tampered["rows"]
    refused = [n for n in notes(rows, "netter") if "refused by the sandbox" in n]
    assert len(refused) == (5 if ABI >= 6 else 4), notes(rows, "netter")
    assert tampered["seen"] == [], "nothing reached the listeners"
    assert {e: s for e, (s, _) in verdicts(rows, "netter").items()} == {"00.1": "pass", "00.2": "pass"}


def test_exhausting_memory_is_a_memory_error_not_a_dead_grader(tampered):
    rows = tampered["rows"]
    v = verdicts(rows, "hog")
    assert v["00.1"][0] == "error" and "MemoryError" in v["00.1"][1], v
    assert v["00.2"][0] == "pass"


def test_an_exit_costs_only_the_exercises_after_it(tampered):
    v = verdicts(tampered["rows"], "quitter")
    assert v["00.1"][0] == "pass", "judged before the exit"
    assert v["00.2"][0] == "error" and "kernel died" in v["00.2"][1], v


def test_signals_and_daemons(tampered):
    """The grader survived (this test runs in it); the exercises were judged before the kernel
    killed its own process group; the kill attempts on the grader and the wrapper were refused
    (where Landlock scopes signals) and no daemon is left running."""
    rows = tampered["rows"]
    assert {e: s for e, (s, _) in verdicts(rows, "signaller").items()} == {"00.1": "pass", "00.2": "pass"}
    assert any("kernel died" in n for n in notes(rows, "signaller")), notes(rows, "signaller")
    if ABI >= 6:
        assert sum("refused by the sandbox" in n for n in notes(rows, "signaller")) == 2, notes(rows, "signaller")
    assert _processes_with(MARKER) == []


def test_a_kernel_that_loses_requests_and_replies_does_not_hang_the_grader(tampered):
    """Two requests held unread until the next message (the ipykernel 7 wedge): the grader's
    nudge wakes each within seconds. Two replies dropped: the kernel's idle status ends each cell."""
    rows, run = tampered["rows"], tampered["runs"]["wedger"]
    assert {e: s for e, (s, _) in verdicts(rows, "wedger").items()} == {"00.1": "pass", "00.2": "pass"}
    held = [run.cells[i] for i in (2, 3)]
    assert all(r.status == "ok" and 1.5 < r.seconds < 30 for r in held), held
    assert [w.split(":")[0] for w in run.watchdog] == ["cell 4", "cell 5"], run.watchdog  # the patch's own cell first
    assert all("reply never came" in w for w in run.watchdog)


def test_nothing_outside_the_students_copy_changed(tampered):
    assert tampered["before"] == tampered["after"]
    assert not list(Path("/tmp").glob(f"{MARKER}*"))
    assert _processes_with(MARKER) == []
    assert not list(Path(tampered["base"]).rglob("results.jsonl")), "the forged results never reached a real folder"


def test_the_default_mode_gives_the_verdicts_of_full_runs(tampered):
    """Every tamper submission graded again with ``full=True`` (every cell, a kernel per
    notebook): the same status for every exercise. (The ``(notebook)`` rows are not compared:
    this second run meets a world the first changed, e.g. its listeners are closed.)"""
    subs = Path(tampered["base"]) / "submissions"
    rows = grade(
        subs,
        GradeOptions(
            timeout=240, cell_timeout=60, memory_mb=2048, jobs=2, course_dir=COURSE, progress=False, full=True
        ),
    )
    default = {(r.student, r.exercise): r.status for r in tampered["rows"] if r.exercise != NOTEBOOK_ROW}
    full = {(r.student, r.exercise): r.status for r in rows if r.exercise != NOTEBOOK_ROW}
    assert default == full


# --------------------------------------------------------------------------- loops
@pytest.fixture(scope="module")
def looped(tmp_path_factory):
    """A notebook whose 00.1 loops, with a loop at the top level and, last, a loop that ignores
    interrupts; a short per-cell limit (no torch import in its cells, so none comes near it)."""
    subs = tmp_path_factory.mktemp("loops") / "submissions"
    write_nb(
        subs / "looper",
        "def rms_distance(a, b):\n    import time\n    while True:\n        time.sleep(0.05)",
        "def check(ex, fn):  # the notebook's own check: it runs the function (00.2's would import torch)\n"
        "    if ex == '00.1':\n"
        "        fn(None, None)",
        CHECK1,
        "import time\nwhile True:\n    time.sleep(0.05)",
        LABEL_OK,
        CHECK2,
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass",
    )
    return grade(subs, GradeOptions(timeout=120, cell_timeout=4, memory_mb=2048, course_dir=COURSE, progress=False))


def test_a_loop_in_one_exercise_costs_that_exercise_only(looped):
    v = verdicts(looped, "looper")
    assert v["00.1"][0] == "timeout" and "4 s limit per cell" in v["00.1"][1], v
    assert v["00.2"][0] == "pass", "the top-level loop was interrupted and the notebook went on"
    assert any("ignored the interrupt" in n for n in notes(looped, "looper")), notes(looped, "looper")
