"""`make notebooks`: re-run course notebooks top to bottom and save them with clean outputs.

The committed notebooks carry the outputs of one clean run (GitHub, nbviewer, the decks and the
site show them as they are). After editing a notebook, run it again with this rather than saving it
from JupyterLab, where cells run out of order, widgets were moved and progress bars were caught
half-way. For each notebook it

* runs it in a fresh kernel (the ``python3`` kernel of this environment, in the notebook's folder
  so that relative paths work), every teaching claim an assertion (``VAE_COURSE_CLAIMS=strict``);
* records no run timestamps in the cells (a re-run's diff shows what changed, apart from the
  widgets' random model ids);
* drops the saved progress bars: a tqdm bar is a widget, and its saved view says "0%" or shows a
  half-drawn bar to a reader without a kernel (the text of a finished ``fit`` stays);
* refuses to save a run that is not clean: an exception, a warning or anything else on stderr, or
  a cell that did not run. The notebook on disk is then left as it was; the run is written to
  ``<tmp>/<name>.failed.ipynb`` to read the error in context;
* applies the slide metadata again (lecture/slide_metadata.py): a figure that changed size can
  move where a slide breaks. It saves the learner edition: no speaker notes (`make lecture` adds them).

tests/test_execute_notebooks.py checks every committed notebook for the same cleanliness (`problems`).

    .venv/bin/python -m lecture.execute_notebooks notebooks/01_autoencoder.ipynb [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient

from lecture import colab_cell
from lecture import slide_metadata as sm

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT_S = 600
POLL_SLICE_S = 1.0
#: a tqdm bar's text: "37%|███▋      | 11/30 [00:01<00:02, 8.1it/s]"
PROGRESS_BAR = re.compile(r"\d+%\|.*\|\s*\d+/\d+|it/s\]|s/it\]")


def sliced(get_msg, slice_s: float = POLL_SLICE_S):
    """``get_msg(timeout=...)`` of a kernel channel, waiting in slices of at most ``slice_s``.

    A run of nbclient sometimes sat with an idle kernel until the cell timeout and then went on as
    if nothing had happened (01_autoencoder: 623 s for 23 s of work, outputs complete). That is a
    missed wake-up of the asyncio poll on the channel's socket: the reply is already there, and
    only pyzmq's final check at the deadline sees it. Each new poll checks the socket at once, so
    waiting in short slices bounds the cost of a missed wake-up to one slice, while the caller's
    deadline (``Empty`` when it passes; ``None``: none) stays what it was.
    """

    async def get_msg_in_slices(timeout: float | None = None, **kwargs):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = slice_s if deadline is None else max(0.0, min(slice_s, deadline - time.monotonic()))
            try:
                return await get_msg(timeout=left, **kwargs)
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get_msg_in_slices


class SlicedNotebookClient(NotebookClient):
    """nbclient's NotebookClient, its shell and IOPub channels read with `sliced` waits."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            channel.get_msg = sliced(channel.get_msg)
        return kc


def notebook_client(nb, cwd: Path, **kwargs) -> SlicedNotebookClient:
    """A client that runs ``nb`` on the course's kernel (``python3``) in the folder ``cwd``."""
    return SlicedNotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}, **kwargs)


def is_progress_bar(output: dict) -> bool:
    """A saved tqdm widget: a widget view whose text fallback is a progress bar."""
    data = output.get("data", {})
    return sm.WIDGET_MIME in data and bool(PROGRESS_BAR.search(str(data.get("text/plain", ""))))


def drop_progress_bars(nb) -> int:
    """Remove every saved progress-bar widget from the code cells' outputs; returns how many."""
    dropped = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = [o for o in cell.get("outputs", []) if not is_progress_bar(o)]
        dropped += len(cell.outputs) - len(kept)
        cell.outputs = kept
    return dropped


def problems(nb) -> list[str]:
    """What keeps `nb` from being the clean top-to-bottom run a reader should see (empty: clean).

    Every code cell ran, once, in order (execution counts 1, 2, 3, ...); no cell raised; nothing
    was written to stderr (a warning); no progress bar was saved. The Colab install cell
    (lecture/colab_cell.py) is not part of the run: it is saved as written, never run.
    """
    found = []
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and not colab_cell.is_install_cell(c)]
    for i, c in enumerate(nb.cells):
        if colab_cell.is_install_cell(c) and (c.execution_count is not None or c.get("outputs")):
            found.append(f"cell {i}: the Colab install cell is saved run (it is never run here: no count, no output)")
    counts = [c.execution_count for _, c in code]
    if counts != list(range(1, len(code) + 1)):
        found.append(f"execution counts are {counts}, not 1..{len(code)} (not one top-to-bottom run)")
    for i, cell in code:
        for o in cell.get("outputs", []):
            if o.output_type == "error":
                found.append(f"cell {i}: {o.ename}: {o.evalue}"[:200])
            elif o.output_type == "stream" and o.name == "stderr":
                found.append(f"cell {i} wrote to stderr: {o.text.strip()[:150]!r}")
            elif is_progress_bar(o):
                found.append(f"cell {i} saved a progress bar: {o['data']['text/plain'][:80]!r}")
    return found


