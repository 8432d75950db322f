"""One graded kernel: started in the sandbox, spoken to over Unix sockets, every wait bounded.

:class:`GradedKernel` starts ``ipykernel`` through :mod:`vae_course.classroom.sandbox` with its
ZMQ channels on *IPC* transport: Unix sockets, so the kernel needs no TCP port at all (abstract
sockets where Landlock keeps every other sandboxed kernel from connecting to them, ABI 6+;
socket files in the kernel's own folder otherwise). It runs cells one at a time and stops the
kernel with everything it started. It replaces nbclient here because every wait in it has a bound:

* a cell gets a per-cell limit; past it the kernel is interrupted (SIGINT, a KeyboardInterrupt
  in the cell) and the notebook goes on; a kernel that ignores the interrupt for
  ``interrupt_grace`` seconds is given up on;
* :class:`Watch` decides when a request is over from what arrived: the ``execute_reply`` and the
  kernel's ``idle`` status normally both come; when the kernel has gone idle and the reply never
  comes (or the other way round), the cell is over ``grace`` seconds later. Until the kernel
  has said ``busy`` for the request, it is *nudged* every ``nudge`` seconds with a harmless
  ``kernel_info_request``: ipykernel 7 can leave a request unread on its shell socket until the
  next message arrives there (ipykernel issues #1554 and PR #1529), which looks exactly like
  "a run that hangs after a cell, the kernel idle". A nudge is that next message.

:class:`KernelFunction` stands for a learner's function inside the kernel: calling it sends the
inputs (JSON, :mod:`vae_course.classroom.wire`), the kernel calls the function and writes what it
returned to a file in its folder, and the grader decodes that file with the strict decoder. The
verdict is then computed in the grader's process (:mod:`vae_course.classroom.grading`).
"""

from __future__ import annotations

import json
import keyword
import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import torch
import zmq
from jupyter_client.blocking import BlockingKernelClient

from . import wire
from .sandbox import landlock_abi, sandbox_command

MAX_CELL_TEXT = 20_000  # characters of output kept per cell
MAX_MESSAGE = 256 * 2**20  # bytes of one message from the kernel; a bigger one is refused
MAX_ANSWER = 300 * 2**20  # bytes of one answer file
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MARKER = "VAE_COURSE_SANDBOX"


class KernelLost(BaseException):
    """The kernel died, stopped answering, or did not answer a grader's call as agreed.

    A BaseException, so that a check's ``except Exception`` never mistakes it for a crash of
    the learner's function."""


class CallTimeout(BaseException):
    """A grader's call of the learner's function ran past its limit (and was interrupted)."""


@dataclass
class CellRun:
    """How one cell (or one grader's request) ended, and what it printed."""

    status: str  # ok | error | interrupted | died | unresponsive | deadline
    text: str = ""  # streams, plain-text results and the error, ANSI codes removed, capped
    error: str | None = None  # "ename: evalue" of the error it raised
    seconds: float = 0.0
    watchdog: str = ""  # set when the cell ended without its reply or its idle status


