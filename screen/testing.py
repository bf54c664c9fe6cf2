"""Conformance kit for potentials: ``check_potential(p)`` for built-in and third-party ones.

Checks, on small perturbed crystals: output shapes, float64 numpy outputs and finiteness;
forces equal -dE/dx by central finite differences; stress equals (1/V) dE/dstrain by
finite strain; a batch gives the same numbers as one-by-one calls; the process-wide torch
default dtype is untouched. ``check_dtype_agreement`` compares a model's float32 and
float64 versions.
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


def check_output_types(potential: Potential, systems: Sequence[Atoms]) -> None:
    """Results come back as float64 numpy arrays whatever the model's dtype."""
    result = potential.evaluate(systems[:1])
    for name, array in (
        ("energy", result.energy),
        ("stress", result.stress),
        ("forces", result.forces[0]),
    ):
        assert isinstance(array, np.ndarray), f"{name} is a {type(array).__name__}"
        assert array.dtype == np.float64, f"{name} has dtype {array.dtype}, expected float64"


def check_dtype_agreement(
    single: Potential, double: Potential, systems: Sequence[Atoms] | None = None
) -> None:
    """The float32 and float64 versions of one model agree to float32 precision."""
    systems = list(systems) if systems is not None else conformance_systems()
    assert (single.dtype, double.dtype) == ("float32", "float64")
    a, b = single.evaluate(systems), double.evaluate(systems)
    for k, atoms in enumerate(systems):
        de = abs(a.energy[k] - b.energy[k]) / len(atoms)
        assert de < 1e-4, f"system {k}: float32/float64 energies differ by {de:.2e} eV/atom"
        df = np.abs(a.forces[k] - b.forces[k]).max()
        assert df < 1e-3, f"system {k}: float32/float64 forces differ by {df:.2e} eV/Å"


def check_potential(potential: Potential, systems: Sequence[Atoms] | None = None) -> None:
    """Run every conformance check; raise AssertionError on the first failure."""
    systems = list(systems) if systems is not None else conformance_systems()
    check_default_dtype_untouched(potential, systems)
    check_output_types(potential, systems)
    check_shapes(potential, systems)
    check_batch_consistency(potential, systems)
    for atoms in systems[:2]:
        check_forces(potential, atoms)
        check_stress(potential, atoms)


_MP0_SHAPE = {
    "hidden": "128x0e",
    "max_ell": 3,
    "interactions": 2,
    "correlation": 3,
    "r_max": 6.0,
    "bessel": 10,
    "mlp": "16x0e",
    "radial": [64, 64, 64],
}

#: architectures of random MACE models for tests and throughput benchmarks
MACE_ARCHITECTURES: dict[str, dict[str, object]] = {
    # a few thousand parameters: conformance tests in seconds
    "tiny": {
        "hidden": "8x0e + 8x1o",
        "max_ell": 1,
        "interactions": 1,
        "correlation": 2,
        "r_max": 4.0,
        "bessel": 4,
        "mlp": "8x0e",
        "radial": [16],
    },
    # the shapes of MACE-MP-0 small (L0) and medium (L1), random weights
    "small": _MP0_SHAPE,
    "medium": {**_MP0_SHAPE, "hidden": "128x0e + 128x1o"},
}


def build_random_mace(
    path: str, size: str = "tiny", atomic_numbers: Sequence[int] | None = None, seed: int = 0
) -> str:
    """Save a randomly initialised MACE model (torch.save of the module) to ``path``.

    For tests and throughput benchmarks where foundation weights cannot be downloaded.
    The global torch RNG is seeded and the default dtype is left untouched.
    """
    import mace  # noqa: F401  (before e3nn)
    import torch
    from e3nn import o3
    from mace import modules

    arch = MACE_ARCHITECTURES[size]
    numbers = list(atomic_numbers or range(1, 90))
    torch.manual_seed(seed)
    block = modules.interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = modules.ScaleShiftMACE(
        r_max=float(arch["r_max"]),  # type: ignore[arg-type]
        num_bessel=int(arch["bessel"]),  # type: ignore[call-overload]
        num_polynomial_cutoff=5,
        max_ell=int(arch["max_ell"]),  # type: ignore[call-overload]
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=int(arch["interactions"]),  # type: ignore[call-overload]
        num_elements=len(numbers),
        hidden_irreps=o3.Irreps(arch["hidden"]),
        MLP_irreps=o3.Irreps(arch["mlp"]),
        atomic_energies=np.zeros(len(numbers)),
        avg_num_neighbors=20.0,
        atomic_numbers=numbers,
        correlation=int(arch["correlation"]),  # type: ignore[call-overload]
        gate=torch.nn.functional.silu,
        radial_MLP=list(arch["radial"]),  # type: ignore[call-overload]
        atomic_inter_scale=1.0,
        atomic_inter_shift=0.0,
    )
    torch.save(model, path)
    return path
