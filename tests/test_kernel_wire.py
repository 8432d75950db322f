"""The grader's layers that need no sandbox and no kernel, each on its own: the strict decoder of the
kernel's answers (``wire``), the watchdog that ends a request whose reply or idle status was lost
(``Watch``), and the reading of the kernel's files (``_read_own_file``). Milliseconds each."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from vae_course.classroom import wire
from vae_course.classroom.kernel import Watch, _read_own_file
from vae_course.exercises import Feedback, compare


# --------------------------------------------------------------------------- the strict decoder
def test_values_round_trip_and_unknown_types_travel_as_a_name():
    value = (torch.randn(2, 3), torch.tensor([True, False]), torch.zeros(0, 2, dtype=torch.int64), 1, 2.5, None, "x")
    back = wire.loads(wire.dumps(wire.encode(value)))
    assert all(torch.equal(a, b) for a, b in zip(back[:3], value[:3])) and back[3:] == value[3:]
    import numpy as np

    opaque = wire.loads(wire.dumps(wire.encode(np.zeros(3))))
    assert wire.type_name(opaque) == "ndarray"
    with pytest.raises(Feedback, match="should be a torch.Tensor, but it is a ndarray"):
        compare(opaque, torch.zeros(3))


@pytest.mark.parametrize(
    "doc, words",
    [
        ({"t": "object", "module": "os", "name": "system", "state": {}}, "unknown kind"),
        ({"t": "tensor", "dtype": "object", "shape": [1], "b64": ""}, "unknown dtype"),
        ({"t": "tensor", "dtype": "float32", "shape": [2], "b64": "AAAA"}, "does not match|needs 8 bytes"),
        ({"t": "tensor", "dtype": "float32", "shape": [2**30, 2**30], "b64": ""}, "limit"),
        ({"t": "tensor", "dtype": "float32", "shape": [-1], "b64": ""}, "non-negative"),
        ({"t": "tensor", "dtype": "float32", "shape": [1] * 9, "b64": ""}, "at most 8"),
        ({"t": "pickle", "data": "gASV"}, "unknown kind"),
    ],
)
def test_the_grader_refuses_malformed_answers(doc, words):
    with pytest.raises(wire.WireError, match=words):
        wire.loads(json.dumps(doc))


def test_deeply_nested_or_non_json_answers_are_refused():
    deep = {"t": "list", "items": []}
    for _ in range(50):
        deep = {"t": "list", "items": [deep]}
    with pytest.raises(wire.WireError, match="nested too deep"):
        wire.loads(json.dumps(deep))
    with pytest.raises(wire.WireError, match="not a JSON document"):
        wire.loads("\x80\x04\x95 pickle bytes")
    with pytest.raises(wire.WireError):
        wire.loads("[" * 100_000)


@pytest.mark.skipif(not hasattr(os, "O_NOFOLLOW"), reason="needs O_NOFOLLOW")
def test_a_planted_symlink_is_not_followed(tmp_path):
    root, teacher = tmp_path / "root", tmp_path / "teacher"
    (root / "exchange").mkdir(parents=True)
    teacher.mkdir()
    (teacher / "secret.json").write_text('{"ok": true, "value": "secret"}')
    (root / "exchange" / "answer-1.json").symlink_to(teacher / "secret.json")
    with pytest.raises(OSError):
        _read_own_file(root, Path("exchange/answer-1.json"), 1000)
    (root / "exchange" / "answer-1.json").unlink()
    os.rmdir(root / "exchange")
    (root / "exchange").symlink_to(teacher)  # the whole folder replaced by a link
    (teacher / "answer-2.json").write_text("{}")
    with pytest.raises(OSError):
        _read_own_file(root, Path("exchange/answer-2.json"), 1000)
    assert (teacher / "answer-2.json").exists(), "nothing of the teacher's was deleted"


# --------------------------------------------------------------------------- the watchdog
def test_a_request_ends_with_its_reply_and_idle_status():
    w = Watch(0.0, 10.0)
    assert w.action(0.1) == "wait"
    w.event("busy", 0.1), w.event("reply", 0.5), w.event("idle", 0.6)
    assert w.action(0.6) == "done" and w.lost == ""


def test_a_lost_reply_or_idle_ends_the_request_after_the_grace():
    w = Watch(0.0, 10.0, grace=2.0)
    w.event("busy", 0.1), w.event("idle", 0.5)
    assert w.action(2.0) == "wait" and w.action(2.6) == "done" and "reply never came" in w.lost
    w = Watch(0.0, 10.0, grace=2.0)
    w.event("busy", 0.1), w.event("reply", 0.5)
    assert w.action(2.6) == "done" and "idle status never came" in w.lost


def test_a_request_the_kernel_never_started_is_nudged_then_interrupted():
    w = Watch(0.0, 10.0, nudge=2.0, interrupt_grace=5.0)
    assert [w.action(t) for t in (1.0, 2.1, 3.0, 4.2)] == ["wait", "nudge", "wait", "nudge"]
    w.event("busy", 4.5)
    assert w.action(7.0) == "wait", "no nudge once the kernel has started on the request"
    assert w.action(10.0) == "interrupt"
    w.interrupted(10.0)
    assert w.action(12.0) == "wait" and w.action(15.1) == "unresponsive"
