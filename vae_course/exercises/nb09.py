"""Exercises of notebook 09 (what the prior costs): the free-bits gradient, the prior gap a code forces,
which gap a q* stopped too early gets wrong, and the prior's mass in the middle of a ring of codes."""

import math

import torch

from . import case, register, register_prediction


def _free_bits_grad_reference(kl: torch.Tensor, lam: float) -> torch.Tensor:
    return (kl >= lam).to(kl.dtype)  # d/dk max(lam, k): 0 below the floor, 1 above (1 at k = lam, as clamp)


def _free_bits_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(9)
    return [
        case(torch.rand(8, generator=g), 0.25, label="8 units with KLs in [0, 1), floor 0.25 nats"),
        case(torch.tensor([0.0, 0.1, 0.5, 2.0]), 0.5, label="KLs 0, 0.1, 0.5, 2 with floor 0.5 (one sits on it)"),
        case(torch.tensor([0.3, 0.4]), 0.0, label="floor 0: the plain KL, every unit gets gradient 1"),
    ]


register(
    "09.1",
    "derive the free-bits gradient",
    reference=_free_bits_grad_reference,
    cases=_free_bits_cases,
    hint=(
        "max(lam, k) is a constant on one side of lam and k itself on the other.",
        "The derivative of a constant is 0; of k with respect to k, 1. Compare each unit's KL with the floor.",
    ),
    kind="derive",
    solution="def free_bits_grad(kl, lam):\n    return (kl >= lam).to(kl.dtype)",
    explanation=(
        "d max(lam, k) / dk is 0 for k < lam and 1 for k > lam. A unit whose KL is under the floor gets no "
        "gradient from the KL term at all: only the reconstruction moves it, so nothing pushes it to collapse; "
        "above the floor the plain KL's pull returns. That is why free-bits units sit near lam."
    ),
)


def _forced_gap_reference(kl_term: float, n_images: int) -> float:
    # E_x KL(q(z|x) || p) = I_q(x; z) + KL(q(z) || p) and I_q(x; z) <= log N: the rest of the KL term is gap
    return max(0.0, kl_term - math.log(n_images))


def _forced_gap_cases(g=None):
    return [
        case(2.27, 1438, label="section 2's 2-D digit VAE: KL term 2.27 nats, N = 1438 training images"),
        case(20.0, 60000, label="a larger VAE on MNIST: KL term 20 nats, N = 60000"),
        case(12.0, 1000, label="KL term 12 nats on N = 1000 images"),
        case(7.0, 1096, label="KL term 7 nats on N = 1096 images (log N just above 7)"),
    ]


register(
    "09.2",
    "derive the prior gap a code forces",
    reference=_forced_gap_reference,
    cases=_forced_gap_cases,
    atol=1e-3,
    rtol=1e-4,
    hint=(
        "Start from the identity above: the KL term splits into I_q(x; z) and KL(q(z) || p(z)). Bound the first "
        "part, and the second is what is left.",
        "I_q(x; z) is the information z carries about which of the N training images was encoded, an index "
        "drawn uniformly from N. What is the entropy of that index, in nats? And can a KL be negative?",
    ),
    kind="derive",
    solution=(
        "def forced_prior_gap(kl_term, n_images):\n"
        "    # I_q(x; z) <= H(index) = log N, and KL(q(z) || p(z)) >= 0\n"
        "    return max(0.0, kl_term - math.log(n_images))"
    ),
    explanation=(
        "E_x KL(q(z|x) || p(z)) = I_q(x; z) + KL(q(z) || p(z)). The code can tell at most which of the N "
        "training images it came from, so I_q(x; z) <= H(index) = log N nats, and KL(q(z) || p(z)) >= KL "
        "term - log N; a KL is never negative, hence the max with 0. A code that carries more than log N nats "
        "has an aggregate posterior of N separate bumps, and the prior's mass between them is hole."
    ),
)


