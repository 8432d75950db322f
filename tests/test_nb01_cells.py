"""Keep notebook 01's written-out model equal to vae_course.models.ae.MLPAutoencoder."""

import torch
from torch import nn

from tests.notebook_cells import code_cell
from vae_course.models.ae import MLPAutoencoder

NB = "01_autoencoder.ipynb"


def _cell(marker: str) -> str:
    return code_cell(NB, marker)


def test_written_out_model_equals_the_package_model():
    src = _cell("def build_mlp_autoencoder")
    src = src.split("encoder, decoder = build_mlp_autoencoder")[0]  # only the definition
    ns = {"nn": nn, "torch": torch}
    exec(src, ns)
    for shape, hidden, k in [((1, 8, 8), (256, 128), 2), ((1, 28, 28), (64, 32), 5)]:
        d = shape[0] * shape[1] * shape[2]
        encoder, decoder = ns["build_mlp_autoencoder"](d, shape, hidden, k)
        torch.manual_seed(0)
        model = MLPAutoencoder(image_size=shape[-1], latent_dim=k, hidden=hidden)
        encoder.load_state_dict(model.encoder.state_dict())  # fails if the layers differ
        decoder.load_state_dict(model.decoder.state_dict())
        x = torch.rand(3, *shape)
        out = model(x)
        assert torch.equal(encoder(x), out.z)
        assert torch.equal(decoder(out.z), out.recon)


def test_exercise_solutions_in_the_notebook_pass_their_checks():
    from vae_course.exercises import check

    for marker, ex, name in [
        ("def pca_recon", "01.3", "pca_recon"),
        ("def bce_from_logits", "01.1", "bce_from_logits"),
    ]:
        ns = {"torch": torch}
        exec(_cell(marker), ns)
        assert check(ex, ns[name]).passed
