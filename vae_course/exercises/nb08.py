"""Exercises of notebook 08 (VQ-VAE): nearest code, EMA codebook update, perplexity, EMA half-life."""

import math

import torch

from ..models.vq import nearest_code, perplexity
from . import case, register


def _nearest_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(0)
    codebook = torch.randn(16, 4, generator=g)
    on_codes = codebook[torch.tensor([3, 0, 15, 7])] + 1e-3
    return [
        case(torch.randn(50, 4, generator=g), codebook, label="50 random vectors, 16 codes in 4-D"),
        case(on_codes, codebook, label="4 vectors sitting on codes 3, 0, 15, 7"),
        case(torch.randn(5, 2, generator=g), torch.randn(1, 2, generator=g), label="a codebook of one code"),
        case(
            torch.tensor([[1.0, 0.0]]),
            torch.tensor([[10.0, 0.0], [0.9, 0.5]]),
            label="z = (1, 0), codes (10, 0) and (0.9, 0.5): the largest dot product is NOT the nearest",
        ),
        case(
            torch.tensor([[0.0, 0.0], [100.0, 100.0]]),
            torch.tensor([[1.0, 1.0], [-1.0, -1.0], [50.0, 60.0]]),
            label="vectors at the origin and far away",
        ),
    ]


register(
    "08.1",
    "the nearest code",
    reference=nearest_code,
    cases=_nearest_cases,
    hint=(
        "You need the distance from every vector to every code: an (N, K) table.",
        "PyTorch has a function for pairwise distances; or expand the squared norm of a difference into three terms.",
        "Then take the index of the smallest distance for each vector.",
    ),
    kind="implement",
    explanation=(
        "The nearest code minimises ||z - e_k||; the largest dot product only agrees when all codes have "
        "the same norm, since ||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2."
    ),
)


def _perplexity_reference(counts: torch.Tensor) -> float:
    return float(perplexity(counts))


def _perplexity_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(1)
    return [
        case(torch.randint(0, 50, (64,), generator=g), label="random counts for 64 codes"),
        case(torch.full((8,), 5), label="8 codes used 5 times each (perplexity 8)"),
        case(torch.tensor([0, 12, 0, 0]), label="one code takes everything (perplexity 1)"),
        case(torch.tensor([3, 0, 1, 0, 0, 4]), label="counts with unused codes (0 log 0 counts as 0)"),
        case(torch.tensor([1000000, 1]), label="one huge count and one tiny one"),
    ]


register(
    "08.3",
    "codebook perplexity",
    reference=_perplexity_reference,
    cases=_perplexity_cases,
    hint=(
        "Turn the counts into a probability distribution over codes first, in floating point.",
        "The entropy needs 0 log 0 = 0, but log(0) is minus infinity: drop the unused codes before taking logs.",
        "Perplexity is the exponential of the entropy (in nats).",
    ),
    kind="implement",
    explanation=(
        "exp(H(p)) is the number of equally used codes that would give the same entropy: K for uniform "
        "usage, 1 when a single code takes every vector."
    ),
)


EMA_EPS = 1e-5  # Laplace smoothing of the counts, as in the package's VectorQuantizer and the paper's code


def _ema_reference(z, idx, count, embed_sum, decay):
    k = count.shape[0]
    n = torch.bincount(idx, minlength=k).to(z.dtype)  # (K,) vectors assigned to each code
    sums = torch.zeros_like(embed_sum).index_add_(0, idx, z)  # (K, D) their sum
    count = decay * count + (1 - decay) * n
    embed_sum = decay * embed_sum + (1 - decay) * sums
    total = count.sum()
    smoothed = (count + EMA_EPS) / (total + k * EMA_EPS) * total  # (K,) Laplace-smoothed counts, same total
    return count, embed_sum, embed_sum / smoothed[:, None]


