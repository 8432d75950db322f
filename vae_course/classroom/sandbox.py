"""The confined kernel: the limits a graded notebook runs under, applied by a tiny wrapper script.

:func:`sandbox_command` turns a command (the kernel's ``python -m ipykernel_launcher ...``) into
``python .../classroom/sandbox.py --sandbox ROOT --memory-mb N -- command...``. Run as that
script, this file (:func:`_sandbox_main`)

* caps the address space (RLIMIT_AS, ``N`` MiB; 0 leaves it alone) and the size of any one file
  (RLIMIT_FSIZE, 1 GiB);
* where the Linux kernel offers Landlock (unprivileged, 5.13+), forbids writing anywhere but
  beneath ``ROOT`` and ``/dev`` (:func:`restrict_writes`; from Landlock ABI 6 on, sending signals
  to processes outside the sandbox too);
* then replaces itself with the command (``exec``), which inherits every limit for good.

It imports only the standard library, and nothing of ``vae_course``: it runs as a plain script
in the fresh process, before the kernel starts. Grading itself lives in
:mod:`vae_course.classroom.grading`.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from pathlib import Path

# Landlock constants (linux/landlock.h): the syscall numbers (create_ruleset, add_rule,
# restrict_self) and the access rights this sandbox handles.
_SYS_LANDLOCK = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_FS_WRITE_FILE, _FS_REMOVE_DIR, _FS_REMOVE_FILE = 1 << 1, 1 << 4, 1 << 5
_FS_MAKE = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_PR_SET_NO_NEW_PRIVS = 38
_RULE_PATH_BENEATH = 1
_MAX_FILE_SIZE = 1 << 30  # no single file over 1 GiB


class _RulesetAttr(ctypes.Structure):
    """struct landlock_ruleset_attr (ABI 1-5 read only its first field)."""

    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    """struct landlock_path_beneath_attr (packed)."""

    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


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


def _handled_rights(abi: int) -> tuple[int, int]:
    """(file-system rights, scopes) that a ruleset for this ABI restricts: every kind of write."""
    handled = _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE
    handled |= _FS_REFER if abi >= 2 else 0
    handled |= _FS_TRUNCATE if abi >= 3 else 0
    scoped = _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET if abi >= 6 else 0
    return handled, scoped


def _allow_beneath(libc, add_rule: int, ruleset_fd: int, path: str, handled: int) -> None:
    """Add the rule "writes allowed beneath ``path``" (for a file: only writing and truncating it)."""
    pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        rights = handled if os.path.isdir(path) else handled & (_FS_WRITE_FILE | _FS_TRUNCATE)
        rule = _PathBeneath(rights, pfd)
        if libc.syscall(add_rule, ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(pfd)


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
    handled, scoped = _handled_rights(abi)
    libc = ctypes.CDLL(None, use_errno=True)
    attr = _RulesetAttr(handled, 0, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 8
    fd = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in allowed:
            _allow_beneath(libc, add_rule, fd, path, handled)
        libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # required before restrict_self
        if libc.syscall(restrict_self, fd, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)
    return abi


def sandbox_command(root: Path | str, memory_mb: int, command: list[str]) -> list[str]:
    """The command that runs ``command`` under the limits: this file as a script, then exec."""
    return [
        sys.executable,
        os.path.abspath(__file__),
        "--sandbox",
        str(root),
        "--memory-mb",
        str(memory_mb),
        "--",
        *command,
    ]


def _sandbox_main(argv: list[str]) -> int:
    """Script entry: ``sandbox.py --sandbox ROOT --memory-mb N -- command...``; limits, then exec."""
    if len(argv) < 6 or argv[0] != "--sandbox" or argv[2] != "--memory-mb" or argv[4] != "--":
        print("usage: sandbox.py --sandbox ROOT --memory-mb N -- command ...", file=sys.stderr)
        return 2
    root, memory_mb, command = argv[1], int(argv[3]), argv[5:]
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_FILE_SIZE, _MAX_FILE_SIZE))
    restrict_writes([root, "/dev"])
    os.execvp(command[0], command)
    return 127  # not reached


if __name__ == "__main__":  # the wrapper: python sandbox.py --sandbox ROOT --memory-mb N -- cmd...
    sys.exit(_sandbox_main(sys.argv[1:]))
