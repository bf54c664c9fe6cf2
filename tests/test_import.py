"""`import screen` is cheap: no torch, no pymatgen, no side effects."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_import_screen_does_not_import_heavy_packages():
    modules = _modules_after("import screen")
    heavy = {"torch", "pymatgen", "pymatgen.core", "ase", "chgnet", "mace", "pyarrow", "pandas"}
    assert not (heavy & modules), f"import screen pulled in {sorted(heavy & modules)}"


def test_public_api_resolves_lazily():
    import screen

    assert callable(screen.run)
    assert callable(screen.relax)
    assert screen.Workflow.__name__ == "Workflow"
    assert set(screen.__all__) <= set(dir(screen)) | {"__version__"}


def test_unknown_attribute_raises():
    import pytest

    import screen

    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        screen.nonexistent  # noqa: B018
