"""Formation energy per atom against elemental references of the same potential.

E_f = (E - sum_i n_i mu_i) / N, with mu_i the energy per atom of element i's relaxed
reference. This is a stability proxy, not a hull distance: a compound with a negative
formation energy can still decompose into other compounds (energy above hull, later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from screen.estimators.references import ElementReference

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition


class MissingReference(LookupError):
    """An element of the compound has no elemental reference."""


def formation_energy_per_atom(
    energy_ev: float, composition: Composition, references: dict[str, ElementReference]
) -> float:
    """Formation energy (eV/atom) of a cell of total energy ``energy_ev``."""
    missing = sorted(str(el) for el in composition.elements if str(el) not in references)
    if missing:
        raise MissingReference(", ".join(missing))
    reference_energy = sum(
        amount * references[str(el)].energy_per_atom_ev for el, amount in composition.items()
    )
    return (energy_ev - reference_energy) / composition.num_atoms
