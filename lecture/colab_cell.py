"""The "Open in Colab" cell: a first code cell in each course notebook that installs the course where
it is missing (Google Colab, a fresh Python) and does nothing where it is installed.

    .venv/bin/python -m lecture.colab_cell --repo OWNER/NAME notebooks/*.ipynb          # insert or update
    .venv/bin/python -m lecture.colab_cell --repo OWNER/NAME --check notebooks/*.ipynb  # exit 1 if out of date

The cell goes before the notebook's first code cell (after the title), with the id ``colab-install``
and the tags ``colab-install`` (how this script finds it again: running it twice changes nothing) and
``remove-cell`` (the standard tag for a cell no reader needs: the slides skip it,
lecture/slide_metadata.py, and the website leaves it out, myst-nb). Its outputs are kept empty.

It installs from the GitHub repository at ``--ref`` (default ``main``), with pip's ``git+https``: Colab
opens a notebook from that same branch, so package and notebook are one version, and nothing needs
publishing to PyPI first. It installs without constraints.txt: Colab's own torch satisfies the
package's range (``torch>=2.4,<3``) and is kept, so the cell takes seconds, not a torch download.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

CELL_ID = "colab-install"
TAGS = ["colab-install", "remove-cell"]


def cell_source(repo: str, ref: str = "main") -> str:
    return (
        "# Google Colab (or any Python without the course): install it. Where it is installed, nothing happens.\n"
        "try:\n"
        "    import vae_course  # noqa: F401\n"
        "except ImportError:\n"
        f'    %pip install -q "vae-course @ git+https://github.com/{repo}@{ref}"\n'
    ).rstrip("\n")


def _is_ours(cell) -> bool:
    return cell.get("id") == CELL_ID or TAGS[0] in cell.get("metadata", {}).get("tags", [])


def apply(nb, repo: str, ref: str = "main") -> tuple[nbformat.NotebookNode, bool]:
    """``nb`` with the install cell present and current (inserted before the first code cell, or
    updated in place); and whether anything changed."""
    source = cell_source(repo, ref)
    ours = [i for i, c in enumerate(nb.cells) if _is_ours(c)]
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
    parser.add_argument("--repo", required=True, help="the course's GitHub repository, OWNER/NAME")
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
