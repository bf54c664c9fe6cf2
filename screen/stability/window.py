"""Electrochemical stability window of a solid electrolyte against the working-ion metal.

The grand-potential construction of Richards et al. (Chem. Mater. 28, 266 (2016)) and Zhu
et al. (ACS Appl. Mater. Interfaces 7, 23685 (2015)): the working ion A is open with
chemical potential mu_A; the electrolyte is stable over the mu_A interval where its
equilibrium phases neither take up nor release A. The limits convert to volts against
A/A^z+ by V = -(mu_A - mu_A(metal)) / z. A candidate above the hull is placed on it for
this analysis (its own window, as if stabilised), which the method string states.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from screen.stability.hull import Phase, chemical_system, phases_of

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.entries.computed_entries import ComputedEntry

    from screen.stability.hull import HullBook

_EVOLUTION_TOL = 1e-6


@dataclass(frozen=True)
class StabilityWindow:
    """Reduction and oxidation limits (V vs the working-ion metal) and the products there."""

    working_ion: str
    reduction_limit_v: float  # lowest potential at which the electrolyte is stable
    oxidation_limit_v: float | None  # highest; None when it releases no working ion
    reduction_products: list[Phase]  # phases formed just below the reduction limit
    oxidation_products: list[Phase]  # phases formed just above the oxidation limit
    stabilised_by_ev_per_atom: float  # energy by which the candidate was lowered onto the hull

    @property
    def width_v(self) -> float | None:
        """Width of the window (V)."""
        if self.oxidation_limit_v is None:
            return None
        return self.oxidation_limit_v - self.reduction_limit_v


def _on_hull_copy(entry: ComputedEntry, e_above_hull: float) -> Any:
    """A copy of ``entry`` on the hull (so it is a stable phase)."""
    from pymatgen.entries.computed_entries import ComputedEntry

    # already below the hull: unchanged; else lowered just below it (1e-6 eV/atom)
    lower = e_above_hull + 1e-6 if e_above_hull > -1e-6 else 0.0
    shift = lower * entry.composition.num_atoms
    return ComputedEntry(
        entry.composition,
        entry.energy - shift,
        entry_id=f"{entry.entry_id}-on-hull",
        data={"label": f"{entry.composition.reduced_formula} (candidate)"},
    )


def stability_window(
    entry: ComputedEntry, book: HullBook, working_ion: str, charge: int
) -> StabilityWindow:
    """The electrochemical window of ``entry`` against ``working_ion`` metal."""
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.core import Element

    elements = chemical_system(entry.composition) | {working_ion}
    base = book.diagram(elements)
    _, distance = base.get_decomp_and_e_above_hull(entry, allow_negative=True)
    e_hull = float(distance or 0.0)
    stable_copy = _on_hull_copy(entry, e_hull)
    others = [
        e
        for e in base.all_entries
        if e.composition.reduced_formula != entry.composition.reduced_formula
    ]
    pd = PhaseDiagram([*others, stable_copy])
    ion = Element(working_ion)
    profile = pd.get_element_profile(ion, entry.composition)
    mu_metal = float(pd.el_refs[ion].energy_per_atom)
    # profile runs from ion-rich (metal) to ion-poor; each step's chempot is the upper
    # bound of the mu interval where its products are in equilibrium
    stable_at = [k for k, step in enumerate(profile) if abs(step["evolution"]) < _EVOLUTION_TOL]
    if not stable_at:
        raise ValueError(f"{entry.composition.reduced_formula} has no stability interval")
    k = stable_at[0]

    def volts(mu: float) -> float:
        return -(float(mu) - mu_metal) / charge

    def products(step: dict[str, Any]) -> list[Phase]:
        comp = step["critical_composition"]
        return phases_of(pd.get_decomposition(comp))

    reduction = volts(profile[k]["chempot"])
    below = products(profile[k - 1]) if k > 0 else []
    if k + 1 < len(profile):
        oxidation: float | None = volts(profile[k + 1]["chempot"])
        above = products(profile[k + 1])
    else:
        oxidation, above = None, []
    return StabilityWindow(
        working_ion=working_ion,
        reduction_limit_v=reduction if reduction > 0 else 0.0,
        oxidation_limit_v=oxidation,
        reduction_products=below,
        oxidation_products=above,
        stabilised_by_ev_per_atom=max(e_hull, 0.0),
    )
