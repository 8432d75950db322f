"""Reading a VAE's numbers: KL per latent dimension, active units, bits per dimension, and the
floor of a Bernoulli loss on grey-level images.

Burda, Grosse & Salakhutdinov 2015 (arXiv:1509.00519, section 5.2) call latent unit j *active*
when Cov_x(E_{q(z|x)}[z_j]) > 0.01: the posterior mean moves with the input. An inactive unit
has collapsed onto the prior (its KL is about 0) and carries no information about x.
:func:`units_by_kl` counts by the unit's own KL instead (active when KL_j > 0.1 nats): after a
short run a unit on its way to collapse still moves its mean a little and passes the variance
test while carrying a few hundredths of a nat; its KL says what it carries.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from .losses import gaussian_kl_terms
from .models import map_batches


def kl_per_dimension(mu: Tensor, logvar: Tensor) -> Tensor:
    """Mean over the batch of KL(q(z_j|x) || N(0, 1)) for each latent dimension j: (D,) in nats.

    KL_j = 0.5 * (mu_j^2 + exp(logvar_j) - 1 - logvar_j); the D values sum to the KL term.
    """
    if mu.shape != logvar.shape or mu.dim() != 2:
        raise ValueError(
            f"expected mu and logvar of the same shape (B, D), got {tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    return gaussian_kl_terms(mu, logvar).mean(dim=0)


class ActiveUnits(NamedTuple):
    count: int  # number of active units
    active: Tensor  # (D,) bool
    variance: Tensor  # (D,) Cov_x(E_q[z_j]) = variance over the data of the posterior mean


def active_units(mu: Tensor, threshold: float = 0.01) -> ActiveUnits:
    """Burda et al.'s criterion on posterior means mu (N, D) over a data set: unit j is active
    when Var_x(mu_j(x)) > threshold (0.01 in the paper)."""
    if mu.dim() != 2 or len(mu) < 2:
        raise ValueError(f"expected posterior means of shape (N, D) with N >= 2, got {tuple(mu.shape)}")
    var = mu.double().var(dim=0, unbiased=True).float()  # (D,)
    active = var > threshold
    return ActiveUnits(int(active.sum()), active, var)


ACTIVE_KL = 0.1  # nats: a unit carrying more than this counts as active in units_by_kl


class KLUnits(NamedTuple):
    count: int  # number of active units
    active: Tensor  # (D,) bool
    kl: Tensor  # (D,) KL_j in nats, the mean over the data (kl_per_dimension)


def units_by_kl(mu: Tensor, logvar: Tensor, threshold: float = ACTIVE_KL) -> KLUnits:
    """Active units by their KL: unit j is active when the data's mean KL(q(z_j|x) || N(0, 1)) exceeds
    ``threshold`` nats (default 0.1). mu, logvar: (N, D) posterior parameters over a data set."""
    kl = kl_per_dimension(mu, logvar)
    active = kl > threshold
    return KLUnits(int(active.sum()), active, kl)


def bits_per_dim(nats_per_image: Tensor | float, n_dims: int) -> Tensor | float:
    """Convert a negative log-likelihood in nats per image to bits per dimension:
    bpd = nats / (n_dims * ln 2)."""
    if n_dims < 1:
        raise ValueError(f"n_dims must be >= 1, got {n_dims}")
    return nats_per_image / (n_dims * math.log(2))


def bernoulli_entropy(x: Tensor) -> Tensor:
    """Entropy in nats per example (B,) of independent Bernoullis with means x (B, ...):
    H = sum_i -[x_i log x_i + (1 - x_i) log(1 - x_i)] (0 log 0 = 0).

    This is the minimum over logits of the binary cross-entropy with grey-level targets x, reached
    at sigmoid(logits) = x: a BCE loss on grey images cannot go below it.
    """
    if x.min() < 0 or x.max() > 1:
        raise ValueError("bernoulli_entropy needs values in [0, 1]")
    h = -(torch.special.xlogy(x, x) + torch.special.xlogy(1 - x, 1 - x))
    return h.flatten(1).sum(dim=1)


def posterior_means(
    model: torch.nn.Module, x: Tensor, c: Tensor | None = None, batch_size: int = 1000
) -> tuple[Tensor, Tensor]:
    """(mu, logvar), each (N, D), of q(z | x) (or q(z | x, c)) for a whole data set, in batches,
    in eval mode."""
    return map_batches(model, model.encode, x if c is None else (x, c), batch_size=batch_size)


def per_class_accuracy(pred: Tensor, target: Tensor, n_classes: int) -> Tensor:
    """Accuracy of predicted labels within each true class: (n_classes,) float; NaN for a class
    that never occurs in ``target``."""
    pred, target = torch.as_tensor(pred).long(), torch.as_tensor(target).long()
    if pred.shape != target.shape or pred.dim() != 1:
        raise ValueError(
            f"expected pred and target of the same shape (N,), got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    correct = torch.zeros(n_classes, dtype=torch.float64).index_add_(0, target, (pred == target).double())
    count = torch.bincount(target, minlength=n_classes).double()
    return (correct / count).float()  # 0 / 0 = NaN for an absent class
