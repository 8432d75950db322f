"""The sandbox under the tamper suite, on its own: the wrapper's limits, Landlock, seccomp,
capabilities and the subreaper. Plain ``python -c`` processes, no kernel. (The strict decoder of the
kernel's answers, the watchdog and the reading of the kernel's files: tests/test_kernel_wire.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.processes import processes_naming
from vae_course.classroom.sandbox import (
    landlock_abi,
    missing_protections,
    protections,
    sandbox_command,
    seccomp_available,
)

ABI = landlock_abi()
needs_landlock = pytest.mark.skipif(ABI < 1, reason="this Linux kernel has no Landlock")
needs_seccomp = pytest.mark.skipif(not seccomp_available(), reason="no seccomp filter here")
pytestmark = pytest.mark.tamper  # deselected by default (pyproject.toml); `make test-grading` runs it

PROBE = """
import os, socket, sys
def probe(name, action):
    try:
        action()
        print(name, "allowed")
    except OSError as e:
        print(name, "refused", type(e).__name__)
"""


def run_sandboxed(root: Path, code: str, memory_mb: int = 0, read: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        sandbox_command(root, memory_mb, [sys.executable, "-c", code], read),
        capture_output=True,
        text=True,
        timeout=120,
    )


def outcomes(r: subprocess.CompletedProcess) -> dict[str, str]:
    assert r.returncode == 0, r.stderr
    return {line.split()[0]: line.split()[1] for line in r.stdout.splitlines() if line.strip()}


# --------------------------------------------------------------------------- the wrapper
def test_memory_limit_turns_a_huge_allocation_into_memory_error(tmp_path):
    r = run_sandboxed(tmp_path, "x = bytearray(3 * 2**30)", memory_mb=1024)
    assert r.returncode != 0 and "MemoryError" in r.stderr
    assert run_sandboxed(tmp_path, "x = bytearray(50 * 2**20)", memory_mb=1024).returncode == 0


@needs_landlock
def test_reads_and_writes_are_confined_to_the_root_and_the_course_environment(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "teacher"
    root.mkdir(), outside.mkdir()
    (outside / "solutions.txt").write_text("secret")
    (root / "mine.txt").write_text("mine")
    extra = tmp_path / "data"
    extra.mkdir()
    (extra / "set.csv").write_text("1,2")
    code = PROBE + (
        f"probe('read_own', lambda: open({str(root / 'mine.txt')!r}).read())\n"
        f"probe('write_own', lambda: open({str(root / 'ok.txt')!r}, 'w').write('fine'))\n"
        f"probe('read_extra', lambda: open({str(extra / 'set.csv')!r}).read())\n"
        f"probe('read_teacher', lambda: open({str(outside / 'solutions.txt')!r}).read())\n"
        f"probe('list_teacher', lambda: os.listdir({str(outside)!r}))\n"
        f"probe('write_teacher', lambda: open({str(outside / 'solutions.txt')!r}, 'w'))\n"
        f"probe('delete_teacher', lambda: os.remove({str(outside / 'solutions.txt')!r}))\n"
        f"probe('create_teacher', lambda: open({str(outside / 'new.txt')!r}, 'w'))\n"
        "probe('read_etc', lambda: open('/etc/hostname').read())\n"
        "probe('read_passwd', lambda: open('/etc/passwd').read())\n"
        "probe('import_torch', lambda: __import__('torch'))\n"
        "probe('import_course', lambda: __import__('vae_course.exercises'))\n"
        "probe('dev_null', lambda: open(os.devnull, 'w').write('x'))\n"
    )
    got = outcomes(run_sandboxed(root, code, read=(str(extra),)))
    allowed = ("read_own", "write_own", "read_extra", "read_passwd", "import_torch", "import_course", "dev_null")
    assert {k: v for k, v in got.items() if k in allowed} == dict.fromkeys(allowed, "allowed"), got
    assert {k: v for k, v in got.items() if k not in allowed} == dict.fromkeys(set(got) - set(allowed), "refused")
    assert (outside / "solutions.txt").read_text() == "secret" and not (outside / "new.txt").exists()


@needs_seccomp
def test_no_network_socket_only_unix_ones(tmp_path):
    code = PROBE + (
        "probe('tcp_connect', lambda: socket.create_connection(('127.0.0.1', 9), timeout=2))\n"
        "probe('tcp_listen', lambda: socket.socket().bind(('127.0.0.1', 0)))\n"
        "probe('udp', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))\n"
        "probe('ipv6', lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM))\n"
        "probe('raw', lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1))\n"
        "probe('unix', lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))\n"
    )
    got = outcomes(run_sandboxed(tmp_path, code))
    assert got == {"tcp_connect": "refused", "tcp_listen": "refused", "udp": "refused", "ipv6": "refused",
                   "raw": "refused", "unix": "allowed"}  # fmt: skip


@pytest.mark.skipif(ABI < 6, reason="Landlock below ABI 6 does not scope abstract sockets")
def test_no_connection_to_another_sandboxs_or_the_graders_abstract_sockets(tmp_path):
    """The graded kernels listen on abstract Unix sockets: one made outside the sandbox (here,
    standing for the grader or another student's kernel) cannot be reached from inside."""
    name = f"vae-course-decoy-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("\0" + name)
    listener.listen()
    try:
        code = PROBE + f"probe('abstract', lambda: socket.socket(socket.AF_UNIX).connect('\\0{name}'))\n"
        assert outcomes(run_sandboxed(tmp_path, code)) == {"abstract": "refused"}
    finally:
        listener.close()


@pytest.mark.skipif(ABI < 6, reason="Landlock below ABI 6 does not scope signals")
def test_no_signal_reaches_a_process_outside_the_sandbox(tmp_path):
    code = (
        PROBE
        + f"probe('grader', lambda: os.kill({os.getpid()}, 0))\nprobe('wrapper', lambda: os.kill(os.getppid(), 0))\n"
    )
    assert outcomes(run_sandboxed(tmp_path, code)) == {"grader": "refused", "wrapper": "refused"}


@pytest.mark.skipif(os.geteuid() != 0, reason="capabilities matter only to root")
def test_root_loses_every_capability(tmp_path):
    code = "print([l for l in open('/proc/self/status') if l.startswith(('CapEff', 'CapPrm', 'CapBnd'))])"
    r = run_sandboxed(tmp_path, code)
    assert r.returncode == 0 and r.stdout.count("0000000000000000") == 3, r.stdout


def test_processes_left_behind_are_killed_with_the_kernel(tmp_path):
    marker = f"vae-course-daemon-{uuid.uuid4().hex}"
    sleeper = f"[sys.executable, '-c', 'import time; time.sleep(300)  # {marker}']"
    code = (
        "import os, subprocess, sys\n"
        f"subprocess.Popen({sleeper}, start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        f"    subprocess.Popen({sleeper})\n"
        "    os._exit(0)\n"
        "import time; time.sleep(1)\n"
    )
    t0 = time.monotonic()
    r = run_sandboxed(tmp_path, code)
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 60, "the wrapper did not wait for the daemons to end by themselves"
    assert processes_naming(marker) == []


def test_the_wrapper_ends_the_kernel_and_its_children_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        sandbox_command(tmp_path, 0, [sys.executable, "-c", "import time; time.sleep(300)"]), start_new_session=True
    )
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) != 0


