"""Exercises of notebook 08 (VQ-VAE): the codebook loss as a k-means step (derive), whether an EMA
codebook revives a dead code (predict, then run), the EMA codebook update (implement), where a
code that no encoding chooses goes under the EMA update (derive), and how many earlier symbols the
PixelCNN prior's last position sees (predict, then run)."""

import math

import torch

from ..models.vq import VectorQuantizer, code_counts, nearest_code
from . import case, register, register_prediction


def kmeans_step_size(n):
    """The plain-gradient learning rate at which one step of the codebook loss puts a code at the mean
    of the n encodings assigned to it: 1 / (2 n)."""
    return 1.0 / (2.0 * torch.as_tensor(n, dtype=torch.float64))


def _step_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(11)
    return [
        case(torch.tensor([1.0, 2.0, 10.0, 64.0], dtype=torch.float64), label="n = 1, 2, 10 and 64 encodings"),
        case(torch.randint(1, 500, (6,), generator=g).double(), label="6 random counts of encodings"),
        case(torch.tensor([3136.0], dtype=torch.float64), label="n = 3136 (every position of a batch of 64)"),
    ]


register(
    "08.1",
    "derive the step size that makes the codebook loss a k-means step",
    reference=kmeans_step_size,
    cases=_step_cases,
    atol=1e-9,
    rtol=1e-7,
    hint=(
        "Write the codebook term for one code e as a sum over the n encodings z_1..z_n that chose it, and "
        "differentiate with respect to e (the stop-gradient makes each z a constant).",
        "The gradient is a multiple of (e - mean of the z). A plain gradient step is e - lr * gradient: "
        "which lr lands exactly on the mean?",
        "Check your answer with n = 1: one encoding, and the step must move e all the way onto it.",
    ),
    kind="derive",
    solution=(
        "def kmeans_step_size(n):\n"
        "    # grad_e sum_i ||z_i - e||^2 = 2 n (e - mean z); e - lr * 2 n (e - mean z) = mean z at lr = 1 / (2 n)\n"
        "    return 1 / (2 * n)"
    ),
    explanation=(
        "The codebook term of one code is sum_i ||sg[z_i] - e||^2 over the n encodings that chose it; its "
        "gradient is 2 n (e - z_bar), with z_bar their mean. A plain gradient step e - lr 2 n (e - z_bar) "
        "lands on z_bar when lr = 1 / (2 n): then it is the k-means centroid update. With one learning rate "
        "for all codes, each step moves a code the fraction 2 n lr of the way to its mean: a code chosen "
        "often moves far (past the mean once 2 n lr > 1), a rarely chosen one barely moves (Adam rescales "
        "each code's step, so the notebook's training does not follow this exactly). The EMA codebook "
        "(exercise 08.3) takes the centroid step directly, with no learning rate."
    ),
)


