"""Ionic conductivity, tier 1: bond-valence site-energy barriers of every candidate."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from screen.estimators.base import Estimate, new_estimate
from screen.properties import PropertyDefinition as P
from screen.workflow.estimate import BVSEParams

if TYPE_CHECKING:  # pragma: no cover
    from screen.estimators.context import EstimateContext
    from screen.records import Record


class BVSEEstimator:
    """Percolation barriers (1D/2D/3D) of the working ion in the relaxed structure."""

    name: ClassVar[str] = "bvse"
    params_model: ClassVar[type[BVSEParams]] = BVSEParams
    needs: ClassVar[frozenset[str]] = frozenset({"working_ion"})
    roles: ClassVar[frozenset[str] | None] = None
    order: ClassVar[int] = 50
    properties: ClassVar[tuple[P, ...]] = (
        P("bvse_barrier", "eV",
          "bond-valence site-energy barrier of the working ion's first percolating network "
          "(1D or higher)", rankable=True, csv=True, card=True, histogram=True),
        P("bvse_barrier_3d", "eV", "bond-valence site-energy barrier for 3D percolation",
          rankable=True, csv=True),
        P("bvse_dimensionality", "",
          "dimensionality (1-3) of the network that opens at bvse_barrier (0: none)",
          rankable=True, csv=True, card=True),
    )  # fmt: skip

    def __init__(self, params: BVSEParams):
        self.params = params

    def estimate(self, record: Record, context: EstimateContext) -> Estimate:
        """BVSE barriers; a structure the method cannot treat is flagged, not failed."""
        from screen.transport.bvse import BVSEError

        out = new_estimate(self)
        try:
            result = context.bvse_landscape(record).result
        except BVSEError as exc:
            out.flag(f"bvse-unavailable: {exc}")
            return out
        for name, value in (
            ("bvse_barrier", result.barrier_eV),
            ("bvse_barrier_3d", result.barrier_3d_eV),
        ):
            if math.isfinite(value):
                out.set(name, value, unit="eV", method=result.method)
        out.set(
            "bvse_dimensionality",
            result.dimensionality,
            unit="",
            method=result.method + "; network dimension open at bvse_barrier",
        )
        if not math.isfinite(result.barrier_eV):
            out.flag("bvse-no-percolation")
        return out
