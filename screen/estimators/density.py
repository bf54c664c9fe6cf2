"""Density and ionic packing fraction of every relaxed candidate.

The density is the relaxed cell's mass over its volume: with an ML potential it carries
the potential's volume error (PBE-trained potentials overestimate volumes; see
benchmarks/density.py), at 0 K against room-temperature measurements.

The ionic packing fraction is the volume of spheres of the Shannon effective ionic radii
(R. D. Shannon, Acta Cryst. A 32, 751 (1976), through pymatgen) of the record's oxidation
states over the cell volume: the space the ions leave free. Radii are those of
six-fold coordination, else of the nearest tabulated coordination, else the element's
atomic radius for an ion without one (the method names every such case); overlapping
spheres are not corrected for.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from screen.estimators.base import Estimate, new_estimate
from screen.properties import PropertyDefinition as P
from screen.workflow.estimate import EstimatorParams

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.estimators.context import EstimateContext
    from screen.records import Record


#: Shannon's coordination labels
ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9,
         "X": 10, "XI": 11, "XII": 12, "XIV": 14}  # fmt: skip


class DensityParams(EstimatorParams):
    """Density and ionic packing fraction of the relaxed structure."""

    enabled: bool = Field(
        default=True,
        description="density (g/cm3) and ionic packing fraction (Shannon radii) of every "
        "relaxed candidate",
    )
    coordination: int = Field(
        default=6,
        ge=1,
        le=12,
        description="coordination number whose Shannon radii are used (the nearest "
        "tabulated one where an ion has none for it)",
    )


def _tabulated(symbol: str, state: int, coordination: int) -> tuple[float, int] | None:
    """(Shannon effective ionic radius, its coordination) nearest to ``coordination``."""
    from pymatgen.core import Element

    options = []
    for label, spins in Element(symbol).data.get("Shannon radii", {}).get(str(state), {}).items():
        cn = ROMAN.get(label)
        for spin, values in spins.items():
            if cn is not None and "ionic_radius" in values:
                rank = (abs(cn - coordination), cn, spin == "Low Spin")
                options.append((rank, float(values["ionic_radius"]), cn))
    if not options:
        return None
    _, radius, cn = min(options)
    return radius, cn


def shannon_radius(symbol: str, oxidation_state: float, coordination: int) -> tuple[float, str]:
    """(radius in Å, a note where it is not the plain table value) of an ion.

    The Shannon effective ionic radius of the tabulated coordination nearest to
    ``coordination`` (the lower one on a tie; high spin where both spin states are
    tabulated). A mixed-valence state (Mo +3.5) interpolates linearly between the two
    integer states around it; an ion without Shannon radii gets the element's atomic
    radius.
    """
    from screen.candidates.chemistry import atomic_radius

    low, high = math.floor(oxidation_state), math.ceil(oxidation_state)
    found = [_tabulated(symbol, state, coordination) for state in sorted({low, high})]
    if any(f is None for f in found):
        return atomic_radius(symbol), f"{symbol}: atomic radius (no Shannon radius)"
    radii = [f[0] for f in found if f is not None]
    cns = sorted({f[1] for f in found if f is not None})
    weight = oxidation_state - low
    radius = radii[0] if len(radii) == 1 else (1 - weight) * radii[0] + weight * radii[1]
    notes = []
    if len(radii) == 2:
        notes.append(f"{symbol}{oxidation_state:+g}: between {low:+d} and {high:+d}")
    if cns != [coordination]:
        notes.append(f"{symbol}{oxidation_state:+g}: CN {'/'.join(map(str, cns))}")
    return radius, "; ".join(notes)


def ionic_packing_fraction(
    structure: Structure, oxidation_states: dict[str, float], coordination: int = 6
) -> tuple[float, list[str]]:
    """(sum of ionic sphere volumes / cell volume, notes on the radii used)."""
    notes: list[str] = []
    filled = 0.0
    for element, amount in structure.composition.get_el_amt_dict().items():
        radius, note = shannon_radius(element, oxidation_states.get(element, 0.0), coordination)
        if note:
            notes.append(note)
        filled += amount * 4.0 / 3.0 * math.pi * radius**3
    return filled / structure.volume, notes


class DensityEstimator:
    """How heavy and how full the relaxed cell is."""

    name: ClassVar[str] = "density"
    params_model: ClassVar[type[DensityParams]] = DensityParams
    needs: ClassVar[frozenset[str]] = frozenset()
    roles: ClassVar[frozenset[str] | None] = None
    order: ClassVar[int] = 60
    properties: ClassVar[tuple[P, ...]] = (
        P("density", "g/cm3", "mass over volume of the relaxed cell", rankable=True, csv=True),
        P("ionic_packing_fraction", "",
          "volume of the ions' Shannon spheres over the cell volume (free space: 1 - it)",
          rankable=True, csv=True),
    )  # fmt: skip

    def __init__(self, params: DensityParams):
        self.params = params

    def estimate(self, record: Record, context: EstimateContext) -> Estimate:
        """Density always; the packing fraction where oxidation states are known."""
        from screen.candidates.chemistry import oxidation_states

        out = new_estimate(self)
        structure = record.current_structure()
        relaxed = "relaxed" if record.relaxed_structure else "generated"
        model = context.potential.identity if record.relaxed_structure else None
        out.set(
            "density",
            float(structure.density),
            unit="g/cm3",
            method=f"mass / volume of the {relaxed} cell (pymatgen Structure.density)",
            model=model,
        )
        given = record.value("oxidation_states")
        states = given if isinstance(given, dict) else oxidation_states(structure.composition)
        if states is None:
            out.flag("no-packing-fraction: no charge-balanced oxidation states")
            return out
        fraction, notes = ionic_packing_fraction(structure, states, self.params.coordination)
        out.set(
            "ionic_packing_fraction",
            fraction,
            unit="",
            method=f"sum of 4/3 pi r^3 over the {relaxed} cell volume, Shannon effective ionic "
            f"radii of CN {self.params.coordination} at the oxidation states "
            + ", ".join(f"{el}{q:+g}" for el, q in sorted(states.items()))
            + (f" (otherwise: {'; '.join(notes)})" if notes else ""),
            model=model,
        )
        return out
