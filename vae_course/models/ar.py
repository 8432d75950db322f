"""A VAE whose decoder is autoregressive over pixels (MADE, Germain et al. 2015, arXiv:1502.03509):

    p(x | z) = prod_i Bernoulli(x_i ; sigmoid(l_i(x_<i, z)))   in raster order,

so the decoder can model the dependencies between pixels by itself. Such a decoder can fit the data
with z ignored, and then the ELBO's KL term pushes q(z | x) onto the prior: posterior collapse
(Bowman et al. 2016, arXiv:1511.06349; Chen et al. 2017, arXiv:1611.02731). Notebook 09.

Teacher forcing: ``forward`` computes every pixel's logit from the *true* earlier pixels in one pass
(the masks hide x_i and later pixels from l_i); ``sample`` draws the pixels one at a time.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ..ops import check_images
from . import device_of, eval_mode
from .vae import Encoder, VAEOutput, _ImageVAE, reparameterize


class MaskedLinear(nn.Linear):
    """y = (W * mask) x + b, with a fixed 0/1 ``mask`` of the weight's shape (out, in)."""

    def __init__(self, in_features: int, out_features: int, mask: Tensor) -> None:
        super().__init__(in_features, out_features)
        if mask.shape != (out_features, in_features):
            raise ValueError(f"mask must have shape {(out_features, in_features)}, got {tuple(mask.shape)}")
        self.register_buffer("mask", mask.float())

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def made_masks(n_pixels: int, hidden: int) -> tuple[Tensor, Tensor, Tensor]:
    """MADE's masks for one hidden layer with degrees m_k = 1 + (k mod (n - 1)) (pixels numbered 1..n):
    input i -> hidden k when m_k >= i; hidden k -> output d when d > m_k; and a direct input i ->
    output d connection when i < d. Returns (input->hidden (H, n), hidden->output (n, H), direct (n, n))."""
    if n_pixels < 2:
        raise ValueError(f"an autoregressive decoder needs at least 2 pixels, got {n_pixels}")
    pix = torch.arange(1, n_pixels + 1)  # (n,) degrees of inputs and outputs
    deg = 1 + torch.arange(hidden) % (n_pixels - 1)  # (H,) hidden degrees in 1..n-1
    m_in = deg[:, None] >= pix[None, :]  # (H, n)
    m_out = pix[:, None] > deg[None, :]  # (n, H)
    direct = pix[:, None] > pix[None, :]  # (n, n) strictly lower triangular
    return m_in, m_out, direct


class ARDecoder(nn.Module):
    """l(x_<i, z): a one-hidden-layer MADE over the flattened image, with z added to the hidden layer
    and to the output logits (z can reach every pixel; earlier pixels reach only later ones)."""

    def __init__(self, latent_dim: int, n_pixels: int, hidden: int) -> None:
        super().__init__()
        m_in, m_out, direct = made_masks(n_pixels, hidden)
        self.inp = MaskedLinear(n_pixels, hidden, m_in)
        self.out = MaskedLinear(hidden, n_pixels, m_out)
        self.direct = MaskedLinear(n_pixels, n_pixels, direct)
        self.z_hidden = nn.Linear(latent_dim, hidden)
        self.z_out = nn.Linear(latent_dim, n_pixels, bias=False)

    def forward(self, x_flat: Tensor, z: Tensor) -> Tensor:
        h = torch.relu(self.inp(x_flat) + self.z_hidden(z))  # (B, H)
        return self.out(h) + self.direct(x_flat) + self.z_out(z)  # (B, n) logits


class ARVAE(_ImageVAE):
    """A VAE with the course's MLP encoder and an autoregressive (MADE) decoder.

    ``forward(x)`` returns ``VAEOutput(recon=logits (B, 1, H, W), mu, logvar, z)``, so the course's
    ``elbo_loss`` / ``vae_loss_fn`` train it unchanged (the logits of pixel i see x_<i and z).
    """

    def __init__(self, image_size: int = 8, latent_dim: int = 8, hidden: int = 128, decoder_hidden: int = 256) -> None:
        super().__init__()
        self.image_size, self.latent_dim = image_size, latent_dim
        n = image_size * image_size
        self.encoder = Encoder(n, latent_dim, hidden)
        self.decoder = ARDecoder(latent_dim, n, decoder_hidden)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_images(x, (self.image_size, self.image_size), "images for ARVAE.encode")
        return self.encoder(x.flatten(1))  # (B, H*W) -> (B, D), (B, D)

    def code(self, x: Tensor) -> Tensor:
        return self.encode(x)[0]

    def forward(self, x: Tensor, eps: Tensor | None = None) -> VAEOutput:
        mu, logvar = self.encode(x)
        z = reparameterize(mu, logvar, eps)
        logits = self.decoder(x.flatten(1), z)  # teacher forcing: (B, H*W)
        return VAEOutput(logits.view_as(x), mu, logvar, z)

    @torch.no_grad()
    def sample(self, n: int, z: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """n images (n, 1, H, W) with binary pixels drawn one at a time from p(x | z), z ~ N(0, I) unless given."""
        s, dev = self.image_size, device_of(self)
        if z is None:
            z = torch.randn(n, self.latent_dim, generator=generator)
        z = z.to(dev)
        x = torch.zeros(n, s * s, device=dev)
        with eval_mode(self):
            for i in range(s * s):  # pixel i depends only on pixels < i, which are already drawn
                p = torch.sigmoid(self.decoder(x, z)[:, i])
                x[:, i] = torch.bernoulli(p.cpu(), generator=generator).to(dev)
        return x.view(n, 1, s, s)
