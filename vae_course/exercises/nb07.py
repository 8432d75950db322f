"""Exercises of notebook 07 (conditional VAE): the conditional ELBO, predicting what a probe reads from the code, and
the closed-form class prior."""

import functools

import torch
import torch.nn.functional as F

from . import case, register, register_prediction


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
    "07.2",
    "the conditional ELBO with a label-dependent prior (derive)",
    reference=_conditional_elbo_reference,
    cases=_conditional_elbo_cases,
    atol=1e-4,
    hint=(
        "Start from the ELBO of notebook 06 and condition every distribution on c: the decoder, the encoder "
        "and the prior. The reconstruction term is the same Bernoulli log-likelihood as before.",
        "The new part is the KL between two diagonal Gaussians. Write E_q[log q - log p] per dimension and "
        "use E_q[(z - m)^2] = (mu - m)^2 + sigma^2.",
        "Check your KL: with prior_mu = 0 and prior_logvar = 0 it must reduce to the KL of 04.7, and with "
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
        "standard-normal prior of notebook 07 it is 04.7's KL: the label then enters only through the "
        "encoder and decoder, and z is free to hold what the label does not say (the style)."
    ),
)


def _best_class_prior_reference(mu, logvar):
    m = mu.mean(0)
    v = (logvar.exp() + (mu - m) ** 2).mean(0)
    return m, v.log()


def _best_class_prior_cases(g=None):
    g = g if g is not None else torch.Generator().manual_seed(11)
    mu = torch.randn(8, 2, generator=g) * 1.5 + 0.5
    logvar = torch.randn(8, 2, generator=g) * 0.8 - 1.0
    mu3 = torch.randn(20, 3, generator=g)
    logvar3 = torch.randn(20, 3, generator=g) * 1.5 - 2.0  # posterior widths that differ a lot between digits
    close = torch.randn(1, 2, generator=g) + 0.1 * torch.randn(5, 2, generator=g)  # means close together
    return [
        case(mu, logvar, label="the codes of 8 digits of one class, 2-d"),
        case(mu3, logvar3, label="20 digits, 3-d, posterior widths that differ a lot between digits"),
        case(close, torch.randn(5, 2, generator=g) - 1.0, label="5 digits encoded close together"),
    ]


register(
    "07.3",
    "the closed-form prior p(z | c) for a fixed encoder (derive)",
    reference=_best_class_prior_reference,
    cases=_best_class_prior_cases,
    atol=1e-4,
    hint=(
        "Write 07.2's KL for one coordinate with the prior N(m, v), average it over the class's digits, and keep "
        "only the terms that contain m or v.",
        "Set the derivative with respect to m to zero first; then, with m at its optimum, the derivative with "
        "respect to v (not its logarithm: the zero is the same).",
        "Test your v on two extremes: every digit of the class encoded at the same mean, and every posterior "
        "very narrow. Does your prior cover the codes in both?",
    ),
    kind="derive",
    solution=(
        "def best_class_prior(mu, logvar):\n"
        "    m = mu.mean(0)                                  # (D,)\n"
        "    v = (logvar.exp() + (mu - m) ** 2).mean(0)      # (D,): mean of sigma^2 + (mu - m)^2\n"
        "    return m, v.log()"
    ),
    explanation=(
        "Per coordinate the class's average KL term is (1/2) [ mean(sigma^2 + (mu - m)^2) / v - 1 + log v "
        "- mean(log sigma^2) ]. Its derivative in m, -mean(mu - m) / v, is zero at m = mean(mu); its derivative "
        "in v, (1/2) [1/v - mean(sigma^2 + (mu - m)^2) / v^2], at v = mean(sigma^2 + (mu - m)^2) = mean(sigma^2) "
        "+ the variance of the means (divided by n, not n - 1). This is the mean and variance of the class's "
        "pooled codes q(z | c), the average of its posteriors (the law of total variance): the best Gaussian "
        "matches the pooled codes' first two moments, so it must cover both the spread of each posterior and "
        "the spread of the means."
    ),
)


