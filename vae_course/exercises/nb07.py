"""Exercises of notebook 07 (conditional VAE): the conditional ELBO, and reading a CVAE's figure."""

import torch
import torch.nn.functional as F

from . import answer_of, case, check_choice, register


def _conditional_elbo_reference(x, logits, mu, logvar, prior_mu, prior_logvar):
    recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    var_ratio = (logvar - prior_logvar).exp()
    kl = 0.5 * (var_ratio + (mu - prior_mu) ** 2 / prior_logvar.exp() - 1 - (logvar - prior_logvar)).sum(-1)
    return recon - kl


def _conditional_elbo_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(9)

    def batch(b, d, pixels=16):
        x = (torch.rand(b, 1, pixels, pixels, generator=g) > 0.6).float()
        logits = torch.randn(b, 1, pixels, pixels, generator=g) * 2
        return x, logits, torch.randn(b, d, generator=g), torch.randn(b, d, generator=g)

    x, logits, mu, logvar = batch(4, 3)
    x2, logits2, mu2, logvar2 = batch(2, 5, 8)
    zeros = torch.zeros_like(mu)
    return [
        case(x, logits, mu, logvar, zeros, zeros, label="the standard-normal prior p(z | c) = N(0, I) (notebook 07)"),
        case(
            x,
            logits,
            mu,
            logvar,
            torch.randn(4, 3, generator=g),
            torch.randn(4, 3, generator=g),
            label="a prior network's N(prior_mu, exp(prior_logvar)) for each label",
        ),
        case(
            x2, logits2, mu2, logvar2, mu2.clone(), logvar2.clone(), label="q equal to the prior: only the recon term"
        ),
        case(
            x2,
            logits2,
            mu2,
            torch.zeros_like(mu2),
            torch.zeros_like(mu2),
            torch.full_like(mu2, 2.0),
            label="a wide prior (logvar 2) and unit-variance q",
        ),
    ]


register(
    "07.1",
    "the conditional ELBO with a label-dependent prior (derive)",
    reference=_conditional_elbo_reference,
    cases=_conditional_elbo_cases,
    atol=1e-4,
    hint=(
        "Start from the ELBO of notebook 06 and condition every distribution on c: the decoder, the encoder "
        "and the prior. The reconstruction term is the same Bernoulli log-likelihood as before.",
        "The new part is the KL between two diagonal Gaussians. Write E_q[log q - log p] per dimension and "
        "use E_q[(z - m)^2] = (mu - m)^2 + sigma^2.",
        "Check your KL: with prior_mu = 0 and prior_logvar = 0 it must reduce to the KL of 04.2, and with "
        "q equal to the prior it must be 0.",
    ),
    kind="derive",
    solution=(
        "def conditional_elbo(x, logits, mu, logvar, prior_mu, prior_logvar):\n"
        '    recon = -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)\n'
        "    kl = 0.5 * (\n"
        "        (logvar - prior_logvar).exp()\n"
        "        + (mu - prior_mu) ** 2 / prior_logvar.exp()\n"
        "        - 1\n"
        "        - (logvar - prior_logvar)\n"
        "    ).sum(-1)\n"
        "    return recon - kl  # (B,)"
    ),
    explanation=(
        "log p(x | c) >= E_q(z|x,c)[log p(x | z, c)] - KL(q(z | x, c) || p(z | c)). For diagonal Gaussians "
        "the KL per dimension is (s^2/s_p^2 + (mu - m_p)^2 / s_p^2 - 1 - log(s^2/s_p^2)) / 2. With the "
        "standard-normal prior of notebook 07 it is 04.2's KL: the label then enters only through the "
        "encoder and decoder, and z is free to hold what the label does not say (the style)."
    ),
)


_STYLE_OPTIONS = {
    "a": (
        "right. The decoder gets the class from c, so the KL term makes it cheaper for z to carry only what "
        "c does not: slant, stroke width, size. One z, ten labels: ten digits in one style."
    ),
    "b": (
        "z does not fix the image on its own: the decoder also reads c, and c is the part that says which digit. "
        "Had the decoder ignored c, every row of the notebook's style-transfer figure would repeat one digit."
    ),
    "c": (
        "the style does not change with the label: it is held in z, which stays fixed along the row. A random "
        "style per digit would need a fresh z per image, as in sampling z from the prior for each one."
    ),
}


def _check_style_choice(fn, g=None) -> str:
    return check_choice(answer_of(fn), {k: v for k, v in _STYLE_OPTIONS.items()}, "a")


register(
    "07.2",
    "what stays when the label changes (interpret)",
    checker=_check_style_choice,
    hint=(
        "Which of the decoder's two inputs changes along the row, and which stays fixed?",
        "The KL term charges for every bit z carries; the label is given for free. What is left for z to say?",
    ),
    kind="interpret",
    solution='def style_answer():\n    return "a"  # c sets the digit, z keeps the style',
    explanation=_STYLE_OPTIONS["a"],
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    def _recon(x, logits):  # (B,) Bernoulli log-likelihood
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)

    def _std_kl(mu, logvar):  # (B,) KL(q || N(0, I)), 04.2's
        return 0.5 * (logvar.exp() + mu**2 - 1 - logvar).sum(-1)

    add_misconceptions(
        "07.1",
        M(
            "prior-ignored",
            "kept the KL against N(0, I): the label's prior never enters",
            "the prior here is N(prior_mu, exp(prior_logvar)): the KL must compare q with it, not with N(0, I).",
            lambda x, logits, mu, logvar, pm, plv: _recon(x, logits) - _std_kl(mu, logvar),
        ),
        M(
            "kl-sign",
            "added the KL instead of subtracting it",
            "the ELBO is the reconstruction term MINUS the KL (the KL is never negative).",
            lambda x, logits, mu, logvar, pm, plv: (
                _recon(x, logits)
                + 0.5 * ((logvar - plv).exp() + (mu - pm) ** 2 / plv.exp() - 1 - (logvar - plv)).sum(-1)
            ),
        ),
        M(
            "mean-gap-unscaled",
            "left (mu - prior_mu)^2 undivided by the prior's variance",
            "E_q[(z - m)^2] / s_p^2: the mean's gap is measured in units of the prior's variance too.",
            lambda x, logits, mu, logvar, pm, plv: (
                _recon(x, logits) - 0.5 * ((logvar - plv).exp() + (mu - pm) ** 2 - 1 - (logvar - plv)).sum(-1)
            ),
        ),
    )
    add_misconceptions(
        "07.2",
        M("chose (b)", "chose (b): thinks z alone fixes the image", "the decoder also reads c, the digit's class."),
        M(
            "chose (c)",
            "chose (c): thinks the style is drawn afresh for each label",
            "the style is held in z, fixed along the row.",
        ),
    )


_mc()
