"""The confined kernel: the limits a graded notebook runs under, applied by a tiny wrapper script.

:func:`sandbox_command` turns a command (the kernel's ``python -m ipykernel_launcher ...``) into
``python .../classroom/sandbox.py --sandbox ROOT --memory-mb N [--read PATH ...] -- command...``.
Run as that script, this file (:func:`_sandbox_main`) forks:

* the **child** confines itself for good, then replaces itself with the command (``exec``):

  - RLIMIT_AS (``N`` MiB; 0 leaves it alone), RLIMIT_FSIZE (1 GiB per file) and, for an
    ordinary account, RLIMIT_NPROC (about 1,000 processes more than the user runs already);
  - running as root, every capability dropped (bounding set included), so root's powers
    (reading any file, raw sockets, mounting) are gone;
  - Landlock (Linux 5.13+, no privileges needed; :func:`confine_files`): reads only beneath
    ``ROOT``, the Python installation, the course package, the ``--read`` paths and the system's
    libraries; writes only beneath ``ROOT`` (and a few ``/dev`` nodes); from ABI 4 no TCP
    ``bind``/``connect``; from ABI 6 no signals to, and no abstract Unix sockets of, processes
    outside the sandbox;
  - seccomp (:func:`forbid_network_sockets`): ``socket()`` refused for every address family
    but ``AF_UNIX`` and ``AF_NETLINK`` (no TCP, UDP, raw or VSOCK), ``io_uring`` refused (it
    could open sockets past that filter), and system calls of any other architecture refused;

* the **parent** stays outside the sandbox as the kernel's *child subreaper*: every process the
  kernel starts, even one that detaches with ``setsid`` and a double fork, is re-parented to it
  when its own parent ends. When the kernel exits, when the grader sends SIGTERM, or when the
  grader itself is gone (killed with SIGKILL, which no handler sees: the parent notices that it was
  re-parented), the parent kills every process left beneath it and exits with the kernel's status. SIGINT (an interrupt
  the grader sends to the process group) reaches the kernel and is ignored here.

It imports only the standard library, and nothing of ``vae_course``: it runs as a plain script
in the fresh process, before the kernel starts. :func:`protections` says which of these layers
this machine offers. Grading itself lives in :mod:`vae_course.classroom.grading`.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import site
import struct
import sys
import sysconfig
import time
from pathlib import Path

# Landlock constants (linux/landlock.h): the syscall numbers (create_ruleset, add_rule,
# restrict_self, the same on x86_64 and aarch64) and the access rights.
_SYS_LANDLOCK = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_REMOVE_DIR, _FS_REMOVE_FILE = 1 << 4, 1 << 5
_FS_MAKE = sum(1 << b for b in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_FS_REFER, _FS_TRUNCATE = 1 << 13, 1 << 14
_FS_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_FS_FILE_ONLY = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE  # rights a rule on a file may carry
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_RULE_PATH_BENEATH = 1

_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _PR_CAPBSET_DROP = 38, 22, 24
_PR_SET_CHILD_SUBREAPER, _PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 36, 47, 4
_SECCOMP_MODE_FILTER = 2
_MAX_FILE_SIZE = 1 << 30  # no single file over 1 GiB

# seccomp: (AUDIT_ARCH, socket nr, io_uring_setup nr, first nr of another ABI on the same arch)
_SECCOMP_ARCH = {"x86_64": (0xC000003E, 41, 425, 0x40000000), "aarch64": (0xC00000B7, 198, 425, None)}
_AF_UNIX, _AF_NETLINK = 1, 16  # netlink: libzmq lists the network interfaces with it; it sends nothing out

# What every kernel may read besides its own folder: the system's programs and libraries, and the
# few files of /etc that programs read at start-up (nothing of the users' or the teacher's files).
SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/proc", "/sys")
ETC_READ = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/timezone",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/mime.types",
    "/etc/locale.alias",
    "/etc/jupyter",
    "/etc/ipython",
    "/etc/matplotlibrc",
)
# Devices a program may need (read and write), and /dev/shm for shared memory.
DEV_FILES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
DEV_DIRS = ("/dev/shm",)


class _RulesetAttr(ctypes.Structure):
    """struct landlock_ruleset_attr (ABI 1-3 read only its first field, ABI 4-5 the first two)."""

    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    """struct landlock_path_beneath_attr (packed)."""

    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """Landlock ABI version of the running Linux kernel, 0 when unavailable."""
    nums = _SYS_LANDLOCK.get(os.uname().machine)
    if sys.platform != "linux" or nums is None:
        return 0
    try:
        abi = _libc().syscall(nums[0], None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except (OSError, AttributeError):
        return 0
    return max(abi, 0)


def seccomp_available() -> bool:
    """Whether this machine can install the seccomp socket filter (Linux, x86_64 or aarch64)."""
    return sys.platform == "linux" and os.uname().machine in _SECCOMP_ARCH


def protections(abi: int | None = None) -> list[str]:
    """The confinement layers in force on this machine, in words (for the grader's summary)."""
    abi = landlock_abi() if abi is None else abi
    have = ["a memory limit and a 1 GiB file-size limit per kernel"]
    if abi >= 1:
        have.append(
            f"reads and writes confined to the kernel's own folder and the course environment (Landlock ABI {abi})"
        )
    if abi >= 4:
        have.append("TCP connect and listen refused (Landlock)")
    if seccomp_available():
        have.append("every network socket refused, only Unix sockets allowed (seccomp)")
    if abi >= 6:
        have.append("no signals to processes outside the sandbox (Landlock)")
    if os.geteuid() == 0:
        have.append("all root capabilities dropped")
    have.append("every process a kernel starts is killed with it (subreaper)")
    return have


def missing_protections(abi: int | None = None) -> list[str]:
    """What this machine cannot enforce, in words (empty on a recent Linux)."""
    abi = landlock_abi() if abi is None else abi
    missing = []
    if abi < 1:
        missing.append(
            "no Landlock (Linux 5.13+): reads are not confined, writes outside a kernel's folder are only "
            "detected afterwards"
        )
    if not seccomp_available():
        missing.append("no seccomp filter here: the network is open to the kernels")
    if abi < 6:
        missing.append("Landlock below ABI 6: a kernel may signal other processes of your user")
    return missing


# =========================================================================== Landlock
def _allow(libc, add_rule: int, ruleset_fd: int, path: str, rights: int) -> None:
    """Add the rule "``rights`` allowed beneath ``path``" (on a file, only the rights a file takes)."""
    try:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # a path that does not exist here needs no rule
    try:
        if not os.path.isdir(path):
            rights &= _FS_FILE_ONLY
        rule = _PathBeneath(rights, pfd)
        if libc.syscall(add_rule, ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(rule), ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), f"landlock_add_rule failed for {path}")
    finally:
        os.close(pfd)


