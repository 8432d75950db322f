"""The model contract (vae_course.models): every model codes, decodes to logits and turns them into images
the same way, and the helpers built on the contract work for all of them."""

import pytest
import torch
from torch import nn

from vae_course.models import Model, decode_codes, decode_point, encode_images, eval_mode
from vae_course.models.ae import ConvAutoencoder, MLPAutoencoder
from vae_course.models.vae import CVAE, VAE
from vae_course.models.vq import VQVAE

SIZE = 8


def unconditional_models():
    torch.manual_seed(0)
    return {
        "MLPAutoencoder": MLPAutoencoder(image_size=SIZE, latent_dim=2, hidden=(16,)),
        "ConvAutoencoder": ConvAutoencoder(image_size=SIZE, latent_dim=2),
        "VAE": VAE(image_size=SIZE, latent_dim=2, hidden=16),
        "VQVAE": VQVAE(num_codes=8, code_dim=4, hidden=8, image_size=SIZE),
    }


@pytest.mark.parametrize("name", list(unconditional_models()))
def test_every_model_keeps_the_contract(name):
    model = unconditional_models()[name]
    assert isinstance(model, Model)
    x = torch.rand(3, 1, SIZE, SIZE)
    z = encode_images(model, x)
    logits = model.decode(z)
    assert logits.shape == x.shape
    images = model.to_image(logits)
    assert torch.allclose(images, torch.sigmoid(logits))  # every one of these models outputs logits
    assert torch.allclose(model.reconstruct(x), images, atol=1e-6)
    assert torch.allclose(decode_codes(model, z), images, atol=1e-6)
    assert model.training  # the helpers restored the mode they found


def test_cvae_keeps_the_contract_with_a_class():
    torch.manual_seed(0)
    model = CVAE(image_size=SIZE, latent_dim=2, hidden=16, n_classes=3)
    x, c = torch.rand(4, 1, SIZE, SIZE), torch.tensor([0, 1, 2, 1])
    assert isinstance(model, Model)
    z = model.code(x, c)
    assert torch.allclose(model.reconstruct(x, c), model.to_image(model.decode(z, c)))
    assert torch.allclose(model.generate(c, z=z), model.reconstruct(x, c))


def test_the_vae_code_is_the_sample_at_zero_noise():
    model = unconditional_models()["VAE"]
    x = torch.rand(5, 1, SIZE, SIZE)
    assert torch.equal(model.code(x), model(x, eps=torch.zeros(5, 2)).z)  # z = mu + sigma * 0


def test_the_vq_code_changes_nothing_even_in_train_mode():
    torch.manual_seed(0)
    model = VQVAE(num_codes=8, code_dim=4, hidden=8, image_size=SIZE, ema=True, reset_dead=True, reset_every=1)
    x = torch.rand(6, 1, SIZE, SIZE)
    model(x)  # one training step's forward: the k-means start
    before = {k: v.clone() for k, v in model.state_dict().items()}
    z = model.code(x)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with eval_mode(model):
        assert torch.equal(z, model.quantizer(model.encode(x)).z_q)  # the forward's z_q, in eval mode


def test_eval_mode_restores_the_mode_even_when_the_block_raises():
    model = nn.Sequential(nn.Dropout(0.5))
    with eval_mode(model):
        assert not model.training
    assert model.training
    model.eval()
    with pytest.raises(RuntimeError):
        with eval_mode(model):
            model.train()
            raise RuntimeError("boom")
    assert not model.training


def test_decode_point_any_latent_size():
    model = VAE(image_size=SIZE, latent_dim=3, hidden=16)
    img = decode_point(model, [0.1, -0.2, 0.3])
    assert img.shape == (SIZE, SIZE)
    assert torch.allclose(img, model.to_image(model.decode(torch.tensor([[0.1, -0.2, 0.3]])))[0, 0].detach())
    with pytest.raises(ValueError, match="expected 3 latent values"):
        decode_point(model, [0.0, 1.0])


@pytest.mark.parametrize("cls", [MLPAutoencoder, ConvAutoencoder, VAE, VQVAE])
def test_a_model_built_for_a_size_codes_latent_dim_numbers_and_decodes_a_point(cls):
    torch.manual_seed(0)
    model = cls(image_size=12, hidden=8) if cls is VQVAE else cls(image_size=12, latent_dim=5)
    codes = encode_images(model, torch.rand(2, 1, 12, 12))
    assert codes.flatten(1).shape[1] == model.latent_dim
    image = decode_point(model, codes[0].flatten())
    assert image.shape == (12, 12) and torch.allclose(image, decode_codes(model, codes[:1])[0, 0])
