"""Theoretical gravimetric capacity of an intercalation electrode."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from screen.estimators.base import Estimate, new_estimate
from screen.ions import FARADAY_C_PER_MOL, ion_charge
from screen.properties import PropertyDefinition as P
from screen.workflow.estimate import CapacityParams

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition

    from screen.estimators.context import EstimateContext
    from screen.records import Record


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


class CapacityEstimator:
    """Cathodes: the capacity if every working ion could be extracted (an upper bound)."""

    name: ClassVar[str] = "capacity"
    params_model: ClassVar[type[CapacityParams]] = CapacityParams
    needs: ClassVar[frozenset[str]] = frozenset({"working_ion"})
    roles: ClassVar[frozenset[str] | None] = frozenset({"cathode"})
    order: ClassVar[int] = 30
    properties: ClassVar[tuple[P, ...]] = (
        P("theoretical_capacity_gravimetric", "mAh/g",
          "z F x / (3.6 M): every working ion extracted, M the discharged formula mass",
          rankable=True, csv=True),
    )  # fmt: skip

    def __init__(self, params: CapacityParams):
        self.params = params

    def estimate(self, record: Record, context: EstimateContext) -> Estimate:
        """Q = z F x / (3.6 M) of the record's formula."""
        out = new_estimate(self)
        ion = str(record.working_ion_in_structure())
        out.set(
            "theoretical_capacity_gravimetric",
            theoretical_capacity_gravimetric(record.current_structure().composition, ion),
            unit="mAh/g",
            method=f"z F x / (3.6 M), every {ion} extracted (z = {ion_charge(ion)}), "
            "M of the discharged formula",
        )
        return out
