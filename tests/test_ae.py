"""Autoencoder models, the PCA baseline and the widget functions."""

import math

import pytest
import torch
from scipy.linalg import subspace_angles

from vae_course import losses
from vae_course.corruption import mask_noise
from vae_course.denoising import denoising_rows
from vae_course.models import decode_point
from vae_course.models.ae import AEOutput, ConvAutoencoder, MLPAutoencoder
from vae_course.pca import linear_ae_descent, pca_basis, pca_reconstruct


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (1, 7, 7)])
@pytest.mark.parametrize("cls", [MLPAutoencoder, ConvAutoencoder])
def test_shapes_round_trip(cls, shape):
    torch.manual_seed(0)
    m = cls(image_size=shape[-1], latent_dim=3)
    x = torch.rand(4, *shape)
    out = m(x)
    assert isinstance(out, AEOutput)
    assert out.z.shape == (4, 3) and out.recon.shape == (4, *shape)
    assert torch.equal(m.decode(m.encode(x)), out.recon)
    img = m.reconstruct(x)
    assert img.min() >= 0 and img.max() <= 1


def test_output_modes():
    x = torch.rand(3, 1, 8, 8)
    torch.manual_seed(0)
    logits = MLPAutoencoder(output="logits")
    torch.manual_seed(0)
    sig = MLPAutoencoder(output="sigmoid")
    assert torch.allclose(torch.sigmoid(logits(x).recon), sig(x).recon)
    assert torch.allclose(logits.to_image(logits(x).recon), sig.to_image(sig(x).recon))
    with pytest.raises(ValueError, match="output must be one of"):
        MLPAutoencoder(output="softmax")


def test_linear_autoencoder_is_affine():
    torch.manual_seed(0)
    m = MLPAutoencoder(latent_dim=4, hidden=(32,), linear=True, output="identity")
    assert not any(isinstance(l, torch.nn.ReLU) for l in m.modules())
    a, b = torch.rand(2, 1, 1, 8, 8)
    f = lambda v: m(v).recon  # noqa: E731
    # an affine map f satisfies f(a) + f(b) = f(a + b) + f(0)
    assert torch.allclose(f(a) + f(b), f(a + b) + f(torch.zeros_like(a)), atol=1e-5)


def test_bad_inputs_say_what_was_expected():
    m = MLPAutoencoder(image_size=8, latent_dim=2)
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 1, 8, 8\), got \(64, 64\)"):
        m(torch.rand(64, 64))
    with pytest.raises(ValueError, match=r"expected codes of shape \(B, 2\)"):
        m.decode(torch.rand(5, 3))


def test_training_reduces_loss_and_gradients_reach_the_encoder(one_thread):
    torch.manual_seed(0)
    m = ConvAutoencoder(latent_dim=4)
    x = torch.rand(32, 1, 8, 8).round()
    out = m(x)
    loss = losses.bce_with_logits(out.recon, x).mean()
    loss.backward()
    assert m.encoder[0].weight.grad.abs().sum() > 0
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    first = loss.item()
    for _ in range(60):
        opt.zero_grad()
        l = losses.bce_with_logits(m(x).recon, x).mean()
        l.backward()
        opt.step()
    assert l.item() < 0.7 * first


def test_pca_basis_is_orthonormal_and_reconstruction_is_optimal_on_a_plane():
    g = torch.Generator().manual_seed(0)
    basis = torch.linalg.qr(torch.randn(10, 2, generator=g))[0].T  # (2, 10)
    x = torch.randn(200, 2, generator=g) @ basis + 3.0  # data on an affine plane
    mean, v = pca_basis(x, 2)
    assert torch.allclose(v @ v.T, torch.eye(2), atol=1e-5)
    assert max(subspace_angles(v.T.numpy(), basis.T.numpy())) < 1e-4
    assert torch.allclose(pca_reconstruct(x, 2), x, atol=1e-4)
    # k=1 error = variance along the dropped direction = the second squared singular value / N
    err = (pca_reconstruct(x, 1) - x).pow(2).sum(1).mean()
    s = torch.linalg.svdvals((x - x.mean(0)).double())
    assert math.isclose(err.item(), (s[1] ** 2 / 200).item(), rel_tol=1e-4)