def _handled(abi: int) -> tuple[int, int, int]:
    """(file-system rights, network rights, scopes) a ruleset for this ABI restricts."""
    fs = _FS_READ | _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE
    fs |= _FS_REFER if abi >= 2 else 0
    fs |= _FS_TRUNCATE if abi >= 3 else 0
    net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
    scoped = _SCOPE_SIGNAL | _SCOPE_ABSTRACT_UNIX_SOCKET if abi >= 6 else 0
    return fs, net, scoped


def confine_files(writable: list[str], readable: list[str], confine_reads: bool = True) -> int:
    """Confine this process and its children, for good, with Landlock.

    Writing (creating, renaming, truncating, deleting) is allowed only beneath ``writable`` and
    on a few device nodes; reading and executing only beneath ``writable`` and ``readable`` (or
    everywhere when ``confine_reads`` is False). From ABI 4 on, no TCP port may be bound or
    connected to; from ABI 6 on, no signal may reach a process outside the sandbox. Returns the
    ABI used (0: not available, nothing restricted).
    """
    abi = landlock_abi()
    if abi < 1:
        return 0
    create, add_rule, restrict_self = _SYS_LANDLOCK[os.uname().machine]
    fs, net, scoped = _handled(abi)
    if not confine_reads:
        fs &= ~_FS_READ
    libc = _libc()
    attr = _RulesetAttr(fs, net, scoped)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    fd = libc.syscall(create, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    if fd < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        for path in writable:
            _allow(libc, add_rule, fd, path, fs)
        for path in DEV_DIRS:
            _allow(libc, add_rule, fd, path, fs)
        for path in DEV_FILES:
            _allow(libc, add_rule, fd, path, (_FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE) & fs)
        if confine_reads:
            for path in readable:
                _allow(libc, add_rule, fd, path, _FS_READ & fs)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:  # required before restrict_self
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(restrict_self, fd, ctypes.c_uint32(0)) != 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(fd)
    return abi


# =========================================================================== seccomp
def _seccomp_program(machine: str) -> bytes:
    """The BPF program: refuse socket() for every family but AF_UNIX (and AF_NETLINK, which
    talks only to the local kernel), io_uring_setup, and every
    system call of another architecture or ABI (x32); allow the rest."""
    arch, nr_socket, nr_uring, other_abi = _SECCOMP_ARCH[machine]
    deny = 0x00050000 | errno.EACCES  # SECCOMP_RET_ERRNO | EACCES
    allow = 0x7FFF0000  # SECCOMP_RET_ALLOW
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET|K
    # (code, jump-if-true label, jump-if-false label, k); labels are resolved below
    prog = [
        ("arch", ld, None, None, 4),
        (None, jeq, "nr", "deny", arch),
        ("nr", ld, None, None, 0),
        (None, jge, "deny", "sock", other_abi if other_abi is not None else 0xFFFFFFFF),
        ("sock", jeq, "family", "uring", nr_socket),
        ("family", ld, None, None, 16),  # args[0], low 32 bits (little-endian)
        (None, jeq, "allow", "netlink", _AF_UNIX),
        ("netlink", jeq, "allow", "deny", _AF_NETLINK),
        ("uring", jeq, "deny", "allow", nr_uring),
        ("allow", ret, None, None, allow),
        ("deny", ret, None, None, deny),
    ]
    at = {label: i for i, (label, *_) in enumerate(prog) if label}
    out = b""
    for i, (_, code, jt, jf, k) in enumerate(prog):
        t = at[jt] - i - 1 if jt else 0
        f = at[jf] - i - 1 if jf else 0
        out += struct.pack("HBBI", code, t, f, k)
    return out


def forbid_network_sockets() -> bool:
    """Install the seccomp filter of :func:`_seccomp_program` for this process and its children,
    for good. Returns False where seccomp is not available here."""
    if not seccomp_available():
        return False
    libc = _libc()
    code = _seccomp_program(os.uname().machine)
    buf = ctypes.create_string_buffer(code, len(code))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True


# =========================================================================== capabilities
def drop_capabilities() -> None:
    """Drop every capability (bounding, ambient, effective, permitted, inheritable), so that a
    process running as root keeps only what its user id gives it on ordinary file permissions."""
    libc = _libc()
    for cap in range(64):
        libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0)  # EINVAL past the last capability: fine
    libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = struct.pack("Ii", 0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = bytes(24)  # two struct __user_cap_data_struct, all zero
    if libc.capset(ctypes.c_char_p(header), ctypes.c_char_p(data)) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


# =========================================================================== what may be read
def python_read_paths() -> list[str]:
    """The Python installation and environment this script runs from (the kernel's own)."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths |= {os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        paths.add(sysconfig.get_paths().get(key, ""))
    try:
        paths |= set(site.getsitepackages())
    except AttributeError:
        pass
    return sorted(p for p in paths if p and os.path.exists(p))


def default_read_paths(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Everything a kernel may read: system files, Python, the course package, and ``extra``."""
    package = str(Path(__file__).resolve().parents[1])  # vae_course/, not the repository around it
    return [*SYSTEM_READ, *ETC_READ, *python_read_paths(), package, *extra]


def sandbox_command(
    root: Path | str, memory_mb: int, command: list[str], read: list[str] | tuple[str, ...] = ()
) -> list[str]:
    """The command that runs ``command`` under the limits: this file as a script, fork, exec. The wrapper
    ends the kernel when the process that builds this command (the grader) is gone."""
    argv = [sys.executable, os.path.abspath(__file__), "--sandbox", str(root), "--memory-mb", str(memory_mb)]
    argv += ["--grader", str(os.getpid())]
    for path in read:
        argv += ["--read", str(path)]
    return [*argv, "--", *command]


# =========================================================================== the wrapper
def _user_tasks(uid: int) -> int:
    """Processes and threads of user ``uid`` now (what RLIMIT_NPROC counts)."""
    total = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(fields.get("Uid", "-1 ").split()[0]) == uid:
            total += int(fields.get("Threads", "1").strip() or 1)
    return total


def _limit_processes(headroom: int = 1024) -> None:
    """At most ``headroom`` more processes and threads of this user (a fork bomb stops there).
    Linux exempts root from this limit, so it only matters to an ordinary account."""
    if os.geteuid() == 0 or not os.path.isdir("/proc"):
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    limit = _user_tasks(os.getuid()) + headroom
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))


