"""The data-only channel between the grader and a graded kernel: values as JSON, never pickle.

The grader sends a learner's function its inputs, and receives what it returned, as one JSON
document each way. :func:`encode` turns a value into JSON-ready data:

* a tensor becomes ``{"t": "tensor", "dtype", "shape", "grad", "b64"}`` (its raw bytes in base64;
  only the dtypes of :data:`DTYPES`, dense and on the CPU);
* ``None``, booleans, integers, floats (NaN and infinities included) and strings stay as they
  are; tuples, lists and string-keyed dicts are encoded item by item;
* an instance of one of the course's small classes (an input such as ``Cosine(2.0)``) becomes
  ``{"t": "object", "module", "name", "state"}`` - only the grader sends these;
* anything else becomes ``{"t": "other", "type", "repr"}``: the grader learns its type name and a
  short repr, which is all a check needs to say "expected a tensor, got a ndarray".

:func:`decode` is the way back. On the grader's side it runs with ``trusted=False``: it rebuilds
tensors from their bytes after checking the dtype against :data:`DTYPES`, the shape (at most 8
dimensions) against the byte count and the total size against a limit, refuses objects, nests
at most :data:`MAX_DEPTH` deep, and turns "other" into an :class:`Opaque` placeholder. Nothing
in a document can make the grader run code, import a module or allocate more than the limit.

This file is also the kernel's half of the channel: the grader sends its source (with
:data:`KERNEL_HELPER`) as a cell, so the kernel needs nothing of the package to answer. It uses
only the standard library and torch.
"""

import base64
import importlib
import json
import math

import torch

DTYPES = {
    "bool": torch.bool,
    "uint8": torch.uint8,
    "int8": torch.int8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
}
DTYPE_NAMES = {v: k for k, v in DTYPES.items()}
MAX_DEPTH = 8
MAX_ITEMS = 10_000
MAX_DIMS = 8
MAX_TEXT = 2_000
MAX_BYTES = 256 * 2**20  # all tensors of one document together


class WireError(ValueError):
    """A document that is not a valid encoding (malformed, too large, an unknown dtype...)."""


class Opaque:
    """What the grader sees of a returned value it cannot carry: the type's name and a short repr."""

    def __init__(self, type_name: str, text: str = ""):
        self.type_name, self.text = str(type_name)[:100], str(text)[:MAX_TEXT]

    def __repr__(self) -> str:
        return self.text or f"<{self.type_name}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Opaque) and (self.type_name, self.text) == (other.type_name, other.text)

    __hash__ = None


def type_name(value) -> str:
    """The type name a learner should read: that of the original value for an :class:`Opaque`."""
    return value.type_name if isinstance(value, Opaque) else type(value).__name__


# --------------------------------------------------------------------------- encoding
def _tensor(t) -> dict:
    name = DTYPE_NAMES.get(t.dtype)
    if name is None or t.layout != torch.strided or t.device.type == "meta":
        return {"t": "other", "type": type(t).__name__, "repr": f"tensor of dtype {t.dtype}, layout {t.layout}"}
    d = t.detach().cpu().contiguous()
    raw = d.reshape(-1).view(torch.uint8).numpy().tobytes() if d.numel() else b""
    return {
        "t": "tensor",
        "dtype": name,
        "shape": list(d.shape),
        "grad": bool(t.requires_grad),
        "b64": base64.b64encode(raw).decode("ascii"),
    }


def _short_repr(value) -> str:
    try:
        text = repr(value)
    except Exception:  # a repr that fails says nothing more than the type name
        text = ""
    return text if len(text) <= 200 else text[:197] + "..."