def test_linear_ae_trained_with_mse_finds_the_pca_subspace(one_thread):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(500, 3, generator=g) * torch.tensor([3.0, 2.0, 1.0])) @ torch.randn(3, 16, generator=g)
    x = x + 0.05 * torch.randn(500, 16, generator=g)
    x = x.reshape(500, 1, 4, 4)
    torch.manual_seed(0)
    m = MLPAutoencoder(image_size=4, latent_dim=2, hidden=(), linear=True, output="identity")
    opt = torch.optim.Adam(m.parameters(), lr=5e-2)
    for _ in range(300):
        opt.zero_grad()
        loss = losses.mse(m(x).recon, x).mean()
        loss.backward()
        opt.step()
    _, v = pca_basis(x, 2)
    w = m.decoder[0].weight.detach()  # (16, 2): its columns span the decoder's image
    assert max(subspace_angles(w.numpy(), v.T.numpy())) < 0.05  # radians
    pca_err = (pca_reconstruct(x, 2) - x).pow(2).flatten(1).sum(1).mean()
    assert loss.item() < 1.02 * pca_err.item()


def test_linear_ae_descent_steps_along_autograds_gradient_and_reaches_pca():
    # one step of the moment-based descent equals one SGD step on the pixel loss (autograd), and many
    # steps reach PCA's subspace; the callback sees W2 and can stop the run; a huge step is reported
    torch.manual_seed(0)
    x = torch.randn(300, 1, 4, 4) * torch.linspace(2, 0.1, 16).reshape(1, 1, 4, 4) + 0.5
    model = MLPAutoencoder(4, 2, hidden=(), linear=True, output="identity").double()
    enc, dec = model.encoder[1], model.decoder[0]
    params = (enc.weight, enc.bias, dec.weight, dec.bias)
    losses.mse(model(x.double()).recon, x.double()).mean().backward()
    new, steps = linear_ae_descent(x, params, 1, 0.01)
    assert steps == 1
    for p, w in zip(params, new):
        assert torch.allclose(w, p.detach() - 0.01 * p.grad, atol=1e-12)
    seen = []

    def stop(step, W2):
        seen.append(step)
        return step >= 3000

    new, steps = linear_ae_descent(x - x.mean(0), params, 5000, 0.05, callback=stop)
    assert steps == 3000 and seen[:2] == [10, 20]
    _, v = pca_basis(x, 2)
    assert subspace_angles(new[2].numpy(), v.T.double().numpy()).max() < 1e-3
    with pytest.raises(FloatingPointError):
        linear_ae_descent(x, params, 100, 50.0)


def test_decode_point_and_denoising_rows():
    torch.manual_seed(0)
    m = MLPAutoencoder(latent_dim=2)
    img = decode_point(m, [0.5, -1.0])
    assert img.shape == (8, 8) and img.min() >= 0 and img.max() <= 1
    assert torch.allclose(img, torch.sigmoid(m.decode(torch.tensor([[0.5, -1.0]])))[0, 0])
    with pytest.raises(ValueError, match="expected 3 latent values"):
        decode_point(MLPAutoencoder(latent_dim=3), [0, 0])
    x = torch.rand(5, 1, 8, 8)
    rows = denoising_rows(x, {"AE": m}, lambda v: mask_noise(v, 0.5, torch.Generator().manual_seed(0)))
    assert list(rows) == ["clean", "corrupted", "AE"]
    assert torch.equal(rows["corrupted"], mask_noise(x, 0.5, torch.Generator().manual_seed(0)))
    assert torch.allclose(rows["AE"], m.reconstruct(rows["corrupted"]))
