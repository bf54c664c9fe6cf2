"""Electrode end members, average voltage, capacity, specific energy and volume change.

The discharged end member is the relaxed candidate A_x Host; the charged one removes as
many working ions as the host's redox budget allows (screen/estimators/redox.py). Both
are relaxed with the same potential (the context's charged members, in one batch); the
metal's energy is the hull's elemental reference.

Formulas (../shared/SCIENCE.md):
  V = -[E(A_x2 Host) - E(A_x1 Host) - (x2 - x1) E(A metal)] / ((x2 - x1) z)   [V vs A/A^z+]
  Q = z F (x2 - x1) / (3.6 M_discharged)   [mAh/g];  Q_vol = Q rho_discharged   [mAh/cm3]
  specific energy = V Q   [Wh/kg]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from screen.estimators.base import Estimate, new_estimate
from screen.estimators.capacity import FARADAY_C_PER_MOL
from screen.estimators.context import hull_sigma_note
from screen.ions import ion_charge, vs_metal
from screen.properties import PropertyDefinition as P
from screen.workflow.estimate import ElectrodeParams

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition, Structure

    from screen.estimators.context import EstimateContext
    from screen.records import Record


class NoRedoxCapacity(ValueError):
    """No working ion can be removed without oxidising an anion or exceeding known states."""


def host_atoms(composition: Composition, ion: str) -> float:
    """Atoms of the host framework (everything but the working ion)."""
    return composition.num_atoms - composition[ion]


@dataclass(frozen=True)
class ElectrodeResult:
    """End-member quantities per discharged cell."""

    ions_removed: float  # working ions per discharged cell between the end members
    average_voltage_v: float
    capacity_gravimetric_mah_g: float
    capacity_volumetric_mah_cm3: float
    specific_energy_wh_kg: float
    volume_change_percent: float  # (V_charged - V_discharged) / V_discharged * 100


def electrode_result(
    discharged: Structure,
    discharged_energy_ev: float,
    charged: Structure,
    charged_energy_ev: float,
    metal_energy_per_atom_ev: float,
    ion: str,
) -> ElectrodeResult:
    """Voltage, capacity, specific energy and volume change between the two end members.

    Energies are totals of the given cells; the charged cell may be a supercell (it is
    scaled to the discharged cell's amount of host).
    """
    z = ion_charge(ion)
    scale = host_atoms(discharged.composition, ion) / host_atoms(charged.composition, ion)
    x = discharged.composition[ion] - charged.composition[ion] * scale
    if x <= 0:
        raise NoRedoxCapacity("the charged end member holds as many ions as the discharged one")
    e_charged = charged_energy_ev * scale
    voltage = -(discharged_energy_ev - e_charged - x * metal_energy_per_atom_ev) / (x * z)
    mass = discharged.composition.weight  # g/mol per cell
    q_grav = z * FARADAY_C_PER_MOL * x / (3.6 * mass)
    q_vol = q_grav * discharged.density
    v_charged = charged.volume * scale
    return ElectrodeResult(
        ions_removed=float(x),
        average_voltage_v=float(voltage),
        capacity_gravimetric_mah_g=float(q_grav),
        capacity_volumetric_mah_cm3=float(q_vol),
        specific_energy_wh_kg=float(voltage * q_grav),
        volume_change_percent=float(100 * (v_charged - discharged.volume) / discharged.volume),
    )


class ElectrodeEstimator:
    """Cathodes: voltage, capacity, specific energy and volume change between end members."""

    name: ClassVar[str] = "electrode"
    params_model: ClassVar[type[ElectrodeParams]] = ElectrodeParams
    needs: ClassVar[frozenset[str]] = frozenset({"working_ion", "hull", "charged_members"})
    roles: ClassVar[frozenset[str] | None] = frozenset({"cathode"})
    order: ClassVar[int] = 20
    properties: ClassVar[tuple[P, ...]] = (
        P("average_voltage", "V vs metal",
          "average voltage between the discharged and charged end members", rankable=True,
          csv=True, uncertainty_column=True, card=True),
        P("capacity_gravimetric", "mAh/g",
          "z F dx / (3.6 M_discharged) between the end members", rankable=True, csv=True,
          card=True),
        P("capacity_volumetric", "mAh/cm3", "gravimetric capacity x density", rankable=True,
          csv=True),
        P("specific_energy", "Wh/kg", "average voltage x gravimetric capacity", rankable=True,
          csv=True, card=True),
        P("volume_change_on_charge", "%",
          "(V_charged - V_discharged) / V_discharged per host", csv=True, card=True),
        P("charged_formula", "", "formula of the charged end member", csv=True),
        P("energy_above_hull_charged", "eV/atom",
          "energy above hull of the charged end member", rankable=True, csv=True,
          uncertainty_column=True),
        P("volume_change_abs", "%", "|volume change| between the end members", rankable=True),
        P("voltage_note", "", "why no voltage was computed"),
    )  # fmt: skip

    def __init__(self, params: ElectrodeParams):
        self.params = params

    def estimate(self, record: Record, context: EstimateContext) -> Estimate:
        """The electrode numbers of a cathode candidate, or the flag saying why none."""
        out = new_estimate(self)
        ion = str(record.working_ion_in_structure())
        members = context.charged_members()
        if record.id in members.problem:
            reason, detail = members.problem[record.id]
            out.flag(f"no-voltage: {reason}")
            out.set("voltage_note", detail, unit="", method="charged end member")
            return out
        charged = members.relaxed.get(record.id)
        hull = context.hull()
        if charged is None or hull.book is None or record.id not in hull.entries:
            out.flag(f"no-voltage: {hull.error or hull.dropped.get(record.id, 'no hull')}")
            return out
        if charged.id not in members.entries:  # its energy correction was refused
            out.flag("no-voltage: charged-energy-correction-dropped")
            return out
        metal = min(
            (
                e
                for e in hull.book.diagram(frozenset({ion})).all_entries
                if e.composition.is_element
            ),
            key=lambda e: e.energy_per_atom,
        )
        charged_entry = members.entries[charged.id]
        result = electrode_result(
            record.current_structure(),
            hull.entries[record.id].energy,
            charged.current_structure(),
            charged_entry.energy,
            metal.energy_per_atom,
            ion,
        )
        potential = context.potential
        how = (
            f"discharged {record.formula} and charged {charged.formula} ({ion} removed, "
            f"ordering by Ewald energy) relaxed with {potential.identity.name}; {ion} metal "
            f"energy from the hull references ({metal.data.get('label', metal.entry_id)}); "
            f"z = {ion_charge(ion)}"
        )
        model = potential.identity
        out.set("average_voltage", result.average_voltage_v, unit=vs_metal(ion), method=how,
                model=model)  # fmt: skip
        change = result.volume_change_percent
        for name, value, unit, what in (
            ("capacity_gravimetric", result.capacity_gravimetric_mah_g, "mAh/g",
             "z F dx / (3.6 M_discharged)"),
            ("capacity_volumetric", result.capacity_volumetric_mah_cm3, "mAh/cm3",
             "gravimetric capacity x density of the discharged phase"),
            ("specific_energy", result.specific_energy_wh_kg, "Wh/kg",
             "average voltage x gravimetric capacity (cathode material only)"),
            ("volume_change_on_charge", change, "%",
             "(V_charged - V_discharged) / V_discharged per host"),
            ("volume_change_abs", abs(change), "%", "|volume change| between the end members"),
        ):  # fmt: skip
            out.set(name, value, unit=unit, method=f"{what}; {how}")
        out.set("charged_formula", charged.formula, unit="", method=how)
        out.set(
            "energy_above_hull_charged",
            hull.book.assess(charged_entry).energy_above_hull_per_atom,
            unit="eV/atom",
            method="hull of the candidate's chemical system; "
            + how
            + hull_sigma_note(potential.card),
            uncertainty=potential.card.hull_sigma(),
            model=model,
        )
        out.provenance["charged_end_member"] = {
            "record_id": charged.id,
            "formula": charged.formula,
            "structure": charged.relaxed_structure,
        }
        return out
