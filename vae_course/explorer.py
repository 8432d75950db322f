"""A small MLP decoder as plain JSON, so the web edition can run a notebook's explorer in the page.

The site and the decks cannot run PyTorch (no kernel in a browser), but the decoders behind the
z-slider explorers of notebooks 01, 06 and 09 are a few dense layers: ``export_decoder`` writes their
weights (float32, little-endian, base64) with the activations and the output map, and a forward pass
of about thirty lines of JavaScript (lecture/live_explorer.py) draws the same image as
``decode_point(model, z)``. ``decode_spec`` is that forward pass in numpy, the reference the tests
compare both sides with.

The notebook side is one line in an explorer's cell, ``embed_decoder(model)``: it displays the
exported decoder as an output of its own MIME type (``DECODER_MIME``, with a one-line text for
JupyterLab), so the lecture edition, the site and the decks read it from the committed notebook with
no re-execution. Only models whose decoder is made of ``nn.Linear`` and ``nn.ReLU`` (and an
``nn.Unflatten``) are exported; anything else is refused, and every export checks itself against the
torch decoder at random points before it is returned.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .models import decode_codes

DECODER_MIME = "application/vnd.vae-course.decoder+json"
FORMAT = "vae-course-mlp-decoder/1"
#: the largest difference, in pixel values in [0, 1], an export may show against the torch decoder
EXPORT_TOLERANCE = 1e-5


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode("ascii")


def _unb64(s: str, shape: tuple[int, ...]) -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype="<f4").reshape(shape)


def _decoder_modules(model: nn.Module) -> list[nn.Module]:
    """The decoder's layers in order, whatever the model nests them in (a VAE's ``decoder.net``, an
    autoencoder's ``decoder``)."""
    decoder = getattr(model, "decoder", None)
    if decoder is None:
        raise TypeError(f"{type(model).__name__} has no `decoder` to export")
    return [m for m in decoder.modules() if not list(m.children())]


def _output_map(model: nn.Module) -> str:
    """How the last layer's output becomes pixels: "sigmoid" (logits) or "clamp" (values)."""
    output = getattr(model, "output", "logits")  # a VAE's decoder always outputs logits
    return {"logits": "sigmoid", "sigmoid": "sigmoid", "identity": "clamp"}[output]


def export_decoder(model: nn.Module, path: str | Path | None = None, check_points: int = 64) -> dict:
    """The model's decoder as a JSON-able dict (written to ``path`` too, if given).

    Keys: ``format``; ``latent_dim``; ``image_shape`` [H, W]; ``layers``, each with ``in``, ``out``,
    ``weight`` (base64 float32 of the (out, in) matrix, row-major), ``bias`` (base64 float32) and
    ``activation`` ("relu" or "none"); ``output`` ("sigmoid" or "clamp" to [0, 1]).
    Raises TypeError for a decoder that is not a stack of dense layers and ReLUs.
    """
    layers: list[dict] = []
    for m in _decoder_modules(model):
        if isinstance(m, nn.Linear):
            w = m.weight.detach().cpu().float().numpy()
            b = m.bias.detach().cpu().float().numpy() if m.bias is not None else np.zeros(w.shape[0], "f4")
            layer = {"in": w.shape[1], "out": w.shape[0], "weight": _b64(w), "bias": _b64(b), "activation": "none"}
            layers.append(layer)
        elif isinstance(m, nn.ReLU):
            if not layers or layers[-1]["activation"] != "none":
                raise TypeError("a ReLU that does not follow a dense layer cannot be exported")
            layers[-1]["activation"] = "relu"
        elif not isinstance(m, (nn.Unflatten, nn.Identity)):
            raise TypeError(f"only dense layers and ReLUs can be exported, not {type(m).__name__}")
    if not layers:
        raise TypeError(f"{type(model).__name__}'s decoder has no dense layer")
    side = int(model.image_size)
    if layers[-1]["out"] != side * side:
        raise TypeError(f"the decoder outputs {layers[-1]['out']} values, not {side}x{side} pixels")
    spec = {
        "format": FORMAT,
        "latent_dim": int(model.latent_dim),
        "image_shape": [side, side],
        "layers": layers,
        "output": _output_map(model),
    }
    z = torch.randn(check_points, spec["latent_dim"], generator=torch.Generator().manual_seed(0)) * 2
    gap = float(np.abs(decode_spec(spec, z.numpy()) - decode_codes(model, z)[:, 0].numpy()).max())
    if gap > EXPORT_TOLERANCE:
        raise ValueError(f"the export differs from the torch decoder by {gap:.2e} (tolerance {EXPORT_TOLERANCE})")
    if path is not None:
        Path(path).write_text(json.dumps(spec), encoding="utf-8")
    return spec


def decode_spec(spec: dict, z) -> np.ndarray:
    """Images (N, H, W) in [0, 1] decoded from codes z (N, latent_dim) or (latent_dim,) by an exported
    decoder, in numpy (float32 weights, float64 arithmetic)."""
    if spec.get("format") != FORMAT:
        raise ValueError(f"not an exported decoder ({FORMAT}): format {spec.get('format')!r}")
    h = np.atleast_2d(np.asarray(z, dtype=np.float64))
    for layer in spec["layers"]:
        w = _unb64(layer["weight"], (layer["out"], layer["in"]))
        h = h @ w.T.astype(np.float64) + _unb64(layer["bias"], (layer["out"],))
        if layer["activation"] == "relu":
            h = np.maximum(h, 0.0)
    h = 1.0 / (1.0 + np.exp(-h)) if spec["output"] == "sigmoid" else np.clip(h, 0.0, 1.0)
    return h.reshape(len(h), *spec["image_shape"])


def embed_decoder(model: nn.Module) -> None:
    """Display the exported decoder as a notebook output (``DECODER_MIME``; JupyterLab shows one line
    of text), for the web edition's live explorer. Call it in the explorer's cell (it returns nothing,
    so no echo of the weights is saved when it is the cell's last line)."""
    from IPython.display import display

    spec = export_decoder(model)
    sizes = " -> ".join([str(spec["latent_dim"]), *(str(layer["out"]) for layer in spec["layers"])])
    text = f"decoder exported for the web edition's live explorer (dense layers {sizes})"
    display({DECODER_MIME: spec, "text/plain": text}, raw=True)
