"""The lecture edition of the notebooks: `make lecture` (writes build/lecture/, git-ignored).

The notebooks in notebooks/ are for learners and hold no speaker notes. The lecture edition is the
same notebooks (same cells, outputs and slide metadata) with each note of lecture/speaker_notes.json
inserted as a RISE ``notes`` cell after the cell whose id it is keyed by. Present from it with RISE
(`make present`: JupyterLab on build/lecture/, then View > Render as slideshow, or Alt+R; the speaker
view shows the notes); `make slides` and `make site` are built from it.

It runs nothing and takes seconds; it fails if a note's anchor cell is gone. The Chinese edition
(notebooks/zh/, `make zh`) gets its own lecture edition in build/lecture/zh/, with the same notes (the
Chinese notebooks keep the English cell ids), in Chinese: i18n/zh/speaker_notes.json, a note whose translation
is missing or stale in English and marked so (lecture/languages.py, lecture/i18n.py).

    .venv/bin/python -m lecture.build_lecture [notebooks/01_autoencoder.ipynb ...] [--out build/lecture]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from lecture import i18n
from lecture import slide_metadata as sm
from lecture.languages import LABELS

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "lecture"
#: the lecture edition of the Chinese notebooks
OUT_ZH = OUT / "zh"


def build(paths: list[Path], out: Path = OUT, notes_file: Path = sm.NOTES_FILE, lang: str = "en") -> list[Path]:
    """Write out/<notebook>.ipynb for each path; returns the written paths. ``lang``: the notebooks'
    language (in another language each note is its translation, i18n/LANG/speaker_notes.json, where that is
    current, else the English note marked as English)."""
    all_notes = sm.load_notes(notes_file)
    out.mkdir(parents=True, exist_ok=True)
    written, missing = [], []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        notes = all_notes.get(path.stem, {})
        if lang != "en":
            labels = LABELS[lang]
            translated = i18n.translated_notes(path.stem, lang) if notes_file == sm.NOTES_FILE else {}
            notes = {
                anchor: labels["notes"] + translated[anchor][0]
                if anchor in translated and translated[anchor][1]
                else labels["notes_en"] + text
                for anchor, text in notes.items()
            }
        lecture, gone = sm.lecture_edition(nb, notes, split=lang == "en")
        if lang != "en":
            for cell in filter(sm.is_notes, lecture.cells):
                cell.source = cell.source.removeprefix(sm.NOTES_PREFIX)
        missing += [f"{path.stem}: {anchor}" for anchor in gone]
        target = out / path.name
        if not (target.exists() and target.read_text(encoding="utf-8") == nbformat.writes(lecture) + "\n"):
            sm.write_notebook(lecture, target)  # unchanged: not rewritten, so decks and site built from it stay fresh
        written.append(target)
    if missing:
        raise SystemExit(f"speaker notes whose anchor cell is gone (edit {notes_file.name}): {missing}")
    return written


def default_notebooks(lang: str = "en") -> list[Path]:
    return sorted((ROOT / "notebooks" / ("" if lang == "en" else lang)).glob("[0-9][0-9]_*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: notebooks/[0-9][0-9]_*.ipynb")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    written = build(args.notebooks or default_notebooks(), args.out)
    if not args.notebooks and args.out == OUT and default_notebooks("zh"):
        written += build(default_notebooks("zh"), OUT_ZH, lang="zh")
    for target in written:
        nb = nbformat.read(target, as_version=4)
        print(f"{target.relative_to(ROOT) if ROOT in target.parents else target}: "
              f"{sum(sm.is_notes(c) for c in nb.cells)} speaker notes")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
