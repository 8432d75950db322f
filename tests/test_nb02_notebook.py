"""Notebook 02: its exercise solutions pass their checks, its stubs (made as ``vae-course student``
makes them, through tests/notebook_cells.py) read as "not attempted", its shape follows the
course conventions, and the functions it writes in front of the learner agree with the package's."""

import json
import math
import re

import numpy as np
import pytest
import torch

from tests.course import COURSE
from tests.notebook_cells import load_function
from vae_course.exercises import check
from vae_course.interpolation import lerp
from vae_course.moons import PhaseBank, circular_phase_difference, manifold_distance

NOTEBOOK = COURSE / "02_moon_interpolation_failure.ipynb"


def _cells():
    return json.loads(NOTEBOOK.read_text())["cells"]


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _exercise_cells() -> list[tuple[str, str]]:
    """(exercise id, source of the cell defining the learner's function) for every exercise."""
    cells = [_source(c) for c in _cells() if c["cell_type"] == "code"]
    found = []
    for k, src in enumerate(cells[:-1]):
        if "### BEGIN SOLUTION" in src:
            m = re.search(r'check\("(\d\d\.\d)", (\w+)\)', cells[k + 1])
            assert m, f"the cell after an exercise must call check(...), got:\n{cells[k + 1]}"
            found.append((m.group(1), m.group(2), src))
    return found


def _namespace() -> dict:
    # what the notebook's import cell gives its exercise cells
    return {"torch": torch, "np": np, "math": math, "circular_phase_difference": circular_phase_difference}


def test_notebook_has_at_least_two_exercises_with_registered_checks():
    ids = [e[0] for e in _exercise_cells()]
    assert len(ids) >= 2 and all(i.startswith("02.") for i in ids)
    assert len(set(ids)) == len(ids)


@pytest.mark.parametrize("exercise", _exercise_cells(), ids=lambda e: e[0])
def test_solution_passes_and_stub_is_not_attempted(exercise):
    ex_id, name, _ = exercise
    assert check(ex_id, load_function(NOTEBOOK, name, _namespace())).passed
    stub = load_function(NOTEBOOK, name, _namespace(), stub=True)  # the stub still defines the function
    assert check(ex_id, stub).status == "not attempted"


def test_notebook_solutions_agree_with_package_functions():
    ns = _namespace()
    for _, _, src in _exercise_cells():
        exec(src, ns)
    z0, z1 = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.0, 3.0, 0.5])
    assert torch.allclose(ns["straight_path"](z0, z1, 9), lerp(z0, z1, 9))
    bank = PhaseBank(size=12, n_phases=90)
    x = torch.rand(6, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(ns["nearest_moon_distance"](x, bank.images), bank.distance(x), atol=1e-5)
    assert torch.allclose(manifold_distance(x, bank.images), bank.distance(x), atol=1e-5)


def test_notebook_shape():
    cells = _cells()
    code = [c for c in cells if c["cell_type"] == "code"]
    params = [k for k, c in enumerate(code) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(params) == 1
    source = _source(code[params[0]])
    assert "SEED = " in source and "SEEDS" in source and "DATASET" in source and "CODE_STD" in source
    assert source.rstrip().endswith(")") and 'CHANGED = settings("02_moon_interpolation_failure"' in source
    assert "seed_everything(SEED" in _source(code[params[0] + 1])  # seeded right after the parameters
    text = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    for arxiv in ("1312.6114", "1606.05908", "1807.07543"):
        assert arxiv in text
    assert json.loads(NOTEBOOK.read_text())["metadata"]["kernelspec"]["name"] == "python3"
    # every table of medians is followed, in its cell or in the next code cell (its checks), by the claims
    # it supports
    assert all(
        "claim(" in _source(c) or "claim(" in _source(code[k + 1])
        for k, c in enumerate(code)
        if "medians over" in _source(c)
    )
