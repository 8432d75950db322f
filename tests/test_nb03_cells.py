"""Notebook 03's exercise solutions pass their checks, and wrong answers get specific feedback."""

import pytest
import torch

from tests.notebook_cells import load_function
from vae_course.corruption import random_mask
from vae_course.exercises import ExerciseFailed, check

NB = "03_denoising_autoencoder.ipynb"


def _fn(name: str):
    return load_function(NB, name, {"torch": torch})


def test_notebook_solutions_pass():
    assert check("03.6", _fn("my_mask_noise")).passed
    assert check("03.7", _fn("masked_loss")).passed


def test_wrong_answers_get_specific_feedback():
    with pytest.raises(ExerciseFailed, match="exactly 16 zeroed pixels"):
        check("03.6", lambda x, f: x * (torch.rand_like(x) >= f))
    with pytest.raises(ExerciseFailed, match="in place"):
        check("03.6", lambda x, f: x.masked_fill_(random_mask(x, f), 0.0))
    with pytest.raises(ExerciseFailed, match="expected"):
        check("03.7", lambda r, x, m: ((r - x) ** 2 * m).flatten(1).mean(1))
