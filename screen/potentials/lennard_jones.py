"""A Lennard-Jones toy potential with analytic forces and stress (numpy, float64).

For engine and pipeline tests: exact and fast. All pairs share one epsilon; the pair
minimum sits at the sum of the two elements' empirical atomic radii (pymatgen's
``Element.atomic_radius``), so crystals and molecules keep plausible sizes when relaxed
(Na-Cl 2.8 Å, O-O 1.2 Å). The energy of each pair is shifted to zero at the cutoff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from screen.potentials.base import Evaluation
from screen.potentials.cards import ModelCard
from screen.potentials.weights import verified_identity
from screen.records import ModelIdentity

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms


def neighbor_pairs(atoms: Atoms, cutoff: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All ordered pairs (i, j, r_ij vector) with |r_ij| < cutoff under periodic images."""
    from pymatgen.optimization.neighbors import find_points_in_spheres

    cart = np.ascontiguousarray(atoms.positions, dtype=float)
    lattice = np.ascontiguousarray(atoms.cell.array, dtype=float)
    pbc = np.array(atoms.pbc, dtype=np.int64)
    centers, neighbors, images, _ = find_points_in_spheres(
        cart, cart, r=float(cutoff), pbc=pbc, lattice=lattice, tol=1e-8
    )
    vectors = cart[neighbors] + images @ lattice - cart[centers]
    keep = np.einsum("ij,ij->i", vectors, vectors) > 1e-16  # drop self at zero image
    return centers[keep], neighbors[keep], vectors[keep]


class LennardJonesPotential:
    """E = sum_{i<j} 4 eps [(s_ij/r)^12 - (s_ij/r)^6] - (same at r_cut).

    s_ij 2^(1/6) = R_i + R_j puts each pair minimum at the sum of the atomic radii.
    """

    def __init__(self, card: ModelCard, device: str = "cpu", dtype: str = "float64"):
        if dtype != "float64":
            raise ValueError("the Lennard-Jones toy potential runs in float64 only")
        self.card = card
        self.device = device
        self.dtype = dtype
        self.epsilon = float(card.parameters.get("epsilon_ev", 0.1))
        self.cutoff = float(card.cutoff_angstrom)
        # fault injection for tests of crash isolation: a card parameter naming a formula
        # makes the process abort when it evaluates a structure of that formula
        self.crash_on_formula = card.parameters.get("crash_on_formula")
        # and latency injection: structures of these formulas cost this long per call
        self.slow_formulas = set(card.parameters.get("slow_formulas", []))
        self.seconds_per_call = float(card.parameters.get("seconds_per_call", 0.0))
        self._radius: dict[int, float] = {}
        self._identity = verified_identity(card)

    @property
    def identity(self) -> ModelIdentity:
        """Name and version (no checkpoint)."""
        return self._identity

    @staticmethod
    def _formula(atoms: Atoms) -> str:
        from pymatgen.core import Composition

        return str(Composition(atoms.get_chemical_formula()).reduced_formula)

    def radius(self, z: int) -> float:
        """Empirical atomic radius (Å) of element ``z``."""
        if z not in self._radius:
            from pymatgen.core import Element

            radius = Element.from_Z(z).atomic_radius
            self._radius[z] = float(radius) if radius is not None else 1.5
        return self._radius[z]

    def sigma(self, z_i: np.ndarray, z_j: np.ndarray) -> np.ndarray:
        """Pair sigma (Å): the pair energy minimum is at R_i + R_j."""
        radii = {int(z): self.radius(int(z)) for z in np.unique(np.concatenate([z_i, z_j]))}
        r_i = np.array([radii[int(z)] for z in z_i])
        r_j = np.array([radii[int(z)] for z in z_j])
        return (r_i + r_j) / 2 ** (1 / 6)

    def _pair(self, r: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pair energy (shifted) and its derivative dphi/dr."""
        sr6 = (sigma / r) ** 6
        src6 = (sigma / self.cutoff) ** 6
        phi = 4 * self.epsilon * (sr6 * sr6 - sr6) - 4 * self.epsilon * (src6 * src6 - src6)
        dphi = 4 * self.epsilon * (-12 * sr6 * sr6 + 6 * sr6) / r
        return phi, dphi

    def evaluate(self, systems: Sequence[Atoms]) -> Evaluation:
        """Energy (eV), forces (eV/Å) and stress (eV/Å³) of each structure."""
        energies, forces, stresses = [], [], []
        for atoms in systems:
            if self.crash_on_formula and self._formula(atoms) == self.crash_on_formula:
                import os

                os.abort()  # a hard crash, as a segfault in a native extension would be
            if self.slow_formulas and self._formula(atoms) in self.slow_formulas:
                import time

                time.sleep(self.seconds_per_call)
            i, j, vec = neighbor_pairs(atoms, self.cutoff)
            r = np.linalg.norm(vec, axis=1)
            numbers = atoms.numbers
            phi, dphi = self._pair(r, self.sigma(numbers[i], numbers[j]))
            # each unordered pair appears twice (i->j and j->i)
            energies.append(0.5 * phi.sum())
            # dE/dr_j from pair (i, j) is dphi * vec/r; force on i = +dphi * vec/r summed
            fij = (dphi / r)[:, None] * vec
            f = np.zeros((len(atoms), 3))
            np.add.at(f, i, fij)
            forces.append(f)
            volume = abs(np.linalg.det(atoms.cell.array)) if atoms.pbc.all() else 1.0
            stress = 0.5 * np.einsum("p,pa,pb->ab", dphi / r, vec, vec) / volume
            stresses.append(stress)
        return Evaluation(
            energy=np.array(energies, dtype=float), forces=forces, stress=np.stack(stresses)
        )
