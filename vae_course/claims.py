"""Teaching claims: the numbers a notebook's text relies on, checked where they are made.

A notebook states a result ("the VAE's samples are closer to real moons than the AE's") and
checks it with ``claim``::

    claim("vae-samples-closer", vae_dist < ae_dist,
          measured=f"VAE {vae_dist:.3f} vs AE {ae_dist:.3f}",
          why="with few epochs the VAE's decoder has not yet learned to draw sharp moons",
          try_="raise EPOCHS")

What happens when a claim does not hold depends on the settings it was measured under:

* **the course's own settings** (the parameters cell unchanged), and **always under the tests**
  (``VAE_COURSE_CLAIMS=strict``, set by the test configuration): ``ClaimFailed`` is raised, an
  ``AssertionError`` exactly like a plain ``assert``, so CI fails when a claim stops being true;
* **settings a learner changed** (``settings(...)`` in the parameters cell found a value that
  differs from the course's): a visible notice says what was claimed, what was measured, why it may
  not hold with these settings and what to try, and the notebook goes on.

``VAE_COURSE_CLAIMS=notice`` forces notices (``make test-params`` runs every notebook that way
and reads the record of each claim from the JSON-lines file named by ``VAE_COURSE_CLAIMS_LOG``).

Consistency checks that hold for any settings (shapes, identities, a gradient check) stay plain
``assert`` statements: they are not claims about a training run.
"""

from __future__ import annotations

import html
import json
import os
from typing import Any

from .i18n import t, tr
from .parameters import course_settings

MODE_ENV = "VAE_COURSE_CLAIMS"
LOG_ENV = "VAE_COURSE_CLAIMS_LOG"

#: Other values each parameters cell offers, by parameter (offline data sets only: the online ones
#: run where their files are cached). ``make test-params`` runs each, and SEED + 1, to the end.
OFFERED: dict[str, dict[str, list[Any]]] = {
    "00_start_here": {"DATASET": ["moons", "digits"]},
    "01_autoencoder": {"DATASET": ["mnist5k"]},
    "02_moon_interpolation_failure": {"CODE_STD": [0.5, 2.0]},
    "03_denoising_autoencoder": {"DATASET": ["mnist5k"]},
    "04_elbo_derivation": {"DATASET": ["mnist5k", "moons"]},
    "05_gradient_estimators": {"DATASET": ["moons"]},
    "06_vae": {},
    "07_cvae": {},
    "08_vq_vae": {"DATASET": ["digits"]},
    "09_what_the_prior_costs": {},
}


#: One other sensible value for each number a learner may change in a parameters cell (sizes, widths,
#: epochs, numbers of codes, image sizes). ``make test-params`` runs each notebook once with all of
#: them changed at once: it must reach its end (claims as notices), every cell adapting to the values.
ALTERNATIVES: dict[str, dict[str, Any]] = {
    "00_start_here": {"MOON_SIZE": 20},
    "01_autoencoder": {
        "LATENT": 3,
        "PCA_K": 6,
        "HIDDEN": (128, 64),
        "EPOCHS": 30,
        "LINEAR_N": 1000,
        "LINEAR_EPOCHS": 600,
    },
    "02_moon_interpolation_failure": {
        "N_SEEDS": 3,
        "SIZE": 20,
        "LATENT_DIM": 3,
        "HIDDEN": (48,),
        "TWO_PHASES": (0.5, 0.75),
        "STEPS": 400,
        "LR": 2e-3,
        "CODE_PENALTY": 0.05,
        "N_MANY": 192,
        "MANY_HIDDEN": (96,),
        "MANY_STEPS": 300,
        "MANY_LR": 3e-3,
        "PATH_STEPS": 15,
        "REAL": 0.04,
    },
    "03_denoising_autoencoder": {
        "LATENT": 8,
        "HIDDEN": (128,),
        "EPOCHS": 15,
        "MAX_MASK": 0.5,
        "MAX_STD": 0.5,
        "LEVELS": (0.0, 0.2, 0.4),
    },
    "04_elbo_derivation": {
        "DIMS": [1, 2, 4, 8, 16],
        "N_SAMPLES": 500,
        "SIGMA_X": 0.3,
        "MIX_K": [1, 4, 16],
        "MIX_STEPS": 300,
        "MIX_RESTARTS": 2,
        "PPCA_K": 8,
    },
    "05_gradient_estimators": {
        "LATENT": 3,
        "EPOCHS": 6,
        "N": 10_000,
        "N_GRAD": 100,
        "WS_LATENTS": (5, 10),
        "WS_EPOCHS": 6,
        "WS_HIDDEN": 64,
    },
    "06_vae": {
        "LATENT": 10,
        "HIDDEN": 256,
        "DECODER_LAYERS": 1,
        "EPOCHS": 15,
        "MANIFOLD_EPOCHS": 8,
        "SMALL_HIDDEN": 64,
        "EPOCHS_SMALL": 3,
        "LR": 1e-3,
        "LR_SMALL": 2e-3,
        "N_TRAIN": 2000,
        "IWAE_IMAGES": 20,
    },
    "07_cvae": {"LATENT": 4, "HIDDEN": 256, "DECODER_LAYERS": 1, "EPOCHS": 25, "LR": 1e-3, "N_PER_CLASS": 100},
    "08_vq_vae": {
        "N_TRAIN": 2000,
        "NUM_CODES": 32,
        "CODE_DIM": 8,
        "HIDDEN": 24,
        "EPOCHS": 4,
        "LR": 1e-3,
        "BATCH": 128,
        "PRIOR_EPOCHS": 4,
        "N_SAMPLES": 200,
    },
    "09_what_the_prior_costs": {
        "LATENT": 6,
        "EPOCHS": 25,
        "WARMUP_EPOCHS": 8,
        "FREE_BITS": 0.5,
        "EPOCHS_2D": 40,
        "COMPONENTS": 6,
        "N_GAP": 20,
        "MOON_STEPS": 30,
    },
}


