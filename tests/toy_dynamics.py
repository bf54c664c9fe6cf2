"""Toy potentials with exactly known diffusion, for testing the MD engine and analysis.

``TetheredPotential``: atoms of the ``tethered`` elements sit in harmonic wells around
their starting sites (an Einstein crystal: bounded MSD, 3 kT / k per atom); every other
atom feels no force at all, so under Langevin dynamics it diffuses with the exactly
known D = (kT dt / 2m) coth(gamma dt / 2) of the BAOAB scheme.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from screen.potentials.base import Evaluation


class TetheredPotential:
    """Free particles plus harmonically tethered ones (energy 0.5 k |r - r0|^2)."""

    def __init__(
        self, sites: dict[str, np.ndarray], tethered: set[str], spring_ev_per_a2: float = 2.0
    ):
        self.sites = sites  # system key -> reference positions (n, 3)
        self.tethered = tethered
        self.k = spring_ev_per_a2
        self.calls = 0
        self.poisoned: set[str] = set()  # these return NaN energies
        self.raising: set[str] = set()  # these make the whole call raise
        self.max_systems: int | None = None  # more in one call: "out of memory"

    def evaluate(self, systems: Sequence[Atoms]) -> Evaluation:
        self.calls += 1
        if self.max_systems is not None and len(systems) > self.max_systems:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (toy)")
        if any(atoms.info["key"] in self.raising for atoms in systems):
            raise ValueError("toy model cannot handle this structure")
        energies, forces = [], []
        for atoms in systems:
            key = atoms.info["key"]
            cell = np.asarray(atoms.cell)
            d = atoms.positions - self.sites[key]
            frac = d @ np.linalg.inv(cell)
            d = (frac - np.round(frac)) @ cell  # minimum image
            mask = np.array([s in self.tethered for s in atoms.get_chemical_symbols()])
            f = np.where(mask[:, None], -self.k * d, 0.0)
            e = 0.5 * self.k * float((d[mask] ** 2).sum())
            if key in self.poisoned:
                e = float("nan")
            energies.append(e)
            forces.append(f)
        n = len(systems)
        return Evaluation(np.array(energies), forces, np.zeros((n, 3, 3)))


def lattice_gas(key: str, n_cells: int = 3, a: float = 5.0) -> Atoms:
    """Rock-salt-like Na/Cl arrangement: 4 n^3 Na and 4 n^3 Cl in a cubic box."""
    from ase.build import bulk

    atoms = bulk("NaCl", "rocksalt", a=a, cubic=True).repeat(n_cells)
    atoms.info["key"] = key
    return atoms
