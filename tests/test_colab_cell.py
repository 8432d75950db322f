"""The "Open in Colab" install cell (lecture/colab_cell.py), on a toy notebook: inserted before the
first code cell, found again and left alone on a second run (or brought up to date), skipped by the
slides; and, as IPython runs it, silent where the course is installed and a pip install where not.
Every course notebook holds the current cell, and the README its current Colab link, both made from
pyproject.toml's Repository. (The wheel in a clean venv runs notebook 00, this cell included, in
tests/test_packaging.py.)"""

from __future__ import annotations

import sys

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from lecture import colab_cell
from lecture import slide_metadata as sm
from tests.course import NOTEBOOKS, ROOT

REPO = "https://github.com/someone/vae-course"


def toy():
    v4 = nbformat.v4
    return v4.new_notebook(
        cells=[v4.new_markdown_cell("# 99 · A toy"), v4.new_code_cell("import vae_course"), v4.new_code_cell("1 + 1")]
    )


def test_inserted_before_the_first_code_cell_once_and_idempotent(tmp_path):
    nb, changed = colab_cell.apply(toy(), REPO)
    assert changed and [c.get("id") for c in nb.cells].index(colab_cell.CELL_ID) == 1
    assert nb.cells[1].cell_type == "code" and set(colab_cell.TAGS) <= set(nb.cells[1].metadata.tags)
    path = tmp_path / "99_toy.ipynb"
    nbformat.write(nb, path)
    before = path.read_text()
    assert colab_cell.main(["--repo", REPO, str(path)]) == 0 and path.read_text() == before
    assert colab_cell.main(["--repo", REPO, "--check", str(path)]) == 0
    again, changed = colab_cell.apply(nbformat.read(path, as_version=4), REPO)
    assert not changed and len(again.cells) == 4


def test_a_new_source_updates_the_cell_in_place_and_check_says_so(tmp_path):
    nb, _ = colab_cell.apply(toy(), REPO, ref="v0.1.0")
    path = tmp_path / "99_toy.ipynb"
    nbformat.write(nb, path)
    assert colab_cell.main(["--repo", REPO, "--check", str(path)]) == 1
    assert colab_cell.main(["--repo", REPO, str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    ours = [c for c in nb.cells if c.get("id") == colab_cell.CELL_ID]
    assert len(ours) == 1 and "@main" in ours[0].source and nb.cells.index(ours[0]) == 1


def test_the_slides_skip_it():
    nb, _ = colab_cell.apply(toy(), REPO)
    shown, _ = sm.apply(nb)
    ours = next(c for c in shown.cells if c.get("id") == colab_cell.CELL_ID)
    assert ours.metadata["slideshow"]["slide_type"] == "skip"


class FakeIPython:
    def __init__(self, pip_works: bool = False):
        self.magics = []
        self.pip_works = pip_works

    def run_line_magic(self, name, line, _stack_depth=1):
        self.magics.append((name, line))
        if name == "pip" and self.pip_works:
            sys.modules.pop("vae_course", None)  # installed: the next import finds it


def _run_cell(monkeypatch, installed: bool, pip_works: bool = False) -> list:
    if not installed:
        monkeypatch.setitem(sys.modules, "vae_course", None)  # import vae_course raises ImportError
    code = TransformerManager().transform_cell(colab_cell.cell_source(REPO))
    ip = FakeIPython(pip_works)
    exec(compile(code, "<colab cell>", "exec"), {"get_ipython": lambda: ip})
    return ip.magics


def test_silent_where_installed(monkeypatch, capsys):
    assert _run_cell(monkeypatch, installed=True) == []
    assert capsys.readouterr().out == ""


def test_a_pip_install_from_the_repository_where_missing(monkeypatch, capsys):
    magics = _run_cell(monkeypatch, installed=False, pip_works=True)
    assert magics == [("pip", f'install -q "vae-course @ git+{REPO}@main"')]
    assert capsys.readouterr().out == ""  # installed and imported: nothing to say


def test_a_failed_install_says_what_to_do_instead_of_an_import_error(monkeypatch, capsys):
    """pip fails quietly (no network, an address that does not answer): the cell imports again and,
    instead of raising, prints where it tried and what to do (pip install -e a copy, or make lab)."""
    magics = _run_cell(monkeypatch, installed=False, pip_works=False)
    assert magics == [("pip", f'install -q "vae-course @ git+{REPO}@main"')]
    out = capsys.readouterr().out
    assert "not installed" in out and REPO in out
    assert "%pip install -e FOLDER" in out and "make lab" in out and "Two commands" in out and "Restart" in out


@pytest.mark.parametrize("ref", ["main", "v1.2.3"])
def test_the_source_is_valid_python_after_ipythons_transform(ref):
    compile(TransformerManager().transform_cell(colab_cell.cell_source(REPO, ref)), "<cell>", "exec")


def test_the_repository_is_read_from_pyproject(tmp_path):
    url = colab_cell.repository_url()
    assert url.startswith("https://github.com/") and url.count("/") == 4
    assert f"git+{url}@main" in colab_cell.cell_source()
    assert colab_cell.colab_url("06_vae", "https://github.com/a/b") == (
        "https://colab.research.google.com/github/a/b/blob/main/notebooks/06_vae.ipynb"
    )
    bad = tmp_path / "pyproject.toml"
    bad.write_text('[project]\nname = "x"\n')
    with pytest.raises(SystemExit, match="Repository"):
        colab_cell.repository_url(bad)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_course_notebook_holds_the_current_cell(path):
    """Fix with: .venv/bin/python -m lecture.colab_cell notebooks/*.ipynb"""
    nb = nbformat.read(path, as_version=4)
    _, changed = colab_cell.apply(nb)
    assert not changed, f"{path.name}: the Colab install cell is missing or out of date (python -m lecture.colab_cell)"
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert first_code.get("id") == colab_cell.CELL_ID


def test_the_readme_links_every_notebook_to_colab():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.stem for p in NOTEBOOKS if colab_cell.badge(p.stem) not in readme]
    assert not missing, f"README.md lacks the Open-in-Colab badge of {missing} (lecture.colab_cell.badge)"
