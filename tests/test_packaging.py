"""The package outside the checkout: the built wheel, installed into a clean virtual environment in a
temporary folder (no system site-packages, not the course's .venv), ships the course notebooks.

* ``vae-course notebooks DEST`` copies them out;
* notebook 00 runs there, top to bottom, on that environment's kernel;
* ``vae-course student`` makes its student version, and ``vae-course grade`` grades it in the fast
  mode (only the cells the exercises need, from the shipped course notebooks): "not attempted".

Slow (measured: 533 s on a 2-core machine under a load of about 12, 418 s of it building the wheel and
pip installing torch and the rest from its cache); `make test-grading` runs it. The fast test
below keeps pyproject.toml's written-out package list complete.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.course import COURSE, ROOT

NB00 = "00_start_here.ipynb"


def test_the_wheel_lists_every_package_and_the_notebooks():
    listed = re.search(r"^packages = \[(.*)\]$", (ROOT / "pyproject.toml").read_text(), flags=re.M)
    assert listed, "pyproject.toml: [tool.setuptools] packages = [...] on one line"
    names = set(re.findall(r'"([\w.]+)"', listed.group(1)))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "vae_course").rglob("__init__.py")} | {
        "vae_course.notebooks",
        "vae_course.locale",
    }
    assert names == on_disk, f"pyproject.toml's packages differ from vae_course/: {sorted(names ^ on_disk)}"


def _run(args: list, env: dict, timeout: float, cwd: Path | None = None, stderr: bool = False) -> str:
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(map(str, args))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + (done.stderr if stderr else "")


@pytest.mark.slow
def test_the_wheel_in_a_clean_venv_copies_runs_hands_out_and_grades_the_notebooks(tmp_path):
    t0 = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "VAE_COURSE_NOTEBOOKS"))}
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "dist", ROOT], env, 600)
    (wheel,) = (tmp_path / "dist").glob("vae_course-*.whl")
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], env, 120)  # without --system-site-packages
    # torch at constraints.txt's pin (pip's cache or configured index gives the CPU build here)
    bin_ = venv / "bin"
    pip = [bin_ / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", "-c", ROOT / "constraints.txt"]
    _run([*pip, "torch", f"vae-course[classroom] @ {wheel.as_uri()}"], env, 900)
    built = time.perf_counter() - t0

    work = tmp_path / "elsewhere"  # no checkout in sight: cwd and the notebooks are outside the repository
    work.mkdir()
    env = {**env, "PATH": f"{bin_}{os.pathsep}{env.get('PATH', '')}", "VAE_COURSE_DATA": str(tmp_path / "cache")}
    where = _run([bin_ / "python", "-c", "import vae_course; print(vae_course.__file__)"], env, 120, cwd=work)
    assert Path(where.strip()).is_relative_to(venv), f"vae_course imported from {where.strip()}, not the clean venv"

    _run([bin_ / "vae-course", "notebooks", "course"], env, 60, cwd=work)
    copied = sorted(p.name for p in (work / "course").glob("*.ipynb"))
    assert copied == sorted(p.name for p in COURSE.glob("[0-9][0-9]_*.ipynb"))
    assert (work / "course" / NB00).read_bytes() == (COURSE / NB00).read_bytes()

    run00 = (
        "import nbformat, sys\nfrom nbclient import NotebookClient\n"
        f"nb = nbformat.read({NB00!r}, as_version=4)\n"
        "NotebookClient(nb, timeout=600, kernel_name='python3', resources={'metadata': {'path': '.'}}).execute()\n"
        "print('ran', sum(c.cell_type == 'code' for c in nb.cells), 'code cells')\n"
    )
    assert "ran" in _run([bin_ / "python", "-c", run00], env, 600, cwd=work / "course")

    _run([bin_ / "vae-course", "student", "course", "handout"], env, 120, cwd=work)
    for student, source in (("learner", work / "handout"), ("second", work / "handout"), ("teacher", work / "course")):
        (work / "subs" / student).mkdir(parents=True)
        shutil.copy(source / NB00, work / "subs" / student / NB00)
    grade = [bin_ / "vae-course", "grade", "subs", "--report", "report.csv", "--timeout", "300"]
    out = _run(grade, env, 600, cwd=work, stderr=True)
    # the fast default mode: the grader found the course notebooks inside the installed wheel
    assert f"course notebooks: {venv}" in out and "runs whole" not in out, out[-3000:]
    with open(work / "report.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r.get("notebook") == NB00 and r["exercise"][:1].isdigit()]
    statuses = {(r["student"], r["exercise"]): r["status"] for r in rows}
    for student in ("learner", "second"):
        mine = {s for (who, _), s in statuses.items() if who == student}
        assert len(statuses) >= 6 and mine == {"not attempted"}, (statuses, out[-3000:])
    assert {s for (who, _), s in statuses.items() if who == "teacher"} == {"pass"}, (statuses, out[-3000:])
    print(f"wheel built and installed in a clean venv in {built:.0f} s; all in {time.perf_counter() - t0:.0f} s")
