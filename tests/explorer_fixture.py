"""A small notebook with a z-slider explorer whose cell exported its decoder, as a saved notebook holds it
(the widget's state in the notebook's metadata, the decoder as an output): for tests/test_explorer.py and
tests/browser/test_browser_explorer.py."""

from __future__ import annotations

import torch

from lecture import slide_metadata as sm
from vae_course.explorer import DECODER_MIME, export_decoder
from vae_course.models.vae import VAE

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


def explorer_notebook(model=None, sliders=SLIDERS, with_widget: bool = True):
    """(notebook, export): a notebook whose cell 1 is an explorer (widget + decoder output)."""
    import nbformat

    model = model if model is not None else small_vae()
    spec = export_decoder(model)
    state = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s0", "IPY_MODEL_s1", "IPY_MODEL_out"]}},
        "s0": {"model_name": "FloatSliderModel", "state": dict(sliders[0])},
        "s1": {"model_name": "FloatSliderModel", "state": dict(sliders[1])},
        "out": {"model_name": "OutputModel", "state": {"outputs": []}},
    }
    outputs = [nbformat.v4.new_output("display_data", data={DECODER_MIME: spec, "text/plain": "decoder exported"})]
    if with_widget:
        view = {"model_id": "box", "version_major": 2, "version_minor": 0}
        outputs.insert(0, nbformat.v4.new_output("display_data", data={sm.WIDGET_MIME: view, "text/plain": "interact"}))
    cells = [
        nbformat.v4.new_markdown_cell("# 06 · A small explorer\n\n## The latent plane\n\ntext"),
        nbformat.v4.new_code_cell("interact(show_latent_point, ...)\nembed_decoder(vae2)", outputs=outputs),
    ]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["widgets"] = {sm.WIDGET_STATE_MIME: {"state": state, "version_major": 2, "version_minor": 0}}
    return nb, spec
