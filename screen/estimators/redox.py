"""The redox budget of an electrode host: how many working ions can leave, and from where.

The charged end member removes the working ion topotactically: all of it when the host's
cations can be oxidised that far with ICSD oxidation states (anions keep their nominal
charge), otherwise as many ions as that budget allows, the remaining ions ordered by
Ewald energy (pymatgen's order-disorder transformation).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from screen.candidates.chemistry import oxidation_states

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition, Structure


def removable_ions(composition: Composition, ion: str) -> int:
    """How many working ions (per cell) the host's cations can give up by oxidation."""
    from pymatgen.core import Composition

    from screen.stability.phases import nominal_anion_charge

    present = composition[ion]
    n = round(present)
    if n < 1 or abs(present - n) > 1e-6:
        return 0
    discharged = oxidation_states(composition)
    if discharged is None:
        return 0
    anions = {el: nominal_anion_charge(el) for el, q in discharged.items() if q < 0}
    fixed = {el: q for el, q in anions.items() if q is not None}
    for x in range(n, 0, -1):
        amounts = composition.get_el_amt_dict()
        amounts[ion] -= x
        rest = Composition({el: a for el, a in amounts.items() if a > 1e-9})
        if all(el.symbol in fixed for el in rest.elements):
            continue  # nothing left to oxidise
        oxi = oxidation_states(rest, fixed)
        if oxi is not None and all(q > 0 for el, q in oxi.items() if el not in fixed):
            return x
    return 0


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
