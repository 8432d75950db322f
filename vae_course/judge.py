"""A judge for generated digits: a small CNN trained on real training digits, used by notebooks
06-08 to read the images their models draw (which class, how sure).

Our eyes are biased judges of blurry samples. The judge is a fixed instrument instead: two
stride-2 convolutions and two linear layers, trained on the *real* training digits of a data set
(with random shifts of up to 2 pixels on 28x28 images), and checked on the held-out real digits of
the same set before it is trusted (about 98 % on MNIST-5k). Its reading of an image is the class
with the largest softmax probability, and that probability is its *confidence*.

It is trained once per data set and cached in the data cache (``vae_course.data.cache_dir()``,
env ``VAE_COURSE_DATA``), so that the three notebooks do not each pay for it. The cache file is
keyed by the data set and by a hash of this module's source (any change of architecture or recipe
is a new file), and it is never trusted blindly: a file that cannot be read, was made from other
data or by other code, whose weights do not match their checksum, or whose judge no longer scores
its recorded accuracy on the held-out digits is trained afresh (with a progress bar) and replaced.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import data
from .diagnostics import per_class_accuracy
from .models import device_of, map_batches
from .ops import check_images
from .seeding import seeded
from .train import evaluate, fit

#: The training recipe by image side (28x28 sets, 8x8 digits). Fixed, so the judge is the same
#: instrument in every notebook and on every run; part of the code hash that keys the cache.
RECIPES = {
    28: {"epochs": 15, "lr": 3e-3, "batch_size": 64, "shift": 2, "seed": 0},
    8: {"epochs": 40, "lr": 4e-3, "batch_size": 128, "shift": 0, "seed": 0},
}
#: At most this many training images (the online sets have 60,000: a fifth of them is plenty).
MAX_TRAIN = 12_000
#: The data sets the judge reads (moons have their own test: ``moons.check_moons``).
DATASETS = ("mnist5k", "digits", "mnist", "fashion")
#: What the notebooks call a confident reading.
CONFIDENT = 0.9
_FORMAT = 1


class DigitJudge(nn.Module):
    """A small CNN classifier for square one-channel images (B, 1, S, S), S divisible by 4.

    conv 5x5 stride 2 (S -> S/2) -> ReLU -> conv 5x5 stride 2 (S/2 -> S/4) -> ReLU -> linear
    ``hidden`` -> ReLU -> linear to ``n_classes`` logits.
    """

    def __init__(
        self, image_size: int = 28, n_classes: int = 10, channels: tuple[int, int] = (16, 32), hidden: int = 128
    ):
        super().__init__()
        if image_size < 4 or image_size % 4:
            raise ValueError(f"image_size must be a multiple of 4 (two stride-2 convolutions), got {image_size}")
        c1, c2 = channels
        s = image_size // 4
        self.image_size, self.n_classes = image_size, n_classes
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 5, 2, 2),
            nn.ReLU(),  # (B, c1, S/2, S/2)
            nn.Conv2d(c1, c2, 5, 2, 2),
            nn.ReLU(),  # (B, c2, S/4, S/4)
            nn.Flatten(),  # (B, c2 * S/4 * S/4)
            nn.Linear(c2 * s * s, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_classes),  # (B, n_classes) logits
        )

    def forward(self, x: Tensor) -> Tensor:
        check_images(x, (self.image_size, self.image_size), "images for the judge")
        return self.net(x)


class Reading(NamedTuple):
    """The judge's reading of a batch of images."""

    label: Tensor  # (N,) int64, the class with the largest probability
    confidence: Tensor  # (N,) that probability, in [1/n_classes, 1]
    probs: Tensor  # (N, n_classes) softmax probabilities


@torch.no_grad()
def read(judge: DigitJudge, images: Tensor, batch_size: int = 1000) -> Reading:
    """Read images (N, 1, S, S) in [0, 1]: label and confidence of each, in eval mode, on the CPU."""
    probs = map_batches(judge, lambda x: F.softmax(judge(x), dim=1), images, batch_size)  # (N, n_classes)
    confidence, label = probs.max(dim=1)
    return Reading(label, confidence, probs)


