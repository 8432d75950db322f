"""The lecture edition of the notebooks: `make lecture` (writes build/lecture/, git-ignored).

The notebooks in notebooks/ are for learners and hold no speaker notes. The lecture edition is the
same notebooks (same cells, outputs and slide metadata) with each note of lecture/speaker_notes.json
inserted as a RISE ``notes`` cell after the cell whose id it is keyed by. Present from it with RISE
(`make present`: JupyterLab on build/lecture/, then View > Render as slideshow, or Alt+R; the speaker
view shows the notes); `make slides` and `make site` are built from it.

It runs nothing and takes seconds; it fails if a note's anchor cell is gone. The Chinese edition
(notebooks/zh/, `make zh`) gets its own lecture edition in build/lecture/zh/, with the same notes (the
Chinese notebooks keep the English cell ids), in English and marked so (lecture/languages.py).

    .venv/bin/python -m lecture.build_lecture [notebooks/01_autoencoder.ipynb ...] [--out build/lecture]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from lecture import slide_metadata as sm
from lecture.languages import LABELS

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "build" / "lecture"
#: the lecture edition of the Chinese notebooks
OUT_ZH = OUT / "zh"


def build(paths: list[Path], out: Path = OUT, notes_file: Path = sm.NOTES_FILE, lang: str = "en") -> list[Path]:
    """Write out/<notebook>.ipynb for each path; returns the written paths. ``lang``: the notebooks'
    language (the notes stay English; in another language they are marked as English)."""
    all_notes = sm.load_notes(notes_file)
    out.mkdir(parents=True, exist_ok=True)
    written, missing = [], []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        lecture, gone = sm.lecture_edition(nb, all_notes.get(path.stem, {}), split=lang == "en")
        if lang != "en":
            for cell in filter(sm.is_notes, lecture.cells):
                cell.source = LABELS[lang]["notes"] + cell.source.removeprefix(sm.NOTES_PREFIX)
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