class Watch:
    """When a request is over: a small state machine over the messages seen and the clock.

    ``event("busy" | "idle" | "reply", now)`` records a message about the request;
    :meth:`action` says what to do next: ``"wait"``, ``"nudge"`` (send a harmless request to wake
    a kernel that has not started on this one), ``"interrupt"`` (the limit has passed),
    ``"done"``, or ``"unresponsive"`` (interrupted, and still no end after ``interrupt_grace``).
    """

    def __init__(
        self,
        now: float,
        limit: float,
        *,
        grace: float = 2.0,
        nudge: float = 2.0,
        interrupt_grace: float = 5.0,
    ):
        self.start, self.limit_at = now, now + max(0.0, limit)
        self.grace, self.nudge, self.interrupt_grace = grace, nudge, interrupt_grace
        self.busy_at = self.idle_at = self.reply_at = self.interrupted_at = None
        self.next_nudge = now + nudge
        self.lost = ""  # what never arrived, when the cell ended without it

    def event(self, kind: str, now: float) -> None:
        if kind == "busy" and self.busy_at is None:
            self.busy_at = now
        elif kind == "idle" and self.idle_at is None:
            self.idle_at = now
        elif kind == "reply" and self.reply_at is None:
            self.reply_at = now

    def interrupted(self, now: float) -> None:
        self.interrupted_at = now

    def action(self, now: float) -> str:
        if self.reply_at is not None and self.idle_at is not None:
            return "done"
        if self.reply_at is not None and now - self.reply_at >= self.grace:
            self.lost = "the kernel's idle status never came after the reply"
            return "done"
        if self.idle_at is not None and now - self.idle_at >= self.grace:
            self.lost = "the kernel went idle but its reply never came"
            return "done"
        if self.interrupted_at is not None:
            return "unresponsive" if now - self.interrupted_at >= self.interrupt_grace else "wait"
        if now >= self.limit_at:
            return "interrupt"
        if self.busy_at is None and now >= self.next_nudge:
            self.next_nudge = now + self.nudge
            return "nudge"
        return "wait"

    def wait_time(self, now: float) -> float:
        """Seconds until the next decision could change (at most a quarter of a second)."""
        return max(0.0, min(0.25, self.limit_at - now if self.interrupted_at is None else 0.25))


def _clean(text: str) -> str:
    return _ANSI.sub("", text)


def _error_line(content: dict) -> str:
    """The "ename: evalue" line (at most 500 characters) of an error message's or reply's content."""
    return _clean(f"{content.get('ename', 'Error')}: {content.get('evalue', '')}")[:500]


