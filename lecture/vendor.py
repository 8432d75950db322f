"""reveal.js and MathJax for the offline decks and the website, fetched from the npm registry at build time
(and axe-core, the accessibility checker the browser tests run on them).

Neither is committed: `npm pack` downloads each package's tarball once into build/vendor/ (git-ignored),
the tarball is checked against the integrity hash pinned here, and only the files the pages load are
copied next to them, so a deck or a page opened from disk makes no network request.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "vendor"

#: name -> (version, the registry's sha512 integrity of its tarball)
PACKAGES = {
    "reveal.js": (
        "5.2.1",
        "sha512-r7//6mIM5p34hFiDMvYfXgyjXqGRta+/psd9YtytsgRlrpRzFv4RbH76TXd2qD+7ZPZEbpBDhdRhJaFgfQ7zNQ==",
    ),
    "mathjax": (
        "3.2.2",
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
    ),
    # not shipped with the pages: tests/browser/test_browser_a11y.py injects it to check WCAG 2.1 AA
    "axe-core": (
        "4.14.1",
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==",
    ),
}
#: the files each page needs (prefixes inside the package)
REVEAL_FILES = ("dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "dist/theme/fonts/source-sans-pro/",
                "plugin/notes/notes.js", "LICENSE")  # fmt: skip
MATHJAX_FILES = ("es5/tex-chtml-full.js", "es5/output/chtml/fonts/woff-v2/", "LICENSE")
AXE_FILES = ("axe.min.js", "LICENSE")


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def tarball(name: str) -> Path:
    """The package's tarball in build/vendor/, downloaded with `npm pack` if it is not there yet."""
    version, integrity = PACKAGES[name]
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"{name}-{version}.tgz"
    if not path.exists() or _integrity(path) != integrity:
        if shutil.which("npm") is None:
            raise SystemExit(
                f"npm is needed once to fetch {name}@{version} from the npm registry "
                "(Debian: apt-get install -y npm; or any Node.js install)"
            )
        subprocess.run(
            ["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(CACHE)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    got = _integrity(path)
    if got != integrity:
        path.unlink()
        raise SystemExit(f"{name}@{version}: the tarball's integrity {got} is not the pinned {integrity}")
    return path


def _extract(name: str, wanted: tuple[str, ...], strip: str, dest: Path) -> Path:
    """Copy the members of `name`'s tarball under the prefixes `wanted` to `dest`, less `strip`."""
    with tarfile.open(tarball(name)) as tar:
        for member in tar.getmembers():
            rel = member.name.removeprefix("package/")
            if not member.isfile() or not any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in wanted):
                continue
            target = dest / rel.removeprefix(strip)
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(member) as src:
                target.write_bytes(src.read())
    return dest


def copy_reveal(dest: Path) -> Path:
    """reveal.js (core, white theme and its fonts, speaker-notes plugin) into dest/ (dist/, plugin/)."""
    return _extract("reveal.js", REVEAL_FILES, "", dest)


def copy_mathjax(dest: Path) -> Path:
    """MathJax 3 (TeX input, CommonHTML output, all TeX extensions in one file, its fonts) into dest/."""
    return _extract("mathjax", MATHJAX_FILES, "es5/", dest)


def axe_script() -> Path:
    """axe-core's axe.min.js (and its licence) in build/vendor/axe-core-<version>/, for the accessibility tests."""
    dest = CACHE / f"axe-core-{PACKAGES['axe-core'][0]}"
    if not (dest / "axe.min.js").exists():
        _extract("axe-core", AXE_FILES, "", dest)
    return dest / "axe.min.js"
