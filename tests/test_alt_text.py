"""Figures reach the decks and the site with alt text: the notebook's own, or a fallback that says where
the figure is and that it has no description yet (lecture/alt_text.py). No browser: fast."""

from __future__ import annotations

import base64
import hashlib

import nbformat

from lecture import alt_text, build_site, build_slides

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
    )
).decode()


def notebook(alt: str | None = None):
    meta = {"image/png": {"alt": alt}} if alt else {}
    figure = nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}, metadata=meta)
    cells = [
        nbformat.v4.new_markdown_cell("# 04 · The ELBO\n\nintro"),
        nbformat.v4.new_markdown_cell("## Monte *Carlo*\n\ntext"),
        nbformat.v4.new_code_cell("plot()", outputs=[figure]),
    ]
    return nbformat.v4.new_notebook(cells=cells)


def test_fallback_names_the_figure_notebook_and_section() -> None:
    nb = notebook()
    assert alt_text.fill_alt(nb) == 1
    alt = alt_text.figure_alt(nb.cells[2].outputs[0])
    assert alt == "Figure 1 of 04 · The ELBO, in the section “Monte Carlo”: no text description of this figure yet."


def test_the_notebooks_own_alt_text_is_kept() -> None:
    nb = notebook("Test -ELBO falls from 180 to 117 nats over 40 epochs")
    assert alt_text.fill_alt(nb) == 0
    assert alt_text.figure_alt(nb.cells[2].outputs[0]) == "Test -ELBO falls from 180 to 117 nats over 40 epochs"


def test_deck_shows_the_alt_text() -> None:
    nb = notebook("Loss & curve <falls>")
    body, _ = build_slides.exporter().from_notebook_node(
        build_slides.prepare(nb), resources={"mathjax_prefix": "mathjax", "metadata": {"name": "x"}}
    )
    assert 'alt="Loss &amp; curve &lt;falls&gt;"' in body
    assert "No description has been provided" not in body


def test_site_page_gets_the_alt_text_in_place_of_the_file_name() -> None:
    nb = build_site.site_notebook(notebook())
    alts = alt_text.alt_by_png_hash(nb)
    digest = hashlib.sha256(base64.b64decode(PNG)).hexdigest()
    page = f'<img alt="../_images/{digest}.png" src="../_images/{digest}.png" />'
    fixed = build_site.accessible(page, alts)
    assert 'alt="Figure 1 of 04 · The ELBO' in fixed and f'src="../_images/{digest}.png"' in fixed


def test_site_fixes_the_toggle_and_search_labels() -> None:
    page = (
        '<summary aria-label="Toggle hidden content">\n<p>Show code cell source</p></summary>'
        '<button class="btn search-button-field search-button__button" title="Search" aria-label="Search" x="1">'
        '<button class="btn search-button" aria-label="Search">'
    )
    fixed = build_site.accessible(page)
    assert "<summary>" in fixed and 'title="Search" x="1"' in fixed
    assert fixed.count('aria-label="Search"') == 1  # the icon-only button keeps its name


# --- every figure of every course notebook carries its own alt text (issue 30) ---------------------

import re  # noqa: E402

import pytest  # noqa: E402

from tests.course import NOTEBOOKS  # noqa: E402

#: What makes alt text generic rather than a description: the fallback, nbconvert's and matplotlib's
#: defaults, a file name.
GENERIC = re.compile(r"no text description|^image$|^figure\b|<Figure size|\.png\b|^plot$", re.I)
#: Notebooks whose figures are all described: every notebook (one leaves only while its figures are rewritten).
DESCRIBED: set[str] = {nb.name for nb in NOTEBOOKS}


def course_figures(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if any(m.startswith("image/") for m in output.get("data", {})):
                yield cell.id, output


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name[:2])
def test_every_course_figure_says_what_it_shows(path) -> None:
    if path.name not in DESCRIBED:
        pytest.skip(f"{path.name}: figures not yet described")
    seen: dict[str, str] = {}
    faults = []
    for cell_id, output in course_figures(path):
        alt = alt_text.figure_alt(output)
        if alt is None:
            faults.append(f"cell {cell_id}: a figure without alt text (draw it with vae_course.plots.show(alt))")
        elif GENERIC.search(alt) or len(alt.split()) < 8:
            faults.append(f"cell {cell_id}: generic alt text {alt!r}: say what the figure shows, with its numbers")
        elif alt in seen:
            faults.append(f"cell {cell_id}: the same alt text as cell {seen[alt]}: {alt!r}")
        else:
            seen[alt] = cell_id
    assert not faults, f"{path.name}:\n" + "\n".join(faults)


def test_show_puts_the_alt_text_in_the_output_metadata(monkeypatch) -> None:
    """In a kernel, plots.show displays the figure once, as the kernel's formatter renders it, with the alt
    text beside the image's own metadata, and closes it (so the inline backend does not show it again).
    A stand-in kernel shell: a real one costs a kernel start, and every committed notebook's figures
    (test above) come through the real path."""
    import IPython
    import IPython.display
    import matplotlib.pyplot as plt

    from vae_course.plots import show

    fig, ax = plt.subplots()  # before the stand-in: pyplot asks IPython for its hooks on a first figure
    shown = []

    class Formatter:
        def format(self, fig):
            return {"image/png": "iVBOR", "text/plain": "<Figure>"}, {"image/png": {"width": 320}}

    class Shell:
        kernel = object()
        display_formatter = Formatter()

    monkeypatch.setattr(IPython, "get_ipython", lambda: Shell())
    monkeypatch.setattr(IPython.display, "display", lambda data, raw, metadata: shown.append((data, raw, metadata)))
    show("A straight line falls\n from 1 to 0 across the unit interval.", fig)
    assert shown == [
        (
            {"image/png": "iVBOR", "text/plain": "<Figure>"},
            True,
            {"image/png": {"width": 320, "alt": "A straight line falls from 1 to 0 across the unit interval."}},
        )
    ]
    assert not plt.fignum_exists(fig.number)


def test_show_refuses_empty_alt_text() -> None:
    import matplotlib.pyplot as plt

    from vae_course.plots import show

    fig = plt.figure()
    with pytest.raises(ValueError, match="alt text"):
        show("   ", fig)
    plt.close(fig)
