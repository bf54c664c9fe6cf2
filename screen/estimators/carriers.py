"""Ionic conductivity, tier 1: carriers, and the effective activation energy to rank on.

The BVSE barrier (Em) says how easily a carrier moves; this estimator says whether there
are carriers (screen/estimators/carrier_defects.py, screen/transport/carriers.py): given
(intrinsic, or made by charging an electrode), Ea = Em; created thermally as Frenkel
pairs, Ea = Em + Ef/2 with Ef from the candidate's potential.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from screen.estimators.base import Estimate, new_estimate
from screen.properties import PropertyDefinition as P
from screen.transport.carriers import effective_activation_energy, formula_for
from screen.workflow.estimate import CarrierParams

if TYPE_CHECKING:  # pragma: no cover
    from screen.estimators.context import EstimateContext
    from screen.records import Record


class CarrierEstimator:
    """Carrier kind, carrier formation energy, effective activation energy."""

    name: ClassVar[str] = "carriers"
    params_model: ClassVar[type[CarrierParams]] = CarrierParams
    needs: ClassVar[frozenset[str]] = frozenset({"working_ion", "carriers"})
    roles: ClassVar[frozenset[str] | None] = None
    order: ClassVar[int] = 55
    properties: ClassVar[tuple[P, ...]] = (
        P("carrier_kind", "",
          "how the working-ion sublattice gets its carriers: intrinsic (partially occupied "
          "sublattice or vacant equivalent sites), vacancies made by charging, or Frenkel pair",
          csv=True, card=True),
        P("carrier_formation_energy", "eV",
          "formation energy of the carrier defect (Frenkel pair, candidate's potential); 0 "
          "where carriers are given", rankable=True, csv=True, card=True),
        P("effective_activation_energy", "eV",
          "migration (BVSE) plus carrier-formation term: Em where carriers are given, "
          "Em + Ef/2 for Frenkel pairs", rankable=True, csv=True, card=True, histogram=True),
    )  # fmt: skip

    def __init__(self, params: CarrierParams):
        self.params = params

    def estimate(self, record: Record, context: EstimateContext) -> Estimate:
        """The record's carriers; a candidate without them keeps its BVSE values, flagged."""
        from screen.transport.bvse import BVSEError

        out = new_estimate(self)
        finding = context.carriers().get(record.id)
        if finding is None:
            return out
        out.flags += finding.flags
        out.provenance["carriers"] = {
            "kind": finding.kind,
            "why": finding.why,
            "survey": finding.survey,
            "frenkel_pairs": finding.trials,
            **({"problem": finding.problem} if finding.problem else {}),
        }
        if finding.kind is None:
            out.flag(f"carriers-unknown: {finding.problem}")
            return out
        out.set("carrier_kind", finding.kind, unit="", method=finding.why)
        if finding.formation_eV is None:
            out.flag(f"carriers-unknown: {finding.problem}")
            return out
        model = context.potential.identity if finding.method else None
        out.set(
            "carrier_formation_energy",
            finding.formation_eV,
            unit="eV",
            method=finding.method or f"no defect needed: {finding.why}",
            model=model,
        )
        try:
            barrier = context.bvse_landscape(record).result
        except BVSEError:
            return out
        if not math.isfinite(barrier.barrier_eV):
            return out
        out.set(
            "effective_activation_energy",
            effective_activation_energy(barrier.barrier_eV, finding.formation_eV, finding.kind),
            unit="eV",
            method=f"{formula_for(finding.kind)}; Em = bvse_barrier ({barrier.method})"
            + (f"; Ef: {finding.method}" if finding.method else ""),
            model=model,
        )
        return out
