"""`make test-params`: run every notebook with each value its parameters cell offers, and with another seed.

For each notebook of ``vae_course.claims.COURSE_SETTINGS`` this runs one variant per offline value in
``claims.OFFERED`` and one with ``SEED + 1``, each as a learner would: the parameters cell's line is
changed, the notebook runs top to bottom in a fresh kernel, and teaching claims are notices
(``VAE_COURSE_CLAIMS=notice``), each one recorded (``VAE_COURSE_CLAIMS_LOG``).

It fails (exit 1) on
* any exception in a variant that is not a claim notice (a learner would see a traceback), and
* any claim that does not hold in a SEED + 1 run: the course's own settings but another seed (a
  claim that holds for one seed only is not a claim yet).

The table (notebook, settings, run time, claims held / not held by name) is printed and written into
README.md between the markers ``<!-- test-params:start -->`` and ``<!-- test-params:end -->``.

    python tests/run_params.py [--jobs 2] [--only 01_autoencoder ...] [--readme README.md]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from lecture.execute_notebooks import CELL_TIMEOUT_S, notebook_client  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
START, END = "<!-- test-params:start -->", "<!-- test-params:end -->"


@dataclass
class Variant:
    notebook: str
    changes: dict
    seed_run: bool
    seconds: float = 0.0
    error: str = ""
    held: list = field(default_factory=list)
    not_held: list = field(default_factory=list)

    @property
    def label(self) -> str:
        return ", ".join(f"{k} = {v!r}" for k, v in self.changes.items())

    @property
    def failed(self) -> bool:
        return bool(self.error) or (self.seed_run and bool(self.not_held))


def variants(course: dict, offered: dict, only: list[str] | None) -> list[Variant]:
    out = []
    for name, values in course.items():
        if only and name not in only:
            continue
        if "SEED" in values:
            out.append(Variant(name, {"SEED": values["SEED"] + 1}, seed_run=True))
        for param, options in offered.get(name, {}).items():
            out.extend(Variant(name, {param: v}, seed_run=False) for v in options)
    return out


def change_parameters(nb: nbformat.NotebookNode, changes: dict) -> None:
    """Rewrite ``NAME = ...`` lines of the parameters cell (the one calling ``settings(``)."""
    for cell in nb.cells:
        if cell.cell_type == "code" and "settings(" in cell.source:
            source = cell.source
            for name, value in changes.items():
                pattern = re.compile(rf"^{name}\s*=\s*[^#\n]*?(\s*#.*)?$", re.M)
                if not pattern.search(source):
                    raise ValueError(f"{nb.metadata.get('name', '')}: no line '{name} = ...' in the parameters cell")
                source = pattern.sub(lambda m, n=name, v=value: f"{n} = {v!r}{m.group(1) or ''}", source, count=1)
            cell.source = source
            return
    raise ValueError("the notebook has no parameters cell calling settings(...)")


def run_variant(v: Variant) -> Variant:
    nb = nbformat.read(NOTEBOOKS / f"{v.notebook}.ipynb", as_version=4)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "claims.jsonl"
        # the kernel gets its own environment: claims are notices, each one logged to this variant's file
        env = dict(os.environ, VAE_COURSE_CLAIMS="notice", VAE_COURSE_CLAIMS_LOG=str(log))
        start = time.perf_counter()
        try:
            change_parameters(nb, v.changes)
            client = notebook_client(nb, NOTEBOOKS, timeout=CELL_TIMEOUT_S)
            client.execute(env=env)
        except CellExecutionError as e:
            v.error = f"{e.ename}: {e.evalue}"[:300]
        except Exception as e:  # noqa: BLE001 (a kernel that died, a bad parameters cell: all are failures)
            v.error = f"{type(e).__name__}: {e}"[:300]
        v.seconds = time.perf_counter() - start
        if log.exists():
            for line in log.read_text().splitlines():
                r = json.loads(line)
                (v.held if r["held"] else v.not_held).append(r["claim"])
    return v


def table(results: list[Variant]) -> str:
    rows = ["| notebook | settings | run time | claims held | claims not held | result |", "|---|---|---|---|---|---|"]
    for v in results:
        not_held = ", ".join(f"`{c}`" for c in sorted(set(v.not_held))) or "none"
        result = f"error: {v.error}" if v.error else ("FAILED (seed run)" if v.failed else "ran to the end")
        rows.append(f"| {v.notebook} | {v.label} | {v.seconds:.0f} s | {len(set(v.held))} | {not_held} | {result} |")
    return "\n".join(rows)


def write_readme(path: Path, text: str) -> None:
    readme = path.read_text()
    if START not in readme or END not in readme:
        raise SystemExit(f"{path} has no {START} ... {END} markers for the table")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    from vae_course.claims import COURSE_SETTINGS, OFFERED

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="notebook names (e.g. 01_autoencoder)")
    ap.add_argument("--readme", type=Path, help="write the table into this README")
    args = ap.parse_args(argv)
    todo = variants(COURSE_SETTINGS, OFFERED, args.only)
    print(f"{len(todo)} runs on {args.jobs} kernels at a time", flush=True)
    results = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for v in pool.map(run_variant, todo):
            status = "FAILED" if v.failed else "ok"
            print(
                f"{status:6} {v.notebook:32} {v.label:24} {v.seconds:6.1f} s  not held: {sorted(set(v.not_held))}"
                + (f"  {v.error}" if v.error else ""),
                flush=True,
            )
            results.append(v)
    text = table(results)
    print(text)
    if args.readme:
        write_readme(args.readme, text)
    failed = [v for v in results if v.failed]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
