"""Competing phases a prototype library can build for a chemical (sub)system.

For the self-consistent hull: every ionic AFLOW prototype (pymatgen's bundled library)
with as many species as the subsystem has elements, with each bijection of prototype
elements onto the subsystem's elements that keeps the prototype's cation/anion pattern
under a charge-balanced oxidation-state guess (ICSD statistics). Cells are scaled to the
volume the radius-ratio rule predicts, as candidates are.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure


@dataclass(frozen=True)
class ReferencePhase:
    """One buildable competing phase."""

    label: str  # "<formula> (<prototype>)"
    prototype: str
    structure: Structure


def prototype_phases(elements: tuple[str, ...], max_atoms: int = 24) -> list[ReferencePhase]:
    """Charge-balanced phases of exactly ``elements`` built from AFLOW ionic prototypes."""
    from pymatgen.core import Composition

    from screen.candidates.chemistry import oxidation_states, predicted_volume
    from screen.candidates.prototypes import aflow_prototypes

    wanted = tuple(sorted(elements))
    out: dict[tuple[str, str], ReferencePhase] = {}
    for name, proto in sorted(aflow_prototypes(3).items()):
        ref = proto.structure
        if len(ref) > max_atoms or len(ref.composition.elements) != len(wanted):
            continue
        roles = sorted(proto.roles)
        for targets in itertools.permutations(wanted):
            mapping = dict(zip(roles, targets, strict=True))
            composition = Composition({mapping[el.symbol]: n for el, n in ref.composition.items()})
            anions = {mapping[r]: spec.kind == "anion" for r, spec in proto.roles.items()}
            fixed = {}
            for element, is_anion in anions.items():
                nominal = nominal_anion_charge(element)
                if is_anion and nominal is None:
                    break
                if is_anion and nominal is not None:
                    fixed[element] = nominal
            else:
                oxi = oxidation_states(composition, fixed)
                if oxi is None or any(
                    not is_anion and oxi[element] <= 0 for element, is_anion in anions.items()
                ):
                    continue
                key = (composition.reduced_formula, name)
                if key in out:
                    continue
                structure = proto.substituted(mapping)
                volume = predicted_volume(composition, ref.composition, ref.volume)
                structure.scale_lattice(volume)
                out[key] = ReferencePhase(
                    label=f"{composition.reduced_formula} ({name})",
                    prototype=name,
                    structure=structure,
                )
    return [out[k] for k in sorted(out)]


@functools.cache
def nominal_anion_charge(symbol: str) -> int | None:
    """The anion charge of an element (O -2, S -2, Cl -1, N -3...), None for a metal.

    The most negative common oxidation state; anion roles take exactly this state, so
    no polyanion or mixed anion valence (peroxides, polysulfides) is built.
    """
    from pymatgen.core import Element

    states = [s for s in Element(symbol).common_oxidation_states if s < 0]
    return min(states) if states else None


def subsystems(elements: frozenset[str], largest: int = 3) -> list[tuple[str, ...]]:
    """Every subsystem of 2..largest elements, sorted."""
    symbols = sorted(elements)
    return [
        combo
        for size in range(2, min(largest, len(symbols)) + 1)
        for combo in itertools.combinations(symbols, size)
    ]
