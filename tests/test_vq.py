"""vae_course.models.vq: nearest-code lookup, the straight-through gradient, the loss terms, usage and remedies.

Notebook 08's codebook comparison, repeated over three seeds on the 8x8 digits: with the naive
uniform start most codes of the plain and of the EMA codebook stay dead, and dead-code resets revive
them (several times the perplexity). The notebook shows one seed on MNIST-5k; this is the robustness
check it points to."""

import math

import pytest
import torch

from vae_course import data, fit, seed_everything, vq
from vae_course.ops import straight_through


def test_nearest_code_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    z, codebook = torch.randn(200, 5, generator=g), torch.randn(17, 5, generator=g)
    brute = ((z[:, None, :] - codebook[None]) ** 2).sum(-1).argmin(1)  # (N, K) distances
    assert torch.equal(vq.nearest_code(z, codebook), brute)


def test_quantizer_returns_the_nearest_code_and_its_vector():
    torch.manual_seed(0)
    q = vq.VectorQuantizer(8, 3).eval()
    q.codebook.data = torch.randn(8, 3)
    # encodings placed exactly on chosen codes plus a little noise: the index must come back
    want = torch.randint(0, 8, (2, 4, 5))
    z_e = q.codebook.data[want].permute(0, 3, 1, 2) + 0.01 * torch.randn(2, 3, 4, 5)
    out = q(z_e)
    assert torch.equal(out.indices, want)
    assert torch.allclose(out.z_q, q.codebook.data[want].permute(0, 3, 1, 2))
    assert out.counts.sum() == 2 * 4 * 5


def test_input_checks_say_what_was_expected():
    q = vq.VectorQuantizer(8, 3)
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        q(torch.randn(2, 4, 5, 5))
    with pytest.raises(ValueError, match="same D"):
        vq.nearest_code(torch.randn(4, 3), torch.randn(5, 2))
    with pytest.raises(ValueError, match="divisible by 4"):
        vq.VQVAE().encode(torch.rand(2, 1, 10, 10))


def test_straight_through_gradient_to_encoder_equals_decoder_gradient_wrt_zq():
    torch.manual_seed(0)
    model = vq.VQVAE(num_codes=16, code_dim=4, hidden=8)
    x = torch.rand(3, 1, 8, 8)
    # 1) the encoder output's gradient through the whole model (recon loss only)
    z_e = model.encode(x)
    z_e.retain_grad()
    q = model.quantizer(z_e)
    loss = vq.losses.bce_with_logits(model.decoder(q.z_q), x).sum()
    loss.backward()
    # 2) the decoder's gradient with respect to the quantized vectors, as a leaf
    z_q = model.quantizer.lookup(q.indices).detach().requires_grad_(True)
    vq.losses.bce_with_logits(model.decoder(z_q), x).sum().backward()
    assert torch.allclose(z_e.grad, z_q.grad)
    assert z_e.grad.abs().sum() > 0


def test_straight_through_value_is_zq_and_backward_is_identity():
    z_e = torch.randn(4, 3, requires_grad=True)
    z_q = torch.randn(4, 3)
    out = straight_through(z_e, z_q)
    assert torch.allclose(out, z_q)
    w = torch.randn(4, 3)
    (out * w).sum().backward()
    assert torch.equal(z_e.grad, w)


def test_loss_terms_match_their_formulas_and_train_the_right_parameters():
    torch.manual_seed(0)
    z_e = torch.randn(2, 3, 2, 2, requires_grad=True)
    codes = torch.randn(2, 3, 2, 2, requires_grad=True)
    want = ((z_e - codes) ** 2).sum(dim=(1, 2, 3))
    cb, cm = vq.codebook_loss(z_e, codes), vq.commitment_loss(z_e, codes)
    assert cb.shape == (2,) and torch.allclose(cb, want) and torch.allclose(cm, want)
    cb.sum().backward()
    assert z_e.grad is None and torch.allclose(codes.grad, 2 * (codes - z_e).detach())
    codes.grad = None
    vq.commitment_loss(z_e, codes).sum().backward()
    assert codes.grad is None and torch.allclose(z_e.grad, 2 * (z_e - codes).detach())


