"""`make test-params` and `make test-seeds`: run the notebooks as a learner who changes their parameters would.

``make test-params`` (a CI step): for each course notebook (``vae_course.parameters``), one run per
offline value in ``claims.OFFERED``, one with ``SEED + 1``, and one with every value of
``claims.ALTERNATIVES`` changed at once (a latent size, a width, a number of codes, an image size...).
Each run is made as a learner would: the parameters cell's lines are changed, the notebook runs top to
bottom in a fresh kernel, and teaching claims are notices (``VAE_COURSE_CLAIMS=notice``), each one
recorded with its margin (``VAE_COURSE_CLAIMS_LOG``). It fails (exit 1) on

* any exception in a run that is not a claim notice (a learner would see a traceback), and
* any claim that does not hold in the SEED + 1 run: the course's own settings but another seed (a
  claim that holds for one seed only is not a claim yet).

The table (notebook, settings, run time, claims held / not held by name) is printed and written to
``--table`` (``build/test-params.md``; CI changes no tracked file). ``make params-readme`` copies that
file into README.md between ``<!-- test-params:start -->`` and ``<!-- test-params:end -->``.

The Chinese edition (notebooks/zh/, issue 29) joins with one run per notebook, ``SEED + 1``, run as
``make zh`` runs it (kernel in notebooks/zh/, ``VAE_COURSE_LANG=zh``): the same code in another language
must reach the same claims (its rows: ``zh/NN_name``). ``--no-zh`` leaves them out, ``--zh-only`` runs
only them.

``make test-seeds`` (a benchmark, not a CI step): each notebook under the course's settings with
``SEED = 0 .. 4``, and for every claim its margin on each seed (how far the measured value is from
the claim's threshold, as a fraction of it; negative: the claim failed), worst first. It fails on a
claim that does not hold on some seed; a worst margin under 10 % is flagged as fragile.

    python -m tests.run_params [--jobs 2] [--only 01_autoencoder ...] [--no-zh | --zh-only]
                               [--table build/test-params.md]
    python -m tests.run_params --seeds 0 1 2 3 4 [--table build/test-seeds.md]
    python -m tests.run_params --readme README.md --from-table build/test-params.md
"""

from __future__ import annotations

import argparse
import json
import math
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

from lecture.execute_notebooks import CELL_TIMEOUT_S, notebook_client

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
START, END = "<!-- test-params:start -->", "<!-- test-params:end -->"


FRAGILE = 0.10  # a claim whose worst margin over the seeds is below this is flagged


@dataclass
class Variant:
    notebook: str
    changes: dict
    seed_run: bool
    all_changed: bool = False
    seconds: float = 0.0
    error: str = ""
    held: list = field(default_factory=list)
    not_held: list = field(default_factory=list)
    margins: dict = field(default_factory=dict)  # claim -> worst margin in this run (None: a plain bool)
    lang: str = ""  # "" (English, notebooks/) or a translated edition's folder (notebooks/zh/)

    @property
    def name(self) -> str:
        return f"{self.lang}/{self.notebook}" if self.lang else self.notebook

    @property
    def label(self) -> str:
        if self.all_changed:
            return "all other values: " + ", ".join(f"{k} = {v!r}" for k, v in self.changes.items())
        return ", ".join(f"{k} = {v!r}" for k, v in self.changes.items()) or "course settings"

    @property
    def failed(self) -> bool:
        return bool(self.error) or (self.seed_run and bool(self.not_held))


def variants(
    course: dict, offered: dict, only: list[str] | None, alternatives: dict | None = None, langs: tuple = ("zh",)
) -> list[Variant]:
    out = []
    for name, values in course.items():
        if only and name not in only:
            continue
        if "SEED" in values:
            out.append(Variant(name, {"SEED": values["SEED"] + 1}, seed_run=True))
        for param, options in offered.get(name, {}).items():
            out.extend(Variant(name, {param: v}, seed_run=False) for v in options)
        if alternatives and alternatives.get(name):
            out.append(Variant(name, dict(alternatives[name]), seed_run=False, all_changed=True))
    return out + translated_variants(course, only, langs)


