"""PCA, the baseline of notebook 01: the best k-dimensional affine subspace of the data in squared
error, which a linear autoencoder spans at its optimum (Bourlard & Kamp 1988; Baldi & Hornik 1989).

From the SVD of the centred data X - mean = U S V^T, the principal directions are the rows of V^T;
projecting onto the first k of them, x_hat = mean + (x - mean) V_k^T V_k, is the reconstruction.
"""

from __future__ import annotations

import numpy as np
import torch
from threadpoolctl import threadpool_limits
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


def linear_ae_descent(
    x: Tensor,
    weights: tuple[Tensor, Tensor, Tensor, Tensor],
    steps: int,
    lr: float,
    callback=None,
    every: int = 10,
    with_bias: bool = False,
) -> tuple[tuple[Tensor, Tensor, Tensor, Tensor], int]:
    """Full-batch gradient descent on a linear autoencoder x_hat = W2 (W1 x + b1) + b2, minimising
    the squared error summed over pixels and averaged over the images x (N, D) or (N, C, H, W).

    ``weights`` = (W1 (k, D), b1 (k,), W2 (D, k), b2 (D,)), the starting point (not changed). The loss
    needs the data only through its mean mu and second moment S = E[x x^T], not a pass over the images.
    With r = x - W2 h - b2, h = W1 x + b1:

        dL/dW2 = -2 E[r h^T],  dL/db2 = -2 E[r],  dL/dW1 = -2 W2^T E[r x^T],  dL/db1 = -2 W2^T E[r],

    where E[r x^T] = (S - W2 W1 S) - c mu^T and E[r] = mu - W2 W1 mu - c, c = W2 b1 + b2. Computed
    in float64 (numpy), in the eigenbasis of S = U diag(lambda) U^T: gradient descent commutes with the
    rotation x -> U^T x (W1 -> W1 U, W2 -> U^T W2, b2 -> U^T b2), and there W1 S is W1 diag(lambda), so a step
    costs O(kD) instead of two (k, D) x (D, D) products (on 784 pixels about 100 times less).
    ``callback(step, W2)`` (``callback(step, W2, b2)`` with ``with_bias``), in pixel coordinates, called
    after every ``every``-th step, may return True to stop.
    Returns the final weights (float64) and the number of steps taken; non-finite weights (a step
    too large for the data) raise ``FloatingPointError``."""
    X = x.flatten(1).double()
    lam, U = (t.numpy() for t in torch.linalg.eigh(X.T @ X / len(X)))  # S = U diag(lam) U^T, (D,), (D, D)
    mu = U.T @ X.mean(dim=0).numpy()  # (D,) the mean, rotated
    W1, b1, W2, b2 = (w.detach().double().numpy() for w in weights)
    W1, b1, W2, b2 = W1 @ U, b1.copy(), U.T @ W2, U.T @ b2  # (k, D), (k,), (D, k), (D,) rotated
    step = 0
    # numpy on one BLAS thread: a step is a dozen small products, where torch's cost per call would dominate and
    # threads only wait for each other; a diverging step is detected below, not warned about
    with threadpool_limits(limits=1, user_api="blas"), np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, steps + 1):
            W1S, W1mu = W1 * lam, W1 @ mu  # (k, D) = W1 S in the eigenbasis, (k,)
            c = W2 @ b1 + b2  # (D,)
            r_mean = mu - W2 @ W1mu - c  # E[r], (D,)
            # E[r h^T] = E[r x^T] W1^T + E[r] b1^T
            r_h = W1S.T - W2 @ (W1S @ W1.T) - np.outer(c, W1mu) + np.outer(r_mean, b1)
            gW1 = -2 * (W2.T * lam - (W2.T @ W2) @ W1S - np.outer(W2.T @ c, mu))  # -2 W2^T E[r x^T]
            gb1 = -2 * W2.T @ r_mean
            W1, b1, W2, b2 = W1 - lr * gW1, b1 - lr * gb1, W2 + 2 * lr * r_h, b2 + 2 * lr * r_mean
            if step % every == 0:
                if not np.isfinite(W2).all():
                    raise FloatingPointError(f"gradient descent diverged at step {step} (step size {lr:.3g})")
                extra = (torch.from_numpy(U @ b2),) if with_bias else ()
                if callback is not None and callback(step, torch.from_numpy(U @ W2), *extra):
                    break
    if not all(np.isfinite(w).all() for w in (W1, b1, W2, b2)):
        raise FloatingPointError(f"gradient descent diverged (step size {lr:.3g})")
    return tuple(torch.from_numpy(w) for w in (W1 @ U.T, b1, U @ W2, U @ b2)), step  # back to pixels