def test_a_kernel_whose_grader_is_killed_ends_with_its_children(tmp_path):
    """SIGKILL reaches no handler: the grader dies and its kernels' wrappers are re-parented. Each wrapper
    notices, and ends its kernel and everything the kernel started (no orphan kernels left running)."""
    marker = f"vae-course-orphan-{uuid.uuid4().hex}"
    kernel = [sys.executable, "-c", f"import subprocess, sys, time  # {marker}\n"
              f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)  # {marker}'])\n"
              "time.sleep(300)"]  # fmt: skip
    start = (  # the grader builds the command (it names itself in it), starts the kernel, and waits
        "import subprocess, time\nfrom vae_course.classroom.sandbox import sandbox_command\n"
        f"subprocess.Popen(sandbox_command({str(tmp_path)!r}, 0, {kernel!r}))\ntime.sleep(300)"
    )
    grader = subprocess.Popen([sys.executable, "-c", start], start_new_session=True)

    deadline = time.monotonic() + 30
    while len(processes_naming(marker)) < 4 and time.monotonic() < deadline:  # grader, wrapper, kernel, child
        time.sleep(0.2)
    assert len(processes_naming(marker)) == 4, "the sandboxed kernel did not start"
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 10
    while processes_naming(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_naming(marker) == [], "a kernel outlived its killed grader"


def test_the_stated_protections_follow_the_landlock_abi():
    """Each Landlock ABI adds a layer in force and removes one from the missing list."""
    assert len(protections(0)) < len(protections(1)) < len(protections(4)) < len(protections(6))
    assert len(missing_protections(0)) > len(missing_protections(1)) > len(missing_protections(6))
