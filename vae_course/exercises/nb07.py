"""Exercises of notebook 07 (conditional VAE)."""

import torch

from ..diagnostics import per_class_accuracy
from ..models.vae import one_hot
from . import case, register


def _one_hot_cases(g=None):
    fresh = [case(torch.randint(0, 10, (12,), generator=g), 10, label="12 random digits")] if g is not None else []
    return fresh + [
        case(torch.tensor([1, 4, 8]), 10, label="the digits 1, 4, 8 with 10 classes"),
        case(torch.arange(10), 10, label="every digit once"),
        case(torch.tensor([2, 2, 0]), 3, label="repeated classes, 3 classes"),
        case(torch.zeros(0, dtype=torch.long), 10, label="an empty batch"),
    ]


register(
    "07.1",
    "one-hot condition vectors",
    reference=one_hot,
    cases=_one_hot_cases,
    hint="start from torch.zeros(len(c), n_classes) and put a 1.0 at column c[b] of row b "
    "(scatter_, or indexing with torch.arange); the result must be float, not int.",
)


def _acc_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(0)
    t = torch.arange(40) % 4
    return [
        case(t.clone(), t, 4, label="perfect predictions, 4 classes"),
        case(torch.randint(0, 4, (40,), generator=g), t, 4, label="random predictions, 4 classes"),
        case(torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 1]), 3, label="a class with 1 of 3 right"),
    ]


register(
    "07.2",
    "accuracy per class",
    reference=per_class_accuracy,
    cases=_acc_cases,
    hint="for each class k, look only at the examples whose TRUE label is k and take the fraction "
    "predicted k; return a float tensor of shape (n_classes,).",
)
