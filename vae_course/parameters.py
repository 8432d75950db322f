"""The course's parameter values, read from the notebooks themselves.

Each course notebook has one code cell tagged ``parameters`` (as papermill marks it) that binds
its settings and hands them to ``claims.settings``::

    DATASET = "digits"      # "digits" (8x8, fast), "mnist5k" (28x28, offline)
    EPOCHS = 20 if DATASET == "digits" else 5
    SEED = 0
    CHANGED = settings("01_autoencoder", DATASET=DATASET, EPOCHS=EPOCHS, SEED=SEED)

``course_settings("01_autoencoder")`` reads that cell of the course's own copy of the notebook and
returns ``{"DATASET": "digits", "EPOCHS": 5, "SEED": 0}``: the keyword names of the ``settings(...)``
call, each with the value the cell gives it. The cell is parsed, never run: a value may be a
literal (numbers, strings, tuples, lists), a name bound earlier in the cell, or ``a if NAME == b
else c`` of those.

The course's own copy (:func:`course_source`) is the notebook shipped inside the installed package
(``vae_course/notebooks/`` of the wheel) or, in a repository checkout, the committed version of
``notebooks/NN_name.ipynb``: a learner who edits and saves the parameters cell there changes the
file, not the course. ``VAE_COURSE_NOTEBOOKS=DIR`` names a folder whose files are the course as
they stand (the course's executor and the tests set it to the notebooks they run).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
from pathlib import Path
from typing import Any

NOTEBOOKS_ENV = "VAE_COURSE_NOTEBOOKS"
PARAMETERS_TAG = "parameters"


def course_dir() -> Path | None:
    """The course notebooks: ``$VAE_COURSE_NOTEBOOKS`` when set, else the copy shipped inside the
    installed package (``vae_course/notebooks/``), else the ``notebooks/`` folder of the repository
    checkout the package was installed from (an editable install); None where none holds one."""
    if os.environ.get(NOTEBOOKS_ENV):
        return Path(os.environ[NOTEBOOKS_ENV])
    package = Path(__file__).resolve().parent
    for d in (package / "notebooks", package.parent / "notebooks"):
        if any(d.glob("[0-9][0-9]_*.ipynb")):
            return d
    return None


def course_source(notebook: str) -> str:
    """The JSON text of the course's own copy of ``notebook`` (e.g. ``"06_vae"``): the committed
    version where the course notebooks are a git checkout's (and ``$VAE_COURSE_NOTEBOOKS`` is not
    set), else the file.

    Raises:
        FileNotFoundError: no course notebooks are installed (or none can be read here).
        KeyError: the course has no notebook of that name.
    """
    folder = course_dir()
    if folder is None:
        raise FileNotFoundError("no course notebooks found: neither shipped with the package nor in a checkout")
    path = folder / f"{notebook}.ipynb"
    if not os.environ.get(NOTEBOOKS_ENV):
        try:
            committed = subprocess.run(
                ["git", "-C", str(folder), "show", f"HEAD:./{path.name}"],
                capture_output=True,
                timeout=20,
                check=True,
            )
            return committed.stdout.decode()
        except (OSError, subprocess.SubprocessError):
            pass  # not a checkout, no git, or the notebook is not committed yet: the file is the course
    if not path.is_file():
        raise KeyError(f"no course notebook {notebook!r} in {folder}; known: {course_notebooks()}")
    return path.read_text(encoding="utf-8")


def parameters_cell(nb: dict) -> str:
    """The source of the one code cell of a notebook (its JSON, as a dict) tagged ``parameters``."""
    cells = [
        c
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code" and PARAMETERS_TAG in c.get("metadata", {}).get("tags", [])
    ]
    if len(cells) != 1:
        raise ValueError(
            f"a course notebook has exactly one code cell tagged {PARAMETERS_TAG!r}, this one {len(cells)}"
        )
    source = cells[0]["source"]
    return "".join(source) if isinstance(source, list) else source


def python_source(source: str) -> str:
    """Cell source with each IPython-only line (``%magic``, ``!shell``) made a ``pass`` at its
    indentation, so ``ast`` can read it (an indented ``%pip install`` keeps its block) and every
    line keeps its number."""
    return "\n".join(
        line[: len(line) - len(line.lstrip())] + "pass" if line.lstrip().startswith(("%", "!")) else line
        for line in source.split("\n")
    )


def read_settings(source: str) -> tuple[str, dict[str, Any]]:
    """The notebook id and the values the ``settings(...)`` call of a parameters cell passes.

    Raises:
        ValueError: the cell has no ``settings("NN_name", NAME=...)`` call, or passes a value that
            is not a literal, a name bound to one, or ``a if NAME == b else c`` of those.
    """
    tree = ast.parse(python_source(source))
    bound: dict[str, Any] = {}
    call = None
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.Expr)) else None
        if isinstance(value, ast.Call) and getattr(value.func, "id", getattr(value.func, "attr", "")) == "settings":
            call = value
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            try:
                bound[stmt.targets[0].id] = _value(stmt.value, bound)
            except ValueError:
                bound.pop(stmt.targets[0].id, None)  # computed (e.g. SEEDS = tuple(range(...))): not a setting
    if call is None or not call.args or not isinstance(call.args[0], ast.Constant):
        raise ValueError('the parameters cell has no settings("NN_name", NAME=NAME, ...) call')
    values = {}
    for kw in call.keywords:
        try:
            values[kw.arg] = _value(kw.value, bound)
        except ValueError as e:
            raise ValueError(f"parameter {kw.arg}: {e}") from None
    return call.args[0].value, values


def _value(node: ast.expr, bound: dict[str, Any]) -> Any:
    """A literal, a bound name, or ``a if x == y else b`` (``==``/``!=``) of those."""
    if isinstance(node, ast.Name):
        if node.id not in bound:
            raise ValueError(f"{node.id} is not bound to a literal value earlier in the cell")
        return bound[node.id]
    if isinstance(node, ast.IfExp):
        test = node.test
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], (ast.Eq, ast.NotEq))):
            raise ValueError(f"only 'a if NAME == b else c' is read, not {ast.unparse(node)!r}")
        left, right = _value(test.left, bound), _value(test.comparators[0], bound)
        chosen = (left == right) == isinstance(test.ops[0], ast.Eq)
        return _value(node.body if chosen else node.orelse, bound)
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ValueError(f"{ast.unparse(node)!r} is not a literal value") from None


def course_settings(notebook: str) -> dict[str, Any]:
    """The course's parameter values of ``notebook`` (e.g. ``"06_vae"``), by name.

    Raises:
        FileNotFoundError: no course notebooks are installed (or none can be read here).
        KeyError: the course has no notebook of that name.
        ValueError: its parameters cell is missing, or names another notebook.
    """
    name, values = read_settings(parameters_cell(json.loads(course_source(notebook))))
    if name != notebook:
        raise ValueError(f"the parameters cell of {notebook}.ipynb calls settings({name!r}, ...)")
    return values


def course_notebooks() -> list[str]:
    """The names (``"00_start_here"``, ...) of the course notebooks found by :func:`course_dir`."""
    folder = course_dir()
    return [] if folder is None else sorted(p.stem for p in folder.glob("[0-9][0-9]_*.ipynb"))
