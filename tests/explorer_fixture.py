"""A small notebook with a z-slider explorer whose cell exported its decoder, as a saved notebook holds it
(the widget's state in the notebook's metadata, the decoder as an output), and one with a code explorer
(an integer slider picking a VQ-VAE code, as 08's): for tests/test_explorer.py and
tests/browser/test_browser_explorer.py."""

from __future__ import annotations

import torch

from lecture import slide_metadata as sm
from vae_course.explorer import DECODER_MIME, export_decoder
from vae_course.models.vae import VAE
from vae_course.models.vq import VQVAE

CODE_SLIDERS = [{"description": "code", "min": 0, "max": 15, "step": 1, "value": 5}]
SLIDERS = [
    {"description": "z1", "min": -3.0, "max": 3.0, "step": 0.1, "value": 0.0},
    {"description": "z2", "min": -3.0, "max": 3.0, "step": 0.1, "value": 0.0},
]


def small_vae(seed: int = 0, image_size: int = 8, hidden: int = 32) -> VAE:
    """An untrained two-layer-decoder VAE with seeded weights (larger than default init, so that its
    images vary over the sliders' range)."""
    torch.manual_seed(seed)
    model = VAE(image_size, 2, hidden, decoder_layers=2).eval()
    with torch.no_grad():
        for p in model.decoder.parameters():
            p.mul_(3.0)
    return model


def snapshot_picture() -> dict:
    """The picture the widget showed when saved (a 4x4 grey PNG, with alt text), as an Output widget holds it."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (4, 4), 128).save(buf, format="PNG")
    alt = "The explorer's figure at its default setting: a flat grey square standing in for the decoded image."
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"), "text/plain": "<Figure>"},
        "metadata": {"image/png": {"alt": alt}},
    }


def small_vqvae(seed: int = 0) -> VQVAE:
    """An untrained VQ-VAE for 12x12 images (a 3x3 code grid, 16 codes of 4 numbers, 8 channels) with seeded
    weights, its codebook and decoder scaled up so that each code draws a visibly different image."""
    torch.manual_seed(seed)
    model = VQVAE(num_codes=16, code_dim=4, hidden=8, image_size=12).eval()
    with torch.no_grad():
        model.quantizer.codebook.mul_(40.0)
        for p in model.decoder.parameters():
            p.mul_(2.0)
    return model


def explorer_notebook(model=None, sliders=SLIDERS, with_widget: bool = True, background: int = 2, before=()):
    """(notebook, export): a notebook whose cell 1 is an explorer (widget + decoder output; `before`:
    outputs the cell shows before its widget). A model with a codebook takes `background` and an integer
    slider (``CODE_SLIDERS``)."""
    import nbformat

    model = model if model is not None else small_vae()
    code = hasattr(model, "quantizer")
    spec = export_decoder(model, background=background) if code else export_decoder(model)
    kind = "IntSliderModel" if code else "FloatSliderModel"
    names = [f"s{k}" for k in range(len(sliders))]
    state = {
        "box": {
            "model_name": "VBoxModel",
            "state": {"children": [f"IPY_MODEL_{n}" for n in names] + ["IPY_MODEL_out"]},
        },
        **{n: {"model_name": kind, "state": dict(s)} for n, s in zip(names, sliders)},
        "out": {"model_name": "OutputModel", "state": {"outputs": [snapshot_picture()]}},
    }
    outputs = [nbformat.v4.new_output("display_data", data={DECODER_MIME: spec, "text/plain": "decoder exported"})]
    if with_widget:
        view = {"model_id": "box", "version_major": 2, "version_minor": 0}
        outputs.insert(0, nbformat.v4.new_output("display_data", data={sm.WIDGET_MIME: view, "text/plain": "interact"}))
    outputs = [*before, *outputs]
    cells = [
        nbformat.v4.new_markdown_cell("# 06 · A small explorer\n\n## The latent plane\n\ntext"),
        nbformat.v4.new_code_cell("interact(show_latent_point, ...)\nembed_decoder(vae2)", outputs=outputs),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["widgets"] = {sm.WIDGET_STATE_MIME: {"state": state, "version_major": 2, "version_minor": 0}}
    return nb, spec
