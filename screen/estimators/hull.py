"""Formation energy, energy above the hull and decomposition of every candidate."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from screen.estimators.base import Estimate, new_estimate
from screen.estimators.context import hull_sigma_note, phases_text
from screen.properties import PropertyDefinition as P
from screen.workflow.estimate import HullParams

if TYPE_CHECKING:  # pragma: no cover
    from screen.estimators.context import EstimateContext
    from screen.records import Record

INCOMPLETE = "hull-from-incomplete-references"


class HullEstimator:
    """Thermodynamic stability against the references and the other candidates."""

    name: ClassVar[str] = "hull"
    params_model: ClassVar[type[HullParams]] = HullParams
    needs: ClassVar[frozenset[str]] = frozenset({"hull"})
    roles: ClassVar[frozenset[str] | None] = None
    order: ClassVar[int] = 10
    properties: ClassVar[tuple[P, ...]] = (
        P("formation_energy_per_atom", "eV/atom",
          "formation energy from elemental references relaxed with the same potential",
          rankable=True, csv=True, uncertainty_column=True, card=True),
        P("energy_above_hull_per_atom", "eV/atom",
          "distance above the convex hull of the chemical system (0 on the hull)",
          rankable=True, csv=True, uncertainty_column=True, card=True, histogram=True),
        P("hull_distance_per_atom", "eV/atom",
          "signed hull distance: above-hull energy, or for a phase on the hull minus its "
          "distance below the hull of the other compositions",
          rankable=True, csv=True, uncertainty_column=True),
        P("decomposition", "atom fraction", "hull phases at the composition", csv=True),
    )  # fmt: skip

    def __init__(self, params: HullParams):
        self.params = params

    def estimate(self, record: Record, context: EstimateContext) -> Estimate:
        """Formation energy, hull distances and decomposition; unphysical energies leave."""
        from screen.stability.hull import MissingReferenceError

        out = new_estimate(self)
        hull = context.hull()
        if record.id in hull.dropped:
            out.leave("failed", "energy-correction-dropped", hull.dropped[record.id])
            return out
        if hull.error is not None or hull.book is None:
            out.leave("failed", "no-hull-references", hull.error or "no references")
            return out
        try:
            assessment = hull.book.assess(hull.entries[record.id])
        except MissingReferenceError as exc:
            out.leave("filtered", "no-reference", str(exc))
            return out
        if not hull.complete:
            out.flag(INCOMPLETE)
        potential = context.potential
        model, sigma = potential.identity, potential.card.hull_sigma()
        ef = assessment.formation_energy_per_atom
        out.set("formation_energy_per_atom", ef, unit="eV/atom", method=hull.method, model=model)
        note = hull_sigma_note(potential.card)
        out.set(
            "energy_above_hull_per_atom",
            assessment.energy_above_hull_per_atom,
            unit="eV/atom",
            method=hull.method + note,
            uncertainty=sigma,
            model=model,
        )
        out.set(
            "hull_distance_per_atom",
            assessment.hull_distance_per_atom,
            unit="eV/atom",
            method=hull.method
            + "; negative: distance below the hull of the other compositions"
            + note,
            uncertainty=sigma,
            model=model,
        )
        out.set(
            "decomposition",
            phases_text(assessment.decomposition),
            unit="atom fraction",
            method="phases at the candidate's composition on the hull (competing phases "
            "when the candidate is on it)",
        )
        lo, hi = (
            self.params.min_formation_energy_per_atom_ev,
            self.params.max_formation_energy_per_atom_ev,
        )
        if not lo <= ef <= hi:
            out.leave(
                "failed",
                "unphysical-energy",
                f"formation energy {ef:.3f} eV/atom outside [{lo}, {hi}]",
            )
        return out
