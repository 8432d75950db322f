"""Alternative text of the notebooks' figures, for the decks and the website (WCAG 1.1.1).

A figure's alt text lives in the notebook, in its output's metadata next to the image's size:
``output.metadata["image/png"]["alt"]`` (nbconvert's and JupyterLab's place for per-image facts).
Where a figure has none yet, the decks and the site say so, in words that still tell a screen-reader
user where they are: "Figure 3 of 04 · The ELBO, in the section “Monte Carlo”: no text description
of this figure yet." nbconvert's own fallback ("No description has been provided for this image")
and myst-nb's (the image's file path) say less.
"""

from __future__ import annotations

import base64
import hashlib
import re

IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml")


def figure_alt(output) -> str | None:
    """The alt text the notebook gives this output's image, or None."""
    for mime in IMAGE_MIMES:
        alt = (output.get("metadata") or {}).get(mime, {}).get("alt")
        if mime in output.get("data", {}) and isinstance(alt, str) and alt.strip():
            return alt.strip()
    return None


def _heading(source: str) -> str | None:
    """The last markdown heading of a cell's source, without its #s and markup."""
    found = re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", source, re.M)
    return re.sub(r"[*_`$]", "", found[-1]).strip() if found else None


def fill_alt(nb) -> int:
    """Give every figure without alt text the fallback (in place); returns how many it filled.

    Run it after the outputs are final (widgets replaced by their snapshots)."""
    title, section, k, filled = None, None, 0, 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            head = _heading(cell.source)
            if head and title is None and cell.source.lstrip().startswith("# "):
                title = head
            elif head:
                section = head
            continue
        for output in cell.get("outputs", []):
            mime = next((m for m in IMAGE_MIMES if m in output.get("data", {})), None)
            if mime is None:
                continue
            k += 1
            if figure_alt(output) is None:
                where = f" of {title}" if title else ""
                part = f", in the section “{section}”" if section else ""
                output.setdefault("metadata", {}).setdefault(mime, {})["alt"] = (
                    f"Figure {k}{where}{part}: no text description of this figure yet."
                )
                filled += 1
    return filled


def alt_by_png_hash(nb) -> dict[str, str]:
    """{sha256 of the PNG's bytes: alt text} of the notebook's figures (myst-nb names images so)."""
    out = {}
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png, alt = output.get("data", {}).get("image/png"), figure_alt(output)
            if png and alt:
                data = png if isinstance(png, str) else "".join(png)
                out[hashlib.sha256(base64.b64decode(data)).hexdigest()] = alt
    return out
