"""Start and stop a private JupyterLab server for the browser test.

The server runs from the course environment (the Python running the tests), on a free port of
127.0.0.1, with a random token, and with its own config, data, runtime and settings folders, so
it sees what a learner on a fresh machine sees and cannot touch the user's Jupyter set-up. It
serves a *copy* of the notebooks: running them in the browser must never change the committed
files (JupyterLab autosaves).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# JupyterLab user settings for the test: no autosave (the served files are a copy anyway), no
# news or update checks (no network), and every cell kept in the page so the test can read it.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab server; use `start_lab` to make one and `stop` to end it."""

    process: subprocess.Popen
    port: int
    token: str
    root: Path
    log_path: Path
    _log_file: object = field(repr=False, default=None)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """URL of `path` on the server, with the token, as `jupyter lab` prints it for a learner."""
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, method: str, path: str, timeout: float = 10.0):
        """Call the server's REST API; returns the decoded JSON (or None for an empty body)."""
        req = urllib.request.Request(
            f"{self.base_url}/{path.lstrip('/')}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body else None

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"

    def shutdown_kernels(self) -> None:
        """Shut down every kernel the server started (frees the CPU between notebooks)."""
        try:
            for kernel in self.api("GET", "api/kernels"):
                self.api("DELETE", f"api/kernels/{kernel['id']}", timeout=30)
        except (urllib.error.URLError, OSError, ValueError):
            pass

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server and its kernels, politely first, then by force. Safe to call twice."""
        if self.process.poll() is None:
            self.shutdown_kernels()
            try:  # clean shutdown: the server stops its kernels, then exits
                self.api("POST", "api/shutdown", timeout=5)
            except (urllib.error.URLError, OSError, ValueError):
                pass
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGTERM)
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    _signal_group(self.process, signal.SIGKILL)
                    self.process.wait(timeout=10)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # the server was started as the leader of its own group
    except (ProcessLookupError, PermissionError):
        pass


def start_lab(notebooks: Path, workdir: Path, log_path: Path, timeout: float = 120.0) -> LabServer:
    """Copy `notebooks` into `workdir`, start JupyterLab there, and wait until it answers.

    Raises RuntimeError with the server's log when it does not come up within `timeout` seconds.
    """
    root = workdir / "notebooks"
    shutil.copytree(notebooks, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = workdir / "lab-settings"
    for rel, value in LAB_SETTINGS.items():
        path = settings / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(os.environ)
    for var, sub in (
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        env[var] = str(workdir / sub)
        (workdir / sub).mkdir(exist_ok=True)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    token = secrets.token_hex(24)
    last_error = ""
    for _attempt in range(3):  # a free port can be taken between probing and binding
        port = free_port()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_file = open(log_path, "w")
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={token}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
            "--LabApp.expose_app_in_browser=True",  # lets the test read the notebook model
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")  # CI and containers run as root; Jupyter refuses it otherwise
        process = subprocess.Popen(
            cmd,
            cwd=root,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        server = LabServer(process, port, token, root, log_path, log_file)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                server.api("GET", "api/status", timeout=2)
                return server
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(0.5)
        code = process.poll()
        why = f"exited with code {code}" if code is not None else f"did not answer within {timeout:.0f} s"
        last_error = f"JupyterLab {why}. Server log:\n{server.log_tail()}"
        server.stop()
        if "address already in use" not in last_error.lower():
            break
    raise RuntimeError(last_error)


# --------------------------------------------------------------------------- the browser
# Shared by the browser tests: where Chromium is, how it starts, and what a missing one means.
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def unavailable(reason: str) -> None:
    """Skip with `reason`, or fail under CI, where the browser test must really run."""
    if IN_CI:
        pytest.fail(f"{reason}. CI=true, so the browser test must run instead of being skipped.", pytrace=False)
    pytest.skip(reason)


def find_chromium() -> str | None:
    """The Chromium to drive: VAE_COURSE_CHROMIUM when set (and only it), else the system one."""
    chosen = os.environ.get("VAE_COURSE_CHROMIUM")
    candidates = (
        [chosen] if chosen else ["/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")]
    )
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


@contextmanager
def launch_chromium():
    """Headless Chromium driven by Playwright (a fresh temporary profile each launch), closed after use."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (`make test-browser` installs the `browser` extra)")
    executable = find_chromium()
    if executable is None:
        where = os.environ.get("VAE_COURSE_CHROMIUM") or "/usr/bin/chromium or on PATH"
        unavailable(f"no Chromium browser at {where} (install Debian's with `apt-get install -y chromium`)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()
