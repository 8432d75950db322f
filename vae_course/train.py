"""The course's one training loop: ``fit(model, loss_fn, data, epochs)``.

``loss_fn(model, x, y)`` returns either a scalar loss tensor, or a dict with the scalar to
minimise under ``"loss"`` plus any other terms to log (floats or 0-d tensors), e.g.
``{"loss": rec + kl, "recon": rec, "kl": kl}``. ``y`` is the label batch (None when the data
has no labels). The loop records the batch-size-weighted epoch mean of every term.

Also here, the one training recipe the notebooks share: ``train_moon_autoencoder`` (notebooks 02
and 06), a small autoencoder on moon images trained with ``code_noise_loss`` (optional noise on the
code, notebook 02's remedy).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from . import losses
from .corruption import code_noise
from .i18n import translate_output
from .models import eval_mode
from .models.ae import MLPAutoencoder
from .models.vae import VAE, vae_loss_fn
from .moons import render_moons
from .seeding import seeded, threads

LossOutput = Tensor | Mapping[str, Tensor | float]
LossFn = Callable[[nn.Module, Tensor, Tensor | None], LossOutput]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the epoch, batch and usual causes."""


def get_device(prefer: str | None = None) -> torch.device:
    """CUDA when present (or the device named by ``prefer``), else the CPU."""
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class History:
    """Per-epoch means: ``train["loss"][e]``, ``test["kl"][e]``, ... and wall time in seconds."""

    train: dict[str, list[float]] = field(default_factory=dict)
    test: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def epochs(self) -> int:
        return len(self.train.get("loss", []))

    def __getitem__(self, key: str) -> list[float]:
        """``history["loss"]`` is ``history.train["loss"]``; ``history["test_loss"]`` the test one."""
        if key.startswith("test_"):
            return self.test[key[5:]]
        return self.train[key]


def _as_terms(out: LossOutput) -> tuple[Tensor, dict[str, Tensor | float]]:
    if isinstance(out, Tensor):
        return out, {"loss": out}
    if isinstance(out, Mapping) and "loss" in out:
        return out["loss"], dict(out)
    raise TypeError(f"loss_fn must return a scalar tensor or a dict with a 'loss' entry, got {type(out).__name__}")


def _batches(data, batch_size: int, shuffle: bool, generator: torch.Generator | None):
    """Yield (x, y) batches from a tensor, an (x, y) tuple, or any iterable of batches."""
    if isinstance(data, Tensor):
        data = (data, None)
    if isinstance(data, (tuple, list)) and len(data) == 2 and isinstance(data[0], Tensor):
        x, y = data
        if y is not None and len(y) != len(x):
            raise ValueError(f"data has {len(x)} inputs but {len(y)} labels")
        n = len(x)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        for i in range(0, n, batch_size):
            idx = order[i : i + batch_size]
            yield x[idx], (None if y is None else y[idx])
        return
    for batch in data:  # e.g. a DataLoader yielding (x, y) or x
        if isinstance(batch, (tuple, list)):
            yield batch[0], (batch[1] if len(batch) > 1 else None)
        else:
            yield batch, None


def _check_finite(loss: Tensor, epoch: int, batch: int) -> float:
    if loss.dim() != 0:
        raise ValueError(
            f"loss_fn must return a scalar (0-d) loss, got shape {tuple(loss.shape)}; "
            "reduce it, e.g. with .mean() over the batch"
        )
    value = loss.item()
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"the loss became {value} at epoch {epoch + 1}, batch {batch + 1}. Usual causes: "
            "a learning rate too high (try 10x lower); log(0) or log of a negative number "
            "(use logits with binary_cross_entropy_with_logits, or clamp probabilities); "
            "exp() overflow of a log-variance (clamp logvar); inputs outside [0, 1] for a "
            "Bernoulli loss; NaN in the data."
        )
    return value


