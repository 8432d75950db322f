"""The package is a house of layers: a module imports only modules on its own layer or below.

The layers, from the bottom (each module of vae_course/ and lecture/ must be named here):

0. primitives, importing nothing of the course: ``ops``, ``losses``, ``seeding``, ``claims``, ``i18n``;
1. data and pure topic functions: ``moons``, ``corruption``, ``pca``, ``data``, ``lvm``, ``style``;
2. models only: ``models`` and its modules;
3. what trains and reads models, one module per notebook topic: ``train``, ``diagnostics``,
   ``estimators``, ``interpolation``, ``denoising``, ``wake_sleep``, ``vq``, ``judge``, ``sample_quality``, ``plots``,
   ``explorer``
   (and the package's ``__init__``, which re-exports ``fit``);
4. ``exercises`` (the notebooks' checks, used by the grader);
5. ``classroom`` (the teacher's tooling);
6. ``lecture`` (slides, site and notebook runs, built from all of the above).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

LAYERS = {
    0: [
        "vae_course.ops",
        "vae_course.losses",
        "vae_course.seeding",
        "vae_course.parameters",
        "vae_course.claims",
        "vae_course.i18n",
    ],
    1: [
        "vae_course.moons",
        "vae_course.corruption",
        "vae_course.pca",
        "vae_course.data",
        "vae_course.lvm",
        "vae_course.style",
    ],
    2: ["vae_course.models"],
    3: [
        "vae_course",
        "vae_course.train",
        "vae_course.diagnostics",
        "vae_course.estimators",
        "vae_course.interpolation",
        "vae_course.denoising",
        "vae_course.wake_sleep",
        "vae_course.vq",
        "vae_course.judge",
        "vae_course.sample_quality",
        "vae_course.plots",
        "vae_course.explorer",
    ],
    4: ["vae_course.exercises"],
    5: ["vae_course.classroom"],
    6: ["lecture"],
}


def layer_of(module: str) -> int:
    """The layer of a module: that of the longest prefix named in LAYERS (a package names its modules)."""
    best = max(
        (name for names in LAYERS.values() for name in names if module == name or module.startswith(name + ".")),
        key=len,
        default=None,
    )
    if best is None:
        raise KeyError(f"{module} is on no layer: add it to LAYERS in tests/test_layers.py")
    return next(layer for layer, names in LAYERS.items() if best in names)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def course_imports(path: Path, me: str | None = None) -> set[str]:
    """The vae_course and lecture modules a file (module ``me``) imports, anywhere in it (also
    inside functions)."""
    me = me or module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base_name = ".".join(base + ([node.module] if node.module else []))
            else:
                base_name = node.module or ""
            for alias in node.names:
                sub = f"{base_name}.{alias.name}"
                found.add(sub if is_module(sub) else base_name)
    return {name for name in found if name.split(".")[0] in ("vae_course", "lecture")}


FILES = sorted([*ROOT.joinpath("vae_course").rglob("*.py"), *ROOT.joinpath("lecture").rglob("*.py")])


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_one_on_a_higher_layer(path):
    me = module_name(path)
    upward = {name: layer_of(name) for name in course_imports(path) if layer_of(name) > layer_of(me)}
    assert not upward, f"{me} (layer {layer_of(me)}) imports modules on higher layers: {upward}"


def test_the_check_sees_an_upward_import(tmp_path):
    fake = tmp_path / "vq.py"
    fake.write_text("def f():\n    from ..estimators import straight_through\n")
    assert course_imports(fake, me="vae_course.models.vq") == {"vae_course.estimators"}
    assert layer_of("vae_course.estimators") > layer_of("vae_course.models.vq")