def translated_variants(course: dict, only: list[str] | None, langs: tuple = ("zh",)) -> list[Variant]:
    """One SEED + 1 run of each translated edition's notebook (notebooks/LANG/NN_name.ipynb)."""
    return [
        Variant(name, {"SEED": values["SEED"] + 1}, seed_run=True, lang=lang)
        for lang in langs
        for name, values in course.items()
        if (not only or name in only) and "SEED" in values and (NOTEBOOKS / lang / f"{name}.ipynb").is_file()
    ]


def seed_variants(course: dict, seeds: list[int], only: list[str] | None) -> list[Variant]:
    """The course's settings with each seed (the course's own seed included, run the same way)."""
    out = []
    for name, values in course.items():
        if (only and name not in only) or "SEED" not in values:
            continue
        out.extend(Variant(name, {} if s == values["SEED"] else {"SEED": s}, seed_run=True) for s in seeds)
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
    folder = NOTEBOOKS / v.lang if v.lang else NOTEBOOKS
    nb = nbformat.read(folder / f"{v.notebook}.ipynb", as_version=4)
    v.held, v.not_held, v.margins = [], [], {}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "claims.jsonl"
        # the kernel gets its own environment: claims are notices, each one logged to this variant's file
        env = dict(os.environ, VAE_COURSE_CLAIMS="notice", VAE_COURSE_CLAIMS_LOG=str(log))
        # one BLAS thread per kernel: numpy's OpenBLAS otherwise starts a thread per core in each of the --jobs
        # kernels, and small products then wait on each other (a (4, 784) x (784, 784) product: 3.4 ms on one
        # thread, 84 ms on two beside a busy kernel, measured); torch's threads are the notebooks' THREADS
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
        if v.lang:
            env["VAE_COURSE_LANG"] = v.lang  # as `make zh` runs the edition (its kernel also starts in zh/)
        start = time.perf_counter()
        try:
            change_parameters(nb, v.changes)
            client = notebook_client(nb, folder, timeout=CELL_TIMEOUT_S)
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
                m = r.get("margin")
                old = v.margins.get(r["claim"], "unset")
                # a claim made several times in a run (in a loop) keeps its worst margin
                v.margins[r["claim"]] = m if old == "unset" or old is None else (old if m is None else min(old, m))
    return v


def table(results: list[Variant]) -> str:
    rows = ["| notebook | settings | run time | claims held | claims not held | result |", "|---|---|---|---|---|---|"]
    for v in results:
        not_held = ", ".join(f"`{c}`" for c in sorted(set(v.not_held))) or "none"
        result = f"error: {v.error}" if v.error else ("FAILED (seed run)" if v.failed else "ran to the end")
        rows.append(f"| {v.name} | {v.label} | {v.seconds:.0f} s | {len(set(v.held))} | {not_held} | {result} |")
    return "\n".join(rows)


def seed_of(v: Variant, course: dict) -> int:
    return v.changes.get("SEED", course[v.notebook]["SEED"])


def margin_table(results: list[Variant], course: dict, seeds: list[int], worst: int | None = None) -> tuple[str, list]:
    """One row per claim: its margin on each seed, worst first. Returns (markdown, rows)."""
    per: dict[tuple[str, str], dict[int, float | None]] = {}
    for v in results:
        for c, m in v.margins.items():
            per.setdefault((v.notebook, c), {})[seed_of(v, course)] = m
    rows = []
    for (nb, c), by_seed in per.items():
        known = [m for m in by_seed.values() if m is not None]
        missing = [s for s in seeds if s not in by_seed]  # the claim was not reached on that seed
        w = -math.inf if missing else (min(known) if known else math.nan)
        rows.append((w, nb, c, by_seed, missing))
    rows.sort(key=lambda r: (math.isnan(r[0]), r[0]))

    def cell(m):
        return "bool" if m is None else f"{m:+.3f}"

    head = "| notebook | claim | " + " | ".join(f"SEED {s}" for s in seeds) + " | worst |"
    lines = [head, "|---|---|" + "---|" * (len(seeds) + 1)]
    for w, nb, c, by_seed, _missing in rows[:worst] if worst else rows:
        vals = " | ".join(cell(by_seed[s]) if s in by_seed else "not run" for s in seeds)
        flag = " (fragile)" if w < FRAGILE else ""
        lines.append(f"| {nb} | `{c}` | {vals} | {'n/a' if math.isnan(w) else cell(w)}{flag} |")
    return "\n".join(lines), rows