def toy_early_stop(g=None):
    """The experiment of 09.3: the two gaps of one image under a 1-D latent model (z ~ N(0, 1), four Bernoulli
    pixels with logits 3 tanh(b_j z + c_j)), every integral by quadrature (no Monte Carlo noise). The encoder's q
    is N(0, 1); q* is plain gradient ascent on the ELBO from there, stopped after 5 steps or run for 500. Returns the
    letter of 09.3's options that the numbers bear out."""
    import numpy as np

    b = torch.tensor([2.0, -1.5, 1.0, 2.5], dtype=torch.float64)  # the decoder's weights and biases
    c = torch.tensor([0.5, 1.0, -1.0, -2.0], dtype=torch.float64)
    x = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=torch.float64)

    def log_joint(z):  # (n,) -> (n,): log p(x | z) + log p(z)
        logits = 3 * torch.tanh(b * z[:, None] + c)
        log_lik = (x * logits - torch.nn.functional.softplus(logits)).sum(1)  # Bernoulli log-likelihood on logits
        return log_lik - 0.5 * z**2 - 0.5 * math.log(2 * math.pi)

    grid = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    log_px = torch.logsumexp(log_joint(grid), 0) + math.log(grid[1] - grid[0])
    nodes, weights = (torch.tensor(v, dtype=torch.float64) for v in np.polynomial.hermite_e.hermegauss(60))
    weights = weights / weights.sum()

    def elbo(m, log_s):  # E_q[log p(x, z)] + H(q), q = N(m, exp(log_s)^2), by Gauss-Hermite quadrature
        return (weights * log_joint(m + log_s.exp() * nodes)).sum() + log_s + 0.5 * math.log(2 * math.pi * math.e)

    def ascend(steps):  # plain gradient ascent on (m, log s) from the encoder's q (torch.optim imports slowly)
        q = torch.zeros(2, dtype=torch.float64, requires_grad=True)
        for _ in range(steps):
            (grad,) = torch.autograd.grad(elbo(q[0], q[1]), q)
            q = (q + 0.05 * grad).detach().requires_grad_(True)
        return elbo(q[0], q[1]).item()

    zero = torch.zeros((), dtype=torch.float64)
    enc, early, full = elbo(zero, zero).item(), ascend(5), ascend(500)
    # (approximation, amortization) gap of each q*
    gaps = {q: (log_px.item() - e, e - enc) for q, e in (("early", early), ("full", full))}
    if gaps["early"][0] > gaps["full"][0] and gaps["early"][1] < gaps["full"][1]:
        return "b"
    return "a" if gaps["early"][1] > gaps["full"][1] else "c"


register_prediction(
    "09.3",
    "predict which gap an early-stopped q* gets wrong",
    experiment=toy_early_stop,
    form="choice",
    options={
        "a": (
            "the amortization gap is ELBO(q*) - ELBO(q_phi): a q* stopped early has a lower ELBO(q*), so this gap "
            "comes out smaller, not larger."
        ),
        "b": (
            "log p(x) and the encoder's ELBO do not depend on q*, so their difference, the whole gap, is fixed; a q* "
            "stopped early has a lower ELBO(q*), which moves nats from the amortization gap into the approximation "
            "gap: the approximation gap comes out too large and the amortization gap too small, by the same amount."
        ),
        "c": (
            "the two gaps add up to log p(x) - ELBO(q_phi), which does not depend on q*: if one comes out too "
            "large, the other comes out too small by as much."
        ),
    },
    hint=(
        "Which of the three quantities in the split, log p(x), ELBO(q*) and ELBO(q_phi), depends on where the "
        "optimisation stopped?",
        "Their sum, log p(x) - ELBO(q_phi), does not move. Which way does ELBO(q*) move if q* is stopped early?",
    ),
    solution=(
        "def predicted_early_stop():\n"
        "    # the total gap is fixed; a lower ELBO(q*) moves nats from the amortization into the approximation gap\n"
        '    return "b"'
    ),
    explain=(
        "A toy with one latent dimension and four pixels, every integral by quadrature: q* stopped after 5 "
        "gradient steps instead of 500 gives a larger approximation gap and a smaller amortization gap, with "
        "the same sum. That is why the notebook runs 300 more steps and checks that ELBO(q*) no longer moves"
    ),
    explanation=(
        "The split log p(x) - ELBO(q_phi) = [log p(x) - ELBO(q*)] + [ELBO(q*) - ELBO(q_phi)] has a fixed total: "
        "neither log p(x) nor the encoder's ELBO depends on q*. An optimiser stopped early leaves ELBO(q*) too "
        "low, and the nats it did not find are booked to the Gaussian family (the approximation gap) instead "
        "of to the shared encoder (the amortization gap). The split is only as good as q*'s convergence."
    ),
)