def encode(value, depth: int = 0, objects: bool = False):
    """JSON-ready data for ``value`` (see the module's docstring); with ``objects``, instances of
    the course's own classes travel as objects (the grader sends inputs so)."""
    if depth > MAX_DEPTH:
        return {"t": "other", "type": type(value).__name__, "repr": "(nested too deep)"}
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) else value[:MAX_TEXT]
    if isinstance(value, int):
        return value if abs(value) < 2**63 else {"t": "other", "type": "int", "repr": _short_repr(value)}
    if isinstance(value, float):
        return {"t": "float", "v": repr(float(value))} if not math.isfinite(value) else float(value)
    if isinstance(value, torch.Tensor):
        return _tensor(value)
    if isinstance(value, (tuple, list)) and type(value) in (tuple, list) or _is_namedtuple(value):
        kind = "list" if isinstance(value, list) else "tuple"
        if len(value) > MAX_ITEMS:
            return {"t": "other", "type": type(value).__name__, "repr": f"({len(value)} items)"}
        return {"t": kind, "items": [encode(v, depth + 1, objects) for v in value]}
    if type(value) is dict and all(isinstance(k, str) for k in value) and len(value) <= MAX_ITEMS:
        return {"t": "dict", "items": {k: encode(v, depth + 1, objects) for k, v in value.items()}}
    if objects and type(value).__module__.startswith("vae_course.") and hasattr(value, "__dict__"):
        return encode_object(value)
    return {"t": "other", "type": type(value).__name__, "repr": _short_repr(value)}


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def encode_object(value) -> dict:
    """An input object of the course's own classes (state: its attributes, encoded)."""
    cls = type(value)
    return {
        "t": "object",
        "module": cls.__module__,
        "name": cls.__qualname__,
        "state": {k: encode(v) for k, v in vars(value).items()},
    }


def dumps(value) -> str:
    return json.dumps(value, allow_nan=True, separators=(",", ":"))


