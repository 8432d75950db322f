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

The Chinese site (build/site/zh/) is built the same way from the Chinese lecture edition
(build/lecture/zh/, from notebooks/zh/), in Sphinx's zh_CN locale (`<html lang="zh-CN">`), its landing
page from README.zh-CN.md; every page of both has a language switch to the same page in the other
language (lecture/languages.py).

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
from lecture.languages import LABELS, add_switch, counterpart

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "site"
SNAPSHOT_NOTE = (
    '<p class="widget-snapshot-note">An explorer (ipywidgets): run the notebook in JupyterLab to move its '
    "sliders; here, the picture it shows at its default setting.</p>"
)
SNAPSHOT_NOTES = {
    "en": SNAPSHOT_NOTE,
    "zh": '<p class="widget-snapshot-note">一个探索器（ipywidgets）：在 JupyterLab 中运行笔记本即可拖动它的滑块；'
    "这里显示的是它在默认设置下的图像。</p>",
}
#: the landing page's fixed text, per language: the README it is built from and the titles of its sections
LANDING = {
    "en": {
        "readme": "README.md",
        "map": "The notebooks",
        "run": "Two commands",
        "caption": "Notebooks",
        "colab": "in Colab",
        "about": "Each page shows a notebook as it was last run and tested: every figure and number comes from that "
        "run. Sliders need a running kernel, so each explorer appears here as the picture it showed; where its "
        "decoder was exported with the notebook, a live copy of it runs in the page instead (the picture folded "
        "under it).",
        "run_title": "Run it yourself",
    },
    "zh": {
        "readme": "README.zh-CN.md",
        "title": "vae-course（中文版）",
        "map": "笔记本",
        "run": "两条命令",
        "caption": "笔记本",
        "colab": "在 Colab 中打开",
        "about": "每一页展示的是一个中文笔记本最后一次运行并通过测试时的样子：每张图、每个数字都来自那次运行。"
        "滑块需要运行中的内核，所以这里的每个探索器都显示为它当时的图像；如果它的解码器随笔记本一起导出，"
        "页面中会改为运行它的实时副本（那张图折叠在其下）。讲师提示（讲稿）已译成中文，译文与英文讲稿一起受测试检查。",
        "run_title": "自己运行",
    },
}


def section(readme: str, title: str) -> str:
    """The body of the README's `## title` section (up to the next `## `)."""
    m = re.search(rf"^## {re.escape(title)}\s*$(.*?)(?=^## |\Z)", readme, re.M | re.S)
    if not m:
        raise SystemExit(f"the README has no '## {title}' section, which the landing page is built from")
    return m.group(1).strip()


def landing_page(readme: str, names: list[str], lang: str = "en") -> str:
    """index.md: the README's title and introduction, its map with links, how to run it, and the toctree.
    In Chinese, from README.zh-CN.md (without its note on what it translates, a quoted block)."""
    text = LANDING[lang]
    title = text.get("title") or readme.splitlines()[0].lstrip("# ").strip()
    intro = readme.split("\n## ", 1)[0].split("\n", 1)[1].strip()
    intro = "\n".join(line for line in intro.splitlines() if not line.startswith(">")).strip()
    # links to the repository's files (README.zh-CN.md's to notebooks/zh/, i18n/README.md) are not pages here
    intro = re.sub(r"\[([^\]]*)\]\((?!https?:)[^)]*\)", r"\1", intro)
    table = section(readme, text["map"])
    linked = []
    for line in table.splitlines():
        m = re.match(r"^\|\s*`([0-9]{2}_\w+)`\s*\|", line)
        if m and m.group(1) in names:
            line = line.replace(f"`{m.group(1)}`", f"[{m.group(1)}](notebooks/{m.group(1)}.ipynb)", 1)
        # the README's Open-in-Colab badges as plain links (the site shows no image from elsewhere)
        line = re.sub(
            r"\[!\[Open in Colab\]\([^)]*\)\]\(([^)]*)\) `([0-9]{2}_\w+)`", rf"[\2 {text['colab']}](\1)", line
        )
        linked.append(line)
    missing = [n for n in names if f"(notebooks/{n}.ipynb)" not in "\n".join(linked)]
    if missing:
        raise SystemExit(f"{text['readme']}'s map ('## {text['map']}') has no row for {missing}")
    run = section(readme, text["run"])
    code = re.search(r"```bash\n(.*?)```", run, re.S)
    toctree = "\n".join(f"notebooks/{n}" for n in names)
    return (
        f"# {title}\n\n{intro}\n\n## {text['map']}\n\n" + "\n".join(linked) + f"\n\n{text['about']}\n\n"
        f"## {text['run_title']}\n\n```bash\n" + (code.group(1) if code else "make lab\n") + "```\n\n"
        f"```{{toctree}}\n:hidden:\n:maxdepth: 1\n:caption: {text['caption']}\n\n{toctree}\n```\n"
    )