def _disc_share(g=None):
    """The experiment of 09.4: the share of 200,000 draws of a 2-D N(0, I) that fall inside the unit circle
    (P(chi^2_2 < 1) = 1 - exp(-1/2) = 0.393)."""
    g = g if g is not None else torch.Generator().manual_seed(9)
    z = torch.randn(200_000, 2, generator=g)
    return (z.norm(dim=1) < 1).float().mean().item()


register_prediction(
    "09.4",
    "predict the prior's mass in the middle of the ring",
    experiment=_disc_share,
    form="number",
    tol=0.03,
    hint=(
        "In one dimension 68 % of N(0, 1) lies within one standard deviation. Here both coordinates must be "
        "small at once, and the disc is smaller than the square |z1| < 1, |z2| < 1.",
        "The squared radius z1^2 + z2^2 of a 2-D standard normal is chi-square with 2 degrees of freedom, an "
        "exponential with mean 2: what is P(r^2 < 1)?",
    ),
    solution=(
        "def disc_prediction():\n"
        "    # r^2 = z1^2 + z2^2 is exponential with mean 2: P(r^2 < 1) = 1 - exp(-1/2)\n"
        "    return 1 - math.exp(-0.5)"
    ),
    explanation=(
        "The squared radius of a 2-D standard normal is chi-square with 2 degrees of freedom, an exponential "
        "with mean 2, so P(|z| < 1) = 1 - exp(-1/2) = 0.39: the 1-D rule (68 %) does not carry over, and the "
        "disc holds less than the square around it (0.68^2 = 0.47). Still, two samples in five land in the "
        "middle of the ring, where the R^2 moon model put few codes."
    ),
    explain=(
        "The experiment draws 200,000 points from a 2-D N(0, I); the next cells read the same share, 1 - "
        "exp(-1/2), against the moon codes and count the prior samples that land inside."
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    add_misconceptions(
        "09.1",
        M(
            "gradient-below-floor",
            "gave units under the floor the plain KL's gradient (1 everywhere)",
            "under the floor max(lam, k) is the constant lam: its derivative is 0, not 1.",
            lambda kl, lam: torch.ones_like(kl),
        ),
        M(
            "inverted",
            "swapped the two sides: gradient 1 under the floor, 0 above",
            "it is the other way round: max(lam, k) = k, with derivative 1, only where k is above lam.",
            lambda kl, lam: (kl < lam).to(kl.dtype),
        ),
    )
    add_misconceptions(
        "09.2",
        M(
            "no-floor-at-zero",
            "returned KL term - log N even where it is negative",
            "a KL divergence is never negative: where the KL term is under log N the bound says nothing, 0.",
            lambda kl_term, n_images: kl_term - math.log(n_images),
        ),
        M(
            "bits-not-nats",
            "used log2 N (bits) against a KL term in nats",
            "the KL term is in nats, so the entropy of the index is ln N, not log2 N.",
            lambda kl_term, n_images: max(0.0, kl_term - math.log2(n_images)),
        ),
        M(
            "all-kl-is-gap",
            "took the whole KL term as the prior gap",
            "only the part of the KL term beyond the information the code carries, I_q(x; z) <= log N, is forced.",
            lambda kl_term, n_images: kl_term,
        ),
        M(
            "nothing-forced",
            "said no gap is ever forced (a flexible encoder can always match the prior)",
            "the information the code carries is capped by log N; a KL term above it must leave a gap.",
            lambda kl_term, n_images: 0.0,
        ),
    )
    add_misconceptions(
        "09.4",
        M(
            "one-dimensional-rule",
            "used the 1-D rule: 68 % within one standard deviation",
            "68 % is the 1-D share; in 2-D both coordinates must be small at once: P(|z| < 1) = 1 - exp(-1/2).",
            lambda: 0.6827,
        ),
        M(
            "square-not-disc",
            "squared the 1-D share: took the square |z1| < 1, |z2| < 1 for the disc",
            "0.68^2 = 0.47 is the mass of the square around the circle; the disc inside it holds less.",
            lambda: 0.6827**2,
        ),
    )
    add_misconceptions(
        "09.3",
        M("chose (a)", "thought an early stop inflates the amortization gap", "a lower ELBO(q*) shrinks it."),
        M("chose (c)", "thought both gaps grow", "their sum does not depend on q*: one grows as the other shrinks."),
    )


_mc()
