"""Removing working ions from a host: the lowest-Ewald ordering of the remaining ions.

How many may leave is the redox window (screen/estimators/couples.py); this takes them
out topotactically, all of them or ``x`` with the rest ordered by Ewald energy
(pymatgen's order-disorder transformation, screen/candidates/ordering.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure


def charged_structure(structure: Structure, ion: str, x: int) -> Structure:
    """The structure with ``x`` of its working ions removed (lowest-Ewald ordering)."""
    from screen.candidates.ordering import lowest_orderings

    n = round(structure.composition[ion])
    charged = structure.copy()
    if x == n:
        charged.remove_species([ion])
        return charged
    charged.replace_species({ion: {ion: (n - x) / n}})
    (ordered,) = lowest_orderings(charged, 1)
    return ordered
