"""Offline reveal.js decks of the course notebooks: `make slides` (writes build/slides/).

One self-contained HTML file per notebook (figures embedded) next to a local copy of reveal.js and
MathJax (fetched from the npm registry at build time, lecture/vendor.py), so a deck opened from disk
makes no network request. Built from the lecture edition (build/lecture/, `make lecture`: the
committed notebooks with their slide metadata and the speaker notes; no re-execution), with
nbconvert's slides exporter and the template in lecture/templates/course_reveal:

* a widget is replaced by the picture it showed when the notebook was saved, with a caption
  saying where the live explorer is, and followed by a live explorer that runs in the deck where the
  cell exported its decoder (lecture/live_explorer.py; once it has drawn, the picture folds away into
  a closed "details" under it); its code is not shown (nor the plotting code of a figure
  cell that `slide_metadata` marked as too tall to fit on a slide with it);
* speaker notes go to reveal's speaker view (press S in the deck);
* set-up and solution cells are not in the deck. The build fails if any text of a solution does.

Open build/slides/index.html, or a deck directly; arrows or space to step, S for the speaker view.

The Chinese decks (build/slides/zh/, `<html lang="zh-CN">`) are built the same way from the Chinese
lecture edition (build/lecture/zh/, from notebooks/zh/), sharing the English decks' reveal.js and MathJax;
their speaker notes are the Chinese ones (i18n/zh/speaker_notes.json; a note whose translation is missing
or stale is the English one, marked so). Every deck and both index pages have a language
switch to the same deck in the other language (lecture/languages.py).
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import SlidesExporter

from lecture import alt_text, build_lecture, live_explorer, vendor
from lecture import slide_metadata as sm
from lecture.languages import add_switch, set_html_lang
from vae_course.classroom.student import solution_lines

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = Path(__file__).resolve().parent / "templates"
SNAPSHOT_NOTE = (
    '<p class="widget-snapshot-note">An explorer: live in the notebook (JupyterLab, <code>make lab</code>); '
    "here, the picture it shows at its default setting.</p>"
)
SNAPSHOT_NOTES = {
    "en": SNAPSHOT_NOTE,
    "zh": '<p class="widget-snapshot-note">一个探索器：在笔记本中是实时的（JupyterLab，<code>make lab</code>）；'
    "这里显示的是它在默认设置下的图像。</p>",
}
#: anything that would make the browser fetch from the network
EXTERNAL = re.compile(
    r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|url\(\s*["']?(?:https?:)?//|import\s[^;]*["']https?://""", re.I
)


def widget_outputs(nb, output: dict, note_html: str) -> list[dict]:
    """The saved snapshot of a widget output, followed by a caption (a text note if there is none)."""
    snap = sm.widget_snapshot(nb, output["data"][sm.WIDGET_MIME]["model_id"])
    figures = [
        nbformat.v4.new_output("display_data", data={k: v for k, v in o["data"].items() if k != sm.WIDGET_MIME})
        for o in snap
        if o.get("data")
    ] + [nbformat.v4.new_output("stream", name=o.get("name", "stdout"), text=o["text"]) for o in snap if "text" in o]
    return figures + [nbformat.v4.new_output("display_data", data={"text/html": note_html, "text/plain": ""})]


def snapshot_widgets(nb, cell, note: str) -> list:
    """The cell's outputs with every live widget replaced by its static snapshot (decks and site alike)."""
    outputs = []
    for o in cell.get("outputs", []):
        outputs += widget_outputs(nb, o, note) if sm.WIDGET_MIME in o.get("data", {}) else [o]
    return outputs


def prepare(nb, lang: str = "en") -> nbformat.NotebookNode:
    """The notebook as the deck shows it: widgets as snapshots, hidden inputs removed, no widget state,
    every figure with alt text (lecture/alt_text.py)."""
    nb = nbformat.from_dict(nb)
    note = SNAPSHOT_NOTES[lang]
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = live_explorer.live_outputs(nb, cell, snapshot_widgets(nb, cell, note), compact=True, lang=lang)
        if sm.input_hidden(cell):
            cell.metadata["transient"] = {"remove_source": True}
        cell.metadata["tags"] = [*cell.metadata.get("tags", []), *sm.fit_tags(cell)]
    nb.metadata.pop("widgets", None)
    alt_text.fill_alt(nb)
    return nb


def leaks(nb, deck_html: str) -> list[str]:
    """Solution lines (longer than a trivial `return x`) whose text appears in the deck."""
    inside, outside = solution_lines(nb)
    text = html.unescape(re.sub(r"<[^>]+>", "", deck_html))
    return [line for line in dict.fromkeys(inside) if line not in outside and len(line) >= 12 and line in text]


def exporter(prefix: str = "") -> SlidesExporter:
    """nbconvert's slides exporter with the course template; reveal.js at ``prefix``reveal.js."""
    return SlidesExporter(
        template_name="course_reveal",
        extra_template_basedirs=[str(TEMPLATES)],
        reveal_url_prefix=f"{prefix}reveal.js",
        reveal_theme="white",
        reveal_transition="none",
        reveal_width=str(sm.SLIDE_WIDTH),
        reveal_height=str(sm.SLIDE_HEIGHT),
    )