def test_vqvae_loss_is_bce_plus_codebook_plus_beta_commitment():
    torch.manual_seed(0)
    model = vq.VQVAE(num_codes=16, code_dim=4, hidden=8).eval()
    x = torch.rand(5, 1, 8, 8)
    terms = vq.vqvae_loss(model, x)
    torch.manual_seed(0)
    out = model(x)
    bce = vq.losses.bce_with_logits(out.recon, x).mean()
    want = bce + out.codebook_loss.mean() + 0.25 * out.commitment_loss.mean()
    assert torch.allclose(terms["loss"], want)
    assert torch.allclose(terms["mse"], ((torch.sigmoid(out.recon) - x) ** 2).sum(dim=(1, 2, 3)).mean())
    assert model.quantizer.beta == 0.25
    # codebook and commitment values agree (same distance, different stop-gradients)
    assert torch.allclose(terms["codebook"], terms["commitment"])


def test_perplexity_and_dead_codes():
    assert math.isclose(float(vq.perplexity(torch.tensor([5, 0, 0, 0]))), 1.0)
    assert math.isclose(float(vq.perplexity(torch.tensor([3, 3, 3, 3]))), 4.0, rel_tol=1e-6)
    p = torch.tensor([0.5, 0.25, 0.25])
    assert math.isclose(
        float(vq.perplexity(torch.tensor([2, 1, 1, 0]))), math.exp(-(p * p.log()).sum().item()), rel_tol=1e-6
    )
    assert vq.dead_codes(torch.tensor([2, 0, 1, 0])).tolist() == [1, 3]
    assert vq.code_counts(torch.tensor([[0, 2], [2, 2]]), 4).tolist() == [1, 0, 3, 0]


def test_a_dead_code_is_detected_and_a_reset_revives_it():
    torch.manual_seed(0)
    q = vq.VectorQuantizer(4, 2)
    q.codebook.data = torch.tensor([[0.0, 0.0], [1.0, 1.0], [-1.0, 1.0], [50.0, 50.0]])  # code 3 far away
    z_e = torch.randn(8, 2, 3, 3) * 0.5  # (B, D, H, W) near the first three codes
    before = q(z_e).counts
    assert 3 in vq.dead_codes(before).tolist()
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 2)
    assert q.reset_dead_codes(flat, before) >= 1
    assert (q.codebook.data[3] - flat).norm(dim=1).min() < 1e-6  # moved onto an encoding
    assert q(z_e).counts[3] > 0  # and now chosen


def test_automatic_reset_during_training_revives_codes():
    torch.manual_seed(0)
    q = vq.VectorQuantizer(6, 2, reset_dead=True, reset_every=2).train()
    q.codebook.data = torch.tensor([[0.0, 0.0]] + [[100.0, 100.0]] * 5)  # five dead codes
    z_e = torch.randn(4, 2, 4, 4)
    for _ in range(2):
        q(z_e)
    assert int(q.codes_reset) == 5
    assert (q(z_e).counts > 0).sum() > 1


def test_kmeans_init_places_codes_on_the_data():
    torch.manual_seed(0)
    centres = torch.tensor([[5.0, 0.0], [-5.0, 0.0], [0.0, 5.0]])
    pts = centres.repeat(50, 1) + 0.1 * torch.randn(150, 2)
    c = vq.kmeans(pts, 3, iters=10)
    assert (torch.cdist(centres, c).min(1).values < 0.1).all()
    q = vq.VectorQuantizer(3, 2, init="kmeans").train()
    q(pts.view(150, 2, 1, 1))
    assert bool(q.initialised) and (torch.cdist(centres, q.codebook.data).min(1).values < 0.1).all()


def test_ema_update_moves_codes_to_their_cluster_means_and_has_no_codebook_gradient():
    torch.manual_seed(0)
    q = vq.VectorQuantizer(2, 2, ema=True, decay=0.5).train()
    q.codebook.data = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    q.ema_sum.copy_(q.codebook.data)
    z = torch.tensor([[3.0, 1.0], [3.0, -1.0], [-2.0, 0.0]]).view(3, 2, 1, 1)
    for _ in range(30):
        q(z)
    assert torch.allclose(q.codebook.data, torch.tensor([[3.0, 0.0], [-2.0, 0.0]]), atol=1e-3)
    assert not q.codebook.requires_grad


def test_vqvae_shapes_and_training_lowers_the_loss():
    torch.manual_seed(0)
    model = vq.VQVAE(num_codes=8, code_dim=4, hidden=8)
    x = data.load("digits", n=64)[0]
    out = model(x)
    assert out.recon.shape == x.shape and out.z_e.shape == (64, 4, 2, 2) and out.indices.shape == (64, 2, 2)
    assert model(torch.rand(2, 1, 28, 28)).indices.shape == (2, 7, 7)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = vq.vqvae_loss(model, x)["bce"].item()
    for _ in range(40):
        terms = vq.vqvae_loss(model, x)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
    assert terms["bce"].item() < 0.8 * first