class GradedKernel:
    """An ipykernel in the sandbox of ``root`` (its folder), working in ``work``.

    ``env`` is the kernel's whole environment (nothing of the grader's is inherited), ``read``
    the extra paths it may read, ``memory_mb`` its address-space limit.
    """

    def __init__(self, root: Path, work: Path, env: dict[str, str], memory_mb: int, read: list[str] = ()):
        self.root, self.work, self.memory_mb, self.read = Path(root), Path(work), memory_mb, list(read)
        self.env = {**env, _MARKER: str(self.root)}
        self.proc: subprocess.Popen | None = None
        self.kc: BlockingKernelClient | None = None
        self.context: zmq.Context | None = None
        self.exchange = self.root / "exchange"
        self.helper_ready = False
        self.calls = 0

    # ------------------------------------------------------------------ start and stop
    def _connection(self) -> dict:
        # Abstract Unix sockets where Landlock scopes them (ABI 6+): no other sandboxed kernel can
        # connect to them (the grader, outside every sandbox, can). Below ABI 6, socket files in
        # the kernel's own folder.
        ip = f"@vae-course-{uuid.uuid4().hex}" if landlock_abi() >= 6 else str(self.root / "ipc")
        return {
            "shell_port": 1,
            "iopub_port": 2,
            "stdin_port": 3,
            "control_port": 4,
            "hb_port": 5,
            "ip": ip,
            "key": uuid.uuid4().hex,
            "transport": "ipc",
            "signature_scheme": "hmac-sha256",
            "kernel_name": "vae-course-graded",
        }

    def start(self, timeout: float = 120.0) -> None:
        """Start the kernel and wait until it answers on shell and publishes on IOPub."""
        info = self._connection()
        cfile = self.root / "kernel.json"
        cfile.write_text(json.dumps(info))
        os.chmod(cfile, 0o600)
        self.exchange.mkdir(exist_ok=True)
        cmd = sandbox_command(
            self.root, self.memory_mb, [sys.executable, "-m", "ipykernel_launcher", "-f", str(cfile)], self.read
        )
        with open(self.root / "kernel.log", "wb") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.work,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                close_fds=True,
            )
        self.context = zmq.Context()
        self.context.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE)
        self.context.setsockopt(zmq.LINGER, 0)
        kc = BlockingKernelClient(context=self.context)
        kc.load_connection_info({**info, "key": info["key"].encode()})
        kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        self.kc = kc
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        sent: set[str] = set()
        replied = published = False
        next_send = 0.0
        while not (replied and published):
            now = time.monotonic()
            if not self.alive():
                raise KernelLost(f"the kernel exited while starting{self._log_tail()}")
            if now > deadline:
                raise KernelLost(f"the kernel did not start within {timeout:g} s{self._log_tail()}")
            if now >= next_send:
                sent.add(self.kc.kernel_info())
                next_send = now + 1.0
            for channel, msg in self._poll(0.2):
                parent = msg.get("parent_header", {}).get("msg_id")
                if parent in sent:
                    replied |= channel == "shell"
                    published |= channel == "iopub"

    def _log_tail(self) -> str:
        try:
            text = _read_own_file(self.root, Path("kernel.log"), 2**20).decode(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return f" (its log ends: {' | '.join(text[-3:])[:300]})" if text else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def interrupt(self) -> None:
        """SIGINT to the kernel's process group (the sandbox's wrapper ignores it)."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except OSError:
                pass

    def stop(self) -> None:
        """Stop the kernel and every process it started; close the channels. Never raises."""
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    os.kill(self.proc.pid, signal.SIGTERM)  # the wrapper kills the whole tree
                    self.proc.wait(timeout=5)
                except (OSError, subprocess.TimeoutExpired):
                    pass
            if self.proc.poll() is None:  # not reaped yet, so its pid (and group id) is still its own
                for kill in (lambda: os.killpg(self.proc.pid, signal.SIGKILL), self.proc.kill):
                    try:
                        kill()
                    except OSError:
                        pass
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        kill_strays(str(self.root))
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
        if self.context is not None:
            self.context.destroy(linger=0)
            self.context = None

    # ------------------------------------------------------------------ running code
    def _poll(self, timeout: float) -> list[tuple[str, dict]]:
        """Every message ready on shell or IOPub within ``timeout`` seconds (bad ones dropped)."""
        poller = zmq.Poller()
        channels = {"shell": self.kc.shell_channel, "iopub": self.kc.iopub_channel}
        for ch in channels.values():
            poller.register(ch.socket, zmq.POLLIN)
        ready = dict(poller.poll(int(timeout * 1000)))
        out = []
        for name, ch in channels.items():
            budget = 200  # at most this many messages per channel and poll, so a flood cannot starve the clock
            while ch.socket in ready and budget > 0 and ch.socket.poll(0):
                budget -= 1
                try:
                    out.append((name, ch.get_msg(timeout=0)))
                except Exception:  # a message that does not deserialize (bad signature, garbage)
                    continue
        return out

    def run(self, code: str, limit: float, *, store_history: bool = True, deadline: float | None = None) -> CellRun:
        """Run ``code``; at most ``limit`` seconds (and never past ``deadline``, a monotonic time)."""
        t0 = time.monotonic()
        if not self.alive():
            return CellRun("died", seconds=0.0)
        limit_s = limit if deadline is None else max(0.0, min(limit, deadline - t0))
        msg_id = self.kc.execute(
            code, silent=False, store_history=store_history, allow_stdin=False, stop_on_error=False
        )
        watch = Watch(t0, limit_s)
        text: list[str] = []
        size = [0]
        error: str | None = None
        hit_deadline = False
        while True:
            now = time.monotonic()
            act = watch.action(now)
            if act == "done":
                break
            if act == "nudge":
                self.kc.kernel_info()
            elif act == "interrupt":
                hit_deadline = deadline is not None and deadline - t0 <= limit
                self.interrupt()
                watch.interrupted(now)
            elif act == "unresponsive":
                return CellRun("unresponsive", self._text(text), error, now - t0)
            if not self.alive():
                for _, msg in self._poll(0.1):  # what it said before dying
                    self._take(msg, msg_id, watch, text, size, now)
                return CellRun("died", self._text(text), error, time.monotonic() - t0)
            for channel, msg in self._poll(watch.wait_time(now)):
                if channel == "shell":
                    if msg.get("parent_header", {}).get("msg_id") == msg_id and msg.get("msg_type") == "execute_reply":
                        watch.event("reply", time.monotonic())
                        content = msg.get("content", {})
                        if content.get("status") == "error" and error is None:
                            error = _error_line(content)
                else:
                    err = self._take(msg, msg_id, watch, text, size, time.monotonic())
                    error = error or err
        status = "ok" if error is None else "error"
        if watch.interrupted_at is not None:
            status = "deadline" if hit_deadline else "interrupted"
        return CellRun(status, self._text(text), error, time.monotonic() - t0, watch.lost)

    @staticmethod
    def _text(parts: list[str]) -> str:
        return "".join(parts)[:MAX_CELL_TEXT]

    @staticmethod
    def _take(msg: dict, msg_id: str, watch: Watch, text: list[str], size: list[int], now: float) -> str | None:
        """Record one IOPub message about request ``msg_id``; the error it carries, if any."""
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            return None
        kind, content = msg.get("msg_type"), msg.get("content", {})

        def add(s: str) -> None:
            if size[0] < MAX_CELL_TEXT:
                s = _clean(str(s))[: MAX_CELL_TEXT - size[0]]
                text.append(s)
                size[0] += len(s)

        if kind == "status":
            watch.event(content.get("execution_state", ""), now)
        elif kind == "stream":
            add(content.get("text", ""))
        elif kind in ("execute_result", "display_data"):
            data = content.get("data", {})
            add(str(data.get("text/plain", "")) + "\n" if "text/plain" in data else "")
        elif kind == "clear_output":
            text.clear()
            size[0] = 0
        elif kind == "error":
            err = _error_line(content)
            shown = "\n".join(str(line) for line in content.get("traceback") or [])  # as the learner saw it
            add((shown or err) + "\n")
            return err
        return None

    # ------------------------------------------------------------------ the grader's calls
    def _request(self, code: str, limit: float) -> dict:
        """Run one of the grader's own requests; the JSON it wrote to its answer file."""
        self.calls += 1
        path = self.exchange / f"answer-{self.calls}.json"
        run = self.run(code.replace("@ANSWER@", repr(str(path))), limit, store_history=False)
        if run.status == "interrupted":
            raise CallTimeout(f"it did not return within {limit:g} s")
        if run.status in ("died", "unresponsive"):
            raise KernelLost("the kernel died" if run.status == "died" else "the kernel stopped answering")
        try:
            answer = json.loads(_read_own_file(self.root, path.relative_to(self.root), MAX_ANSWER))
        except (OSError, ValueError, RecursionError) as e:
            why = f" (the grader's request raised {run.error})" if run.error else f" ({type(e).__name__}: {e})"
            raise KernelLost(f"the kernel did not answer the grader's request{why}"[:400]) from None
        if not isinstance(answer, dict):
            raise KernelLost("the kernel's answer is not a JSON object")
        return answer

    def install_helper(self, limit: float = 60.0) -> None:
        """Define the grader's side of the channel in the kernel (once)."""
        if self.helper_ready:
            return
        source = Path(wire.__file__).read_text() + wire.KERNEL_HELPER
        code = (
            "_vae_course_ns = {'__name__': 'vae_course_grader'}\n"
            f"exec(compile({source!r}, '<vae-course grader>', 'exec'), _vae_course_ns)\n"
            "_vae_course_grader = _vae_course_ns['_vae_course_grader']\n"
            "del _vae_course_ns\n"
        )
        run = self.run(code, limit, store_history=False)
        if run.status != "ok":
            raise KernelLost(f"the grader's code could not be set up in the kernel ({run.error or run.status})")
        self.helper_ready = True

    def resolve(self, name: str, limit: float = 30.0) -> dict:
        """What ``name`` is in the notebook's namespace: {"ok", "callable", "type", "module",
        "qualname"} or {"ok": False, "error": [type, message]}."""
        self.install_helper()
        return self._request(f"_vae_course_grader.resolve({name!r}, globals(), @ANSWER@)", limit)

    def function(self, name: str, limit: float) -> KernelFunction:
        return KernelFunction(self, name, limit)

    def save_rng(self, limit: float = 30.0) -> None:
        """Remember the kernel's random-number generators (Python's, torch's, numpy's)."""
        self.install_helper()
        self._request("_vae_course_grader.save_rng(@ANSWER@)", limit)

    def solutions_shown(self, limit: float = 30.0) -> list[str]:
        """The exercise ids whose solution the learner displayed in this kernel
        (``vae_course.exercises.solutions_shown()``, where the package has it); informational
        only, as the notebook could rebind it. [] when it is missing or fails."""
        self.install_helper()
        code = (
            "try:\n"
            "    import vae_course.exercises as _vae_course_ex\n"
            "    _vae_course_shown = [str(e)[:20] for e in list(_vae_course_ex.solutions_shown())[:200]]\n"
            "except Exception:\n"
            "    _vae_course_shown = []\n"
            "_vae_course_grader._write(@ANSWER@, {'ok': True, 'shown': _vae_course_shown})\n"
            "del _vae_course_shown\n"
        )
        try:
            answer = self._request(code, limit)
        except (KernelLost, CallTimeout):
            return []
        shown = answer.get("shown")
        return [e for e in shown if isinstance(e, str)] if isinstance(shown, list) else []

    def restore_rng(self, limit: float = 30.0) -> None:
        """Put back what :meth:`save_rng` remembered: the grader's calls leave no trace in them."""
        self._request("_vae_course_grader.restore_rng(@ANSWER@)", limit)


def _remote_exception(type_name: str, message: str) -> Exception:
    """An exception standing for one raised in the kernel (NotImplementedError stays itself)."""
    if type_name == "NotImplementedError":
        return NotImplementedError(message)
    name = type_name if type_name.isidentifier() and not keyword.iskeyword(type_name) else "Error"
    return type(name, (Exception,), {})(message)


class _KernelGrad(torch.autograd.Function):
    """Connects a value computed in the kernel to the grader's autograd graph: its backward
    asks the kernel for d(out . grad_out)/d(inputs) and hands those gradients back."""

    @staticmethod
    def forward(ctx, fn, key, value, *inputs):  # noqa: ARG004 - inputs are what autograd differentiates
        ctx.fn, ctx.key, ctx.shapes = fn, key, [tuple(t.shape) for t in inputs]
        return value.clone()

    @staticmethod
    def backward(ctx, grad_out):
        grads = ctx.fn.gradients(ctx.key, grad_out, ctx.shapes)
        return (None, None, None, *grads)


class KernelFunction:
    """The learner's function ``name``, living in the graded kernel, callable from the grader.

    Calling it sends the arguments (tensors, numbers, the course's small input objects) to the
    kernel, which calls the function there; the result is decoded with the strict decoder. An
    exception raised there is raised here under the same type name (NotImplementedError as
    itself); tensors the function changed in place are changed here too; a result that depends
    on arguments requiring gradients is connected to them, its gradients computed in the kernel.
    """

    def __init__(self, kernel: GradedKernel, name: str, limit: float):
        self.kernel, self.name, self.limit = kernel, name, limit
        self.__name__ = name.split(".")[-1]

    def __repr__(self) -> str:
        return f"<the notebook's {self.name}>"

    def __call__(self, *args, **kwargs):
        doc = wire.encode((list(args), dict(kwargs)), objects=True)
        if _has_other(doc):
            raise KernelLost(f"the grader cannot send these inputs to the kernel: {wire.decode(doc)!r}"[:300])
        text = wire.dumps(doc)
        self.kernel.install_helper()
        key = f"c{self.kernel.calls + 1}"
        answer = self.kernel._request(
            f"_vae_course_grader.call({key!r}, {self.name!r}, {text!r}, @ANSWER@, globals())", self.limit
        )
        if not answer.get("ok"):
            etype, msg = (list(answer.get("error") or ["Error", ""]) + ["", ""])[:2]
            raise _remote_exception(str(etype), str(msg))
        try:
            value = wire.decode(answer.get("value"))
            changed = {int(i): wire.decode(v) for i, v in dict(answer.get("changed") or {}).items()}
        except (wire.WireError, ValueError, TypeError, RecursionError) as e:
            raise KernelLost(f"the kernel's answer could not be read: {e}") from None
        for i, after in changed.items():
            if 0 <= i < len(args) and isinstance(args[i], torch.Tensor) and isinstance(after, torch.Tensor):
                with torch.no_grad():
                    if after.shape == args[i].shape and after.dtype == args[i].dtype:
                        args[i].copy_(after)
                    else:
                        args[i].data = after.detach()
        inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        if isinstance(value, torch.Tensor) and value.requires_grad and inputs:
            return _KernelGrad.apply(self, key, value.detach(), *inputs)
        return value

    def gradients(self, key: str, grad_out: torch.Tensor, shapes: list[tuple]) -> list:
        """d(out . grad_out)/d(input) for each input of call ``key``, computed in the kernel."""
        answer = self.kernel._request(
            f"_vae_course_grader.backward({key!r}, {wire.dumps(wire.encode(grad_out.detach()))!r}, @ANSWER@)",
            self.limit,
        )
        if not answer.get("ok"):
            etype, msg = (list(answer.get("error") or ["Error", ""]) + ["", ""])[:2]
            raise _remote_exception(str(etype), str(msg))
        try:
            grads = [wire.decode(g) for g in answer.get("grads", [])]
        except (wire.WireError, ValueError, TypeError, RecursionError) as e:
            raise KernelLost(f"the kernel's gradients could not be read: {e}") from None
        if len(grads) != len(shapes):
            raise KernelLost("the kernel sent the wrong number of gradients")
        out = []
        for g, shape in zip(grads, shapes):
            if g is None:
                out.append(None)
            elif isinstance(g, torch.Tensor) and tuple(g.shape) == shape and g.is_floating_point():
                out.append(g.detach())
            else:
                raise KernelLost("the kernel sent a gradient of the wrong shape or type")
        return out


def _has_other(doc) -> bool:
    """Whether an encoded document holds a value that travels only as its type name."""
    if isinstance(doc, dict):
        return doc.get("t") == "other" or any(_has_other(v) for v in doc.values())
    if isinstance(doc, list):
        return any(_has_other(v) for v in doc)
    return False


def _read_own_file(root: Path, relative: Path, limit: int) -> bytes:
    """Read (and delete) a file the kernel wrote inside its folder ``root``, following no
    symbolic link on the way (the kernel could have planted one pointing at the teacher's files)
    and refusing anything but a regular file of at most ``limit`` bytes."""
    nofollow = os.O_NOFOLLOW | os.O_CLOEXEC
    dfd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | nofollow)
    try:
        for part in relative.parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | nofollow, dir_fd=dfd)
            os.close(dfd)
            dfd = nxt
        fd = os.open(relative.parts[-1], os.O_RDONLY | nofollow | os.O_NONBLOCK, dir_fd=dfd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise OSError(f"{relative} is not a regular file")
            if st.st_size > limit:
                raise OSError(f"{relative} is larger than {limit} bytes")
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read(limit + 1)
        finally:
            os.close(fd)
        if relative.name != "kernel.log":
            os.unlink(relative.parts[-1], dir_fd=dfd)
        return data[:limit]
    finally:
        os.close(dfd)


def kill_strays(root: str) -> list[int]:
    """Kill every process of this user still carrying the sandbox marker of ``root`` in its
    environment (a fallback for a wrapper that did not outlive its kernel); their pids."""
    needle = f"{_MARKER}={root}\0".encode()
    killed = []
    for name in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read() + b"\0"
        except OSError:
            continue
        if needle in env:
            try:
                os.kill(int(name), signal.SIGKILL)
                killed.append(int(name))
            except OSError:
                pass
    return killed
