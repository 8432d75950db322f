"""vae_course.claims: strict under the course's settings and the tests, a notice when a learner changed them;
and vae_course.parameters, which reads the course's settings from the notebooks' tagged parameters cells."""

import json
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

from tests.course import NOTEBOOKS
from vae_course import claims, parameters
from vae_course.parameters import course_settings


@pytest.fixture
def fresh_state(monkeypatch):
    monkeypatch.setattr(claims, "_state", {"notebook": None, "changed": {}, "unknown": False})
    monkeypatch.delenv(claims.MODE_ENV, raising=False)
    monkeypatch.delenv(claims.LOG_ENV, raising=False)


def test_a_held_claim_is_silent_in_every_mode(fresh_state, monkeypatch, capsys):
    assert claims.claim("x", True, "1 < 2") is None  # nothing for a notebook cell to echo
    monkeypatch.setenv(claims.MODE_ENV, "notice")
    assert claims.claim("x", claims.above(2, 1)) is None
    assert capsys.readouterr().out == ""


def test_checks_know_their_margin():
    c = claims.above(0.54, 0.40)
    assert c and c.margin == pytest.approx(0.35)
    c = claims.below(1.2, 1.0)
    assert not c and c.margin == pytest.approx(-0.2)
    assert claims.between(1.5, 1.0, 3.0).margin == pytest.approx(0.5)  # 0.5 from the low end, half-width 1
    both = claims.above(2, 1) & claims.below(0.9, 1)
    assert both and both.margin == pytest.approx(0.1)
    either = claims.above(0, 1) | claims.below(0.5, 1)
    assert either and either.margin == pytest.approx(0.5)
    worst = claims.every(claims.below(a, b) for a, b in [(1, 2), (1.9, 2), (0, 2)])
    assert worst and worst.margin == pytest.approx(0.05) and "1.9 < 2" in worst.text
    assert claims.at_least(0.9, 0.9) and claims.at_least(0.9, 0.9).margin == 0.0
    assert not claims.at_most(3, 2) and claims.at_most(1, 2).margin == pytest.approx(0.5)
    assert claims.below(117.3, 120, scale=10).margin == pytest.approx(0.27)  # nats: 2.7 of 10
    with pytest.raises(ValueError, match="scale"):
        claims.above(1, 0, scale=0)
    assert claims.exactly(3 == 3).margin == 1.0 and claims.exactly(False).margin == -1.0
    assert claims.above(0.1, 0.0).margin == pytest.approx(0.1)  # a zero threshold: the absolute distance
    with pytest.raises(ValueError, match="at least one"):
        claims.every([])


def test_a_plain_condition_needs_its_measured_text(fresh_state):
    with pytest.raises(ValueError, match="measured"):
        claims.claim("x", True)


def test_course_settings_make_a_failed_claim_an_error(fresh_state, capsys):
    assert claims.settings("06_vae", **course_settings("06_vae")) == {}
    assert capsys.readouterr().out == ""
    with pytest.raises(AssertionError, match="claim 'vae-wins' does not hold: VAE 0.07 vs AE 0.05"):
        claims.claim("vae-wins", False, "VAE 0.07 vs AE 0.05")


def test_changed_settings_make_it_a_notice_and_the_notebook_goes_on(fresh_state, capsys):
    values = dict(course_settings("08_vq_vae"), DATASET="digits")
    changed = claims.settings("08_vq_vae", **values)
    assert changed == {"DATASET": ("mnist5k", "digits")}
    assert "You changed DATASET = 'digits' (course: 'mnist5k')" in capsys.readouterr().out
    claims.claim("sharp", False, "error 19.1", why="8x8 images", try_="use mnist5k")
    out = capsys.readouterr().out
    assert "Claim not confirmed with your settings: sharp" in out
    assert "measured: error 19.1" in out and "why it may not hold here: 8x8 images" in out
    assert "what to try: use mnist5k" in out and "DATASET = 'digits'" in out


def test_the_tests_force_strict_even_with_changed_settings(fresh_state, monkeypatch):
    claims.settings("08_vq_vae", **dict(course_settings("08_vq_vae"), SEED=3))
    monkeypatch.setenv(claims.MODE_ENV, "strict")
    with pytest.raises(claims.ClaimFailed):
        claims.claim("sharp", False, "error 19.1")
    monkeypatch.setenv(claims.MODE_ENV, "sometimes")
    with pytest.raises(ValueError, match="'strict' or 'notice'"):
        claims.claim("sharp", False, "error 19.1")


def test_every_claim_is_logged_when_asked(fresh_state, monkeypatch, tmp_path):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv(claims.LOG_ENV, str(log))
    monkeypatch.setenv(claims.MODE_ENV, "notice")
    claims.settings("01_autoencoder", **dict(course_settings("01_autoencoder"), DATASET="mnist5k"))
    claims.claim("a", True, "fine")
    claims.claim("b", claims.below(3.0, 2.0))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["claim"], r["held"], r["changed"], r["margin"]) for r in records] == [
        ("a", True, ["DATASET"], None),
        ("b", False, ["DATASET"], -0.5),
    ]
    assert records[1]["measured"] == "3 < 2"


