"""The committed notebooks are one clean top-to-bottom run, and `make notebooks` keeps them so.

* Every committed notebook: each code cell ran once, in order; no error, nothing on stderr (a
  warning), no saved progress bar (lecture/execute_notebooks.py `problems`).
* On small notebooks made here: `problems` names each kind of defect, progress bars are dropped and
  an explorer's widget kept, a clean run is saved with its slide metadata, and a run with a warning
  is not saved (the file on disk is unchanged, the run is kept to read).
"""

from __future__ import annotations

import nbformat
import pytest

from lecture import execute_notebooks as ex
from lecture import slide_metadata as sm
from tests.course import NOTEBOOKS, ROOT

BAR_TEXT = "epochs: 100%|##########| 30/30 [00:04<00:00,  7.1it/s]"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_one_clean_run(path):
    found = ex.problems(nbformat.read(path, as_version=4))
    assert not found, f"{path.name} is not one clean run (re-run it: make notebooks NB={path.relative_to(ROOT)}):\n" + (
        "\n".join(found)
    )


def _widget(text: str) -> dict:
    return nbformat.v4.new_output(
        "display_data",
        data={sm.WIDGET_MIME: {"model_id": "m", "version_major": 2, "version_minor": 0}, "text/plain": text},
    )


def _ran(*cells):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 99 · A toy"), *cells])
    for i, c in enumerate(nb.cells):
        c.id = f"c{i}"
    return nb


def test_problems_names_each_defect_and_bars_are_dropped():
    code = nbformat.v4.new_code_cell
    fit, warned, explorer, failed = code("fit()"), code("warn()"), code("interact(f)"), code("1/0")
    fit.execution_count, warned.execution_count, explorer.execution_count, failed.execution_count = 1, 3, 2, 4
    fit.outputs = [_widget(BAR_TEXT), nbformat.v4.new_output("stream", name="stdout", text="loss 0.1\n")]
    warned.outputs = [nbformat.v4.new_output("stream", name="stderr", text="UserWarning: careful\n")]
    explorer.outputs = [_widget("interactive(children=(FloatSlider(value=0.3),))")]
    failed.outputs = [
        nbformat.v4.new_output("error", ename="ZeroDivisionError", evalue="division by zero", traceback=[])
    ]
    nb = _ran(fit, warned, explorer, failed)
    found = "\n".join(ex.problems(nb))
    for expected in ("not 1..4", "cell 2 wrote to stderr", "cell 1 saved a progress bar", "ZeroDivisionError"):
        assert expected in found, f"{expected!r} not reported in:\n{found}"
    assert "cell 3" not in found, "an explorer's widget is not a progress bar"
    assert ex.drop_progress_bars(nb) == 1
    assert [o.output_type for o in fit.outputs] == ["stream"] and len(explorer.outputs) == 1
    assert not any("progress bar" in p for p in ex.problems(nb))


def test_a_clean_run_is_saved_and_a_warning_is_not(tmp_path):
    code = nbformat.v4.new_code_cell
    clean = tmp_path / "99_clean.ipynb"
    nbformat.write(_ran(nbformat.v4.new_markdown_cell("## 1. Idea"), code("x = 6 * 7\nprint(x)")), clean)
    warned = tmp_path / "99_warned.ipynb"
    nbformat.write(_ran(code("import warnings\nwarnings.warn('careful')")), warned)
    before = warned.read_text()

    saved, line = ex.execute(clean, tmp_path / "runs")
    assert saved, line
    nb = nbformat.read(clean, as_version=4)
    assert nb.cells[-1].outputs[0].text == "42\n" and not ex.problems(nb)
    assert all("slide_type" in c.metadata.get("slideshow", {}) for c in nb.cells), "slide metadata not applied"

    saved, line = ex.execute(warned, tmp_path / "runs")
    assert not saved and "wrote to stderr" in line and "careful" in line, line
    assert warned.read_text() == before, "a run with a warning replaced the notebook on disk"
    assert (tmp_path / "runs" / "99_warned.failed.ipynb").exists()


def test_main_refuses_a_missing_notebook(tmp_path, capsys):
    with pytest.raises(SystemExit):
        ex.main([str(tmp_path / "nope.ipynb")])
    assert "no such notebook" in capsys.readouterr().err


def test_sliced_waits_see_a_message_a_long_wait_would_miss():
    """A channel whose socket wakes nobody: each new poll finds the message, so a reply that a
    600 s wait would only notice at its deadline is read within a slice; the caller's deadline holds."""
    import asyncio
    import time
    from queue import Empty

    calls = []

    def channel(ready_after: float):
        start = time.monotonic()

        async def get_msg(timeout=None):
            calls.append(timeout)
            if time.monotonic() - start >= ready_after:
                return {"msg_type": "execute_reply"}
            await asyncio.sleep(timeout)  # the missed wake-up: nothing until the timeout
            raise Empty

        return get_msg

    t0 = time.monotonic()
    msg = asyncio.run(ex.sliced(channel(0.15), slice_s=0.05)(timeout=600))
    assert msg["msg_type"] == "execute_reply" and time.monotonic() - t0 < 1.0
    assert all(c <= 0.05 for c in calls) and len(calls) >= 3

    t0 = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(ex.sliced(channel(60), slice_s=0.05)(timeout=0.2))
    assert 0.2 <= time.monotonic() - t0 < 1.0, "the caller's deadline moved"
    calls.clear()
    assert asyncio.run(ex.sliced(channel(0.1), slice_s=0.05)(timeout=None))["msg_type"] == "execute_reply"
    assert calls and all(c == 0.05 for c in calls), "no deadline: every wait is one slice"