def write_readme(path: Path, text: str) -> None:
    readme = path.read_text()
    if START not in readme or END not in readme:
        raise SystemExit(f"{path} has no {START} ... {END} markers for the table")
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{START}\n{text}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    from vae_course.claims import ALTERNATIVES, OFFERED
    from vae_course.parameters import NOTEBOOKS_ENV, course_notebooks, course_settings

    # the course's settings are the parameters cells of these notebooks as they stand (the kernels inherit it)
    os.environ[NOTEBOOKS_ENV] = str(NOTEBOOKS)
    COURSE_SETTINGS = {name: course_settings(name) for name in course_notebooks()}  # noqa: N806

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", nargs="*", help="notebook names (e.g. 01_autoencoder)")
    ap.add_argument("--seeds", type=int, nargs="*", help="make test-seeds: these seeds under the course's settings")
    ap.add_argument("--all-changed-only", action="store_true", help="only the runs with every alternative value")
    ap.add_argument("--no-zh", action="store_true", help="leave out the Chinese edition's SEED + 1 runs")
    ap.add_argument("--zh-only", action="store_true", help="only the Chinese edition's SEED + 1 runs")
    ap.add_argument("--table", type=Path, help="write the table to this file (e.g. build/test-params.md)")
    ap.add_argument("--readme", type=Path, help="with --from-table: copy that table into this README")
    ap.add_argument("--from-table", type=Path, help="the table file written by an earlier run")
    args = ap.parse_args(argv)
    if args.readme:
        if not args.from_table or not args.from_table.exists():
            raise SystemExit(f"no table at {args.from_table}: run `make test-params` first")
        write_readme(args.readme, args.from_table.read_text().strip())
        print(f"wrote {args.from_table} into {args.readme}")
        return 0
    if args.only:  # a bare "04" or a misspelt name would otherwise run nothing and report 0 passed
        unknown = [n for n in args.only if n not in COURSE_SETTINGS]
        if unknown:
            hint = {n: [c for c in COURSE_SETTINGS if c.startswith(n)] for n in unknown}
            raise SystemExit(
                "--only takes notebook names: "
                + "; ".join(f"{n!r} is not one" + (f" (did you mean {m[0]!r}?)" if m else "") for n, m in hint.items())
                + f". Known: {', '.join(COURSE_SETTINGS)}"
            )
    if args.seeds is not None:
        todo = seed_variants(COURSE_SETTINGS, args.seeds, args.only)
    else:
        todo = variants(COURSE_SETTINGS, OFFERED, args.only, ALTERNATIVES, () if args.no_zh else ("zh",))
        if args.zh_only:
            todo = [v for v in todo if v.lang]
        if args.all_changed_only:
            todo = [v for v in todo if v.all_changed]
    print(f"{len(todo)} runs on {args.jobs} kernels at a time", flush=True)
    results = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for v in pool.map(run_variant, todo):
            status = "FAILED" if v.failed else "ok"
            print(
                f"{status:6} {v.name:32} {v.label:24} {v.seconds:6.1f} s  not held: {sorted(set(v.not_held))}"
                + (f"  {v.error}" if v.error else ""),
                flush=True,
            )
            results.append(v)
    if args.seeds is not None:
        text, rows = margin_table(results, COURSE_SETTINGS, args.seeds)
        print(margin_table(results, COURSE_SETTINGS, args.seeds, worst=15)[0])
        fragile = [r for r in rows if r[0] < FRAGILE]
        no_margin = [r for r in rows if math.isnan(r[0])]
        print(
            f"{len(rows)} claims over seeds {args.seeds}: {sum(r[0] < 0 for r in rows)} fail on some seed, "
            f"{len(fragile)} with a worst margin under {FRAGILE:.0%}, {len(no_margin)} without a margin (plain bool)"
        )
    else:
        text = table(results)
        print(text)
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(text + "\n")
        print(f"table written to {args.table}")
    failed = [v for v in results if v.failed]
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