def toy_ema_dead_code(steps: int = 500) -> str:
    """Section 1's picture: 240 fixed points in three clusters and 6 codes, code 5 far from every point.
    Run ``steps`` EMA codebook updates (the package's) and report what code 5 did: "b" when it still
    wins no point and has moved less than 1 % of its length, "a" when it wins points, "c" otherwise."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[-2.0, -1.0], [2.0, -1.5], [0.0, 2.0]])
    points = torch.cat([c + 0.6 * torch.randn(80, 2, generator=g) for c in centres])  # (240, 2)
    q = VectorQuantizer(6, 2, ema=True, decay=0.99)
    q._set_codes(torch.tensor([[-2.2, -0.8], [-1.5, -1.6], [1.8, -1.2], [0.3, 2.2], [-0.4, 1.6], [3.5, 3.5]]))
    start = q.codebook.detach()[5].clone()
    for _ in range(steps):
        idx = nearest_code(points, q.codebook.detach())
        q._ema_update(points, idx, code_counts(idx, 6))
    wins = int((nearest_code(points, q.codebook.detach()) == 5).sum())
    moved = float((q.codebook.detach()[5] - start).norm() / start.norm())
    if wins > 0:
        return "a"
    return "b" if moved < 0.01 else "c"


register_prediction(
    "08.2",
    "predict whether an EMA codebook revives a dead code",
    experiment=lambda g=None: toy_ema_dead_code(),
    form="choice",
    options={
        "a": (
            "a code moves only by the average of the encodings assigned to it; code 5 is assigned none, so "
            "nothing pulls it towards the data."
        ),
        "b": (
            "code 5 receives no encoding, so its running count and running sum both shrink by the decay at "
            "every step and their ratio, the code, does not move: the EMA update never pulls a code "
            "that nobody chose towards the data."
        ),
        "c": (
            "the EMA takes a centroid step only for codes that were chosen; code 5 has no encodings to "
            "average, so there is no centroid to jump to."
        ),
    },
    hint=(
        "Write the EMA update described in section 4 for a code k with n_k = 0 this batch: what "
        "happens to N_k, to m_k, and to their ratio?",
        "Read the three loss terms' table again: which term, or which average, involves a code that no encoding chose?",
    ),
    solution=(
        "def predicted_ema_dead_code():\n"
        "    # n_k = 0: N_k and m_k both shrink by the decay, so e_k = m_k / N_k stays where it was\n"
        '    return "b"'
    ),
    explain=(
        "After 500 EMA steps on section 1's points, the far code has not moved "
        "(up to the slow shrink of 08.4) and wins no point. What "
        "revives codes in the VQ-VAE below is something else (section 4 counts each way): the encodings "
        "drift into a dead code's cell, a code still chosen now and then on other digits moves towards them, "
        "or its neighbours move away, for the plain and the EMA codebook alike; or a reset puts the code "
        "where the data is"
    ),
    explanation=(
        "With n_k = 0 the EMA update is N_k <- g N_k and m_k <- g m_k, so e_k = m_k / N_k is unchanged: a "
        "code that wins no encoding stays where it was (exercise 08.4 finds the one exception, the "
        "smoothing's eps, after about a thousand steps). EMA changes how chosen codes move, not which "
        "codes are chosen; a code that nobody chooses comes back only when the encodings or its neighbours "
        "move so that it is chosen again, or when it is moved to the encodings (resets)."
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
    "08.3",
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


def steps_to_half_length(decay: float = 0.99, eps: float = 1e-5, max_steps: int = 100_000) -> int:
    """Run the package's EMA codebook update with one code that no encoding ever chooses, started as the
    package starts it (count 1, sum = the code): the number of steps until that code is half as long."""
    from ..models.vq import VectorQuantizer

    g = torch.Generator().manual_seed(0)
    q = VectorQuantizer(4, 2, ema=True, decay=decay, eps=eps)
    start = q.codebook.detach()[3].norm()
    flat = torch.randn(64, 2, generator=g)
    idx = torch.randint(0, 3, (64,), generator=g)  # codes 0-2 share the encodings; code 3 gets none
    counts = torch.bincount(idx, minlength=4)
    for step in range(1, max_steps + 1):
        q._ema_update(flat, idx, counts)
        if q.codebook.detach()[3].norm() <= start / 2:
            return step
    raise RuntimeError(f"the unused code kept more than half its length for {max_steps} steps")


def _check_dead_code_steps(fn, g=None) -> str:
    from . import Feedback, answer_of, check_number

    got = answer_of(fn)
    if isinstance(got, (int, float)) and not isinstance(got, bool) and math.isinf(got):
        raise Feedback(
            "you answered 'never': the ratio m_k / N_k would indeed stay put if nothing else entered it, but "
            "the smoothing adds eps to the count: once decay^n N_k is as small as eps, the code shrinks.",
            misconception="ratio cancels",
        )
    ran = steps_to_half_length()
    check_number(
        got,
        ran,
        0.03 * ran,
        wrong={
            "count half-life": (
                69.0,
                "69 steps halves the count N_k, but the sum m_k shrinks by the same factor, so their ratio "
                "does not move then: find when the smoothing's eps starts to matter.",
            ),
        },
        explain="The code is m_k / smoothed N_k; both m_k and N_k shrink by decay each step, eps does not.",
    )
    return f"the package's EMA update, run with an unused code, halves it after {ran} steps"


register(
    "08.4",
    "derive where an EMA code that nobody chooses goes",
    checker=_check_dead_code_steps,
    hint=(
        "Follow one code k that receives no encoding, starting from N_k = 1 and m_k = e_0 (how the package "
        "starts it): write N_k and m_k after n steps.",
        "The code is m_k divided by the smoothed count, and with a total count N much larger than K eps the "
        "smoothed count is close to N_k + eps. Which of the two terms wins as n grows?",
        "Set the code's length to half of e_0's length and solve for n with logarithms (decay 0.99, eps 1e-5).",
    ),
    kind="derive",
    solution=(
        "def predicted_steps_to_half_length():\n"
        "    # e_n = decay^n e_0 / (decay^n + eps): half as long when decay^n = eps\n"
        "    return math.log(1e-5) / math.log(0.99)  # about 1146 steps"
    ),
    explanation=(
        "With no encodings, N_k = g^n and m_k = g^n e_0 after n steps, and the smoothed count is about "
        "N_k + eps (the total N is thousands, K eps is 6e-4), so e_k = g^n e_0 / (g^n + eps). The decay "
        "cancels while g^n >> eps, and the code stays put; it is half as long when g^n = eps, at "
        "n = ln(1e-5) / ln(0.99), about 1146 steps, and then it slides to the origin. In the package the "
        "codes start near the origin (uniform in (-1/K, 1/K)), so a dead EMA code stays near where it "
        "started: the EMA update itself does not revive dead codes."
    ),
)


def symbols_seen(g=None, num_codes=64, grid=(7, 7)):
    """The experiment of 08.5: on how many earlier symbols the PixelCNN prior's output at the last grid position
    depends, counted as the positions its gradient reaches (random weights, summed over 8 random grids, so that
    no ReLU switched off by chance hides a path)."""
    from ..models.pixelcnn import CodePrior

    g = g if g is not None else torch.Generator().manual_seed(5)
    with torch.random.fork_rng():
        torch.manual_seed(int(torch.randint(0, 2**31, (1,), generator=g)))
        prior = CodePrior(num_codes).double()
    k = torch.randint(0, num_codes, (8, *grid), generator=g)
    h0 = prior.embed(k).permute(0, 3, 1, 2).detach().requires_grad_(True)  # (8, hidden, H, W): the symbols, embedded
    h = prior.first(h0)
    for block in prior.blocks:
        h = h + block(torch.nn.functional.relu(h))
    prior.out(torch.nn.functional.relu(h))[:, :, -1, -1].sum().backward()
    return int((h0.grad.abs().sum((0, 1)) > 0).sum())


register_prediction(
    "08.5",
    "predict how many earlier symbols the PixelCNN's last position sees",
    experiment=symbols_seen,
    form="number",
    tol=0.5,
    hint=(
        "Follow one layer at a time: a masked 5x5 convolution lets a position see up to 2 rows up and 2 columns "
        "to the left (and right, in the rows above). How far does each masked 3x3 layer after it widen that?",
        "The residual sums and the 1x1 layer act at one position: they widen nothing. The last position sits in "
        "the bottom-right corner, so only what lies up and to its left matters.",
    ),
    solution=(
        "def predicted_symbols_seen():\n"
        "    # the 5x5 layer reaches 2 rows up and 2 columns left; each of the three 3x3 layers one more:\n"
        "    # all but the top row and the left column of the 7x7 grid: 6 x 6 = 36 positions, less the last itself\n"
        "    return 35"
    ),
    explain=(
        "The last position's conditional depends on all but the top row and the left column: those 13 "
        "symbols are out of its reach, though the factorisation would allow them. Elsewhere "
        "the stacked masks also leave PixelCNN's blind spot, a few symbols up and to the right that a position "
        "cannot see (the gated PixelCNN's two stacks remove it)"
    ),
    explanation=(
        "A masked convolution of size 2r+1 lets a position look r rows up and r columns left: the 5x5 type-A layer "
        "r = 2, each 3x3 type-B layer one more, 5 in all after four layers; residual sums and the 1x1 output "
        "layer act at one position and add nothing. From the bottom-right corner of a 7x7 grid that reaches all "
        "but the top row and the left column: 6 x 6 = 36 positions, less the position itself, 35 of the 48 "
        "earlier symbols. An autoregressive factorisation is exact in principle; what each conditional can use "
        "is what the network's receptive field reaches."
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "08.1",
        M(
            "forgot-the-2",
            "dropped the 2 of the squared norm's derivative",
            "the derivative of ||z - e||^2 with respect to e is 2 (e - z): keep its 2.",
            lambda n: 1.0 / torch.as_tensor(n, dtype=torch.float64),
        ),
        M(
            "forgot-n",
            "gave the step for one encoding whatever their number",
            "the codebook term sums over all n encodings that chose the code: its gradient grows with n.",
            lambda n: 0.5 * torch.ones_like(torch.as_tensor(n, dtype=torch.float64)),
        ),
    )
    add_misconceptions(
        "08.3",
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
        "08.2",
        M("chose (a)", "thought the EMA pulls every code towards the data", "only chosen codes are averaged."),
        M("chose (c)", "thought the EMA jumps every code to a centroid", "a code with no encodings has no centroid."),
    )
    add_misconceptions(
        "08.4",
        M(
            "count half-life",
            "gave the half-life of the running count, not of the code",
            "the running sum shrinks with the count, so the code does not move while the decay cancels.",
        ),
        M(
            "ratio cancels",
            "answered 'never': forgot the smoothing's eps",
            "the smoothed count is about N_k + eps: once decay^n is as small as eps, the code shrinks.",
        ),
    )
    add_misconceptions(
        "08.5",
        M(
            "every-earlier-symbol",
            "answered all 48: took the factorisation's context for the network's",
            "p(k_i | k_<i) allows every earlier symbol, but the network sees only as far as its stacked masked "
            "kernels reach: 5 rows up and 5 columns left here.",
            lambda: 48,
        ),
        M(
            "first-layer-only",
            "counted only the first 5x5 layer's window (8 symbols)",
            "each masked 3x3 layer after the first widens the view by one row up and one column left.",
            lambda: 8,
        ),
    )


_mc()
