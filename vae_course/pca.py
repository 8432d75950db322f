"""PCA, the baseline of notebook 01: the best k-dimensional affine subspace of the data in squared
error, which a linear autoencoder spans at its optimum (Bourlard & Kamp 1988; Baldi & Hornik 1989).

From the SVD of the centred data X - mean = U S V^T, the principal directions are the rows of V^T;
projecting onto the first k of them, x_hat = mean + (x - mean) V_k^T V_k, is the reconstruction.
"""

from __future__ import annotations

import torch
from torch import Tensor


def pca_basis(x: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Mean (D,) and the top-k principal directions (k, D), orthonormal rows, of data x (N, D)
    (or images (N, C, H, W), flattened). From the SVD of the centred data X - mean = U S V^T:
    the directions are the first k rows of V^T."""
    x = x.flatten(1).double() if x.dim() > 2 else x.double()
    if not 1 <= k <= min(x.shape):
        raise ValueError(f"k must be between 1 and min(N, D) = {min(x.shape)}, got {k}")
    mean = x.mean(dim=0)
    _, _, vt = torch.linalg.svd(x - mean, full_matrices=False)
    return mean.float(), vt[:k].float()


def pca_reconstruct(x: Tensor, k: int, fit_on: Tensor | None = None) -> Tensor:
    """Project x (N, D) onto the best k-dimensional affine subspace of ``fit_on`` (default x):
    x_hat = mean + (x - mean) V_k^T V_k. Returns the same shape as x."""
    mean, v = pca_basis(x if fit_on is None else fit_on, k)
    flat = x.flatten(1)
    rec = mean + (flat - mean) @ v.T @ v  # (N, D)
    return rec.reshape(x.shape)
