"""The course website: `make site` (writes build/site/; open build/site/index.html).

Sphinx with myst-nb and sphinx-book-theme (site/conf.py says why this builder), from the lecture
edition (build/lecture/, `make lecture`: the committed notebooks with the speaker notes; no re-execution):

* the landing page is the README's introduction and its map of the notebooks ("## The notebooks"),
  each notebook's name a link to its page, and its links to open each notebook in Google Colab;
* one page per notebook with its figures and typeset maths (MathJax served from the site itself),
  a widget replaced by the picture it showed when the notebook was saved (replaced in turn, where
  JavaScript runs, by a live explorer running in the page where the cell exported its decoder:
  lecture/live_explorer.py), each
  figure with its alt
  text (lecture/alt_text.py), exercise solutions
  folded away behind a "show" toggle, speaker notes as "For lecturers" boxes;
* navigation (sidebar, previous/next, page contents) and full-text search, Sphinx's own.

The build treats every warning as an error (-W), so a broken internal link fails it. The pages then
get the few fixes WCAG 2.1 AA needs that the themes do not make (`accessible`; axe-core checks every
page in tests/browser/test_browser_a11y.py).
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat

from lecture import alt_text, build_lecture, live_explorer, vendor
from lecture import slide_metadata as sm
from lecture.build_slides import snapshot_widgets

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
SNAPSHOT_NOTE = (
    '<p class="widget-snapshot-note">An explorer (ipywidgets): run the notebook in JupyterLab to move its '
    "sliders; here, the picture it shows at its default setting.</p>"
)


def section(readme: str, title: str) -> str:
    """The body of the README's `## title` section (up to the next `## `)."""
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    if not m:
        raise SystemExit(f"README.md has no '## {title}' section, which the landing page is built from")
    return m.group(1).strip()


def landing_page(readme: str, names: list[str]) -> str:
    """index.md: the README's title and introduction, its map with links, how to run it, and the toctree."""
    title = readme.splitlines()[0].lstrip("# ").strip()
    intro = readme.split("\n## ", 1)[0].split("\n", 1)[1].strip()
    table = section(readme, "The notebooks")
    linked = []
    for line in table.splitlines():
        m = re.match(r"^\|\s*`([0-9]{2}_\w+)`\s*\|", line)
        if m and m.group(1) in names:
            line = line.replace(f"`{m.group(1)}`", f"[{m.group(1)}](notebooks/{m.group(1)}.ipynb)", 1)
        # the README's Open-in-Colab badges as plain links (the site shows no image from elsewhere)
        line = re.sub(r"\[!\[Open in Colab\]\([^)]*\)\]\(([^)]*)\) `([0-9]{2}_\w+)`", r"[\2 in Colab](\1)", line)
        linked.append(line)
    missing = [n for n in names if f"(notebooks/{n}.ipynb)" not in "\n".join(linked)]
    if missing:
        raise SystemExit(f"README.md's map ('## The notebooks') has no row for {missing}")
    run = section(readme, "Two commands")
    code = re.search(r"```bash\n(.*?)```", run, re.S)
    toctree = "\n".join(f"notebooks/{n}" for n in names)
    return (
        f"# {title}\n\n{intro}\n\n## The notebooks\n\n" + "\n".join(linked) + "\n\n"
        "Each page shows a notebook as it was last run and tested: every figure and number comes from that "
        "run. Sliders need a running kernel, so each explorer appears here as the picture it showed; where its "
        "decoder was exported with the notebook, a live copy of it runs in the page instead (the picture folded "
        "under it).\n\n"
        "## Run it yourself\n\n```bash\n" + (code.group(1) if code else "make lab\n") + "```\n\n"
        f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: Notebooks\n\n{toctree}\n```\n"
    )


def site_notebook(nb) -> nbformat.NotebookNode:
    """The notebook as the website shows it (see the module docstring)."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if sm.is_notes(cell):
            text = cell.source.removeprefix(sm.NOTES_PREFIX)
            cell.source = f":::{{admonition}} For lecturers\n:class: tip\n\n{text}\n:::"
        if cell.cell_type != "code":
            continue
        cell.outputs = live_explorer.live_outputs(nb, cell, snapshot_widgets(nb, cell, SNAPSHOT_NOTE))
        if sm.is_solution(cell):
            tags = cell.metadata.setdefault("tags", [])
            if "hide-input" not in tags:
                tags.append("hide-input")
    nb.metadata.pop("widgets", None)
    alt_text.fill_alt(nb)
    return nb


#: (pattern, replacement): each an axe-core violation (WCAG 2.1 A/AA) of the themes' HTML, fixed here
ACCESSIBILITY_FIXES = [
    # myst-nb's "Show code cell source" toggle is labelled "Toggle hidden content", a name that does not
    # contain its visible text (label-content-name-mismatch, WCAG 2.5.3): its name comes from its text
    (re.compile(r'<summary aria-label="Toggle hidden content">'), "<summary>"),
    # the same for pydata-sphinx-theme's search button, labelled "Search" but showing "Search Ctrl+K"
    (re.compile(r'(<button class="[^"]*search-button-field[^"]*"[^>]*?) aria-label="Search"'), r"\1"),
]


def accessible(page: str, alts: dict[str, str] | None = None) -> str:
    """A built page with ACCESSIBILITY_FIXES applied, and each figure's alt text in place of the file
    name myst-nb gives it (it names a figure by its PNG's sha256; `alts` maps that to the alt text)."""
    for pattern, replacement in ACCESSIBILITY_FIXES:
        page = pattern.sub(replacement, page)

    def alt(m: re.Match) -> str:
        return f'<img alt="{html.escape(alts[m.group(2)])}"' if m.group(2) in (alts or {}) else m.group(0)

    return re.sub(r'<img alt="((?:\.\./)*_images/([0-9a-f]{64})\.png)"', alt, page)


def build(out: Path, src: Path, notebooks: list[Path]) -> int:
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(SITE, src, ignore=shutil.ignore_patterns("__pycache__"))
    vendor.copy_mathjax(src / "_static" / "mathjax")
    (src / "notebooks").mkdir()
    alts: dict[str, str] = {}
    for path in notebooks:
        nb = site_notebook(nbformat.read(path, as_version=4))
        alts |= alt_text.alt_by_png_hash(nb)
        nbformat.write(nb, src / "notebooks" / path.name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (src / "index.md").write_text(landing_page(readme, [p.stem for p in notebooks]), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(src / "_doctrees")]
    code = subprocess.run([*cmd, str(src), str(out)]).returncode
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if (fixed := accessible(text, alts)) != text:
            page.write_text(fixed, encoding="utf-8")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The course website (Sphinx + myst-nb), from the lecture edition.")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--src", type=Path, default=ROOT / "build" / "site-src", help="where the sources are written")
    parser.add_argument("--notebooks", type=Path, default=build_lecture.OUT, help="default: the lecture edition")
    args = parser.parse_args(argv)
    start = time.monotonic()
    notebooks = sorted(args.notebooks.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no notebooks in {args.notebooks}: run `make lecture` first")
    if build(args.out, args.src, notebooks):
        print("the site build failed (warnings are errors: see above)", file=sys.stderr)
        return 1
    pages = [p for p in args.out.rglob("*.html") if "_static" not in p.parts]
    print(f"{len(pages)} pages in {time.monotonic() - start:.1f} s -> {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