def _ema_no_smoothing(z, idx, count, embed_sum, decay):
    """The EMA update without Laplace smoothing (misconception 'no-smoothing')."""
    n = torch.bincount(idx, minlength=count.shape[0]).to(z.dtype)
    count = decay * count + (1 - decay) * n
    embed_sum = decay * embed_sum + (1 - decay) * torch.zeros_like(embed_sum).index_add_(0, idx, z)
    return count, embed_sum, embed_sum / count[:, None]


def _ema_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(10)
    z = torch.randn(12, 3, generator=g, dtype=torch.float64)
    idx = torch.randint(0, 5, (12,), generator=g)
    count = torch.rand(5, generator=g, dtype=torch.float64) + 0.5
    embed_sum = torch.randn(5, 3, generator=g, dtype=torch.float64)
    unused = torch.tensor([0, 0, 2, 2, 2, 0], dtype=torch.long)  # codes 1 and 3 get no vector
    return [
        case(z, idx, count, embed_sum, 0.99, label="12 vectors, 5 codes, decay 0.99"),
        case(z, idx, count, embed_sum, 0.0, label="decay 0: each used code jumps to the mean of its vectors"),
        case(
            z[:6],
            unused,
            torch.ones(4, dtype=torch.float64),
            torch.randn(4, 3, generator=g, dtype=torch.float64),
            0.9,
            label="codes 1 and 3 get no vector this step (they must not move)",
        ),
        case(
            z[:6],
            unused,
            torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64),
            torch.cat(
                [
                    torch.randn(1, 3, generator=g, dtype=torch.float64),
                    torch.zeros(1, 3, dtype=torch.float64),
                    torch.randn(2, 3, generator=g, dtype=torch.float64),
                ]
            ),
            0.9,
            label="code 1 was never used (count 0, sum 0) and gets no vector: without smoothing 0 / 0",
        ),
    ]


register(
    "08.2",
    "the EMA codebook update",
    reference=_ema_reference,
    cases=_ema_cases,
    atol=1e-8,
    rtol=1e-6,
    hint=(
        "Two running averages per code: how many vectors it received, and their sum. Each step moves both "
        "a fraction (1 - decay) towards this batch's values.",
        "Count and sum this batch's vectors per code first (an unused code gets 0 of each); "
        "PyTorch has functions that count and add by index.",
        "The code itself is the running sum divided by the running count: a running mean of its vectors. "
        "A code that was never used has count 0: smooth the counts first, N_k -> (N_k + eps) / (N + K eps) * N "
        "with N = sum of the counts and eps = 1e-5.",
    ),
    kind="implement",
    solution=(
        "def ema_codebook_update(z, idx, count, embed_sum, decay):\n"
        "    n = torch.bincount(idx, minlength=count.shape[0]).to(z.dtype)\n"
        "    sums = torch.zeros_like(embed_sum).index_add_(0, idx, z)\n"
        "    count = decay * count + (1 - decay) * n\n"
        "    embed_sum = decay * embed_sum + (1 - decay) * sums\n"
        "    total = count.sum()\n"
        "    smoothed = (count + 1e-5) / (total + len(count) * 1e-5) * total\n"
        "    return count, embed_sum, embed_sum / smoothed[:, None]"
    ),
    explanation=(
        "With decay g, N_k <- g N_k + (1 - g) n_k and m_k <- g m_k + (1 - g) sum of the z assigned to k, and "
        "e_k = m_k / N_k. This is k-means' centroid step, averaged over batches: no gradient and no "
        "learning rate, so the codebook tracks the encoder smoothly. The counts are Laplace-smoothed, "
        "N_k -> (N_k + eps) / (N + K eps) * N (the paper's implementation and the course's model do the same): "
        "a code that has never been used has N_k = 0 and m_k = 0, and 0 / 0 would make it NaN."
    ),
)


