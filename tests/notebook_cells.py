"""Read a course notebook's code cells in tests: the cell that builds something in front of the
learner (to keep it equal to the package's version), and exercise functions, with their solution
or as the student version's stub (made by the same code as `vae-course student`)."""

from __future__ import annotations

from pathlib import Path

import nbformat

from tests.course import COURSE
from vae_course.classroom.student import strip_source


def code_cell(notebook: str | Path, marker: str) -> str:
    """Source of the one code cell of ``notebook`` (a path, or a name in notebooks/) containing ``marker``."""
    path = Path(notebook) if Path(notebook).is_absolute() else COURSE / notebook
    nb = nbformat.read(path, as_version=4)
    found = [c.source for c in nb.cells if c.cell_type == "code" and marker in c.source]
    assert len(found) == 1, f"expected one cell containing {marker!r} in {path.name}, found {len(found)}"
    return found[0]


def load_function(notebook: str | Path, name: str, namespace: dict | None = None, stub: bool = False):
    """Execute the cell that defines ``name`` (its student stub if ``stub``) and return the function."""
    src = code_cell(notebook, f"def {name}(")
    if stub:
        src, n = strip_source(src)
        assert n >= 1, f"{name} has no solution region to stub"
    ns = dict(namespace or {})
    exec(src, ns)
    return ns[name]
