"""README.zh-CN.md cannot drift from README.md (issue 29).

README.zh-CN.md ends with a record of the README.md sections it translates, each with the sha of the English
it was made from (lecture/i18n.py: ``readme_sections``, ``readme_drift``). An English section changed
without the translation being updated (and the record re-written with ``python -m lecture.i18n readme
--record``) fails here, naming the section. The test-params table, which `make params-readme` rewrites
after a run and the translation does not restate, is left out of the sha. Nothing is run.
"""

import shutil
from pathlib import Path

from lecture import i18n

ROOT = Path(__file__).resolve().parents[1]


def test_readme_zh_translates_the_current_english_sections():
    found = i18n.readme_drift("zh")
    assert not found, "\n".join(found)


def test_readme_zh_records_the_learner_sections():
    """The translation keeps covering what a learner reads (a section dropped from the record fails)."""
    recorded = set(i18n.readme_record("zh"))
    for title in (i18n.INTRO, "The notebooks", "Two commands", "Exercises", "The Chinese edition (中文版)"):
        assert title in recorded, f"README.zh-CN.md no longer records README.md section '{title}'"


def scratch_copy(tmp_path: Path) -> Path:
    for name in ("README.md", "README.zh-CN.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_changed_english_sentence_fails_naming_the_section(tmp_path):
    root = scratch_copy(tmp_path)
    assert i18n.readme_drift("zh", root) == []
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    sentence = "Everything runs offline"
    assert sentence in i18n.readme_sections(text)[i18n.INTRO]
    readme.write_text(text.replace(sentence, "Almost everything runs offline", 1), encoding="utf-8")
    found = i18n.readme_drift("zh", root)
    assert len(found) == 1 and f"section '{i18n.INTRO}' changed" in found[0]
    # after the translator updates the text and records it, it holds again
    i18n.record_readme(lang="zh", root=root)
    assert i18n.readme_drift("zh", root) == []


def test_a_generated_table_or_an_untranslated_section_does_not_fail(tmp_path):
    root = scratch_copy(tmp_path)
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index("<!-- test-params:start -->") + len("<!-- test-params:start -->")
    text = text[:start] + "\n| a new run | 1 s |" + text[start:]
    assert "## Layout" in text and "Layout" not in i18n.readme_record("zh", root)
    text = text.replace("## Layout\n", "## Layout\n\nA new maintainers' sentence.\n", 1)
    readme.write_text(text, encoding="utf-8")
    assert i18n.readme_drift("zh", root) == []


def test_a_section_renamed_or_removed_fails(tmp_path):
    root = scratch_copy(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("## Licences\n", "## Licenses\n", 1), encoding="utf-8")
    assert i18n.readme_drift("zh", root) == [
        "README.zh-CN.md: translates README.md section 'Licences', which no longer exists"
    ]


def test_recording_one_section_keeps_the_others(tmp_path):
    """`readme --record "Exercises"` re-records that section only; every other section keeps its sha."""
    root = scratch_copy(tmp_path)
    before = i18n.readme_record("zh", root)
    readme = root / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("## Two commands\n", "## Two commands\n\nNew.\n"))
    assert i18n.record_readme(["Exercises"], "zh", root) == ["Exercises"]
    assert i18n.readme_record("zh", root) == before  # Exercises unchanged; Two commands still the old sha
    assert [line.split(" section")[0] for line in i18n.readme_drift("zh", root)] == ["README.zh-CN.md: README.md"]
