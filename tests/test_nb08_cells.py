"""Keep notebook 08's written-out quantizer equal to vae_course.models.vq, and its exercise solutions passing."""

import math

import pytest
import torch

from tests.notebook_cells import code_cell
from vae_course import vq

NB = "08_vq_vae.ipynb"


def _cell(marker: str) -> str:
    return code_cell(NB, marker)


@pytest.mark.parametrize("shape,k", [((3, 16, 7, 7), 64), ((2, 4, 2, 2), 5), ((1, 1, 3, 1), 1)])
def test_written_out_quantize_equals_the_package_quantizer(shape, k):
    ns = {"torch": torch}
    exec(_cell("def quantize(z_e, codebook)"), ns)
    torch.manual_seed(0)
    q = vq.VectorQuantizer(k, shape[1]).eval()
    q.codebook.data = torch.randn(k, shape[1])
    z_e = torch.randn(*shape, requires_grad=True)
    z_q, idx, cb, cm = ns["quantize"](z_e, q.codebook)
    ref = q(z_e)
    assert torch.equal(idx, ref.indices)
    assert torch.allclose(z_q, ref.z_q) and torch.allclose(cb, ref.codebook_loss)
    assert torch.allclose(cm, ref.commitment_loss)
    w = torch.randn(*shape)
    (grad_mine,) = torch.autograd.grad((z_q * w).sum(), z_e)
    (grad_ref,) = torch.autograd.grad((ref.z_q * w).sum(), z_e)
    assert torch.equal(grad_mine, grad_ref)


def test_exercise_solutions_in_the_notebook_pass_their_checks():
    from vae_course.exercises import check

    for marker, ex, name in [
        ("def kmeans_step_size(n)", "08.1", "kmeans_step_size"),
        ("def predicted_ema_dead_code()", "08.2", "predicted_ema_dead_code"),
        ("def ema_codebook_update(z, idx, count, embed_sum, decay)", "08.3", "ema_codebook_update"),
        ("def predicted_steps_to_half_length()", "08.4", "predicted_steps_to_half_length"),
    ]:
        ns = {"torch": torch, "math": math}
        exec(_cell(marker), ns)
        assert check(ex, ns[name]).passed, ex


def test_exercise_stubs_report_not_attempted():
    from vae_course.exercises import check

    def stub(*args):
        raise NotImplementedError

    for ex in ("08.1", "08.2", "08.3", "08.4"):
        assert check(ex, stub).status == "not attempted"