class JudgeScore(NamedTuple):
    """What the judge makes of a set of generated images (plain floats and CPU tensors)."""

    confident: float  # share of images read with confidence above the threshold
    histogram: Tensor  # (n_classes,) share of the *confident* readings per class (zeros if none)
    agreement: float  # share read as the requested class (NaN when nothing was requested)
    per_class: Tensor  # (n_classes,) agreement within each requested class (NaN where not requested)
    reading: Reading


def score(
    judge: DigitJudge, images: Tensor, requested: Tensor | None = None, threshold: float = CONFIDENT
) -> JudgeScore:
    """Score generated images: the share the judge reads with confidence > ``threshold``, the class
    histogram of those confident readings, and (when ``requested`` classes (N,) are given, as for a
    conditional model) how often the reading agrees with the request, overall and per class."""
    r = read(judge, images)
    sure = r.confidence > threshold
    counts = torch.bincount(r.label[sure], minlength=judge.n_classes).double()
    histogram = (counts / counts.sum()).float() if sure.any() else torch.zeros(judge.n_classes)
    if requested is None:
        agreement, per_class = math.nan, torch.full((judge.n_classes,), math.nan)
    else:
        requested = torch.as_tensor(requested).long().cpu()
        if requested.shape != r.label.shape:
            raise ValueError(
                f"expected one requested class per image, shape {tuple(r.label.shape)}, got {tuple(requested.shape)}"
            )
        agreement = float((r.label == requested).double().mean())
        per_class = per_class_accuracy(r.label, requested, judge.n_classes)
    return JudgeScore(float(sure.float().mean()), histogram, agreement, per_class, r)


# --------------------------------------------------------------------------- training
def random_shift(x: Tensor, max_shift: int, generator: torch.Generator | None = None) -> Tensor:
    """Translate each image (B, 1, H, W) by its own random (dx, dy) in [-max_shift, max_shift]^2,
    filling with zeros (blank paper): the augmentation the judge is trained with."""
    if max_shift == 0:
        return x
    b, _, h, w = x.shape
    m = max_shift
    padded = F.pad(x, (m, m, m, m))  # (B, 1, H + 2m, W + 2m)
    dy = torch.randint(0, 2 * m + 1, (b,), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * m + 1, (b,), generator=generator).to(x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device)).view(b, 1, h, 1).expand(b, 1, h, w + 2 * m)
    cols = (dx[:, None] + torch.arange(w, device=x.device)).view(b, 1, 1, w).expand(b, 1, h, w)
    return padded.gather(2, rows).gather(3, cols)  # (B, 1, H, W + 2m) -> (B, 1, H, W)


def _judge_loss(shift: int, generator: torch.Generator | None):
    def loss_fn(model: DigitJudge, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        if model.training and shift:
            x = random_shift(x, shift, generator)
        logits = model(x)
        return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(1) == y).float().mean()}

    return loss_fn


def recipe_for(image_size: int) -> dict:
    """The training recipe for images of side ``image_size`` (28 or 8)."""
    if image_size not in RECIPES:
        raise ValueError(f"the judge has recipes for images of side {sorted(RECIPES)}, got {image_size}")
    return dict(RECIPES[image_size])


