"""Conformance kit for potentials: ``check_potential(p)`` for built-in and third-party ones.

Checks, on small perturbed crystals: output shapes and finiteness; forces equal -dE/dx by
central finite differences; stress equals (1/V) dE/dstrain by finite strain; a batch gives
the same numbers as one-by-one calls; the process-wide torch default dtype is untouched.
Raises AssertionError with the numbers when a check fails.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from screen.potentials.base import Potential


def conformance_systems(seed: int = 0) -> list[Atoms]:
    """Three small rattled, strained crystals of different sizes and chemistries."""
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    systems = [
        bulk("NaCl", "rocksalt", a=5.6),
        bulk("Fe", "bcc", a=2.85, cubic=True) * (1, 1, 2),
        bulk("MgO", "rocksalt", a=4.25, cubic=True),
    ]
    out = []
    for atoms in systems:
        strain = np.eye(3) + 0.01 * rng.standard_normal((3, 3))
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.positions += 0.05 * rng.standard_normal(atoms.positions.shape)
        out.append(atoms)
    return out


def _tolerances(dtype: str) -> tuple[float, float]:
    """(finite-difference step in Å / strain, absolute tolerance in eV/Å) per dtype."""
    return (1e-4, 1e-4) if dtype == "float64" else (5e-3, 3e-2)


def check_shapes(potential: Potential, systems: Sequence[Atoms]) -> None:
    """Energy (n,), forces (atoms_i, 3), stress (n, 3, 3), all finite and symmetric stress."""
    result = potential.evaluate(systems)
    n = len(systems)
    assert np.shape(result.energy) == (n,), f"energy shape {np.shape(result.energy)} != ({n},)"
    for atoms, forces in zip(systems, result.forces, strict=True):
        assert np.shape(forces) == (len(atoms), 3), f"forces shape {np.shape(forces)}"
        assert np.all(np.isfinite(forces)), "non-finite forces"
    assert np.shape(result.stress) == (n, 3, 3), f"stress shape {np.shape(result.stress)}"
    assert np.all(np.isfinite(result.energy)) and np.all(np.isfinite(result.stress))
    asym = np.abs(result.stress - np.transpose(result.stress, (0, 2, 1))).max()
    assert asym < 1e-4, f"stress not symmetric (max asymmetry {asym:.2e} eV/Å³)"


def check_forces(potential: Potential, atoms: Atoms, n_checks: int = 4) -> None:
    """Forces equal minus the finite-difference gradient of the energy."""
    step, atol = _tolerances(potential.dtype)
    forces = potential.evaluate([atoms]).forces[0]
    rng = np.random.default_rng(1)
    for _ in range(n_checks):
        i, k = int(rng.integers(len(atoms))), int(rng.integers(3))
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[i, k] += step
        minus.positions[i, k] -= step
        e = potential.evaluate([plus, minus]).energy
        numeric = -(e[0] - e[1]) / (2 * step)
        assert abs(numeric - forces[i, k]) <= atol + 1e-2 * abs(numeric), (
            f"force on atom {i}, axis {k}: model {forces[i, k]:.6f} eV/Å, "
            f"-dE/dx by finite differences {numeric:.6f} eV/Å"
        )


def check_stress(potential: Potential, atoms: Atoms) -> None:
    """Stress equals (1/V) dE/d(strain) by symmetric finite strains."""
    step, atol = _tolerances(potential.dtype)
    stress = potential.evaluate([atoms]).stress[0]
    volume = atoms.get_volume()
    for a, b in ((0, 0), (1, 1), (0, 1), (1, 2)):
        energies = []
        for sign in (1, -1):
            eps = np.zeros((3, 3))
            eps[a, b] += sign * step / 2
            eps[b, a] += sign * step / 2
            strained = atoms.copy()
            strained.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            energies.append(potential.evaluate([strained]).energy[0])
        numeric = (energies[0] - energies[1]) / (2 * step) / volume
        tol = atol / volume * len(atoms) + 1e-2 * abs(numeric)
        assert abs(numeric - stress[a, b]) <= tol, (
            f"stress[{a},{b}]: model {stress[a, b]:.6e}, (1/V) dE/dstrain {numeric:.6e} eV/Å³"
        )


def check_batch_consistency(potential: Potential, systems: Sequence[Atoms]) -> None:
    """A batch gives the same results as one structure at a time."""
    _, atol = _tolerances(potential.dtype)
    batch = potential.evaluate(systems)
    for idx, atoms in enumerate(systems):
        single = potential.evaluate([atoms])
        de = abs(single.energy[0] - batch.energy[idx])
        assert de <= atol * len(atoms), f"system {idx}: batch energy differs by {de:.2e} eV"
        df = np.abs(single.forces[0] - batch.forces[idx]).max()
        assert df <= atol, f"system {idx}: batch forces differ by {df:.2e} eV/Å"


def check_default_dtype_untouched(potential: Potential, systems: Sequence[Atoms]) -> None:
    """Evaluating must not change torch's process-wide default dtype."""
    torch = sys.modules.get("torch")
    if torch is None:
        potential.evaluate(systems[:1])
        return
    before = torch.get_default_dtype()
    potential.evaluate(systems[:1])
    after = torch.get_default_dtype()
    assert before == after, f"torch default dtype changed from {before} to {after}"


def check_potential(potential: Potential, systems: Sequence[Atoms] | None = None) -> None:
    """Run every conformance check; raise AssertionError on the first failure."""
    systems = list(systems) if systems is not None else conformance_systems()
    check_default_dtype_untouched(potential, systems)
    check_shapes(potential, systems)
    check_batch_consistency(potential, systems)
    for atoms in systems[:2]:
        check_forces(potential, atoms)
        check_stress(potential, atoms)