def build_deck(path: Path, out: Path, exp: SlidesExporter | None = None, lang: str = "en") -> tuple[Path, int]:
    """Write out/<notebook>.slides.html; returns its path and its number of (sub)slides. A deck in another
    language than English goes to a folder beside the English decks and uses their reveal.js and MathJax."""
    nb = nbformat.read(path, as_version=4)
    if not any("slideshow" in c.metadata for c in nb.cells):
        raise SystemExit(
            f"{path}: no slide metadata yet; apply it with `.venv/bin/python -m lecture.slide_metadata {path}`"
        )
    prefix = "" if lang == "en" else "../"
    body, _ = (exp or exporter(prefix)).from_notebook_node(
        prepare(nb, lang), resources={"mathjax_prefix": f"{prefix}mathjax", "metadata": {"name": path.stem}}
    )
    body = set_html_lang(body, lang)
    bad = EXTERNAL.findall(body)
    if bad:
        raise SystemExit(f"{path.name}: the deck would fetch from the network: {sorted(set(bad))[:5]}")
    leaked = leaks(nb, body)
    if leaked:
        raise SystemExit(f"{path.name}: solution text would be shown in the deck: {leaked[:3]}")
    target = out / f"{path.stem}.slides.html"
    target.write_text(body, encoding="utf-8")
    return target, len(sm.slides(nb))


INDEX_ZH = (
    '<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>vae-course：讲课幻灯片（中文）</title>'
    "<style>body{font:20px/1.5 sans-serif;max-width:50em;margin:2em auto}</style></head><body><main>\n"
    "<h1>vae-course：讲课幻灯片（中文）</h1>\n<p>用方向键或空格键翻页，按 <b>S</b> 打开带讲稿的演讲者视图"
    "，按 <b>Esc</b> 查看全部幻灯片。这里的一切都可以离线使用；如果需要实时运行代码和控件，"
    "请在 JupyterLab 中演示（<code>make lab</code>，然后选择 <i>View &gt; Render as slideshow</i>，或按 Alt+R）。</p>\n"
    "<ol>\n{rows}\n</ol>\n</main></body></html>\n"
)


def write_index(out: Path, decks: list[tuple[Path, int]], lang: str = "en") -> None:
    unit = {"en": "slides", "zh": "张幻灯片"}[lang]
    rows = "\n".join(
        f'<li><a href="{p.name}">{html.escape(p.name.removesuffix(".slides.html"))}</a> ({n} {unit})</li>'
        for p, n in decks
    )
    if lang == "zh":
        out.joinpath("index.html").write_text(INDEX_ZH.replace("{rows}", rows), encoding="utf-8")
        return
    out.joinpath("index.html").write_text(
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>vae-course: lecture decks</title>'
        "<style>body{font:20px/1.5 sans-serif;max-width:50em;margin:2em auto}</style></head><body><main>\n"
        "<h1>vae-course: lecture decks</h1>\n<p>Arrow keys or space to step through a deck, "
        "<b>S</b> for the speaker view with the notes, <b>Esc</b> for an overview. Everything here works "
        "offline; for live code and widgets present from JupyterLab instead (<code>make lab</code>, then "
        "<i>View &gt; Render as slideshow</i>, or Alt+R).</p>\n"
        f"<ol>\n{rows}\n</ol>\n</main></body></html>\n",
        encoding="utf-8",
    )


def add_switches(en: Path, zh: Path) -> None:
    """Each deck and index page of both languages with a language switch to its counterpart."""
    for path in sorted(zh.glob("*.html")):
        twin = en / path.name
        if not twin.is_file():
            continue
        for page, lang, href in ((twin, "en", f"zh/{path.name}"), (path, "zh", f"../{path.name}")):
            page.write_text(add_switch(page.read_text(encoding="utf-8"), lang, href, fixed=True), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Offline reveal.js decks of the course notebooks.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: build/lecture/[0-9][0-9]_*.ipynb")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "slides")
    args = parser.parse_args(argv)
    start = time.monotonic()
    paths = args.notebooks or sorted(build_lecture.OUT.glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise SystemExit(f"no lecture edition in {build_lecture.OUT}: run `make lecture` first")
    args.out.mkdir(parents=True, exist_ok=True)
    vendor.copy_reveal(args.out / "reveal.js")
    vendor.copy_mathjax(args.out / "mathjax")
    exp = exporter()
    decks = []
    for path in paths:
        target, n = build_deck(path, args.out, exp)
        decks.append((target, n))
        print(f"{target.relative_to(args.out.parent) if args.out.parent in target.parents else target}: "
              f"{n} slides, {target.stat().st_size / 1e6:.1f} MB")  # fmt: skip
    write_index(args.out, decks)
    zh = [] if args.notebooks else sorted(build_lecture.OUT_ZH.glob("[0-9][0-9]_*.ipynb"))
    if zh:  # the Chinese decks, in out/zh/, sharing out/reveal.js and out/mathjax
        (args.out / "zh").mkdir(exist_ok=True)
        exp_zh = exporter("../")
        zh_decks = [build_deck(path, args.out / "zh", exp_zh, "zh") for path in zh]
        write_index(args.out / "zh", zh_decks, "zh")
        print(f"{len(zh_decks)} Chinese decks, {sum(n for _, n in zh_decks)} slides -> {args.out}/zh/index.html")
    if (args.out / "zh").is_dir():  # (also when only English decks were rebuilt: they keep their switch)
        add_switches(args.out, args.out / "zh")
    total = sum(n for _, n in decks)
    print(f"{len(decks)} decks, {total} slides in {time.monotonic() - start:.1f} s -> {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
