"""Where the course's notebooks are, for every test: one definition."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The folder of the course notebooks (the answer key).
COURSE = ROOT / "notebooks"
#: The course notebooks, in order: 00_start_here.ipynb, 01_autoencoder.ipynb, ...
NOTEBOOKS = sorted(COURSE.glob("[0-9][0-9]_*.ipynb"))