def test_unknown_notebook_or_parameter_is_a_clear_error(fresh_state):
    with pytest.raises(KeyError, match="no course notebook '99_x'"):
        claims.settings("99_x", SEED=0)
    with pytest.raises(KeyError, match=r"parameters \['EPOCH'\] are not among"):
        claims.settings("07_cvae", EPOCH=3)


def test_alternatives_name_known_parameters_with_other_values():
    assert set(claims.ALTERNATIVES) == set(parameters.course_notebooks())
    for name, values in claims.ALTERNATIVES.items():
        course = course_settings(name)
        assert set(values) <= set(course), name
        assert all(values[k] != course[k] for k in values), name


def test_offered_values_name_known_parameters():
    for name, offered in claims.OFFERED.items():
        course = course_settings(name)
        for param, values in offered.items():
            assert param in course and course[param] not in values


def _parameters_cell(path: Path, monkeypatch) -> tuple[str | None, dict]:
    """Run the notebook's parameters cell (the one calling settings(...)) with settings() recording
    what it was given: the notebook id and the parameter values, computed as the cell computes them."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "settings(" in c.source]
    if not cells:
        return None, {}
    seen: dict = {}

    def record(notebook, **values):
        seen.update(id=notebook, values=values)

    monkeypatch.setattr(claims, "settings", record)  # for a cell that imports settings itself
    source = "\n".join(line for line in cells[0].source.splitlines() if not line.lstrip().startswith(("%", "!")))
    exec(compile(source, f"{path.name} parameters cell", "exec"), {"__name__": "__main__", "settings": record})
    return seen.get("id"), seen.get("values", {})


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_settings_read_from_the_cell_are_those_it_computes_when_run(path, monkeypatch):
    """parameters.course_settings parses the tagged cell (never runs it): what it reads equals what
    the cell hands to settings(...) when it runs."""
    notebook, values = _parameters_cell(path, monkeypatch)
    assert notebook == path.stem
    monkeypatch.setenv(parameters.NOTEBOOKS_ENV, str(path.parent))
    assert course_settings(path.stem) == values


def test_a_parameters_cell_is_read_not_run():
    cell = (
        "import os\n%matplotlib inline\nDATASET = 'digits'  # a comment\nN = -3\nSIZES = (1, 2.5)\n"
        "EPOCHS = 20 if DATASET == 'digits' else 5\nLR = 1e-3 if DATASET != 'digits' else 2e-3\n"
        "SEEDS = tuple(range(N))\nCHANGED = settings('07_x', DATASET=DATASET, N=N, SIZES=SIZES, EPOCHS=EPOCHS, LR=LR)"
    )
    assert parameters.read_settings(cell) == (
        "07_x",
        {"DATASET": "digits", "N": -3, "SIZES": (1, 2.5), "EPOCHS": 20, "LR": 2e-3},
    )
    with pytest.raises(ValueError, match="SEEDS is not bound to a literal"):
        parameters.read_settings("SEEDS = tuple(range(3))\nsettings('07_x', SEEDS=SEEDS)")
    with pytest.raises(ValueError, match="no settings"):
        parameters.read_settings("SEED = 0")
    untagged = {"cells": [{"cell_type": "code", "metadata": {}, "source": "settings('07_x', SEED=0)"}]}
    with pytest.raises(ValueError, match="exactly one code cell tagged 'parameters'"):
        parameters.parameters_cell(untagged)


def _notebook_with(folder: Path, seed: int) -> None:
    cell = nbformat.v4.new_code_cell(f"SEED = {seed}\nCHANGED = settings('77_toy', SEED=SEED)")
    cell.metadata["tags"] = ["parameters"]
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), folder / "77_toy.ipynb")


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_in_a_checkout_the_committed_cell_is_the_course_not_a_learners_saved_edit(tmp_path, monkeypatch):
    monkeypatch.delenv(parameters.NOTEBOOKS_ENV, raising=False)
    folder = tmp_path / "notebooks"
    folder.mkdir()
    _notebook_with(folder, seed=0)
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "course"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    _notebook_with(folder, seed=3)  # the learner edits the parameters cell and saves
    monkeypatch.setattr(parameters, "course_dir", lambda: folder)
    assert course_settings("77_toy") == {"SEED": 0}
    monkeypatch.setenv(parameters.NOTEBOOKS_ENV, str(folder))  # the course's executor: the files as they stand
    monkeypatch.setattr(parameters, "course_dir", lambda: folder)
    assert course_settings("77_toy") == {"SEED": 3}


def test_where_the_course_cannot_be_read_claims_explain_themselves(fresh_state, monkeypatch, capsys):
    def hidden(notebook):
        raise PermissionError(13, "Permission denied", f"notebooks/{notebook}.ipynb")

    monkeypatch.setattr(claims, "course_settings", hidden)  # e.g. a grading sandbox in a checkout
    assert claims.settings("06_vae", SEED=0) == {}
    assert "cannot be read here" in capsys.readouterr().out
    assert claims.mode() == "notice"
    claims.claim("sharp", False, "error 19.1")  # a notice, not an error
    assert "Claim not confirmed" in capsys.readouterr().out
