"""Names and units of the properties batscreen reports (one place, used by all stages)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PropertyDefinition:
    """A reported quantity: its unit and what it means."""

    name: str
    unit: str
    description: str
    rankable: bool = False


_DEFINITIONS = [
    PropertyDefinition("energy", "eV", "total energy of the relaxed cell"),
    PropertyDefinition("energy_per_atom", "eV/atom", "total energy per atom, relaxed cell"),
    PropertyDefinition("relax_converged", "", "max force <= fmax and max stress <= smax"),
    PropertyDefinition("relax_steps", "", "optimizer steps taken"),
    PropertyDefinition("relax_max_force", "eV/Å", "largest atomic force at the end"),
    PropertyDefinition("relax_max_stress", "GPa", "largest |stress component| at the end"),
    PropertyDefinition("relax_wall_time", "s", "wall-clock time of the relaxation"),
    PropertyDefinition(
        "volume_change_relax", "", "(V_relaxed - V_initial) / V_initial", rankable=True
    ),
    PropertyDefinition("spacegroup_initial", "", "space group symbol before relaxation"),
    PropertyDefinition("spacegroup_relaxed", "", "space group symbol after relaxation"),
    PropertyDefinition(
        "formation_energy_per_atom",
        "eV/atom",
        "formation energy from elemental references relaxed with the same potential",
        rankable=True,
    ),
    PropertyDefinition(
        "theoretical_capacity_gravimetric",
        "mAh/g",
        "z F x / (3.6 M): every working ion extracted, M the discharged formula mass",
        rankable=True,
    ),
    PropertyDefinition("critical_elements", "", "elements on the campaign's critical list"),
    PropertyDefinition(
        "critical_mass_fraction", "", "mass fraction of critical elements", rankable=True
    ),
    PropertyDefinition("oxidation_states", "e", "charge-balanced oxidation state guess"),
    PropertyDefinition(
        "hhi_production", "", "mass-weighted HHI of element production (0-10000)", rankable=True
    ),
    PropertyDefinition(
        "hhi_reserve", "", "mass-weighted HHI of element reserves (0-10000)", rankable=True
    ),
    PropertyDefinition(
        "element_cost", "USD/kg", "mass-weighted pure-element price (2013)", rankable=True
    ),
    PropertyDefinition("rank_score", "", "weighted normalised score (higher is better)"),
    PropertyDefinition("score_breakdown", "", "each objective's contribution to rank_score"),
    PropertyDefinition("rank", "", "1 = best"),
]

PROPERTIES: dict[str, PropertyDefinition] = {d.name: d for d in _DEFINITIONS}

RANKABLE_PROPERTIES: dict[str, PropertyDefinition] = {d.name: d for d in _DEFINITIONS if d.rankable}


def unit_of(name: str) -> str:
    """Unit string of a known property (KeyError for an unknown one)."""
    return PROPERTIES[name].unit
