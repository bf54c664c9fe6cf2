"""Relax one structure with ASE's FIRE (or BFGS) and FrechetCellFilter over a Potential.

Convergence is explicit and two-sided: max atomic force <= fmax (eV/Å) AND, for a variable
cell, max |stress component| <= smax (GPa). ASE's own criterion on the filter's generalized
forces mixes both and depends on the cell size, so it is not used to stop.
A relaxation that explodes (non-finite numbers, energy below any physical value, atoms
closer than 0.5 Å, volume doubling or halving) raises :class:`RelaxationExploded`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from screen.potentials.base import Potential, make_calculator

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from screen.workflow.spec import RelaxParams

EV_PER_A3_IN_GPA = 160.21766208
MIN_INTERATOMIC_DISTANCE_A = 0.5
MIN_ENERGY_PER_ATOM_EV = -25.0  # far below any element or compound on the MP energy scale


class RelaxationExploded(RuntimeError):
    """The optimizer left physical territory; the structure must not be used."""


@dataclass
class RelaxOutcome:
    """What one relaxation produced."""

    atoms: Atoms
    energy_ev: float
    converged: bool
    steps: int
    max_force_ev_per_a: float
    max_stress_gpa: float
    volume_initial_a3: float
    volume_final_a3: float
    seconds: float = 0.0  # wall-clock time of the relaxation

    @property
    def volume_change(self) -> float:
        """(V_final - V_initial) / V_initial."""
        return (self.volume_final_a3 - self.volume_initial_a3) / self.volume_initial_a3


def min_interatomic_distance(atoms: Atoms) -> float:
    """Shortest distance between two atoms (periodic images included)."""
    from pymatgen.optimization.neighbors import find_points_in_spheres

    cart = np.ascontiguousarray(atoms.positions, dtype=float)
    centers, neighbors, images, dist = find_points_in_spheres(
        cart,
        cart,
        r=3.0,
        pbc=np.array(atoms.pbc, dtype=np.int64),
        lattice=np.ascontiguousarray(atoms.cell.array, dtype=float),
        tol=1e-8,
    )
    self_pair = (centers == neighbors) & (np.abs(images).sum(axis=1) == 0)
    dist = dist[~self_pair]
    return float(dist.min()) if dist.size else float("inf")


def check_sane(atoms: Atoms, energy: float, forces: np.ndarray, v0: float) -> None:
    """Raise RelaxationExploded when a step left physical territory."""
    n = len(atoms)
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        raise RelaxationExploded("non-finite energy or forces")
    if energy / n < MIN_ENERGY_PER_ATOM_EV:
        raise RelaxationExploded(f"energy {energy / n:.2f} eV/atom is unphysically low")
    volume = atoms.get_volume() if atoms.pbc.all() else v0
    if not 0.5 < volume / v0 < 2.0:
        raise RelaxationExploded(f"volume changed by a factor {volume / v0:.2f}")
    dmin = min_interatomic_distance(atoms)
    if dmin < MIN_INTERATOMIC_DISTANCE_A:
        raise RelaxationExploded(f"two atoms {dmin:.2f} Å apart")


def relax_atoms(atoms: Atoms, potential: Potential, params: RelaxParams) -> RelaxOutcome:
    """Relax a copy of ``atoms``; positions and (by default) cell."""
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE

    atoms = atoms.copy()
    atoms.calc = make_calculator(potential)
    variable_cell = params.variable_cell and bool(atoms.pbc.all())
    target: Any = FrechetCellFilter(atoms) if variable_cell else atoms
    optimizer_cls: Any = FIRE if params.optimizer == "FIRE" else BFGS
    optimizer: Any = optimizer_cls(target, logfile=None)
    v0 = atoms.get_volume() if atoms.pbc.all() else 1.0

    converged = False
    started = time.perf_counter()
    fmax_now = smax_now = float("nan")
    # fmax=0 keeps ASE from stopping on its own criterion; ours is checked at every step
    for _ in optimizer.irun(fmax=0.0, steps=params.max_steps):
        forces = atoms.get_forces()
        energy = atoms.get_potential_energy()
        check_sane(atoms, energy, forces, v0)
        fmax_now = float(np.linalg.norm(forces, axis=1).max())
        smax_now = (
            float(np.abs(atoms.get_stress(voigt=False)).max() * EV_PER_A3_IN_GPA)
            if atoms.pbc.all()
            else 0.0
        )
        if fmax_now <= params.fmax and (not variable_cell or smax_now <= params.smax_gpa):
            converged = True
            break

    energy = float(atoms.get_potential_energy())
    relaxed = atoms.copy()
    relaxed.calc = None
    return RelaxOutcome(
        atoms=relaxed,
        energy_ev=energy,
        converged=converged,
        steps=int(optimizer.nsteps),
        max_force_ev_per_a=fmax_now,
        max_stress_gpa=smax_now,
        volume_initial_a3=v0,
        volume_final_a3=relaxed.get_volume() if relaxed.pbc.all() else v0,
        seconds=time.perf_counter() - started,
    )