@functools.cache
def _probe_letter():
    """The experiment of 07.1 at a small scale: a CVAE and a plain VAE with 2-d codes (hidden 128) on the
    8x8 digits, 30 epochs each (Adam 3e-3, batches of 64, seed 0), and notebook 07's probe, a 15-nearest-
    neighbour classifier from the posterior means of the training digits to the test digits' classes.
    (a) when the CVAE's code is read at least as well as the plain VAE's (within 2 points); (b) when it is
    read worse, but nearer the plain VAE's accuracy than the commonest-class guess; (c) otherwise.
    Deterministic (seed 0, one thread), so it runs once per process: the check, a re-run of the check
    and the tests share it. The caller's random state and thread count are left as they were."""
    from sklearn.neighbors import KNeighborsClassifier

    from .. import data, fit
    from ..diagnostics import posterior_means
    from ..models.vae import CVAE, VAE, vae_loss_fn
    from ..seeding import seeded, threads
    from ..train import adam

    x_train, y_train = data.load("digits", "train")
    x_test, y_test = data.load("digits", "test")

    def probe(model, conditional):
        labels = (y_train,) if conditional else ()
        test_labels = (y_test,) if conditional else ()
        mu_train = posterior_means(model, x_train, *labels)[0]
        mu_test = posterior_means(model, x_test, *test_labels)[0]
        clf = KNeighborsClassifier(n_neighbors=15).fit(mu_train.numpy(), y_train.numpy())
        return clf.score(mu_test.numpy(), y_test.numpy())

    accuracy = {}
    with threads(1):
        for conditional in (True, False):
            with seeded(0):
                if conditional:
                    model = CVAE(image_size=x_train.shape[-1], latent_dim=2, hidden=128, n_classes=10)
                else:
                    model = VAE(image_size=x_train.shape[-1], latent_dim=2, hidden=128)
            model.init_output_bias(x_train)
            fit(
                model,
                vae_loss_fn(),
                (x_train, y_train),
                30,
                batch_size=64,
                optimizer=adam(3e-3),
                seed=0,
                progress=False,
            )
            accuracy[conditional] = probe(model.cpu().eval(), conditional)
    guess = torch.bincount(y_test).max().item() / len(y_test)
    cvae, plain = accuracy[True], accuracy[False]
    if cvae >= plain - 0.02:
        return "a"
    return "b" if plain - cvae < cvae - guess else "c"


register_prediction(
    "07.1",
    "predict how much of the class a probe reads from the CVAE's code",
    experiment=_probe_letter,
    form="choice",
    options={
        "a": "the CVAE's code would then hold the class as the plain VAE's does; but the decoder is given c for "
        "free, and every nat the code spends on the class costs KL without improving the reconstruction.",
        "b": "some class information does stay in z (not every style exists for every class), but far less than "
        "in a plain VAE's code, where it is the first thing the decoder needs.",
        "c": "the decoder is given c for free, so a code that also held the class would pay KL for nothing: "
        "the encoder drops most of it, and the probe reads the class nearer to always guessing the commonest class "
        "than to the plain VAE's accuracy.",
    },
    hint=(
        "What does the decoder of a plain VAE need from z to draw the right digit, and what does the CVAE's "
        "decoder get without asking z?",
        "The KL term charges for every nat z carries about x. Is there a reason to pay for the class twice?",
    ),
    solution='def probe_prediction():\n    return "c"',
    explanation=(
        "A plain VAE's decoder learns the digit only from z, so its code is organised by class (its clusters). "
        "The CVAE's decoder reads the class from c; carrying it in z as well would cost KL and buy nothing, so "
        "the optimum drops it, up to the little class information that style and class share."
    ),
    explain=(
        "(The check trains a CVAE and a plain VAE with 2-d codes on the 8x8 digits, a few seconds; the next cell "
        "runs the same probe on this notebook's MNIST models.)"
    ),
)


# --------------------------------------------------------------------------- misconceptions
def _mc():
    from . import Misconception as M
    from . import add_misconceptions

    def _recon(x, logits):  # (B,) Bernoulli log-likelihood
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)

    def _std_kl(mu, logvar):  # (B,) KL(q || N(0, I)), 04.7's
        return 0.5 * (logvar.exp() + mu**2 - 1 - logvar).sum(-1)

    add_misconceptions(
        "07.2",
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
        "07.3",
        M(
            "means-spread-forgotten",
            "took the average posterior variance as the prior's variance: the spread of the means is missing",
            "E_q[(z - m)^2] = sigma^2 + (mu - m)^2: the prior must also cover how far each code's mean lies from m.",
            lambda mu, logvar: (mu.mean(0), logvar.exp().mean(0).log()),
        ),
        M(
            "posterior-spread-forgotten",
            "took the variance of the means as the prior's variance: each posterior's own spread is missing",
            "each code is a distribution, not a point: its variance sigma^2 adds to the spread of the means.",
            lambda mu, logvar: (mu.mean(0), ((mu - mu.mean(0)) ** 2).mean(0).log()),
        ),
        M(
            "sigmas-averaged",
            "averaged the posteriors' standard deviations and squared the average, instead of averaging variances",
            "the KL is linear in sigma^2, not in sigma: average the variances (the squared mean of the sigmas is "
            "smaller wherever they differ).",
            lambda mu, logvar: (
                mu.mean(0),
                ((0.5 * logvar).exp().mean(0) ** 2 + ((mu - mu.mean(0)) ** 2).mean(0)).log(),
            ),
        ),
    )
    add_misconceptions(
        "07.1",
        M(
            "chose (a)",
            "predicted that the CVAE's code holds the class as a plain VAE's does",
            "the decoder gets the class from c: holding it in z too would cost KL for nothing.",
        ),
        M(
            "chose (b)",
            "predicted that the probe reads the class from the CVAE's code nearly as well",
            "the class left in z is small: the probe lands nearer the commonest-class guess.",
        ),
    )


_mc()
