"""The "Open in Colab" cell: a first code cell in each course notebook that installs the course where
it is missing (Google Colab, a fresh Python) and does nothing where it is installed; and the README's
"Open in Colab" links.

    .venv/bin/python -m lecture.colab_cell notebooks/*.ipynb          # insert or update the cell
    .venv/bin/python -m lecture.colab_cell --check notebooks/*.ipynb  # exit 1 if one is out of date

The repository is the one written in pyproject.toml (``[project.urls] Repository``), the only place
it is written; ``--repo URL`` overrides it (a fork). tests/test_colab_cell.py fails when a course
notebook lacks the current cell or the README lacks a notebook's current Colab link.

The cell goes before the notebook's first code cell (after the title), with the id ``colab-install``
and the tags ``colab-install`` (how this script finds it again: running it twice changes nothing) and
``remove-cell`` (the standard tag for a cell no reader needs: the slides skip it,
lecture/slide_metadata.py, and the website leaves it out, myst-nb). Its outputs are kept empty.

If that install fails (no network, the address unreachable, a notebook uploaded on its own), the cell
imports again and, where the import still fails, prints what to do (install a copy of the repository
with ``pip install -e``, or run locally) instead of leaving the next cell a bare ``ImportError``.

It installs from the GitHub repository at ``--ref`` (default ``main``), with pip's ``git+https``: Colab
opens a notebook from that same branch, so package and notebook are one version, and nothing needs
publishing to PyPI first. It installs without constraints.txt: Colab's own torch satisfies the
package's range (``torch>=2.4,<3``) and is kept, so the cell takes seconds, not a torch download.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CELL_ID = "colab-install"
TAGS = ["colab-install", "remove-cell"]
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def repository_url(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """The course's GitHub repository, ``https://github.com/OWNER/NAME``, from pyproject.toml's
    ``[project.urls] Repository``."""
    text = pyproject.read_text(encoding="utf-8")
    urls = re.search(r"^\[project\.urls\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    found = urls and re.search(r'^Repository\s*=\s*"(https://github\.com/[\w.-]+/[\w.-]+?)/?"', urls.group(1), re.M)
    if not found:
        raise SystemExit(f'{pyproject}: no [project.urls] Repository = "https://github.com/OWNER/NAME"')
    return found.group(1)


def cell_source(repo: str | None = None, ref: str = "main") -> str:
    """The install cell's code: ``import vae_course``, else pip-install it from ``repo`` at ``ref`` and
    import it again; if that import fails too (no network, the address unreachable, pip refused), a
    message that says what to do instead of the next cell's bare ``ImportError``."""
    repo = repo or repository_url()
    return (
        "# Google Colab (or any Python without the course): install it. Where it is installed, nothing happens.\n"
        "try:\n"
        "    import vae_course\n"
        "except ImportError:\n"
        f'    %pip install -q "vae-course @ git+{repo}@{ref}"\n'
        "    import importlib\n"
        "\n"
        "    importlib.invalidate_caches()\n"
        "    try:\n"
        "        import vae_course\n"
        "    except ImportError:\n"
        "        print(\n"
        f'            "The course package vae_course is not installed: pip could not install it from\\n"\n'
        f'            "  {repo} (branch {ref})\\n"\n'
        '            "(pip\'s message is above: no network, or that address is not reachable). What to do:\\n"\n'
        '            "  * Get a copy of the repository (a clone, or its .zip: in Colab, upload the .zip in the\\n"\n'
        '            "    Files pane, then run !unzip -q NAME.zip in a cell) and install that copy in a cell:\\n"\n'
        '            "        %pip install -e FOLDER      (FOLDER: the one with pyproject.toml)\\n"\n'
        '            "    then Runtime > Restart session and run the notebook again.\\n"\n'
        '            "  * Or run it on your own machine: in the repository folder, `make lab`; other ways\\n"\n'
        '            "    (`pip install -e .`, conda, a CPU-only torch) are in the README, section Two commands."\n'
        "        )\n"
    ).rstrip("\n")


def colab_url(notebook: str, repo: str | None = None, ref: str = "main") -> str:
    """Where Colab opens ``notebooks/<notebook>.ipynb`` of the repository (``notebook`` without .ipynb)."""
    path = (repo or repository_url()).removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{path}/blob/{ref}/notebooks/{notebook}.ipynb"


def badge(notebook: str, repo: str | None = None, ref: str = "main") -> str:
    """The README's "Open in Colab" badge of a notebook (markdown)."""
    return f"[![Open in Colab]({BADGE})]({colab_url(notebook, repo, ref)})"


def is_install_cell(cell) -> bool:
    """Whether ``cell`` is the install cell (by its id or its ``colab-install`` tag)."""
    return cell.get("id") == CELL_ID or TAGS[0] in cell.get("metadata", {}).get("tags", [])


def apply(nb, repo: str | None = None, ref: str = "main") -> tuple[nbformat.NotebookNode, bool]:
    """``nb`` with the install cell present and current (inserted before the first code cell, or
    updated in place); and whether anything changed."""
    source = cell_source(repo, ref)
    ours = [i for i, c in enumerate(nb.cells) if is_install_cell(c)]
    if ours:
        cell = nb.cells[ours[0]]
        current = (
            cell.cell_type == "code"
            and cell.source == source
            and not cell.get("outputs")
            and all(t in cell.metadata.get("tags", []) for t in TAGS)
        )
        if current and len(ours) == 1:
            return nb, False
        for i in reversed(ours[1:]):  # one install cell, never two
            del nb.cells[i]
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": list(TAGS), "slideshow": {"slide_type": "skip"}})
    cell.id = CELL_ID
    if ours:
        nb.cells[ours[0]] = cell
    else:
        first_code = next((i for i, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
        nb.cells.insert(first_code, cell)
    return nb, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--repo", help="https://github.com/OWNER/NAME (default: pyproject.toml's Repository)")
    parser.add_argument("--ref", default="main", help="branch or tag pip installs from (default main)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    stale = 0
    for path in args.notebooks:
        nb, changed = apply(nbformat.read(path, as_version=4), args.repo, args.ref)
        if changed and args.check:
            print(f"{path}: install cell missing or out of date")
            stale += 1
        elif changed:
            nbformat.write(nb, path)
            print(f"{path}: install cell written")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
