"""The run-time language (vae_course/i18n.py): which language, the catalogs, and what a learner reads in it.

The catalogs i18n/zh/strings.json and outputs.json are written by ``python -m lecture.i18n extract``; a
translation must keep its key's placeholders. Untranslated entries are listed (skipped, not failed, until
the lead sets tests/test_i18n.py's STRINGS_REQUIRED).
"""

import io
import json
import re
from pathlib import Path

import pytest

from lecture import i18n as tools
from tests.test_i18n import STRINGS_REQUIRED
from vae_course import i18n

ROOT = Path(__file__).resolve().parents[1]
FIELD = re.compile(r"\{(\w*)\}")


@pytest.fixture
def zh(monkeypatch):
    monkeypatch.delenv(i18n.LANG_ENV, raising=False)
    i18n.set_lang("zh")
    yield
    i18n.set_lang(None)


@pytest.mark.parametrize("name", ["strings", "outputs"])
def test_translations_keep_their_placeholders(name):
    field = "strings" if name == "strings" else "lines"
    entries = json.loads((ROOT / "i18n" / "zh" / f"{name}.json").read_text(encoding="utf-8"))[field]
    bad = [
        f"{key!r}: {value!r}"
        for key, value in entries.items()
        if value and sorted(FIELD.findall(key)) != sorted(FIELD.findall(value))
    ]
    assert not bad, "translations whose placeholders differ from their English:\n" + "\n".join(bad)


def test_untranslated_entries_are_listed():
    left = tools.untranslated("zh")
    counts = ", ".join(f"{name}: {len(keys)}" for name, keys in left.items())
    if any(left.values()) and not STRINGS_REQUIRED:
        pytest.skip(f"untranslated catalog entries ({counts}); python -m lecture.i18n untranslated lists them")
    assert not any(left.values()), f"untranslated catalog entries: {counts}"


def test_the_language_rule(monkeypatch, tmp_path):
    monkeypatch.delenv(i18n.LANG_ENV, raising=False)
    (tmp_path / "zh").mkdir()
    monkeypatch.chdir(tmp_path)
    assert i18n.lang() == "en"
    monkeypatch.chdir(tmp_path / "zh")
    assert i18n.lang() == "zh"  # a kernel started in notebooks/zh/
    monkeypatch.setenv(i18n.LANG_ENV, "en")
    assert i18n.lang() == "en"  # the variable wins
    i18n.set_lang("zh")
    try:
        assert i18n.lang() == "zh"  # and set_lang (--lang) over both
    finally:
        i18n.set_lang(None)
    monkeypatch.setenv(i18n.LANG_ENV, "fr")
    with pytest.raises(ValueError, match="VAE_COURSE_LANG"):
        i18n.lang()


def test_numbers_become_placeholders():
    assert i18n.template_of("noise σ = 0.10: distance 0.0809, error -3e-05 cycles (nb05, 28x28)") == (
        "noise σ = {0}: distance {1}, error {2} cycles (nb05, 28x28)",
        ["0.10", "0.0809", "-3e-05"],
    )


def _catalog_line(line: str) -> str:
    """The line as the outputs catalog translates it, its numbers put back in (the wording is the
    translators', so the test reads it from the catalog instead of repeating it)."""
    template, numbers = i18n.template_of(line)
    zh = i18n.catalog("zh", "outputs").get(template)
    assert zh and i18n.CJK.search(zh), f"the catalog has no Chinese for {template!r}"
    return i18n.PLACEHOLDER.sub(lambda m: numbers[int(m.group(1))], zh)


def test_printed_lines_are_translated_with_their_numbers(zh):
    out = io.StringIO()
    stream = i18n.TranslatingStream(out)
    print("noise σ = 0.30: median manifold distance 0.2, median phase error 0.0032 cycles", file=stream)
    print("a line nobody translated 3", file=stream)
    stream.write("new moon: brightest pixel 0.080 (the ambient term), ")
    assert out.getvalue().count("\n") == 2  # a partial line waits for its end ...
    stream.write("darkest 0.000 (outside the disc)")
    stream.flush()  # ... or for the flush after a cell
    assert out.getvalue().split("\n") == [
        _catalog_line("noise σ = 0.30: median manifold distance 0.2, median phase error 0.0032 cycles"),
        "a line nobody translated 3",
        _catalog_line("new moon: brightest pixel 0.080 (the ambient term), darkest 0.000 (outside the disc)"),
    ]
    assert ("outputs", "a line nobody translated 3") in i18n.missed()


def test_english_is_untouched(monkeypatch):
    monkeypatch.setenv(i18n.LANG_ENV, "en")
    assert i18n.t("Exercise {id} ({title})", id="00.1", title="x") == "Exercise 00.1 (x)"
    assert i18n.translate_output("pixel noise σ") == "pixel noise σ"


def test_an_exercise_check_speaks_chinese(zh, capsys):
    from vae_course.exercises import check, hint

    def rms_distance(a, b):
        return ((a - b) ** 2).flatten(1).mean(1).sqrt()

    check("00.1", rms_distance)
    said = capsys.readouterr().out
    assert said.startswith("✅ 练习 00.1（像素均方根距离）：通过"), said
    hint("00.1")  # which hint depends on how many this process has shown before (hints advance per call)
    assert re.match(r"练习 00\.1，提示 \d+/\d+：", capsys.readouterr().out)


def test_a_claim_notice_speaks_chinese(zh, monkeypatch, capsys):
    from vae_course.claims import claim

    monkeypatch.setenv("VAE_COURSE_CLAIMS", "notice")
    claim("x", False, measured="0.5 vs 0.6", why="the course's settings")
    said = capsys.readouterr().out
    notice = i18n.catalog("zh", "strings")["Claim not confirmed with your settings: {name}"]
    assert notice.replace("{name}", "x") in said and i18n.catalog("zh", "strings")["the course's settings"] in said


def test_figure_text_is_translated_with_a_cjk_font_or_a_clear_fallback(zh, capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context():  # the font settings it makes are undone after the test
        i18n._hook_matplotlib()
        _check_a_label(plt, capsys)


def _check_a_label(plt, capsys):
    fig, ax = plt.subplots()
    try:
        ax.set_xlabel("pixel noise σ")
        if i18n.cjk_font() is None:
            said = capsys.readouterr().out
            assert "未找到中文字体" in said, said  # the fallback says so (in Chinese: this is a zh kernel)
        else:
            assert ax.get_xlabel() == "像素噪声 σ"
    finally:
        plt.close(fig)


def test_without_a_cjk_font_figures_stay_english_and_a_line_says_so(zh, monkeypatch, capsys):
    import matplotlib

    monkeypatch.setattr(i18n, "cjk_font", lambda: None)
    with matplotlib.rc_context():
        before = list(matplotlib.rcParams["font.sans-serif"])
        i18n._hook_matplotlib()
        assert matplotlib.rcParams["font.sans-serif"] == before
    assert "未找到中文字体" in capsys.readouterr().out
