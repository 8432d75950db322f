"""A sample class of about 20 generated submissions of notebook 00 (its three exercises): right,
stubs, each named misconception, an unrecognised slip, a crash, a loop past the cell limit, a
corrupt file and a file that is not a notebook. Used by the fault tests (SIGKILL and resume) and to
build the committed sample class page (``python tests/grading_class.py OUT``)."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.grading_submissions import HEAD, write_nb

STUB = "    raise NotImplementedError('replace this line with your code')"
RMS = {
    "ok": "(a - b).pow(2).flatten(1).mean(1).sqrt()",
    "no-root": "((a - b) ** 2).reshape(len(a), -1).mean(-1)",
    "abs-not-square": "(a - b).abs().flatten(1).mean(1)",
    "sum-not-mean": "(a - b).pow(2).flatten(1).sum(1).sqrt()",
    "one-number-for-batch": "((a - b) ** 2).mean().sqrt()",
    "unrecognised": "(a - b).abs().flatten(1).max(1).values",
}
LABEL = {
    "ok": "torch.round(torch.as_tensor(phases) * n_classes).long() % n_classes",
    "floor-not-round": "(torch.as_tensor(phases) * n_classes).long() % n_classes",
    "no-wrap": "torch.round(torch.as_tensor(phases) * n_classes).long()",
    "float-labels": "torch.round(torch.as_tensor(phases) * n_classes) % n_classes",
}
PREDICT = {"ok": "(1 / 6) ** 0.5", "variance of one": "(1 / 12) ** 0.5", "mean gap": "1 / 3", "no root": "1 / 6"}


def cells(rms: str | None, label: str | None, predict: str | None, extra: str = "") -> list[str]:
    def body(expr: str | None) -> str:
        return STUB if expr is None else f"    return {expr}"

    return [
        HEAD + "\nimport torch",
        "def rms_distance(a, b):\n" + (extra + "\n" if extra else "") + body(rms and RMS[rms]),
        'check("00.1", rms_distance)',
        "def phase_to_label(phases, n_classes=8):\n" + body(label and LABEL[label]),
        'check("00.2", phase_to_label)',
        "def predicted_rms():\n" + body(predict and PREDICT[predict]),
        'check("00.3", predicted_rms)',
    ]


def make_class(out: Path) -> Path:
    """Write the class to ``out`` (one folder per student); returns ``out``."""
    plan = {
        "s01_right": ("ok", "ok", "ok"),
        "s02_right": ("ok", "ok", "ok"),
        "s03_right": ("ok", "ok", None),
        "s04_stubs": (None, None, None),
        "s05_stubs": (None, None, None),
        "s06_no_root": ("no-root", "floor-not-round", "variance of one"),
        "s07_abs": ("abs-not-square", "no-wrap", "mean gap"),
        "s08_sum": ("sum-not-mean", "float-labels", "no root"),
        "s09_batch": ("one-number-for-batch", "ok", "ok"),
        "s10_no_root": ("no-root", "no-wrap", "ok"),
        "s11_floor": ("ok", "floor-not-round", "mean gap"),
        "s12_unrecognised": ("unrecognised", "ok", "ok"),
        "s13_mixed": ("ok", "no-wrap", None),
        "s14_right": ("ok", "ok", "ok"),
        "s15_partial": ("ok", None, None),
    }
    for student, (r, l, p) in plan.items():
        write_nb(out / student, *cells(r, l, p))
    write_nb(out / "s16_crash", *cells("ok", "ok", "ok", extra="    return undefined_name"))
    nb = cells("ok", "ok", "ok")
    nb[1] = (
        "import time\n\nwhile True:  # a loop past the cell limit, before the definition\n    time.sleep(0.05)\n\n"
        + nb[1]
    )
    write_nb(out / "s17_timeout", *nb)
    (out / "s18_corrupt").mkdir(parents=True, exist_ok=True)
    (out / "s18_corrupt" / "00_start_here.ipynb").write_text('{"cells": [ {"cell_type": "code", "sou')
    (out / "s19_pdf").mkdir(parents=True, exist_ok=True)
    (out / "s19_pdf" / "00_start_here.ipynb").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n")
    (out / "s20_no_notebook").mkdir(parents=True, exist_ok=True)
    (out / "s20_no_notebook" / "homework.py").write_text("print('my answers')\n")
    return out


if __name__ == "__main__":
    make_class(Path(sys.argv[1]))