# --------------------------------------------------------------------------- decoding
def _decode_tensor(doc: dict, budget: list) -> "torch.Tensor":
    dtype = DTYPES.get(doc.get("dtype"))
    shape = doc.get("shape")
    if dtype is None:
        raise WireError(f"unknown dtype {str(doc.get('dtype'))[:40]!r}")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS:
        raise WireError("a tensor's shape must be a list of at most 8 sizes")
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2**31 for n in shape):
        raise WireError("a tensor's sizes must be non-negative integers")
    numel = math.prod(shape)
    nbytes = numel * torch.empty((), dtype=dtype).element_size()
    budget[0] -= nbytes
    if budget[0] < 0:
        raise WireError(f"the tensors are larger than the {MAX_BYTES // 2**20} MiB limit")
    text = doc.get("b64")
    if not isinstance(text, str) or len(text) > 4 * (nbytes // 3 + 1) + 4:
        raise WireError("a tensor's data does not match its shape")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise WireError(f"a tensor's data is not valid base64: {e}") from None
    if len(raw) != nbytes:
        raise WireError(f"a tensor of shape {tuple(shape)} needs {nbytes} bytes, got {len(raw)}")
    t = torch.frombuffer(bytearray(raw), dtype=dtype).clone() if numel else torch.empty(0, dtype=dtype)
    t = t.reshape(shape)
    if doc.get("grad") is True and (t.is_floating_point() or t.is_complex()):
        t.requires_grad_(True)
    return t


def decode(doc, trusted: bool = False, _depth: int = 0, _budget: list | None = None):
    """The value a document describes; ``trusted=False`` (the grader's side) refuses objects and
    raises :class:`WireError` for anything malformed or too large."""
    budget = _budget if _budget is not None else [MAX_BYTES]
    if _depth > MAX_DEPTH + 1:
        raise WireError("nested too deep")
    if doc is None or isinstance(doc, (bool, int, float)):
        return doc
    if isinstance(doc, str):
        return doc[:MAX_TEXT]
    if not isinstance(doc, dict):
        raise WireError(f"unexpected {type(doc).__name__} in the document")
    kind = doc.get("t")
    if kind == "tensor":
        return _decode_tensor(doc, budget)
    if kind == "float":
        value = float(doc.get("v", "nan"))
        return value
    if kind in ("tuple", "list"):
        items = doc.get("items")
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise WireError("a sequence must hold a list of at most 10,000 items")
        out = [decode(v, trusted, _depth + 1, budget) for v in items]
        return tuple(out) if kind == "tuple" else out
    if kind == "dict":
        items = doc.get("items")
        if not isinstance(items, dict) or len(items) > MAX_ITEMS:
            raise WireError("a dict must hold at most 10,000 items")
        return {str(k)[:200]: decode(v, trusted, _depth + 1, budget) for k, v in items.items()}
    if kind == "other":
        return Opaque(str(doc.get("type", "object")), str(doc.get("repr", "")))
    if kind == "object" and trusted:
        cls = importlib.import_module(doc["module"])
        for part in doc["name"].split("."):
            cls = getattr(cls, part)
        obj = cls.__new__(cls)
        obj.__dict__.update({k: decode(v, trusted, _depth + 1, budget) for k, v in doc.get("state", {}).items()})
        return obj
    raise WireError(f"unknown kind {str(kind)[:40]!r}")


def loads(text: str, trusted: bool = False):
    """Parse and decode a document; :class:`WireError` for anything that is not one."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise WireError(f"not a JSON document: {e}") from None
    try:
        return decode(doc, trusted)
    except RecursionError:
        raise WireError("nested too deep") from None


# --------------------------------------------------------------------------- the kernel's side
#: Code the grader runs in the kernel after this module's source: ``_vae_course_grader`` calls a
#: learner's function on decoded inputs and writes the outcome where the grader reads it. The
#: grader saves the random-number generators before judging an exercise and restores them after
#: (not around each call: a check may need two calls to draw different random numbers), so the
#: notebook's later cells see the state they would have seen without the grader's calls.
KERNEL_HELPER = r"""
class _Grader:
    def __init__(self):
        self.calls = {}

    def save_rng(self, path):
        import random
        state = [random.getstate(), torch.get_rng_state()]
        try:
            import numpy
            state.append(numpy.random.get_state())
        except Exception:
            state.append(None)
        self.rng = state
        self._write(path, {"ok": True})

    def restore_rng(self, path):
        import random
        state, self.rng = getattr(self, "rng", None), None
        if state is not None:
            random.setstate(state[0])
            torch.set_rng_state(state[1])
            if state[2] is not None:
                import numpy
                numpy.random.set_state(state[2])
        self._write(path, {"ok": True})

    def _write(self, path, doc):
        import os
        with open(path + ".part", "w") as f:
            f.write(dumps(doc))
        os.replace(path + ".part", path)

    def _lookup(self, name, ns):
        parts = name.split(".")
        if parts[0] not in ns:
            raise NameError(f"name {parts[0]!r} is not defined")
        value = ns[parts[0]]
        for part in parts[1:]:
            value = getattr(value, part)
        return value

    def resolve(self, name, ns, path):
        try:
            fn = self._lookup(name, ns)
            doc = {"ok": True, "callable": callable(fn), "type": type(fn).__name__,
                   "module": str(getattr(fn, "__module__", "") or ""),
                   "qualname": str(getattr(fn, "__qualname__", "") or "")}
        except Exception as e:
            doc = {"ok": False, "error": [type(e).__name__, str(e)[:500]]}
        self._write(path, doc)

    def call(self, key, name, text, path, ns):
        args, kwargs = decode(__import__("json").loads(text), trusted=True)
        before = [a.detach().clone() if isinstance(a, torch.Tensor) else None for a in args]
        fn = self._lookup(name, ns)
        try:
            out = fn(*args, **kwargs)
        except (Exception, SystemExit) as e:
            self._write(path, {"ok": False, "error": [type(e).__name__, str(e)[:500]]})
            return
        changed = {}
        for i, (a, b) in enumerate(zip(args, before)):
            if b is not None and (a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a.detach(), b)):
                changed[str(i)] = encode(a)
        leaves = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        while len(self.calls) >= 8:  # keep the graphs of the last few calls only
            self.calls.pop(next(iter(self.calls)))
        self.calls[key] = (out, leaves)
        self._write(path, {"ok": True, "value": encode(out), "changed": changed})

    def backward(self, key, text, path):
        out, leaves = self.calls.pop(key)
        try:
            grad_out = decode(__import__("json").loads(text), trusted=True)
            grads = torch.autograd.grad(out, leaves, grad_out, allow_unused=True)
            self._write(path, {"ok": True, "grads": [encode(g) for g in grads]})
        except Exception as e:
            self._write(path, {"ok": False, "error": [type(e).__name__, str(e)[:500]]})


_vae_course_grader = _Grader()
"""