class ClaimFailed(AssertionError):
    """A teaching claim did not hold under the course's own settings (or under the tests)."""


_state: dict[str, Any] = {"notebook": None, "changed": {}, "unknown": False}


def settings(notebook: str, **values: Any) -> dict[str, tuple[Any, Any]]:
    """Record the parameters a notebook runs with (called at the end of its parameters cell).

    The course's values are those of the notebook's tagged parameters cell in the course's own copy
    (``parameters.course_settings``). Returns the changed ones as {name: (course value, your value)}
    and, when there are any, prints one line saying that claims will explain themselves instead of
    stopping the notebook. Where the course's copy cannot be read (none installed, or a grading
    sandbox that hides it) the claims explain themselves too, since nobody can tell.
    """
    try:
        course = course_settings(notebook)
    except KeyError:
        raise KeyError(f"no course notebook {notebook!r} holds these settings") from None
    except OSError as e:
        _state.update(notebook=notebook, changed={}, unknown=True)
        print(
            t(
                "(The course's own settings of {notebook} cannot be read here: {e}. Claims will explain themselves.)",
                notebook=notebook,
                e=e,
            )
        )
        return {}
    unknown = sorted(set(values) - set(course))
    if unknown:
        raise KeyError(f"{notebook}: parameters {unknown} are not among the course's {sorted(course)}")
    changed = {k: (course[k], v) for k, v in values.items() if v != course[k]}
    _state.update(notebook=notebook, changed=changed, unknown=False)
    if changed:
        what = ", ".join(f"{k} = {v!r} (course: {c!r})" for k, (c, v) in changed.items())
        print(
            t(
                "You changed {what}. The notebook's claims were measured with the course's settings; "
                "where one does not hold with yours, a notice below says so, and the notebook goes on.",
                what=what,
            )
        )
    return changed


def mode() -> str:
    """ "strict" (a failed claim raises) or "notice" (it is reported and the notebook goes on)."""
    forced = os.environ.get(MODE_ENV, "").strip().lower()
    if forced in ("strict", "notice"):
        return forced
    if forced:
        raise ValueError(f"{MODE_ENV} must be 'strict' or 'notice', got {forced!r}")
    return "notice" if _state["changed"] or _state["unknown"] else "strict"


def _log(record: dict[str, Any]) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")


def _show_notice(name: str, measured: str, why: str, try_: str) -> None:
    lines = [t("Claim not confirmed with your settings: {name}", name=name), t("  measured: {m}", m=tr(measured))]
    if why:
        lines.append(t("  why it may not hold here: {why}", why=tr(why)))
    if try_:
        lines.append(t("  what to try: {try_}", try_=tr(try_)))
    changed = ", ".join(f"{k} = {v!r}" for k, (_, v) in _state["changed"].items())
    if changed:
        lines.append(t("  (your settings: {changed}; the text above was written for the course's)", changed=changed))
    text = "\n".join(lines)
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None:
            body = "<br>".join(html.escape(line) for line in lines)
            display(
                HTML(
                    f'<div style="border-left:4px solid #d9822b;background:#fff4e5;padding:6px 10px;'
                    f'font-family:monospace">{body}</div>'
                )
            )
            return
    except ImportError:
        pass
    print(text)