def train_judge(
    x_train: Tensor,
    y_train: Tensor,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    shift: int,
    seed: int,
    progress: bool = True,
    desc: str = "training the judge",
) -> DigitJudge:
    """Train a DigitJudge on real images (N, 1, S, S) and labels (N,) with Adam, the learning rate
    annealed to 0 on a cosine over the epochs, and random shifts of up to ``shift`` pixels.
    Deterministic for a given seed and thread count. Returns it on the CPU, in eval mode."""
    with seeded(seed):
        judge = DigitJudge(x_train.shape[-1], int(y_train.max()) + 1)
    opt = torch.optim.Adam(judge.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    gen = torch.Generator().manual_seed(seed)
    fit(
        judge,
        _judge_loss(shift, gen),
        (x_train, y_train),
        epochs,
        batch_size=batch_size,
        optimizer=opt,
        seed=seed,
        progress=progress,
        desc=desc,
        on_epoch_end=lambda epoch, history: sched.step(),
    )
    return judge.cpu().eval()


def accuracy(judge: DigitJudge, images: Tensor, labels: Tensor) -> float:
    """Share of images (N, 1, S, S) the judge reads as their label (N,)."""
    return evaluate(judge, _judge_loss(0, None), (images, labels), device=device_of(judge))["accuracy"]


# --------------------------------------------------------------------------- the cache
def code_version() -> str:
    """A hash of this module's source: the judge's architecture and recipe. Part of the cache key."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def _tensor_digest(*tensors: Tensor) -> str:
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(str((tuple(t.shape), str(t.dtype))).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def cache_path(dataset: str) -> Path:
    """Where the judge of ``dataset`` is cached: ``<data cache>/judge/<dataset>-<code version>.pt``."""
    return data.cache_dir() / "judge" / f"{dataset}-{code_version()}.pt"


class JudgeInfo(NamedTuple):
    """Where the judge came from and how well it reads real digits."""

    dataset: str
    accuracy: float  # on the held-out real digits (the data set's test split)
    from_cache: bool
    note: str  # why it was (re)trained, or "" when it came from the cache


def load_judge(dataset: str = "mnist5k", *, progress: bool = True) -> tuple[DigitJudge, JudgeInfo]:
    """The judge of ``dataset``: from the cache when a valid file is there, else trained on the
    real training digits (progress bar), checked on the held-out ones and cached.

    Returns ``(judge, info)``; ``info.accuracy`` is the share of held-out real digits it reads
    correctly (recomputed on every load, so a cached judge is checked before it is used).
    """
    if dataset not in DATASETS:
        raise ValueError(
            f"the judge reads digit and garment sets {DATASETS}, not {dataset!r}"
            + (" (moons have their own test: vae_course.moons.check_moons)" if dataset == "moons" else "")
        )
    x_train, y_train = data.load(dataset, "train")
    x_test, y_test = data.load(dataset, "test")
    x_train, y_train = x_train[:MAX_TRAIN], y_train[:MAX_TRAIN]
    recipe = recipe_for(x_train.shape[-1])
    meta = {
        "format": _FORMAT,
        "dataset": dataset,
        "code_version": code_version(),
        "data": _tensor_digest(x_train, y_train, x_test, y_test),
        "recipe": repr(sorted(recipe.items())),
    }
    path = cache_path(dataset)
    judge, note = _read_cache(path, meta, x_test, y_test)
    if judge is not None:
        return judge, JudgeInfo(dataset, accuracy(judge, x_test, y_test), True, "")
    judge = train_judge(
        x_train, y_train, progress=progress, desc=f"training the judge on real {dataset} digits", **recipe
    )
    acc = accuracy(judge, x_test, y_test)
    _write_cache(path, judge, meta, acc)
    return judge, JudgeInfo(dataset, acc, False, note)


def _read_cache(path: Path, meta: dict, x_test: Tensor, y_test: Tensor) -> tuple[DigitJudge | None, str]:
    """The cached judge if the file is valid in every respect, else (None, why not)."""
    if not path.exists():
        return None, "no cached judge yet"
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(blob, dict) or blob.get("meta") != meta:
            return None, "the cached judge was made from other data or by other code"
        state = blob["state_dict"]
        if _tensor_digest(*state.values()) != blob["weights_sha256"]:
            return None, "the cached judge's weights do not match their checksum"
        judge = DigitJudge(x_test.shape[-1], int(blob["n_classes"]))
        judge.load_state_dict(state, strict=True)
        judge.eval()
        if abs(accuracy(judge, x_test, y_test) - float(blob["accuracy"])) > 0.002:
            return None, "the cached judge no longer scores its recorded accuracy"
        return judge, ""
    except Exception as e:  # any unreadable file is retrained, never trusted
        return None, f"the cached judge could not be read ({type(e).__name__})"


def _write_cache(path: Path, judge: DigitJudge, meta: dict, acc: float) -> None:
    state = {k: v.detach().cpu().clone() for k, v in judge.state_dict().items()}
    blob = {
        "meta": meta,
        "state_dict": state,
        "weights_sha256": _tensor_digest(*state.values()),
        "n_classes": judge.n_classes,
        "accuracy": acc,
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        torch.save(blob, tmp)
        tmp.replace(path)  # atomic: a reader sees the old file or the new one, never half of one
        for old in path.parent.glob(f"{meta['dataset']}-*.pt"):
            if old != path:
                old.unlink(missing_ok=True)  # judges made by older code
    except OSError:
        pass  # a read-only cache still works, it only retrains next time
