"""Theoretical gravimetric capacity of an intercalation electrode."""

from __future__ import annotations

from typing import TYPE_CHECKING

from screen.ions import ion_charge

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition

FARADAY_C_PER_MOL = 96485.33212  # CODATA 2018, exact since the 2019 SI


def theoretical_capacity_gravimetric(composition: Composition, working_ion: str) -> float:
    """Capacity in mAh/g if every working ion of the formula is extracted.

    Q = z F x / (3.6 M): x working ions per formula unit, M the molar mass of the
    discharged (ion-containing) formula in g/mol, 3.6 C per mAh.
    """
    reduced = composition.reduced_composition
    x = reduced[working_ion]
    if x <= 0:
        raise ValueError(f"{reduced.reduced_formula} contains no {working_ion}")
    return ion_charge(working_ion) * FARADAY_C_PER_MOL * float(x) / (3.6 * float(reduced.weight))
