"""torch's version is written in one place, constraints.txt; every other file that installs or names
torch (the Makefile, environment.yml, the workflows, the README, CI) reads it from there or names no
other version."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# "torch==2.13.0", "torch == 2.13", "torch 2.13.0" (prose); a range such as pyproject's "torch>=2.4,<3" is no pin.
NAMED = re.compile(r"\btorch\s*(?:==\s*|\s+v?)(\d+\.\d+(?:\.\d+)?(?:\+\w+)?)")


def pinned() -> str:
    found = re.findall(r"^torch==([^\s+]+)", (ROOT / "constraints.txt").read_text(), flags=re.M)
    assert len(found) == 1, f"constraints.txt pins torch {len(found)} times"
    return found[0]


def files() -> list[Path]:
    return [
        ROOT / "Makefile",
        ROOT / "environment.yml",
        ROOT / "README.md",
        ROOT / ".ci" / "run",
        *sorted((ROOT / ".github" / "workflows").glob("*.y*ml")),
    ]


def test_constraints_is_the_one_place_torch_is_pinned():
    version = pinned()
    other = [
        f"{path.relative_to(ROOT)}: torch {found}"
        for path in files()
        for found in NAMED.findall(path.read_text())
        if found.split("+")[0] != version
    ]
    assert not other, f"constraints.txt pins torch=={version}; these name another version:\n" + "\n".join(other)


def test_the_makefile_reads_the_pin_from_constraints():
    make = (ROOT / "Makefile").read_text()
    assert not NAMED.search(make), "the Makefile writes torch's version: read it from constraints.txt"
    assert re.search(r"^TORCH\s*:=.*constraints\.txt", make, flags=re.M)


def test_the_pattern_finds_pins_and_prose():
    assert NAMED.findall("pip install torch==2.12.1 and torch 2.3.0+cpu, not torch>=2.4,<3") == ["2.12.1", "2.3.0+cpu"]