def _check_half_life(fn, g=None) -> str:
    from . import answer_of, check_number

    exact = math.log(0.5) / math.log(0.99)
    got = check_number(
        answer_of(fn),
        exact,
        2.0,
        wrong={
            "1 / (1 - decay)": (
                100.0,
                "100 = 1 / (1 - decay) is the EMA's effective window (the mean age of what it remembers); "
                "half of an old value is gone sooner than that.",
            ),
            "half of the window": (50.0, "the decay is geometric, not linear: solve 0.99^n = 1/2."),
        },
        explain="After n steps an old value keeps the weight decay^n: solve decay^n = 1/2 for n.",
    )
    x = 1.0
    steps = 0
    while x > 0.5:
        x *= 0.99
        steps += 1
    return f"you predicted {got:.1f} steps; an EMA with decay 0.99 falls below half after {steps} steps"


register(
    "08.4",
    "predict how fast an EMA codebook forgets",
    checker=_check_half_life,
    hint=(
        "After one step an old value keeps the weight decay; after two, decay times decay.",
        "Solve decay^n = 1/2 with logarithms.",
    ),
    kind="predict",
    solution="def predicted_half_life():\n    return math.log(0.5) / math.log(0.99)  # about 69 steps",
    explanation=(
        "An old value's weight after n steps is 0.99^n, which is 1/2 at n = ln 2 / -ln 0.99, about 69 steps "
        "(ln 2 times the window 1 / (1 - 0.99) = 100, to first order). So a code abandoned by the encoder "
        "drifts towards its new vectors within a few hundred steps, and a code that receives none keeps "
        "its place: N_k and m_k shrink together."
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "08.1",
        M(
            "largest-dot-product",
            "picked the code with the largest dot product z . e_k",
            "the largest dot product is the nearest code only when all codes have the same norm: "
            "||z - e||^2 = ||z||^2 - 2 z.e + ||e||^2 keeps the ||e||^2 term.",
            lambda z, codebook: (z @ codebook.T).argmax(1),
        ),
        M(
            "farthest-code",
            "took the argmax of the distances: the farthest code",
            "the nearest code has the SMALLEST distance: argmin, not argmax.",
            lambda z, codebook: torch.cdist(z, codebook).argmax(1),
        ),
    )

    def _entropy(counts):  # nats, 0 log 0 = 0
        p = counts.double() / counts.sum()
        return -torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p)).sum()

    add_misconceptions(
        "08.3",
        M(
            "entropy-not-perplexity",
            "returned the entropy H (nats), not exp(H)",
            "that is the entropy: perplexity is its exponential, the number of equally used codes.",
            lambda counts: float(_entropy(counts)),
        ),
        M(
            "codes-used",
            "counted the codes used at least once",
            "perplexity weighs codes by how often they are used: a code used once counts far less than one used "
            "a million times (exp of the entropy).",
            lambda counts: float((counts > 0).sum()),
        ),
    )
    add_misconceptions(
        "08.2",
        M(
            "no-smoothing",
            "divided the running sum by the raw running count: a never-used code becomes 0 / 0 = NaN",
            "a code that was never used has count 0 and sum 0: smooth the counts before dividing.",
            lambda z, idx, count, embed_sum, decay: _ema_no_smoothing(z, idx, count, embed_sum, decay),
        ),
        M(
            "decay-swapped",
            "weighted the old value by (1 - decay) and the batch by decay",
            "decay is the weight of the PAST: N <- decay N + (1 - decay) n, so the codebook moves slowly.",
            lambda z, idx, count, embed_sum, decay: _ema_reference(z, idx, count, embed_sum, 1 - decay),
        ),
    )
    add_misconceptions(
        "08.4",
        M(
            "1 / (1 - decay)",
            "gave the averaging window 1/(1 - decay), not the half-life",
            "the half-life solves decay^n = 1/2.",
        ),
        M(
            "half of the window",
            "halved the window: a linear, not geometric, decay",
            "the decay is geometric: solve decay^n = 1/2.",
        ),
    )


_mc()
