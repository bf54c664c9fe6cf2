"""Polyanion groups a chemical space may name among its anions (e.g. PO4, SO4).

A prototype marks the centre atom of such a group with a role of kind ``polyanion``; the
group's oxygens are separate ``fixed`` sites. Naming ``PO4`` in the chemical space lets P
occupy every tetrahedral polyanion centre of the selected prototypes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Polyanion:
    """An XOn group: centre element, ligand, count, geometry and formal charge."""

    formula: str
    centre: str
    ligand: str
    n_ligands: int
    geometry: str  # tetrahedral | trigonal
    charge: int

    @property
    def centre_oxidation_state(self) -> int:
        """Formal oxidation state of the centre (ligands O2- or S2-): P5+ in PO4."""
        return 2 * self.n_ligands + self.charge


POLYANIONS: dict[str, Polyanion] = {
    p.formula: p
    for p in (
        Polyanion("PO4", "P", "O", 4, "tetrahedral", -3),
        Polyanion("SiO4", "Si", "O", 4, "tetrahedral", -4),
        Polyanion("SO4", "S", "O", 4, "tetrahedral", -2),
        Polyanion("GeO4", "Ge", "O", 4, "tetrahedral", -4),
        Polyanion("AsO4", "As", "O", 4, "tetrahedral", -3),
        Polyanion("VO4", "V", "O", 4, "tetrahedral", -3),
        Polyanion("MoO4", "Mo", "O", 4, "tetrahedral", -2),
        Polyanion("WO4", "W", "O", 4, "tetrahedral", -2),
        Polyanion("BO3", "B", "O", 3, "trigonal", -3),
        Polyanion("CO3", "C", "O", 3, "trigonal", -2),
        Polyanion("PS4", "P", "S", 4, "tetrahedral", -3),
        Polyanion("SbS4", "Sb", "S", 4, "tetrahedral", -3),
    )
}


def centre_oxidation_states(tokens: list[str]) -> dict[str, int]:
    """Fixed oxidation state of each polyanion centre named in a chemical space."""
    return {p.centre: p.centre_oxidation_state for p in split_anions(tokens)[1]}


def split_anions(tokens: list[str]) -> tuple[list[str], list[Polyanion]]:
    """Separate element anions from polyanion formulas (unknown tokens raise KeyError)."""
    elements = [t for t in tokens if t not in POLYANIONS]
    groups = [POLYANIONS[t] for t in tokens if t in POLYANIONS]
    return elements, groups
