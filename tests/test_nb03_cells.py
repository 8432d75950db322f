"""Notebook 03's exercise solutions pass their checks, and wrong answers get specific feedback."""
import json
from pathlib import Path

import pytest
import torch

from vae_course.corruption import random_mask
from vae_course.exercises import ExerciseFailed, check

NB = Path(__file__).resolve().parents[1] / "notebooks" / "03_denoising_autoencoder.ipynb"


def _fn(name: str):
    cells = json.loads(NB.read_text())["cells"]
    src = [("".join(c["source"])) for c in cells if c["cell_type"] == "code" and f"def {name}(" in "".join(c["source"])]
    assert len(src) == 1
    ns = {"torch": torch}
    exec(src[0], ns)
    return ns[name]


def test_notebook_solutions_pass():
    assert check("03.1", _fn("my_mask_noise")).passed
    assert check("03.2", _fn("masked_loss")).passed


def test_wrong_answers_get_specific_feedback():
    with pytest.raises(ExerciseFailed, match="exactly 16 zeroed pixels"):
        check("03.1", lambda x, f: x * (torch.rand_like(x) >= f))
    with pytest.raises(ExerciseFailed, match="in place"):
        check("03.1", lambda x, f: x.masked_fill_(random_mask(x, f), 0.0))
    with pytest.raises(ExerciseFailed, match="expected"):
        check("03.2", lambda r, x, m: ((r - x) ** 2 * m).flatten(1).mean(1))
