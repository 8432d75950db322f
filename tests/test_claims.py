"""vae_course.claims: strict under the course's settings and the tests, a notice when a learner changed them,
and the registry of course settings equal to the notebooks' parameters cells."""

import json
from pathlib import Path

import nbformat
import pytest

from tests.course import NOTEBOOKS
from vae_course import claims


@pytest.fixture
def fresh_state(monkeypatch):
    monkeypatch.setattr(claims, "_state", {"notebook": None, "changed": {}})
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
    assert claims.settings("06_vae", **claims.COURSE_SETTINGS["06_vae"]) == {}
    assert capsys.readouterr().out == ""
    with pytest.raises(AssertionError, match="claim 'vae-wins' does not hold: VAE 0.07 vs AE 0.05"):
        claims.claim("vae-wins", False, "VAE 0.07 vs AE 0.05")


def test_changed_settings_make_it_a_notice_and_the_notebook_goes_on(fresh_state, capsys):
    values = dict(claims.COURSE_SETTINGS["08_vq_vae"], DATASET="digits")
    changed = claims.settings("08_vq_vae", **values)
    assert changed == {"DATASET": ("mnist5k", "digits")}
    assert "You changed DATASET = 'digits' (course: 'mnist5k')" in capsys.readouterr().out
    claims.claim("sharp", False, "error 19.1", why="8x8 images", try_="use mnist5k")
    out = capsys.readouterr().out
    assert "Claim not confirmed with your settings: sharp" in out
    assert "measured: error 19.1" in out and "why it may not hold here: 8x8 images" in out
    assert "what to try: use mnist5k" in out and "DATASET = 'digits'" in out


def test_the_tests_force_strict_even_with_changed_settings(fresh_state, monkeypatch):
    claims.settings("08_vq_vae", **dict(claims.COURSE_SETTINGS["08_vq_vae"], SEED=3))
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
    claims.settings("01_autoencoder", **dict(claims.COURSE_SETTINGS["01_autoencoder"], DATASET="mnist5k"))
    claims.claim("a", True, "fine")
    claims.claim("b", claims.below(3.0, 2.0))
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["claim"], r["held"], r["changed"], r["margin"]) for r in records] == [
        ("a", True, ["DATASET"], None),
        ("b", False, ["DATASET"], -0.5),
    ]
    assert records[1]["measured"] == "3 < 2"


def test_unknown_notebook_or_parameter_is_a_clear_error(fresh_state):
    with pytest.raises(KeyError, match="no course settings registered for notebook '99_x'"):
        claims.settings("99_x", SEED=0)
    with pytest.raises(KeyError, match=r"parameters \['EPOCH'\] are not among"):
        claims.settings("07_cvae", EPOCH=3)


def test_alternatives_name_known_parameters_with_other_values():
    assert set(claims.ALTERNATIVES) == set(claims.COURSE_SETTINGS)
    for name, values in claims.ALTERNATIVES.items():
        course = claims.COURSE_SETTINGS[name]
        assert set(values) <= set(course), name
        assert all(values[k] != course[k] for k in values), name


def test_offered_values_name_known_parameters():
    for name, offered in claims.OFFERED.items():
        assert name in claims.COURSE_SETTINGS
        for param, values in offered.items():
            assert param in claims.COURSE_SETTINGS[name] and claims.COURSE_SETTINGS[name][param] not in values


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
def test_registry_equals_the_notebooks_parameters_cell(path, monkeypatch):
    notebook, values = _parameters_cell(path, monkeypatch)
    if notebook is None:
        pytest.skip(f"{path.name} does not call claims.settings(...) yet")
    assert notebook == path.stem
    assert values == claims.COURSE_SETTINGS[notebook]
