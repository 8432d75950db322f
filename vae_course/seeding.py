"""Seeding: ``seed_everything`` at the top of every notebook, so its numbers repeat run to run, and
``seeded`` for library code that must repeat its own draws without touching the caller's."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def seed_everything(seed: int = 0, threads: int | None = None) -> torch.Generator:
    """Seed Python's, NumPy's and PyTorch's generators (CPU and CUDA) and return a torch Generator.

    On the same machine and library versions this makes a notebook's numbers identical run to run.
    ``threads`` fixes torch's intra-op thread count as well (float sums can change order with it).
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    if threads is not None:
        torch.set_num_threads(threads)
    return torch.Generator().manual_seed(seed)


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run a block with torch's global generator (CPU and every CUDA device) seeded to ``seed``,
    then give the caller back the generator state it had before: library code that draws through
    the global generator (a model's initialisation, a loss's ``torch.randn_like``, dropout) repeats
    its draws for a seed and leaves the caller's stream alone, as scikit-learn's ``random_state`` does.
    ``seed=None`` runs the block on the caller's generator as it is (no seeding, nothing restored).
    """
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
        torch.manual_seed(seed)
        yield


@contextmanager
def threads(n: int) -> Iterator[None]:
    """Run a block with torch's intra-op thread count set to ``n`` (float sums then add in one order
    on every machine), and give the caller back the count it had before."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
