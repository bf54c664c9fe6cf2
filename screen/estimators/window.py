"""Electrolytes: the electrochemical stability window against the working-ion metal."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from screen.estimators.base import Estimate, new_estimate
from screen.estimators.context import phases_text
from screen.ions import ion_charge, vs_metal
from screen.properties import PropertyDefinition as P
from screen.workflow.estimate import WindowParams

if TYPE_CHECKING:  # pragma: no cover
    from screen.estimators.context import EstimateContext
    from screen.records import Record


class WindowEstimator:
    """Reduction and oxidation limits from the grand-potential phase diagram."""

    name: ClassVar[str] = "window"
    params_model: ClassVar[type[WindowParams]] = WindowParams
    needs: ClassVar[frozenset[str]] = frozenset({"working_ion", "hull"})
    roles: ClassVar[frozenset[str] | None] = frozenset({"electrolyte"})
    order: ClassVar[int] = 40
    properties: ClassVar[tuple[P, ...]] = (
        P("reduction_limit", "V vs metal", "electrolyte stable above this potential",
          rankable=True, csv=True),
        P("oxidation_limit", "V vs metal", "electrolyte stable below this potential",
          rankable=True, csv=True),
        P("reduction_products", "atom fraction", "phases formed on reduction", csv=True),
        P("oxidation_products", "atom fraction", "phases formed on oxidation", csv=True),
    )  # fmt: skip

    def __init__(self, params: WindowParams):
        self.params = params

    def estimate(self, record: Record, context: EstimateContext) -> Estimate:
        """The window of the record against its working ion's metal."""
        from screen.stability.window import stability_window

        out = new_estimate(self)
        ion = str(record.working_ion_in_structure())
        hull = context.hull()
        if hull.book is None or record.id not in hull.entries:
            out.flag(f"no-window: {hull.error or hull.dropped.get(record.id, 'no hull')}")
            return out
        z = ion_charge(ion)
        window = stability_window(hull.entries[record.id], hull.book, ion, z)
        how = (
            f"grand-potential phase diagram with {ion} open (Richards et al. 2016), "
            f"V = -(mu_{ion} - mu_{ion}(metal)) / {z}; " + hull.method
        )
        if window.stabilised_by_ev_per_atom > 0:
            out.flag("window-of-metastable-phase")
            shift = window.stabilised_by_ev_per_atom
            how += f"; candidate placed on the hull (lowered by {shift:.3f} eV/atom)"
        out.set("reduction_limit", window.reduction_limit_v, unit=vs_metal(ion), method=how)
        if window.oxidation_limit_v is not None:
            out.set("oxidation_limit", window.oxidation_limit_v, unit=vs_metal(ion), method=how)
        for name, phases in (
            ("reduction_products", window.reduction_products),
            ("oxidation_products", window.oxidation_products),
        ):
            out.set(name, phases_text(phases), unit="atom fraction", method=how)
        return out
