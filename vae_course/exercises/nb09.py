"""Exercises of notebook 09 (what the prior costs): the free-bits gradient, the free-bits floor."""

import torch

from . import case, register


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


#: The course's (LATENT, FREE_BITS), for where the notebook itself cannot be read (the grader's sandbox
#: hides it); tests/test_prior_costs.py keeps it equal to the notebook's parameters cell.
COURSE_FLOOR = (8, 0.25)


def _floor_settings() -> tuple[int, float]:
    """(D, lam): the notebook's LATENT and FREE_BITS as it runs them (the course's, or the learner's
    changed values recorded by its parameters cell), so the expected floor follows the parameters."""
    from ..claims import _state
    from ..parameters import course_settings

    try:
        values = dict(course_settings("09_what_the_prior_costs"))
    except (OSError, ValueError, KeyError):
        values = dict(zip(("LATENT", "FREE_BITS"), COURSE_FLOOR))
    if _state.get("notebook") == "09_what_the_prior_costs":
        values.update({k: v for k, (_, v) in _state.get("changed", {}).items()})
    return int(values["LATENT"]), float(values["FREE_BITS"])


def _check_floor(fn, g=None) -> str:
    from . import answer_of, check_number

    d, lam = _floor_settings()
    floor = d * lam
    got = check_number(
        answer_of(fn),
        floor,
        0.01,
        wrong={
            "one-unit-floor": (lam, f"that is one unit's floor; the term sums over all {d} units."),
            "zero": (0.0, "the plain KL can reach 0; the free-bits term cannot go below its floors."),
        },
        explain="The term is sum_j max(lam, KL_j) >= sum_j lam = D * lam.",
    )
    return f"you predicted {got:.2f} nats; the floor is D x lam = {d} x {lam:g} = {floor:.2f} nats per image"


register(
    "09.2",
    "predict the smallest free-bits KL term",
    checker=_check_floor,
    hint=("Each unit's term is max(lam, KL_j): how small can one be?", "Add up the units."),
    kind="predict",
    solution=(
        "def predicted_free_bits_floor():\n"
        "    d, lam = 8, 0.25  # the course's LATENT and FREE_BITS (the notebook's cell reads the parameters)\n"
        "    return d * lam"
    ),
    explanation=(
        "sum_j max(lam, KL_j) >= D lam nats per image, whatever the encoder does: the "
        "training objective pays at least that, so a unit gains nothing by going below "
        "lam. The true KL the table reports can be a little under it (units hover around the floor), or far above "
        "for units that carry a lot."
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
            "one-unit-floor",
            "gave one unit's floor (lam) instead of the sum over the D units",
            "that is one unit's floor; the term sums over all the units.",
        ),
        M("zero", "said the term can reach 0, like the plain KL", "the free-bits term cannot go below its floors."),
    )


_mc()
