"""Two tensor primitives every module above may use (this module imports nothing of the course):

* ``check_images(x, size)``: the course's one image-shape check, (B, 1, H, W) [with (H, W) = size];
* ``straight_through(soft, hard)``: the straight-through estimator (Bengio et al. 2013,
  arXiv:1308.3432), forward value ``hard``, backward the identity to ``soft``. Notebook 05 teaches it
  (``vae_course.estimators``) and the VQ-VAE (``vae_course.models.vq``) uses it.
"""

from __future__ import annotations

from torch import Tensor


def check_images(x: Tensor, size: tuple[int, int] | None = None, name: str = "images") -> None:
    """Raise a ValueError that says what was expected unless x is (B, 1, H, W) [with (H, W) = size]."""
    if not isinstance(x, Tensor):
        raise TypeError(f"expected {name} as a torch.Tensor, got {type(x).__name__}")
    want = f"(B, 1, {size[0]}, {size[1]})" if size else "(B, 1, H, W)"
    if x.dim() != 4 or x.shape[1] != 1 or (size is not None and tuple(x.shape[2:]) != tuple(size)):
        raise ValueError(f"expected {name} of shape {want}, got {tuple(x.shape)}")


def straight_through(soft: Tensor, hard: Tensor) -> Tensor:
    """Forward: ``hard``; backward: the identity to ``soft`` (Bengio et al. 2013).

    soft + (hard - soft).detach() equals hard in value, and d/d soft = I. With the encoder's
    output ``soft = z_e`` and its nearest code ``hard = z_q`` this is VQ-VAE's z_e + sg[z_q - z_e]
    (``vae_course.models.vq`` uses this function, in this argument order).
    """
    if hard.shape != soft.shape:
        raise ValueError(f"hard and soft must have the same shape, got {tuple(hard.shape)} and {tuple(soft.shape)}")
    return soft + (hard - soft).detach()
