"""One seeding helper, called at the top of every notebook, so its numbers repeat run to run."""

from __future__ import annotations

import os
import random

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
