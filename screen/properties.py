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
        "energy_above_hull_per_atom",
        "eV/atom",
        "distance above the convex hull of the chemical system (0 on the hull)",
        rankable=True,
    ),
    PropertyDefinition(
        "hull_distance_per_atom",
        "eV/atom",
        "signed hull distance: above-hull energy, or for a phase on the hull minus its "
        "distance below the hull of the other compositions",
        rankable=True,
    ),
    PropertyDefinition("decomposition", "atom fraction", "hull phases at the composition"),
    PropertyDefinition(
        "reduction_limit", "V vs metal", "electrolyte stable above this potential", rankable=True
    ),
    PropertyDefinition(
        "oxidation_limit", "V vs metal", "electrolyte stable below this potential", rankable=True
    ),
    PropertyDefinition("reduction_products", "atom fraction", "phases formed on reduction"),
    PropertyDefinition("oxidation_products", "atom fraction", "phases formed on oxidation"),
    PropertyDefinition(
        "average_voltage",
        "V vs metal",
        "average voltage between the discharged and charged end members",
        rankable=True,
    ),
    PropertyDefinition(
        "capacity_gravimetric",
        "mAh/g",
        "z F dx / (3.6 M_discharged) between the end members",
        rankable=True,
    ),
    PropertyDefinition(
        "capacity_volumetric", "mAh/cm3", "gravimetric capacity x density", rankable=True
    ),
    PropertyDefinition(
        "specific_energy", "Wh/kg", "average voltage x gravimetric capacity", rankable=True
    ),
    PropertyDefinition(
        "volume_change_on_charge", "%", "(V_charged - V_discharged) / V_discharged per host"
    ),
    PropertyDefinition(
        "volume_change_abs", "%", "|volume change| between the end members", rankable=True
    ),
    PropertyDefinition(
        "energy_above_hull_charged",
        "eV/atom",
        "energy above hull of the charged end member",
        rankable=True,
    ),
    PropertyDefinition("charged_formula", "", "formula of the charged end member"),
    PropertyDefinition("voltage_note", "", "why no voltage was computed"),
    PropertyDefinition("estimate_flags", "", "confidence flags of the estimates"),
    PropertyDefinition(
        "bvse_barrier",
        "eV",
        "bond-valence site-energy barrier of the working ion's first percolating network "
        "(1D or higher)",
        rankable=True,
    ),
    PropertyDefinition(
        "bvse_barrier_3d",
        "eV",
        "bond-valence site-energy barrier for 3D percolation",
        rankable=True,
    ),
    PropertyDefinition(
        "bvse_dimensionality",
        "",
        "dimensionality (1-3) of the network that opens at bvse_barrier (0: none)",
        rankable=True,
    ),
    PropertyDefinition("md_diffusivity", "cm2/s", "MD tracer diffusivity per temperature (K)"),
    PropertyDefinition("md_diffusivity_std", "cm2/s", "standard error of md_diffusivity"),
    PropertyDefinition("md_flags", "", "why an MD temperature was not trusted"),
    PropertyDefinition(
        "md_activation_energy", "eV", "Arrhenius activation energy of MD diffusion", rankable=True
    ),
    PropertyDefinition(
        "diffusivity_300K", "cm2/s", "MD tracer diffusivity extrapolated to 300 K", rankable=True
    ),
    PropertyDefinition(
        "conductivity_300K",
        "mS/cm",
        "Nernst-Einstein conductivity at 300 K from the extrapolated diffusivity",
        rankable=True,
    ),
    PropertyDefinition(
        "log10_conductivity_300K",
        "log10(mS/cm)",
        "log10 of conductivity_300K (rank on this: conductivities span decades)",
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
    PropertyDefinition("pareto_front", "", "Pareto front over the objectives (1 = non-dominated)"),
    PropertyDefinition(
        "pareto_probability", "", "probability of being non-dominated under the uncertainties"
    ),
    PropertyDefinition(
        "constraint_probability", "", "probability that every ranking constraint holds"
    ),
    PropertyDefinition("confidence_flags", "", "reasons to trust a candidate's numbers less"),
    PropertyDefinition(
        "precursor_suggestions", "", "balanced solid-state routes (suggestions, not validated)"
    ),
]

PROPERTIES: dict[str, PropertyDefinition] = {d.name: d for d in _DEFINITIONS}

RANKABLE_PROPERTIES: dict[str, PropertyDefinition] = {d.name: d for d in _DEFINITIONS if d.rankable}


def unit_of(name: str) -> str:
    """Unit string of a known property (KeyError for an unknown one)."""
    return PROPERTIES[name].unit
