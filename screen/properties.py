"""Every reported property, declared once: unit, meaning, rankable, CSV and report membership.

The stages' own properties are declared here, by the stage that writes them; each
estimator declares its properties on its class (screen/estimators/). :func:`definitions`
puts them together in the order of candidates.csv: ranking, then the estimators (in
their stage order), MD, the estimate stage's flags, relaxation, prefilter, deliver. Every
list the deliverables and the workflow checks use is derived from that:
:func:`rankable`, :func:`csv_columns`, :func:`uncertainty_columns`,
:func:`card_properties`, :func:`histogram_properties`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class PropertyDefinition:
    """A reported quantity: its unit, what it means, and where it appears."""

    name: str
    unit: str
    description: str
    rankable: bool = False  # may be a ranking objective or constraint
    csv: bool = False  # a column of candidates.csv / .xlsx
    uncertainty_column: bool = False  # its standard uncertainty gets its own CSV column
    card: bool = False  # shown on a candidate's card in report.html
    histogram: bool = False  # its distribution is shown in report.html (objectives are)


P = PropertyDefinition

RANK = (
    P("rank_score", "", "weighted normalised score (higher is better)", csv=True,
      uncertainty_column=True, card=True),
    P("pareto_front", "", "Pareto front over the objectives (1 = non-dominated)", csv=True),
    P("pareto_probability", "", "probability of being non-dominated under the uncertainties",
      csv=True),
    P("constraint_probability", "", "probability that every ranking constraint holds", csv=True),
    P("score_breakdown", "", "each objective's contribution to rank_score"),
    P("rank", "", "1 = best"),
)  # fmt: skip

MD = (
    P("conductivity_300K", "mS/cm",
      "Nernst-Einstein conductivity at 300 K from the extrapolated diffusivity", rankable=True,
      csv=True, uncertainty_column=True, card=True),
    P("diffusivity_300K", "cm2/s", "MD tracer diffusivity extrapolated to 300 K", rankable=True,
      csv=True, uncertainty_column=True),
    P("md_activation_energy", "eV", "Arrhenius activation energy of MD diffusion", rankable=True,
      csv=True, uncertainty_column=True, card=True),
    P("md_diffusivity", "cm2/s", "MD tracer diffusivity per temperature (K)", csv=True),
    P("md_diffusivity_std", "cm2/s", "standard error of md_diffusivity", csv=True),
    P("md_flags", "", "why an MD temperature was not trusted", csv=True),
    P("log10_conductivity_300K", "log10(mS/cm)",
      "log10 of conductivity_300K (rank on this: conductivities span decades)", rankable=True),
    P("neb_barrier", "eV",
      "lowest converged NEB vacancy-hop barrier of the working ion (candidate's potential)",
      rankable=True, csv=True, card=True),
    P("neb_activation_energy", "eV",
      "NEB barrier plus the carrier-formation term (Em + Ef/2 for Frenkel pairs, Em else)",
      rankable=True, csv=True, card=True),
)  # fmt: skip

ESTIMATE = (P("estimate_flags", "", "confidence flags of the estimates", csv=True),)

RELAX = (
    P("energy", "eV", "total energy of the relaxed cell"),
    P("energy_per_atom", "eV/atom", "total energy per atom, relaxed cell", csv=True),
    P("relax_converged", "", "max force <= fmax and max stress <= smax", csv=True, card=True),
    P("relax_steps", "", "optimizer steps taken", csv=True),
    P("relax_max_force", "eV/Å", "largest atomic force at the end", csv=True),
    P("relax_max_stress", "GPa", "largest |stress component| at the end", csv=True),
    P("volume_change_relax", "", "(V_relaxed - V_initial) / V_initial", rankable=True, csv=True),
    P("spacegroup_initial", "", "space group symbol before relaxation", csv=True),
    P("spacegroup_relaxed", "", "space group symbol after relaxation", csv=True),
    P("relax_wall_time", "s", "wall-clock time of the relaxation"),
)  # fmt: skip

PREFILTER = (
    P("critical_elements", "", "elements on the campaign's critical list", csv=True, card=True),
    P("critical_materials", "", "list entries the candidate draws on (form-aware reading)",
      csv=True, card=True),
    P("critical_mass_fraction", "", "mass fraction of critical elements", rankable=True,
      csv=True),
    P("hhi_production", "", "mass-weighted HHI of element production (0-10000)", rankable=True,
      csv=True, card=True),
    P("hhi_reserve", "", "mass-weighted HHI of element reserves (0-10000)", rankable=True,
      csv=True),
    P("element_cost", "USD/kg", "mass-weighted pure-element price (2013)", rankable=True,
      csv=True, card=True),
    P("oxidation_states", "e", "charge-balanced oxidation state guess"),
)  # fmt: skip

DELIVER = (
    P("confidence_flags", "", "reasons to trust a candidate's numbers less", csv=True),
    P("precursor_suggestions", "", "balanced solid-state routes (suggestions, not validated)",
      csv=True),
)  # fmt: skip

#: what the md stage adds (kept out of the pre-MD ranking that picks its K)
MD_PROPERTIES = frozenset(d.name for d in MD)


@functools.cache
def definitions() -> dict[str, PropertyDefinition]:
    """Every property by name, in the CSV's order (the estimators' from their classes)."""
    from screen.plugins import estimator_classes

    estimators = tuple(d for cls in estimator_classes() for d in cls.properties)
    out: dict[str, PropertyDefinition] = {}
    for definition in (*RANK, *estimators, *MD, *ESTIMATE, *RELAX, *PREFILTER, *DELIVER):
        if definition.name in out:
            raise ValueError(f"property {definition.name!r} is declared twice")
        out[definition.name] = definition
    return out


def rankable() -> dict[str, PropertyDefinition]:
    """Properties that may be ranking objectives or constraints."""
    return {n: d for n, d in definitions().items() if d.rankable}


def csv_columns() -> tuple[str, ...]:
    """Properties that are columns of candidates.csv, in order."""
    return tuple(n for n, d in definitions().items() if d.csv)


def uncertainty_columns() -> tuple[str, ...]:
    """Properties whose standard uncertainty has its own CSV column, in order."""
    return tuple(n for n, d in definitions().items() if d.uncertainty_column)


def card_properties() -> tuple[str, ...]:
    """Properties on a candidate's card in report.html (after the objectives), in order."""
    return tuple(n for n, d in definitions().items() if d.card)


def histogram_properties() -> tuple[str, ...]:
    """Properties whose distribution report.html shows besides the objectives."""
    return tuple(n for n, d in definitions().items() if d.histogram)


def unit_of(name: str) -> str:
    """Unit string of a known property (KeyError for an unknown one)."""
    return definitions()[name].unit
