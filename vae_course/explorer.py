"""A notebook's small decoder as plain JSON, so the web edition can run its explorer in the page.

The site and the decks cannot run PyTorch (no kernel in a browser), but the decoders behind the
z-slider explorers of notebooks 01, 06 and 09 are a few dense layers: ``export_decoder`` writes their
weights (float16 where that keeps the decoder within ``HALF_TOLERANCE`` of torch, else float32;
little-endian, base64) with the activations and the output map, and a forward pass
of about thirty lines of JavaScript (lecture/live_explorer.py) draws the same image as
``decode_point(model, z)``. ``decode_spec`` is that forward pass in numpy, the reference the tests
compare both sides with.

08's code explorer picks a codebook index, and its VQ-VAE decoder is convolutional: for a model with a
codebook (``quantizer``) ``export_decoder`` writes the codebook, a grid of code indices (a ``background``
code everywhere, the explorer's code at one ``position``: what ``vq.code_footprint`` decodes) and the
decoder's ``nn.Conv2d`` / ``nn.ConvTranspose2d`` layers with their ReLUs (format ``CODE_FORMAT``); the
page's runtime then runs the convolutions (a dependency-free transposed-convolution pass), and
``decode_spec`` takes code indices instead of points.

The notebook side is one line in an explorer's cell, ``embed_decoder(model)``: it displays the
exported decoder as an output of its own MIME type (``DECODER_MIME``, with a one-line text for
JupyterLab), so the lecture edition, the site and the decks read it from the committed notebook with
no re-execution. Only decoders made of ``nn.Linear`` and ``nn.ReLU`` (and an ``nn.Unflatten``), or a
VQ-VAE's ``nn.Conv2d``, ``nn.ConvTranspose2d`` and ``nn.ReLU`` are exported; anything else is refused,
and every export checks itself against the torch decoder (at random points; at every code) before it
is returned.
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
#: a VQ-VAE's decoder: codebook, code grid and convolutions (08's code explorer)
CODE_FORMAT = "vae-course-code-decoder/1"
#: the largest difference, in pixel values in [0, 1], an export may show against the torch decoder
EXPORT_TOLERANCE = 1e-5
#: an export's weights are stored as float16 (half the bytes: 06's notebook carried 2.5 MB of float32
#: decoder weights) where the float16 decoder stays this close to the torch decoder at the check points
#: (pixel values in [0, 1]; the explorers of 01, 06, 08 and 09 measured 4.5e-4 to 8.7e-4 over every
#: point of their sliders); otherwise they stay float32
HALF_TOLERANCE = 1e-3


_DTYPES = {"float32": "<f4", "float16": "<f2"}


def _b64(a: np.ndarray, dtype: str = "float32") -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=_DTYPES[dtype]).tobytes()).decode("ascii")


def _unb64(s: str, shape: tuple[int, ...], dtype: str = "float32") -> np.ndarray:
    return np.frombuffer(base64.b64decode(s), dtype=_DTYPES[dtype]).astype(np.float32).reshape(shape)


def _as_float16(spec: dict) -> dict:
    """The float32 export with every weight, bias and codebook rounded to float16 (``dtype``: "float16")."""
    half = dict(spec, dtype="float16")
    half["layers"] = [
        dict(layer, **{k: _b64(_unb64(layer[k], (-1,)), "float16") for k in ("weight", "bias")})
        for layer in spec["layers"]
    ]
    if "codebook" in spec:
        half["codebook"] = _b64(_unb64(spec["codebook"], (-1,)), "float16")
    return half


def _checked(spec: dict, inputs: np.ndarray, reference: np.ndarray, dtype: str, path) -> dict:
    """The float32 export, checked against the torch decoder's images ``reference`` at ``inputs`` (to
    EXPORT_TOLERANCE); its float16 version instead where ``dtype`` asks for it and it stays within
    HALF_TOLERANCE. Written to ``path`` if given."""
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, got {dtype!r}")
    gap = float(np.abs(decode_spec(spec, inputs) - reference).max())
    if gap > EXPORT_TOLERANCE:
        raise ValueError(f"the export differs from the torch decoder by {gap:.2e} (tolerance {EXPORT_TOLERANCE})")
    if dtype == "float16":
        half = _as_float16(spec)
        if float(np.abs(decode_spec(half, inputs) - reference).max()) <= HALF_TOLERANCE:
            spec = half
    if path is not None:
        Path(path).write_text(json.dumps(spec), encoding="utf-8")
    return spec


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


def export_decoder(
    model: nn.Module,
    path: str | Path | None = None,
    check_points: int = 256,
    background: int | None = None,
    position: tuple[int, int] | None = None,
    dtype: str = "float16",
    within: float | None = None,
) -> dict:
    """The model's decoder as a JSON-able dict (written to ``path`` too, if given).

    A model with a codebook (a VQ-VAE) is exported by ``export_code_decoder`` (``background`` and
    ``position`` go to it); every other model must have a dense decoder, checked at ``check_points``
    points from N(0, 4), or, given ``within`` (the explorer's sliders span [-within, within]), uniform
    over that box and at its corners:

    Keys: ``format``; ``latent_dim``; ``image_shape`` [H, W]; ``layers``, each with ``in``, ``out``,
    ``weight`` (base64 little-endian floats of the (out, in) matrix, row-major), ``bias`` (base64) and
    ``activation`` ("relu" or "none"); ``output`` ("sigmoid" or "clamp" to [0, 1]); ``dtype``
    ("float16" where that stays within HALF_TOLERANCE of torch and ``dtype`` asks for it; absent for
    float32).
    Raises TypeError for a decoder that is not a stack of dense layers and ReLUs.
    """
    if hasattr(model, "quantizer"):
        return export_code_decoder(model, path, background=background, position=position, dtype=dtype)
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
    gen = torch.Generator().manual_seed(0)
    if within is None:  # points from N(0, 4)
        z = torch.randn(check_points, spec["latent_dim"], generator=gen) * 2
    else:  # the explorer's box [-within, within]^d: uniform points and every corner
        corners = torch.cartesian_prod(*[torch.tensor([-1.0, 1.0])] * spec["latent_dim"]).reshape(
            -1, spec["latent_dim"]
        )
        z = torch.cat([torch.rand(check_points, spec["latent_dim"], generator=gen) * 2 - 1, corners]) * within
    return _checked(spec, z.numpy(), decode_codes(model, z)[:, 0].numpy(), dtype, path)


def _conv_layers(model: nn.Module) -> list[dict]:
    """A VQ-VAE decoder's convolutions, each with its ReLU (if one follows), as JSON-able dicts."""
    layers: list[dict] = []
    for m in _decoder_modules(model):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            k, s, p = m.kernel_size, m.stride, m.padding
            plain = m.groups == 1 and m.dilation == (1, 1) and isinstance(p, tuple) and m.padding_mode == "zeros"
            plain = plain and getattr(m, "output_padding", (0, 0)) == (0, 0)
            if not plain or k[0] != k[1] or s[0] != s[1] or p[0] != p[1]:
                raise TypeError(f"only square, ungrouped, undilated, zero-padded convolutions can be exported: {m}")
            w = m.weight.detach().cpu().float().numpy()  # Conv2d (out, in, k, k); ConvTranspose2d (in, out, k, k)
            b = m.bias.detach().cpu().float().numpy() if m.bias is not None else np.zeros(m.out_channels, "f4")
            kind = "conv_transpose" if isinstance(m, nn.ConvTranspose2d) else "conv"
            layers.append({"kind": kind, "in": m.in_channels, "out": m.out_channels, "kernel": k[0], "stride": s[0],
                           "padding": p[0], "weight": _b64(w), "bias": _b64(b), "activation": "none"})  # fmt: skip
        elif isinstance(m, nn.ReLU):
            if not layers or layers[-1]["activation"] != "none":
                raise TypeError("a ReLU that does not follow a convolution cannot be exported")
            layers[-1]["activation"] = "relu"
        elif not isinstance(m, nn.Identity):
            raise TypeError(f"only convolutions and ReLUs can be exported from a VQ-VAE, not {type(m).__name__}")
    if not layers:
        raise TypeError(f"{type(model).__name__}'s decoder has no convolution")
    return layers


def export_code_decoder(
    model: nn.Module,
    path: str | Path | None = None,
    background: int | None = None,
    position: tuple[int, int] | None = None,
    dtype: str = "float16",
) -> dict:
    """A VQ-VAE's decoder as a JSON-able dict, for an explorer that picks one code: the image of a code
    grid filled with ``background`` (default: code 0) with the picked code at ``position`` (default:
    the centre, as ``vq.code_footprint`` places it).

    Keys: ``format`` (``CODE_FORMAT``); ``num_codes``, ``code_dim`` and ``codebook`` (base64,
    (num_codes, code_dim), row-major); ``grid`` [h, w]; ``background``; ``position`` [row, column];
    ``layers``, each with ``kind`` ("conv": torch's Conv2d, weight (out, in, k, k); "conv_transpose":
    ConvTranspose2d, weight (in, out, k, k)), ``in``, ``out``, ``kernel``, ``stride``, ``padding``,
    ``weight``, ``bias`` and ``activation``; ``image_shape`` [H, W]; ``output`` ("sigmoid").
    The export is checked against the torch decoder at every code.
    """
    codebook = model.quantizer.codebook.detach().cpu().float().numpy()  # (num_codes, code_dim)
    grid = [int(n) for n in model.code_shape[1:]]
    background = 0 if background is None else int(background)
    position = [grid[0] // 2, grid[1] // 2] if position is None else [int(v) for v in position]
    if not 0 <= background < model.num_codes:
        raise ValueError(f"background must be a code in [0, {model.num_codes - 1}], got {background}")
    if not (0 <= position[0] < grid[0] and 0 <= position[1] < grid[1]):
        raise ValueError(f"position {position} is outside the {grid[0]}x{grid[1]} code grid")
    side = int(model.image_size)
    spec = {
        "format": CODE_FORMAT,
        "num_codes": int(model.num_codes),
        "code_dim": int(codebook.shape[1]),
        "codebook": _b64(codebook),
        "grid": grid,
        "background": background,
        "position": position,
        "layers": _conv_layers(model),
        "image_shape": [side, side],
        "output": "sigmoid",
    }
    codes = torch.arange(model.num_codes)
    with torch.no_grad():
        ref = model.to_image(model.decode_indices(code_grids(spec, codes).to(next(model.parameters()).device)))
    if tuple(ref.shape[2:]) != tuple(spec["image_shape"]):
        raise TypeError(f"the decoder outputs {tuple(ref.shape[2:])} images, not {side}x{side}")
    return _checked(spec, codes.numpy(), ref[:, 0].cpu().numpy(), dtype, path)


def code_grids(spec: dict, codes) -> torch.Tensor:
    """The code grids (N, h, w) an exported code decoder decodes for codes (N,): ``background``
    everywhere, each code at ``position``."""
    codes = torch.as_tensor(np.atleast_1d(np.asarray(codes)), dtype=torch.long)
    g = torch.full((len(codes), *spec["grid"]), spec["background"], dtype=torch.long)
    g[:, spec["position"][0], spec["position"][1]] = codes
    return g


def _conv(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """torch's conv2d (x (N, I, H, W), w (O, I, k, k)), zero padding, in float64."""
    k = w.shape[-1]
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for ky in range(k):
        for kx in range(k):
            patch = x[:, :, ky : ky + stride * (ho - 1) + 1 : stride, kx : kx + stride * (wo - 1) + 1 : stride]
            out += np.einsum("nihw,oi->nohw", patch, w[:, :, ky, kx])
    return out


def _conv_transpose(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """torch's conv_transpose2d (x (N, I, H, W), w (I, O, k, k)), no output padding, in float64: every
    input pixel adds its kernel, scaled, at stride-spaced places; the border ``pad`` is cut off."""
    k, (n, _, h, wd) = w.shape[-1], x.shape
    full = np.zeros((n, w.shape[1], (h - 1) * stride + k, (wd - 1) * stride + k))
    for ky in range(k):
        for kx in range(k):
            full[:, :, ky : ky + stride * (h - 1) + 1 : stride, kx : kx + stride * (wd - 1) + 1 : stride] += np.einsum(
                "nihw,io->nohw", x, w[:, :, ky, kx]
            )
    return full[:, :, pad : full.shape[2] - pad, pad : full.shape[3] - pad]


def _decode_codes_spec(spec: dict, codes) -> np.ndarray:
    dt = spec.get("dtype", "float32")
    book = _unb64(spec["codebook"], (spec["num_codes"], spec["code_dim"]), dt).astype(np.float64)
    h = book[code_grids(spec, codes).numpy()].transpose(0, 3, 1, 2)  # (N, D, h, w)
    for layer in spec["layers"]:
        k, n_in, n_out = layer["kernel"], layer["in"], layer["out"]
        if layer["kind"] == "conv":
            w = _unb64(layer["weight"], (n_out, n_in, k, k), dt).astype(np.float64)
            h = _conv(h, w, layer["stride"], layer["padding"])
        else:
            w = _unb64(layer["weight"], (n_in, n_out, k, k), dt).astype(np.float64)
            h = _conv_transpose(h, w, layer["stride"], layer["padding"])
        h = h + _unb64(layer["bias"], (n_out,), dt)[None, :, None, None]
        if layer["activation"] == "relu":
            h = np.maximum(h, 0.0)
    return 1.0 / (1.0 + np.exp(-h[:, 0]))


def decode_spec(spec: dict, z) -> np.ndarray:
    """Images (N, H, W) in [0, 1] decoded from codes z (N, latent_dim) or (latent_dim,) by an exported
    decoder, in numpy (its float16 or float32 weights, float64 arithmetic). For a code decoder (``CODE_FORMAT``), z
    are code indices (N,) or one index: each decoded at the spec's position on its background."""
    if spec.get("format") == CODE_FORMAT:
        return _decode_codes_spec(spec, z)
    if spec.get("format") != FORMAT:
        raise ValueError(f"not an exported decoder ({FORMAT}): format {spec.get('format')!r}")
    h = np.atleast_2d(np.asarray(z, dtype=np.float64))
    for layer in spec["layers"]:
        w = _unb64(layer["weight"], (layer["out"], layer["in"]), spec.get("dtype", "float32"))
        h = h @ w.T.astype(np.float64) + _unb64(layer["bias"], (layer["out"],), spec.get("dtype", "float32"))
        if layer["activation"] == "relu":
            h = np.maximum(h, 0.0)
    h = 1.0 / (1.0 + np.exp(-h)) if spec["output"] == "sigmoid" else np.clip(h, 0.0, 1.0)
    return h.reshape(len(h), *spec["image_shape"])


def embed_decoder(
    model: nn.Module,
    background: int | None = None,
    position: tuple[int, int] | None = None,
    within: float | None = None,
    quiet: bool = False,
) -> None:
    """Display the exported decoder as a notebook output (``DECODER_MIME``; JupyterLab shows one line
    of text), for the web edition's live explorer. Call it in the explorer's cell (it returns nothing,
    so no echo of the weights is saved when it is the cell's last line). For a VQ-VAE, ``background``
    and ``position`` say where the explorer's code sits (``export_code_decoder``); ``within``: the
    explorer's sliders span [-within, within] (the float16 check is made there); ``quiet``: the
    one-line text is empty, so a learner's output shows nothing of the export."""
    from IPython.display import display

    spec = export_decoder(model, background=background, position=position, within=within)
    text = "" if quiet else f"decoder exported for the web edition's live explorer ({describe(spec)})"
    display({DECODER_MIME: spec, "text/plain": text}, raw=True)


def describe(spec: dict) -> str:
    """The exported decoder's layers in a few words ("dense layers 2 -> 64 -> 784"; for a code decoder
    its codebook, grid and convolutions)."""
    if spec["format"] == CODE_FORMAT:
        kinds = {"conv": "conv", "conv_transpose": "transposed conv"}
        convs = ", ".join(
            f"{kinds[layer['kind']]} {layer['in']} -> {layer['out']} ({layer['kernel']}x{layer['kernel']}"
            + (f", stride {layer['stride']})" if layer["stride"] != 1 else ")")
            for layer in spec["layers"]
        )
        grid = f"{spec['grid'][0]}x{spec['grid'][1]}"
        return f"codebook {spec['num_codes']}x{spec['code_dim']}, a {grid} code grid, {convs}"
    return "dense layers " + " -> ".join([str(spec["latent_dim"]), *(str(layer["out"]) for layer in spec["layers"])])
