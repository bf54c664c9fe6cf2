"""Shared fixtures: toy potential, small workflows, structure builders."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
QUICKSTART = REPO / "workflows" / "quickstart.yaml"


def run_cli_campaign(workflow: Path, out: Path) -> subprocess.CompletedProcess[str]:
    """``batscreen run workflow --out out`` in a subprocess, as a user runs it; must succeed."""
    result = subprocess.run(
        [sys.executable, "-m", "screen.cli", "run", str(workflow), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def quickstart_data() -> dict[str, Any]:
    return yaml.safe_load(QUICKSTART.read_text())


def small_workflow(**overrides: Any) -> dict[str, Any]:
    """A tiny Na-ion space: 2 prototypes x a few cations (about 10 candidates)."""
    data = quickstart_data()
    data["name"] = "small"
    space = data["chemical_space"]
    space["prototypes"] = ["layered-o3-AMX2", "perovskite-AMX3"]
    space["framework_cations"] = ["Fe", "Cr", "Co", "Zn"]
    space["anions"] = ["O", "Cl"]
    data["stages"]["rank"] = {  # the quickstart's ranking before it took a profile
        "objectives": {
            "energy_above_hull_per_atom": {"weight": 1.0, "direction": "minimize"},
            "specific_energy": {"weight": 1.0, "direction": "maximize"},
        },
        "constraints": {"energy_above_hull_per_atom": {"max": 0.1}},
    }
    for key, value in overrides.items():
        target = data
        *path, last = key.split(".")
        for part in path:
            target = target.setdefault(part, {})
        target[last] = value
    return copy.deepcopy(data)


def na_space(**overrides: Any):
    """A small Na-ion chemical space (O3 and perovskite prototypes) for generator tests."""
    from screen.workflow.spec import ChemicalSpace

    base: dict[str, Any] = dict(
        working_ions=["Na"],
        framework_cations=["Fe", "Cr", "Zn", "Co"],
        anions=["O", "S", "Cl"],
        prototypes=["layered-o3-AMX2", "perovskite-AMX3"],
    )
    base.update(overrides)
    return ChemicalSpace(**base)


def write_workflow(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def lj():
    from screen.potentials.registry import load_potential

    return load_potential("lennard-jones-toy")


@pytest.fixture(scope="session")
def chgnet():
    import torch

    torch.set_num_threads(1)
    from screen.potentials.registry import load_potential

    return load_potential("chgnet-0.3.0", device="cpu")


@pytest.fixture
def nacl():
    from pymatgen.core import Lattice, Structure

    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    ).get_primitive_structure()


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden", action="store_true", help="rewrite golden files from the output"
    )


_BROWSERS = ("chromium", "chromium-browser", "google-chrome")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium; installed from Debian when missing and the
    tests run as root with apt (CI), else the test is skipped with the reason."""
    import os
    import shutil
    import subprocess

    found = next((shutil.which(b) for b in _BROWSERS if shutil.which(b)), None)
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("no chromium: install Debian's chromium package to run the report test")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed: {done.stderr[-2000:]}")
    found = next((shutil.which(b) for b in _BROWSERS if shutil.which(b)), None)
    if not found:
        pytest.fail("apt-get installed chromium but no chromium binary is on PATH")
    return found