def test_usage_explorer_helpers():
    torch.manual_seed(0)
    model = vq.VQVAE(num_codes=8, code_dim=4, hidden=8)
    x = torch.rand(6, 1, 8, 8)
    idx = vq.encode_indices(model, x)
    usage = vq.codebook_usage(model, x)
    assert usage.counts.sum() == idx.numel() and usage.dead == int((usage.counts == 0).sum())
    code = int(idx[0, 0, 0])
    mask = vq.code_positions(idx, code, scale=4)
    assert mask.shape == (6, 8, 8) and mask.dtype == torch.bool
    assert torch.equal(mask[:, ::4, ::4], idx == code)
    foot = vq.code_footprint(model, code, background=code, grid=(2, 2))
    assert foot.shape == (2, 1, 8, 8)
    assert torch.allclose(foot[0], foot[1])  # same code everywhere: identical images
    other = (code + 1) % 8
    assert not torch.allclose(vq.code_footprint(model, other, background=code, grid=(2, 2))[1], foot[0])
    with pytest.raises(ValueError, match="code must lie"):
        vq.code_footprint(model, 8, background=0)


def test_revival_causes_name_one_cause_per_revived_code():
    # 1-D codes: codes 0 and 1 (at 0 and 10) are in use, codes 2, 3 and 4 (at 5, -60 and 18) are dead
    old = torch.tensor([[0.0], [10.0], [5.0], [-60.0], [18.0]])
    new = torch.tensor([[0.0], [3.0], [5.0], [-24.0], [18.0]])  # code 1 moves to 3, code 3 to -24
    z = torch.tensor([[0.0], [10.0], [5.4], [-24.0], [13.5]])
    counts = torch.tensor([5, 5, 0, 0, 0])
    causes = vq.revival_causes(z, old, new, counts)
    assert causes["vectors"].tolist() == [False, False, True, False, False]  # 5.4 picks code 2 from the old book
    assert causes["own_move"].tolist() == [False, False, False, True, False]  # -24 picks code 3 once it sits there
    assert causes["neighbours"].tolist() == [False, False, False, False, True]  # 13.5 picks 18 once code 1 left
    with pytest.raises(ValueError, match="two codebooks"):
        vq.revival_causes(z, old, new[:4], counts)
    model = vq.VQVAE(num_codes=8, code_dim=4, hidden=8)
    assert vq.encodings(model, torch.rand(3, 1, 8, 8)).shape == (3 * 2 * 2, 4)


def test_masked_conv_is_causal_and_the_prior_samples_valid_grids():
    torch.manual_seed(0)
    prior = vq.CodePrior(num_codes=5, hidden=8, layers=2)
    k = torch.randint(0, 5, (1, 4, 4))
    base = prior(k)
    # changing position (2, 1) may only change logits at later positions in raster order
    k2 = k.clone()
    k2[0, 2, 1] = (k[0, 2, 1] + 1) % 5
    changed = (prior(k2) - base).abs().sum(1)[0] > 1e-6  # (H, W)
    order = torch.arange(16).view(4, 4)
    assert not changed[order <= 2 * 4 + 1].any()
    assert changed.any()
    s = prior.sample(3, grid=(4, 4), generator=torch.Generator().manual_seed(0))
    assert s.shape == (3, 4, 4) and s.min() >= 0 and s.max() < 5
    nll = prior.nll(k)
    assert nll.shape == (1,) and nll.item() > 0


K = 32
REMEDIES = {"plain": {}, "ema": {"ema": True}, "reset": {"reset_dead": True, "reset_every": 10}}


@pytest.fixture(scope="module")
def digits():
    return data.load("digits", "train")[0]


def usage_after_training(x, seed, options):
    seed_everything(seed)
    model = vq.VQVAE(K, 8, 8, **options)
    fit(model, vq.vqvae_loss, x, 4, batch_size=64, lr=3e-3, seed=seed, progress=False)
    return vq.codebook_usage(model, x)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_resets_revive_the_codes_that_plain_and_ema_codebooks_leave_dead(digits, seed, one_thread):
    u = {name: usage_after_training(digits, seed, opts) for name, opts in REMEDIES.items()}
    summary = {name: (v.dead, round(v.perplexity, 1)) for name, v in u.items()}
    assert u["plain"].dead >= K // 2 and u["ema"].dead >= K // 2, summary
    assert u["reset"].dead <= 2, summary
    assert u["reset"].perplexity > 4 * max(u["plain"].perplexity, u["ema"].perplexity), summary
    assert torch.equal(u["reset"].counts.sum(), u["plain"].counts.sum())  # the same positions, counted once each