def evaluate(
    model: nn.Module, loss_fn: LossFn, data, batch_size: int = 512, device: torch.device | str | None = None
) -> dict[str, float]:
    """Batch-size-weighted mean of every term loss_fn reports, in eval mode, without gradients."""
    device = get_device(device) if not isinstance(device, torch.device) else device
    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad(), eval_mode(model):
        for x, y in _batches(data, batch_size, shuffle=False, generator=None):
            x = x.to(device)
            y = None if y is None else y.to(device)
            _, terms = _as_terms(loss_fn(model, x, y))
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(x)
            n += len(x)
    return {k: v / max(n, 1) for k, v in sums.items()}


def adam(lr: float = 1e-3) -> Callable[..., torch.optim.Optimizer]:
    """An optimizer factory for ``fit``: torch's Adam at learning rate ``lr``, its update fused.

    The steps are Adam's (m_t = b1 m + (1 - b1) g, v_t = b2 v + (1 - b2) g^2, theta -= lr m^ / (sqrt(v^) + eps));
    ``fused=True`` does the whole update in one kernel per step instead of a loop of small ones,
    about a quarter faster for the course's small models on a CPU. ``fit(..., optimizer=adam(3e-3))``.
    """
    if not lr > 0:
        raise ValueError(f"the learning rate must be > 0, got {lr}")
    return lambda params: torch.optim.Adam(params, lr=lr, fused=True)


