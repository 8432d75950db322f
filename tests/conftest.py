"""Shared test set-up: a private data cache, and a per-notebook run-time table after the run."""

from __future__ import annotations

from collections import defaultdict

import pytest


def pytest_configure(config):
    """Tiny test models run fastest on one thread (and two threads thrash a busy 2-core machine).

    Under the tests every teaching claim is strict (a claim that fails is an error, whatever the
    settings), and the course's settings are the parameters cells of the notebooks as they stand
    (not as last committed: a notebook under test may hold a new parameter): the notebooks' kernels
    inherit these environment variables."""
    import os
    from pathlib import Path

    import torch

    from vae_course.claims import MODE_ENV
    from vae_course.parameters import NOTEBOOKS_ENV

    torch.set_num_threads(1)
    os.environ.setdefault(MODE_ENV, "strict")
    os.environ.setdefault(NOTEBOOKS_ENV, str(Path(__file__).resolve().parents[1] / "notebooks"))


#: `make test-grading`'s long files, longest first (quiet 2-core times: every-notebook grading, which
#: grades on 2 kernels, about 250 s; the SIGKILL resume test 184 s; the clean-venv wheel 144 s; the tamper
#: suite about 90 s). Its two xdist workers take whole files in collection order, so longest first packs
#: them onto the two cores evenly (about 340 s each) instead of leaving one worker 400 s and the other idle.
SLOW_FILES_LONGEST_FIRST = ("tests/test_grading.py", "tests/test_grading_resume.py", "tests/test_packaging.py")


def pytest_collection_modifyitems(session, config, items):
    """Under `-m "slow or tamper"` only: the long files first, longest first; the rest keep their order."""
    if "slow" not in (config.option.markexpr or "") or " not slow" in config.option.markexpr:
        return
    rank = {path: i for i, path in enumerate(SLOW_FILES_LONGEST_FIRST)}
    order = {id(item): i for i, item in enumerate(items)}
    items.sort(key=lambda it: (rank.get(it.nodeid.split("::")[0], len(rank)), order[id(it)]))


@pytest.fixture
def one_thread():
    """One torch thread for this test, whatever the session set (tiny models train fastest so)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def data_cache(tmp_path, monkeypatch):
    """Point the data cache at an empty temporary folder for one test."""
    monkeypatch.setenv("VAE_COURSE_DATA", str(tmp_path / "cache"))
    return tmp_path / "cache"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Print wall time per notebook (first cell start to last cell end, kernel start included): a
    table to read, not a test (times on a shared machine vary too much to fail on)."""
    spans: dict[str, list[float]] = defaultdict(lambda: [float("inf"), 0.0])
    workers = set()  # under pytest-xdist each report names the worker (gw0, gw1, ...) that ran it
    for reports in terminalreporter.stats.values():
        for r in reports:
            nodeid = getattr(r, "nodeid", "")
            start, stop = getattr(r, "start", None), getattr(r, "stop", None)
            if ".ipynb::" not in nodeid or start is None:
                continue
            workers.add(getattr(getattr(getattr(r, "node", None), "gateway", None), "id", None))
            span = spans[nodeid.split("::")[0]]
            span[0], span[1] = min(span[0], start), max(span[1], stop)
    if not spans:
        return
    tr = terminalreporter
    tr.section("notebook run times")
    total = 0.0
    for name, (a, b) in sorted(spans.items()):
        total += b - a
        tr.write_line(f"{b - a:7.1f} s  {name}")
    tr.write_line(f"{total:7.1f} s  all notebooks")
    workers.discard(None)
    if len(workers) > 1:
        wall = max(b for _, b in spans.values()) - min(a for a, _ in spans.values())
        tr.write_line(
            f"{wall:7.1f} s  first notebook start to last notebook end, on {len(workers)} workers in parallel"
            " (each time above shares the cores with the other workers)"
        )
