"""vae_course.models.ae.code_sensitivity: how a decoder answers when the code itself moves (notebook 03)."""

import pytest
import torch
from torch import nn

from vae_course.denoising import code_sensitivity
from vae_course.models.ae import MLPAutoencoder


def _linear_model(scale: float) -> MLPAutoencoder:
    model = MLPAutoencoder(4, 2, hidden=(), linear=True, output="identity")
    with torch.no_grad():
        for p in model.parameters():
            nn.init.zeros_(p)
        model.encoder[1].weight[0, 0] = scale  # z = scale * (x_0, x_1)
        model.encoder[1].weight[1, 1] = scale
        model.decoder[0].weight[0, 0] = 1 / scale  # image pixel 0 and 1 = z / scale
        model.decoder[0].weight[1, 1] = 1 / scale
    return model


def test_a_code_step_is_scaled_by_the_code_spacing():
    x = torch.zeros(3, 1, 4, 4)
    x.view(3, -1)[:, 0] = torch.tensor([0.2, 0.4, 0.7])  # images stay inside [0, 1]
    x.view(3, -1)[:, 1] = 0.5
    small, large = _linear_model(1.0), _linear_model(10.0)
    a = code_sensitivity(small, x, 0.5, torch.Generator().manual_seed(0))
    b = code_sensitivity(large, x, 0.5, torch.Generator().manual_seed(0))
    # the same decoder up to a rescaled code: the same answer
    assert torch.allclose(a.change, b.change, atol=1e-6) and torch.allclose(a.relative, b.relative, atol=1e-5)
    # a linear decoder moved half the nearest-code distance changes by a quarter of the neighbour gap
    assert torch.allclose(a.relative, torch.full((3,), 0.25), atol=1e-5)
    assert a.change.shape == a.neighbour.shape == (3,)


def test_a_flat_decoder_does_not_respond():
    torch.manual_seed(0)
    model = MLPAutoencoder(4, 3, hidden=(5,))
    with torch.no_grad():
        model.decoder[-2].weight.zero_()  # the image no longer depends on the code
    s = code_sensitivity(model, torch.rand(6, 1, 4, 4), 0.5)
    assert s.change.abs().max() < 1e-12


def test_bad_input_is_a_clear_error():
    model = MLPAutoencoder(4, 2)
    with pytest.raises(ValueError, match="at least 2 images"):
        code_sensitivity(model, torch.rand(1, 1, 4, 4))
    with pytest.raises(ValueError, match="fraction must be > 0"):
        code_sensitivity(model, torch.rand(3, 1, 4, 4), 0.0)