def fit(
    model: nn.Module,
    loss_fn: LossFn,
    data,
    epochs: int = 10,
    *,
    batch_size: int = 128,
    optimizer: torch.optim.Optimizer | Callable[..., torch.optim.Optimizer] | None = None,
    lr: float = 1e-3,
    test_data=None,
    seed: int | None = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    desc: str = "training",
    on_epoch_end: Callable[[int, History], None] | None = None,
) -> History:
    """Train ``model`` by minimising ``loss_fn(model, x, y)`` over ``data`` for ``epochs`` epochs.

    Args:
        data: an (images, labels) tuple of tensors, a tensor of inputs, or a DataLoader.
        optimizer: an optimizer, or a factory ``f(params)`` (default ``Adam(params, lr=lr)``).
        test_data: evaluated after every epoch (same forms as ``data``).
        seed: fixes the shuffling order and every draw ``loss_fn`` makes through torch's global
            generator (the reparameterisation's noise, dropout): the loop runs with that generator
            seeded and fit hands the caller's state back when it returns (``seeding.seeded``).
            None: shuffles and draws from the caller's generator as it stands.
        device: where to train; default CUDA when present, else the CPU.
        on_epoch_end: called as ``f(epoch, history)`` after each epoch (e.g. for a live plot).

    Returns:
        History with per-epoch means of every term of the train (and test) loss.

    Raises:
        NonFiniteLossError: as soon as a batch's loss is NaN or infinite.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be >= 0, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = device if isinstance(device, torch.device) else get_device(device)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    model.to(device)
    if optimizer is None:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer(model.parameters())
    history = History()
    start = time.perf_counter()
    with seeded(seed):  # the loss's own draws repeat for a seed; the caller's generator is untouched
        bar = tqdm(range(epochs), desc=translate_output(desc), disable=not progress, leave=True)
        for epoch in bar:
            model.train()
            sums: dict[str, float] = {}
            n = 0
            for b, (x, y) in enumerate(_batches(data, batch_size, True, generator)):
                x = x.to(device, non_blocking=True)
                y = None if y is None else y.to(device, non_blocking=True)
                loss, terms = _as_terms(loss_fn(model, x, y))
                value = _check_finite(loss, epoch, b)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                for k, v in terms.items():
                    v = value if k == "loss" else float(v.detach() if isinstance(v, Tensor) else v)
                    sums[k] = sums.get(k, 0.0) + v * len(x)
                n += len(x)
            if n == 0:
                raise ValueError("data yielded no batches: is it empty?")
            for k, v in sums.items():
                history.train.setdefault(k, []).append(v / n)
            postfix = {"loss": f"{history.train['loss'][-1]:.4g}"}
            if test_data is not None:
                for k, v in evaluate(model, loss_fn, test_data, device=device).items():
                    history.test.setdefault(k, []).append(v)
                postfix["test"] = f"{history.test['loss'][-1]:.4g}"
            bar.set_postfix(postfix)
            if on_epoch_end is not None:
                on_epoch_end(epoch, history)
    history.seconds = time.perf_counter() - start
    return history


def fit_restarts(
    make_model: Callable[[], nn.Module],
    loss_fn: LossFn,
    data,
    epochs: int,
    *,
    restarts: int = 4,
    seed: int = 0,
    **fit_kwargs,
) -> tuple[nn.Module, list[float]]:
    """Train ``restarts`` models from different random starts and keep the one whose final training
    loss is lowest: the usual cure for a non-convex fit whose result depends on where it starts
    (which local optimum a start reaches can even depend on the CPU's last bits).

    Start r builds ``make_model()`` with torch's generator seeded to ``seed + 1000 * r``, trains it
    with ``fit(..., seed=seed + 1000 * r, **fit_kwargs)`` and evaluates it, all inside
    ``seeding.seeded``: the caller's generator is left as it was. Only training data decides the winner, so the
    choice is fair to a held-out comparison.

    Returns:
        the best model and the final training loss of every start (in order, evaluated in eval mode).
    """
    if restarts < 1:
        raise ValueError(f"restarts must be >= 1, got {restarts}")
    best, best_loss, final = None, math.inf, []
    for r in range(restarts):
        with seeded(seed + 1000 * r):  # the start's weights, and any draws of the final evaluation
            model = make_model()
            fit(model, loss_fn, data, epochs, seed=seed + 1000 * r, **fit_kwargs)
            loss = evaluate(model, loss_fn, data, device=fit_kwargs.get("device"))["loss"]
        final.append(loss)
        if loss < best_loss:
            best, best_loss = model, loss
    return best, final


# --------------------------------------------------------------------------- the moon autoencoders (02, 06)
def code_noise_loss(code_std: float = 0.0, code_penalty: float = 0.0):
    """Loss for an autoencoder whose code is jittered during training (notebook 02's remedy):

        z = f(x),  z~ = z + code_std * eps,  eps ~ N(0, I)
        loss = sum_pixels (g(z~) - x)^2 + code_penalty * |z|^2   (per image, averaged)

    The noise makes the decoder answer for a neighbourhood of each code. Noise of a fixed size
    only means something if the codes cannot simply move further apart, so ``code_penalty``
    keeps them near the origin. In expectation over eps this is 2 * code_penalty times the
    negative ELBO of a VAE with encoder N(f(x), code_std^2 I), prior N(0, I) and decoder
    N(g(z), code_penalty * I), minus a constant (notebook 02, section 6; tests/test_train.py).
    The model's ``output`` should be "sigmoid" (values compared with MSE)."""
    if code_std < 0 or code_penalty < 0:
        raise ValueError(f"code_std and code_penalty must be >= 0, got {code_std} and {code_penalty}")

    def loss_fn(model: MLPAutoencoder, x: Tensor, y: Tensor | None = None) -> dict[str, Tensor]:
        z = model.encode(x)  # (B, D)
        recon = model.decode(code_noise(z, code_std) if code_std > 0 else z)
        rec = losses.mse(model.to_image(recon) if model.output == "logits" else recon, x)  # (B,)
        size = z.pow(2).sum(dim=1)  # (B,)
        return {
            "loss": (rec + code_penalty * size).mean(),
            "recon": rec.mean().detach(),
            "code_size": size.mean().detach(),
        }

    return loss_fn


def train_moon_autoencoder(
    moons: Sequence[float] | Tensor,
    *,
    image_size: int = 16,
    latent_dim: int = 2,
    hidden: Sequence[int] = (64, 64),
    code_std: float = 0.0,
    code_penalty: float = 0.0,
    steps: int = 300,
    batch_size: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
    desc: str = "training",
    on_epoch_end: Callable[[MLPAutoencoder, int], None] | None = None,
) -> tuple[MLPAutoencoder, History]:
    """Train a small MLP autoencoder (sigmoid output, MSE) on moons, with optional code noise
    and code penalty (see ``code_noise_loss``), for about ``steps`` optimiser steps.

    ``on_epoch_end(model, steps_done)``, if given, is called after every epoch (one step per epoch
    for two moons) to watch the model train; it must not train it or draw from torch's generator.

    ``moons`` is either a list of phases (rendered here at ``image_size``) or a batch of moon
    images (N, 1, image_size, image_size), e.g. from ``data.load("moons", size=image_size)``. A short training set (e.g.
    two moons) is repeated so that every batch holds ``batch_size`` images. Returns the trained
    model (on the CPU, eval mode) and its History."""
    moons = torch.as_tensor(moons, dtype=torch.float32)
    if moons.dim() == 4:
        if tuple(moons.shape[1:]) != (1, image_size, image_size):
            raise ValueError(
                f"expected moon images of shape (N, 1, {image_size}, {image_size}), got {tuple(moons.shape)}"
            )
        images = moons
    else:
        images = render_moons(moons.reshape(-1), size=image_size)  # (N, 1, S, S)
    if len(images) < 1:
        raise ValueError("give at least one moon (a phase or an image) to train on")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    copies = max(1, math.ceil(batch_size / len(images)))
    data = images.repeat(copies, 1, 1, 1)  # (N * copies, 1, S, S)
    per_epoch = math.ceil(len(data) / batch_size)
    with seeded(seed):
        model = MLPAutoencoder(image_size, latent_dim, hidden=hidden, output="sigmoid")
    history = fit(
        model,
        code_noise_loss(code_std, code_penalty),
        data,
        epochs=max(1, round(steps / per_epoch)),
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        progress=progress,
        desc=desc,
        on_epoch_end=None if on_epoch_end is None else lambda epoch, _: on_epoch_end(model, (epoch + 1) * per_epoch),
    )
    return model.cpu().eval(), history


def train_moon_vae(
    seed: int,
    *,
    n_moons: int = 1000,
    image_size: int = 16,
    hidden: int = 128,
    epochs: int = 40,
    batch_size: int = 128,
    lr: float = 4e-3,
) -> tuple[VAE, Tensor]:
    """Notebook 06's moon VAE (latent 2, one hidden layer of ``hidden``, Bernoulli decoder): ``n_moons``
    moons of phases drawn uniformly with a generator seeded to ``seed``, trained with the negative ELBO
    for ``epochs`` epochs (Adam, ``lr``) on one thread. Returns the model (CPU, eval mode) and its
    training moons. Cached per process, since it is deterministic: exercise 06.6's check and section 8
    of the notebook train the same model, and the one that comes second (in the notebook, section 8)
    reuses it instead of training it again. Do not train the returned model further."""
    return _train_moon_vae(
        int(seed), int(n_moons), int(image_size), int(hidden), int(epochs), int(batch_size), float(lr)
    )


@functools.cache
def _train_moon_vae(
    seed: int, n_moons: int, image_size: int, hidden: int, epochs: int, batch_size: int, lr: float
) -> tuple[VAE, Tensor]:
    g = torch.Generator().manual_seed(seed)
    moons = render_moons(torch.rand(n_moons, generator=g), size=image_size)
    with threads(1):
        with seeded(seed):
            model = VAE(image_size=image_size, latent_dim=2, hidden=hidden)
        fit(model, vae_loss_fn(), moons, epochs, batch_size=batch_size, optimizer=adam(lr), seed=seed, progress=False)
    return model.cpu().eval(), moons