def execute(path: Path, failed_dir: Path, env: dict | None = None, slides: bool = True) -> tuple[bool, str]:
    """Run the notebook at `path`; save it in place when the run is clean. Returns (saved, a report line).

    ``env``: more environment for the kernel (the translated editions: ``VAE_COURSE_LANG``); ``slides=False``
    saves the cells as they are, without applying the slide metadata again (a translated edition keeps the
    English notebook's cells, ids and splits: lecture/i18n.py)."""
    nb = nbformat.read(path, as_version=4)
    # every teaching claim asserts, as under the tests (a notice would be saved into the notebook), and
    # the notebook's parameters cell as it stands is the course's (vae_course.parameters)
    env = {**os.environ, "VAE_COURSE_LANG": "en", **(env or {})}
    env.update(VAE_COURSE_CLAIMS="strict", VAE_COURSE_NOTEBOOKS=str(path.parent.resolve()))
    env.pop("VAE_COURSE_CLAIMS_LOG", None)
    start = time.perf_counter()
    for cell in nb.cells:  # no run timestamps: a re-run changes only what it really changed
        cell.metadata.pop("execution", None)
    # the Colab install cell does nothing where the course is installed: it is left out of the run and
    # saved as written (no execution count, no output), so a re-run changes no count of the others
    install = [(i, c) for i, c in enumerate(nb.cells) if colab_cell.is_install_cell(c)]
    nb.cells = [c for c in nb.cells if not colab_cell.is_install_cell(c)]
    client = notebook_client(nb, path.parent, timeout=CELL_TIMEOUT_S, record_timing=False)
    try:
        client.execute(env=env)
        error = ""
    except Exception as e:  # noqa: BLE001 (a failing cell or a dead kernel: the run is not saved either way)
        last = str(e).strip().splitlines()[-1:]  # nbclient ends its message with the error line
        error = f"{type(e).__name__}: {''.join(last)}"[:300]
    for i, cell in install:
        nb.cells.insert(i, cell)
    seconds = time.perf_counter() - start
    dropped = drop_progress_bars(nb)
    found = ([error] if error else []) + problems(nb)
    if found:
        failed_dir.mkdir(parents=True, exist_ok=True)
        failed = failed_dir / f"{path.stem}.failed.ipynb"
        nbformat.write(nb, failed)
        listed = "\n    ".join(found[:8])
        return False, f"NOT SAVED {path.name} ({seconds:.0f} s): {listed}\n    the run is in {failed}"
    if not slides:
        sm.write_notebook(nb, path)
        return True, f"saved {path.name}: {seconds:.0f} s, {dropped} progress bars dropped"
    new, _ = sm.apply(nb)  # the learner edition: no speaker notes (those are `make lecture`'s)
    sm.write_notebook(new, path)
    gone = [a for a in sm.load_notes().get(path.stem, {}) if a not in {c.get("id") for c in new.cells}]
    notes = f"; speaker notes whose anchor cell is gone: {gone}" if gone else ""
    shown = f"{len(sm.slides(new))} slides"
    return True, f"saved {path.name}: {seconds:.0f} s, {dropped} progress bars dropped, {shown}{notes}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--jobs", type=int, default=2, help="kernels at a time (each notebook uses one torch thread)")
    args = ap.parse_args(argv)
    missing = [p for p in args.notebooks if not p.is_file()]
    if missing:
        ap.error(f"no such notebook: {', '.join(map(str, missing))}")
    failed_dir = Path(tempfile.gettempdir()) / "vae-course-runs"
    print(f"running {len(args.notebooks)} notebooks, {args.jobs} at a time", flush=True)
    results = []
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for ok, line in pool.map(lambda p: execute(p.resolve(), failed_dir), args.notebooks):
            print(line, flush=True)
            results.append((ok, line))
    bad = sum(not ok for ok, _ in results)
    print(f"{len(results) - bad} saved, {bad} not saved")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