class Check:
    """A comparison that knows how close it came: ``held``, and a ``margin`` in units of its threshold.

    ``margin`` is the signed distance of the measured value from the threshold, as a fraction of the
    threshold's size: ``above(0.54, 0.40)`` has margin (0.54 - 0.40) / 0.40 = +0.35, and a claim that
    fails has a negative margin. ``make test-seeds`` prints it for every claim and seed, so a claim that
    holds by luck on one machine (margin +0.01) shows itself before another machine's last bits flip it.

    Checks combine: ``a & b`` holds when both hold (margin: the smaller), ``a | b`` when either does
    (the larger); ``every(...)`` is ``&`` over many. A check is truthy when it holds.
    """

    __slots__ = ("held", "margin", "text")

    def __init__(self, held: bool, margin: float, text: str) -> None:
        self.held, self.margin, self.text = bool(held), float(margin), text

    def __bool__(self) -> bool:
        return self.held

    def __and__(self, other: Check) -> Check:
        return Check(self.held and other.held, min(self.margin, other.margin), f"{self.text}; {other.text}")

    def __or__(self, other: Check) -> Check:
        return Check(self.held or other.held, max(self.margin, other.margin), f"{self.text} or {other.text}")

    def __repr__(self) -> str:
        return f"Check(held={self.held}, margin={self.margin:+.3f}, {self.text!r})"


def _fraction(distance: float, threshold: float, scale: float | None = None) -> float:
    # relative to the threshold's size (or to ``scale``); an absolute distance where the threshold is (near) zero
    if scale is not None:
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        return distance / scale
    return distance / abs(threshold) if abs(threshold) > 1e-12 else distance


def _num(x: Any) -> float:
    return float(x.item() if hasattr(x, "item") else x)


def above(value: Any, threshold: Any, scale: float | None = None) -> Check:
    """value > threshold; margin (value - threshold) / |threshold|."""
    v, t = _num(value), _num(threshold)
    return Check(v > t, _fraction(v - t, t, scale), f"{v:.4g} > {t:.4g}")


def below(value: Any, threshold: Any, scale: float | None = None) -> Check:
    """value < threshold; margin (threshold - value) / |threshold|."""
    v, t = _num(value), _num(threshold)
    return Check(v < t, _fraction(t - v, t, scale), f"{v:.4g} < {t:.4g}")


def at_least(value: Any, threshold: Any, scale: float | None = None) -> Check:
    """value >= threshold (a count or a share that may sit exactly on it); margin as for ``above``."""
    v, t = _num(value), _num(threshold)
    return Check(v >= t, _fraction(v - t, t, scale), f"{v:.4g} >= {t:.4g}")


def at_most(value: Any, threshold: Any, scale: float | None = None) -> Check:
    """value <= threshold; margin as for ``below``."""
    v, t = _num(value), _num(threshold)
    return Check(v <= t, _fraction(t - v, t, scale), f"{v:.4g} <= {t:.4g}")


def between(value: Any, low: Any, high: Any) -> Check:
    """low < value < high; margin: the nearer side's, as a fraction of the interval's half-width."""
    v, lo, hi = _num(value), _num(low), _num(high)
    half = (hi - lo) / 2
    return Check(lo < v < hi, min(v - lo, hi - v) / half, f"{lo:.4g} < {v:.4g} < {hi:.4g}")


def every(checks) -> Check:
    """All of ``checks`` hold; margin: the smallest (the one closest to failing)."""
    checks = list(checks)
    if not checks:
        raise ValueError("every() needs at least one check")
    worst = min(checks, key=lambda c: c.margin)
    return Check(all(checks), worst.margin, f"all {len(checks)} hold; closest: {worst.text}")


def exactly(condition: bool, what: str = "") -> Check:
    """A claim with no threshold (an argmax equals another, a count is exact): margin +1 held, -1 not."""
    return Check(bool(condition), 1.0 if condition else -1.0, what or ("holds" if condition else "does not hold"))


def claim(name: str, condition: bool | Check, measured: str = "", why: str = "", try_: str = "") -> None:
    """Check a teaching claim; see the module docstring.

    Args:
        name: a short id ("vae-beats-ae"), used in notices, logs and the README's table.
        condition: the claim, already evaluated: a ``Check`` (``above``, ``below``, ``between``,
            ``at_least``, ``at_most``, ``every``, ``exactly``), whose margin is logged, or a plain bool.
        measured: what was measured, in words with the numbers ("VAE 0.041 vs AE 0.063"); defaults to
            the check's own text.
        why: why it may fail under other settings. try_: what a learner can change.

    Returns nothing (a claim cell shows no stray ``True``); under strict mode a failed claim raises.
    """
    check = condition if isinstance(condition, Check) else None
    held = bool(condition)
    if not measured:
        if check is None:
            raise ValueError(f"claim {name!r}: say what was measured (measured=...) for a plain condition")
        measured = check.text
    _log(
        {
            "notebook": _state["notebook"],
            "claim": name,
            "held": held,
            "margin": None if check is None else check.margin,
            "measured": measured,
            "changed": sorted(_state["changed"]),
        }
    )
    if held:
        return
    if mode() == "strict":
        raise ClaimFailed(
            t("claim {name} does not hold: {measured}", name=repr(name), measured=tr(measured))
            + (f" ({tr(why)})" if why else "")
        )
    _show_notice(name, measured, why, try_)
