"""Small submissions of notebook 00's two exercises, shared by the grading tests and the tamper suite.

Each constant is one code cell; `write_nb` puts cells into a notebook named like the course's, with
the course's kernel, in a student's folder.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

NB00 = "00_start_here.ipynb"
HEAD = "import torch\nfrom vae_course.exercises import check"
RMS_OK = "def rms_distance(a, b):\n    return (a - b).pow(2).flatten(1).mean(1).sqrt()"
LABEL_OK = (  # imports torch itself: some submissions have no HEAD cell
    "def phase_to_label(phases, n_classes=8):\n"
    "    import torch\n"
    "    return torch.round(torch.as_tensor(phases) * n_classes).long() % n_classes"
)
CHECK1, CHECK2 = 'check("00.1", rms_distance)', 'check("00.2", phase_to_label)'


def write_nb(folder: Path, *cells: str, name: str = NB00) -> Path:
    """A notebook of these code cells at ``folder / name`` (the folder is made); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    nb = new_notebook(
        cells=[new_code_cell(c) for c in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, folder / name)
    return folder / name