def site_notebook(nb, lang: str = "en") -> nbformat.NotebookNode:
    """The notebook as the website shows it (see the module docstring)."""
    nb = nbformat.from_dict(nb)
    for cell in nb.cells:
        if sm.is_notes(cell):
            text = cell.source.removeprefix(sm.NOTES_PREFIX)
            english = lang != "en" and text.startswith(LABELS[lang]["notes_en"])  # untranslated: marked so
            title = LABELS[lang]["for_lecturers_en" if english else "for_lecturers"]
            text = text.removeprefix(LABELS[lang]["notes_en"]).removeprefix(LABELS[lang]["notes"])
            cell.source = f":::{{admonition}} {title}\n:class: tip\n\n{text}\n:::"
        if cell.cell_type != "code":
            continue
        cell.outputs = live_explorer.live_outputs(nb, cell, snapshot_widgets(nb, cell, SNAPSHOT_NOTES[lang]), lang=lang)
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
    # the same for pydata-sphinx-theme's search button, labelled "Search" but showing "Search Ctrl+K" (in
    # Chinese "搜索" and "搜索 Ctrl+K")
    (re.compile(r'(<button class="[^"]*search-button-field[^"]*"[^>]*?) aria-label="[^"]*"'), r"\1"),
]


def accessible(page: str, alts: dict[str, str] | None = None) -> str:
    """A built page with ACCESSIBILITY_FIXES applied, and each figure's alt text in place of the file
    name myst-nb gives it (it names a figure by its PNG's sha256; `alts` maps that to the alt text)."""
    for pattern, replacement in ACCESSIBILITY_FIXES:
        page = pattern.sub(replacement, page)

    def alt(m: re.Match) -> str:
        return f'<img alt="{html.escape(alts[m.group(2)])}"' if m.group(2) in (alts or {}) else m.group(0)

    return re.sub(r'<img alt="((?:\.\./)*_images/([0-9a-f]{64})\.png)"', alt, page)


def build(out: Path, src: Path, notebooks: list[Path], lang: str = "en") -> int:
    if src.exists():
        shutil.rmtree(src)
    shutil.copytree(SITE, src, ignore=shutil.ignore_patterns("__pycache__"))
    vendor.copy_mathjax(src / "_static" / "mathjax")
    (src / "notebooks").mkdir()
    alts: dict[str, str] = {}
    for path in notebooks:
        nb = site_notebook(nbformat.read(path, as_version=4), lang)
        alts |= alt_text.alt_by_png_hash(nb)
        nbformat.write(nb, src / "notebooks" / path.name)
    readme = (ROOT / LANDING[lang]["readme"]).read_text(encoding="utf-8")
    (src / "index.md").write_text(landing_page(readme, [p.stem for p in notebooks], lang), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-d", str(src / "_doctrees")]
    if lang != "en":
        cmd += ["-D", f"language={LABELS[lang]['sphinx']}"]
    code = subprocess.run([*cmd, str(src), str(out)]).returncode
    for page in out.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if (fixed := accessible(text, alts)) != text:
            page.write_text(fixed, encoding="utf-8")
    return code


def add_switches(en: Path, zh: Path) -> None:
    """Every page of both sites with its language switch, to the same page in the other language."""
    for root, other, lang in ((en, zh, "en"), (zh, en, "zh")):
        for page in root.rglob("*.html"):
            if "_static" in page.parts or (lang == "en" and zh in page.parents):
                continue
            text = page.read_text(encoding="utf-8")
            page.write_text(add_switch(text, lang, counterpart(page, root, other)), encoding="utf-8")


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
    zh = sorted((args.notebooks / "zh").glob("[0-9][0-9]_*.ipynb"))
    if zh:  # the Chinese site, from the Chinese lecture edition, in out/zh/
        if build(args.out / "zh", args.src.with_name(args.src.name + "-zh"), zh, "zh"):
            print("the Chinese site build failed (warnings are errors: see above)", file=sys.stderr)
            return 1
        add_switches(args.out, args.out / "zh")
    pages = [p for p in args.out.rglob("*.html") if "_static" not in p.parts]
    print(f"{len(pages)} pages in {time.monotonic() - start:.1f} s -> {args.out}/index.html")
    return 0


if __name__ == "__main__":
    sys.exit(main())