def _confine_child(root: str, memory_mb: int, read: list[str]) -> None:
    """Everything the child does before exec: limits, capabilities, Landlock, seccomp."""
    if memory_mb > 0:
        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (_MAX_FILE_SIZE, _MAX_FILE_SIZE))
    _limit_processes()
    if os.geteuid() == 0:
        drop_capabilities()
    confine_files([root], default_read_paths(read))
    forbid_network_sockets()


def _children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            kids.append(int(name))
    return kids


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        kids = _children_of(todo.pop())
        out += kids
        todo += kids
    return out


def kill_tree(pid: int, rounds: int = 50) -> None:
    """SIGKILL every descendant of ``pid`` (a subreaper: orphans come back to it) and reap them."""
    for _ in range(rounds):
        left = _descendants(pid)
        if not left:
            return
        for p in left:
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
        _reap()
        time.sleep(0.01)


def _reap() -> list[tuple[int, int]]:
    """Reap every finished child; (pid, status) of each."""
    done = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done.append((pid, status))


def _sandbox_main(argv: list[str]) -> int:
    """Script entry: ``sandbox.py --sandbox ROOT --memory-mb N [--grader PID] [--read P]... -- command...``."""
    if "--" not in argv or len(argv) < 6 or argv[0] != "--sandbox" or argv[2] != "--memory-mb":
        print(
            "usage: sandbox.py --sandbox ROOT --memory-mb N [--grader PID] [--read PATH]... -- command ...",
            file=sys.stderr,
        )
        return 2
    split = argv.index("--")
    root, memory_mb, command = argv[1], int(argv[3]), argv[split + 1 :]
    options = argv[4:split]
    read = [options[i + 1] for i in range(0, len(options) - 1, 2) if options[i] == "--read"]
    # The grader: while it lives it is this process's parent; when this process is re-parented (the grader
    # was SIGKILLed, even before this line ran), nobody will stop the kernel, so this process does.
    graders = [int(options[i + 1]) for i in range(0, len(options) - 1, 2) if options[i] == "--grader"]
    grader = graders[0] if graders else os.getppid()
    libc = _libc()
    libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    child = os.fork()
    if child == 0:
        try:
            _confine_child(root, memory_mb, read)
            os.execvp(command[0], command)
        except BaseException as e:  # noqa: BLE001 - any failure must end the child, never run unconfined
            os.write(2, f"sandbox: could not confine the kernel: {type(e).__name__}: {e}\n".encode())
        os._exit(127)
    # the parent: never confined, never runs the student's code; it only waits and cleans up
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel, not for us
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGHUP, lambda *_: stop.append(True))
    status = None
    while status is None and not stop:
        for pid, st in _reap():
            if pid == child:
                status = st
        if os.getppid() != grader:  # orphaned (the grader was SIGKILLed): end the kernel, not leak it
            stop.append(True)
        if status is None and not stop:
            time.sleep(0.1)
    try:
        os.kill(child, signal.SIGKILL)
    except OSError:
        pass
    kill_tree(os.getpid())
    if status is None:
        return 128 + signal.SIGTERM
    return os.waitstatus_to_exitcode(status) if hasattr(os, "waitstatus_to_exitcode") else status >> 8


if __name__ == "__main__":  # the wrapper: python sandbox.py --sandbox ROOT --memory-mb N -- cmd...
    sys.exit(_sandbox_main(sys.argv[1:]))
