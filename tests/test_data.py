import gzip
import hashlib
import struct

import numpy as np
import pytest
import torch

from vae_course import data
from vae_course.ops import check_images


@pytest.mark.parametrize("name,shape", [("moons", (1, 28, 28)), ("digits", (1, 8, 8)), ("mnist5k", (1, 28, 28))])
@pytest.mark.parametrize("split", ["train", "test"])
def test_offline_sets_have_documented_shape_range_and_labels(name, shape, split):
    x, y = data.load(name, split)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.dim() == 4 and tuple(x.shape[1:]) == shape and len(x) == len(y)
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.9
    assert set(y.unique().tolist()) == set(range(8 if name == "moons" else 10))


def test_offline_splits_are_fixed_disjoint_and_stratified():
    xtr, ytr = data.load("mnist5k", "train")
    xte, yte = data.load("mnist5k", "test")
    assert len(xtr) == 4000 and len(xte) == 1000
    assert torch.equal(yte.bincount(), torch.full((10,), 100))
    # no test image appears in train
    tr = {hash(r.numpy().tobytes()) for r in xtr.flatten(1)}
    assert not any(hash(r.numpy().tobytes()) in tr for r in xte.flatten(1))
    x2, y2 = data.load("mnist5k", "train")
    assert torch.equal(xtr, x2) and torch.equal(ytr, y2)


def test_mnist5k_is_parsed_once_then_loaded_from_cache(data_cache):
    x1, y1 = data.load("mnist5k")
    assert (data_cache / "mnist5k.npz").exists()
    x2, y2 = data.load("mnist5k")
    assert torch.equal(x1, x2) and torch.equal(y1, y2)


def test_broken_mnist5k_cache_is_rebuilt(data_cache):
    data_cache.mkdir(parents=True)
    (data_cache / "mnist5k.npz").write_bytes(b"not a zip file")
    x, _ = data.load("mnist5k", n=10)
    assert x.shape == (10, 1, 28, 28)


def test_moons_size_noise_and_seed():
    x, y = data.load("moons", n=50, size=16, noise=0.1, seed=3)
    assert x.shape == (50, 1, 16, 16)
    x2, _ = data.load("moons", n=50, size=16, noise=0.1, seed=3)
    assert torch.equal(x, x2)
    xt, _ = data.load("moons", "test", n=50, size=16, seed=3)
    assert not torch.equal(xt, data.load("moons", n=50, size=16, seed=3)[0])


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match="choose one of 'moons', 'digits', 'mnist5k', 'mnist', 'fashion'"):
        data.load("mnsit")
    with pytest.raises(ValueError, match="split"):
        data.load("digits", "validation")


# ----------------------------------------------------------------------------- IDX files
def write_idx(path, array, dtype_code=0x08, gz=True):
    header = bytes([0, 0, dtype_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + array.astype(">u1" if dtype_code == 0x08 else ">i4").tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)
    return raw


def test_read_idx_roundtrip(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", a)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "a.gz"), a)
    write_idx(tmp_path / "b", a.astype(np.int32), dtype_code=0x0C, gz=False)
    np.testing.assert_array_equal(data.read_idx(tmp_path / "b"), a)


def test_truncated_idx_is_rejected_with_path_and_reason(tmp_path):
    a = np.zeros((5, 4, 4), dtype=np.uint8)
    raw = write_idx(tmp_path / "t", a, gz=False)
    (tmp_path / "t").write_bytes(raw[:-3])
    with pytest.raises(data.IDXFormatError, match=r"t: truncated or malformed.*\(5, 4, 4\)"):
        data.read_idx(tmp_path / "t")


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"\x01\x02\x08\x01\x00\x00\x00\x01\x00", "bad magic"),
        (b"\x00\x00\x42\x01\x00\x00\x00\x01\x00", "unknown IDX data type"),
        (b"\x00\x00\x08\x03\x00\x00", "header is truncated"),
    ],
)
def test_malformed_idx_is_rejected(tmp_path, content, reason):
    (tmp_path / "m").write_bytes(content)
    with pytest.raises(data.IDXFormatError, match=reason):
        data.read_idx(tmp_path / "m")


def test_not_gzip_is_rejected(tmp_path):
    (tmp_path / "x.gz").write_bytes(b"plain bytes")
    with pytest.raises(data.IDXFormatError, match="x.gz"):
        data.read_idx(tmp_path / "x.gz")


def _fake_remote(monkeypatch, tmp_path, n=6):
    """Serve a tiny MNIST-like set from file:// URLs, with its real SHA-256 registered."""
    src = tmp_path / "server"
    src.mkdir()
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n, 28, 28)).astype(np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (2, 28, 28)).astype(np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, 2).astype(np.uint8),
    }
    sums = {}
    for name, arr in files.items():
        write_idx(src / name, arr)
        sums[name] = hashlib.sha256((src / name).read_bytes()).hexdigest()
    monkeypatch.setitem(data._REMOTE, "mnist", {"mirrors": (src.as_uri() + "/",), "sha256": sums})
    return src, files


def test_download_verify_parse_and_cache(monkeypatch, tmp_path, data_cache):
    src, files = _fake_remote(monkeypatch, tmp_path)
    x, y = data.load("mnist")
    assert x.shape == (6, 1, 28, 28) and x.dtype == torch.float32
    np.testing.assert_allclose(x[:, 0].numpy() * 255, files["train-images-idx3-ubyte.gz"], atol=1e-3)
    assert y.tolist() == files["train-labels-idx1-ubyte.gz"].tolist()
    assert data.load("mnist", "test")[0].shape == (2, 1, 28, 28)
    for f in src.iterdir():
        f.unlink()  # the server is gone: the cache must serve it now
    assert torch.equal(data.load("mnist")[0], x)


def test_checksum_mismatch_deletes_file_and_returns_nothing(monkeypatch, tmp_path, data_cache):
    _fake_remote(monkeypatch, tmp_path)
    data.load("mnist")
    cached = data_cache / "mnist" / "train-images-idx3-ubyte.gz"
    raw = bytearray(cached.read_bytes())
    raw[20] ^= 0xFF  # corrupt one byte
    cached.write_bytes(bytes(raw))
    with pytest.raises(data.ChecksumError, match="corrupt.*deleted"):
        data.load("mnist")
    assert not cached.exists()


def test_wrong_checksum_on_download_is_never_returned(monkeypatch, tmp_path, data_cache):
    _fake_remote(monkeypatch, tmp_path)
    spec = data._REMOTE["mnist"]
    spec["sha256"]["train-images-idx3-ubyte.gz"] = "0" * 64
    with pytest.raises(data.ChecksumError):
        data.load("mnist")
    assert not (data_cache / "mnist" / "train-images-idx3-ubyte.gz").exists()


def test_no_network_names_the_offline_sets(monkeypatch, tmp_path, data_cache):
    monkeypatch.setitem(
        data._REMOTE,
        "fashion",
        {
            "mirrors": ("http://127.0.0.1:9/",),  # discard port: the connection is refused at once
            "sha256": data._REMOTE["fashion"]["sha256"],
        },
    )
    with pytest.raises(data.DownloadError, match="no network.*'moons', 'digits', 'mnist5k'"):
        data.load("fashion")
    with pytest.raises(data.DownloadError, match="download=False"):
        data.load("fashion", download=False)


def test_check_images_says_what_was_expected():
    check_images(torch.zeros(2, 1, 8, 8), (8, 8))
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 8, 8\), got \(64, 64\)"):
        check_images(torch.zeros(64, 64), (8, 8))
