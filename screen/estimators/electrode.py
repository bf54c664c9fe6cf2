"""Electrode profiles: voltage steps, average voltage, capacity, specific energy, volume.

The discharged end member is the relaxed candidate A_x Host; the charged one removes as
many working ions as the host's accessible redox couples allow
(screen/estimators/couples.py), and the intermediates lie in equal steps between
(screen/estimators/profile.py). All are relaxed with the same potential (the context's
charged members, in one batch); the metal's energy is the hull's elemental reference.
pymatgen's InsertionElectrode builds the profile from the hull along x.

Formulas (../shared/SCIENCE.md):
  V = -[E(A_x2 Host) - E(A_x1 Host) - (x2 - x1) E(A metal)] / ((x2 - x1) z)   [V vs A/A^z+]
  Q = z F (x2 - x1) / (3.6 M_discharged)   [mAh/g];  Q_vol = Q rho_discharged   [mAh/cm3]
  specific energy = V Q   [Wh/kg]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from screen.estimators.base import Estimate, new_estimate
from screen.estimators.context import hull_sigma_note
from screen.ions import FARADAY_C_PER_MOL, ion_charge, vs_metal
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
    """Cathodes: the voltage profile over the accessible range, capacity, energy, volume."""

    name: ClassVar[str] = "electrode"
    params_model: ClassVar[type[ElectrodeParams]] = ElectrodeParams
    needs: ClassVar[frozenset[str]] = frozenset({"working_ion", "hull", "charged_members"})
    roles: ClassVar[frozenset[str] | None] = frozenset({"cathode"})
    order: ClassVar[int] = 20
    properties: ClassVar[tuple[P, ...]] = (
        P("average_voltage", "V vs metal",
          "capacity-weighted average voltage of the profile between the discharged and the "
          "charged end member", rankable=True, csv=True, uncertainty_column=True, card=True),
        P("voltage_min", "V vs metal", "lowest step voltage of the profile", rankable=True,
          csv=True),
        P("voltage_max", "V vs metal", "highest step voltage of the profile", rankable=True,
          csv=True),
        P("voltage_steps", "V vs metal",
          "voltage of each step of the profile, fully charged first", csv=True),
        P("capacity_to_steps", "mAh/g",
          "discharge capacity from the fully charged state to the end of each step", csv=True),
        P("stable_intermediates", "",
          "intermediate compositions on the hull along x (they bound the steps)", csv=True,
          card=True),
        P("redox_couples", "", "redox couples that bound the charged end member", csv=True,
          card=True),
        P("ions_removed", "per host formula",
          "working ions cycled between the end members, per formula of the host framework",
          csv=True),
        P("capacity_gravimetric", "mAh/g",
          "z F dx / (3.6 M_discharged) between the end members", rankable=True, csv=True,
          card=True),
        P("capacity_volumetric", "mAh/cm3", "gravimetric capacity x density", rankable=True,
          csv=True),
        P("specific_energy", "Wh/kg", "integral of the profile: average voltage x capacity",
          rankable=True, csv=True, uncertainty_column=True, card=True),
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
        from screen.estimators.profile import voltage_profile, voltage_sigma

        out = new_estimate(self)
        ion = str(record.working_ion_in_structure())
        members = context.charged_members()
        window = members.windows.get(record.id)
        if window is not None and window.fallback:
            out.flag("redox-couples-fallback: " + ", ".join(window.fallback))
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
        kept = [m for m in members.members[record.id] if m.id in members.entries]
        if charged.id not in members.entries:  # its energy correction was refused
            out.flag("no-voltage: charged-energy-correction-dropped")
            return out
        if members.lost.get(record.id) or len(kept) < len(members.members[record.id]):
            out.flag("profile-member-lost")
        metal = min(
            (
                e
                for e in hull.book.diagram(frozenset({ion})).all_entries
                if e.composition.is_element
            ),
            key=lambda e: e.energy_per_atom,
        )
        discharged_entry = hull.entries[record.id]
        charged_entry = members.entries[charged.id]
        try:
            profile = voltage_profile(
                [discharged_entry, *(members.entries[m.id] for m in kept)], metal, ion
            )
        except Exception as exc:  # this candidate's profile only; its other estimates stay
            out.flag("no-voltage: profile-failed")
            out.set("voltage_note", f"{type(exc).__name__}: {exc}", unit="",
                    method="pymatgen InsertionElectrode over the relaxed members")  # fmt: skip
            return out
        result = electrode_result(
            record.current_structure(),
            discharged_entry.energy,
            charged.current_structure(),
            charged_entry.energy,
            metal.energy_per_atom,
            ion,
        )
        potential = context.potential
        model = potential.identity
        z = ion_charge(ion)
        couples = window.couples_text() if window is not None else []
        how = (
            f"pymatgen InsertionElectrode over the discharged {record.formula} and "
            f"{len(kept)} member(s) with {ion} removed (equal steps to the redox window: "
            f"{', '.join(couples) or 'ICSD states'}; lowest-Ewald orderings), all relaxed with "
            f"{potential.identity.name}; {ion} metal energy from the hull references "
            f"({metal.data.get('label', metal.entry_id)}); z = {z}"
        )
        sigma_atom = potential.card.hull_sigma()
        sigma_v = voltage_sigma(sigma_atom, z) if sigma_atom is not None else None
        sigma_note = (
            f"; uncertainty sigma_V = sigma sqrt(2 (1 + z^2)) / z with sigma = {sigma_atom} "
            "eV/atom (the card's hull uncertainty): systematic local errors of the moved ions, "
            "their metal reference and the redox centres, framework errors cancel "
            "(screen/estimators/profile.py: voltage_sigma)"
            if sigma_v is not None
            else ""
        )
        unit = vs_metal(ion)
        out.set("average_voltage", profile.average_voltage_v, unit=unit,
                method=how + sigma_note, uncertainty=sigma_v, model=model)  # fmt: skip
        out.set("voltage_min", min(profile.voltages), unit=unit, method=how, model=model)
        out.set("voltage_max", max(profile.voltages), unit=unit, method=how, model=model)
        out.set("voltage_steps", profile.voltages, unit=unit, method=how + sigma_note,
                model=model)  # fmt: skip
        out.set("capacity_to_steps", [s.capacity_to_mah_g for s in profile.steps],
                unit="mAh/g",
                method="z F (x - x_charged) / (3.6 M_discharged); " + how)  # fmt: skip
        out.set("stable_intermediates", profile.intermediates, unit="",
                method="stable on the hull along x of the relaxed members; " + how)  # fmt: skip
        out.set("redox_couples", couples, unit="",
                method=f"accessible couples of {window.source if window else 'the couples file'}"
                " bound the charged end member")  # fmt: skip
        steps = profile.steps
        out.set("ions_removed", steps[-1].x_discharged - steps[0].x_charged,
                unit=f"{ion} per {profile.framework}", method=how)  # fmt: skip
        change = result.volume_change_percent
        q = profile.capacity_gravimetric_mah_g
        for name, value, unit_, what in (
            ("capacity_gravimetric", q, "mAh/g", "z F dx / (3.6 M_discharged)"),
            ("capacity_volumetric", result.capacity_volumetric_mah_cm3, "mAh/cm3",
             "gravimetric capacity x density of the discharged phase"),
            ("volume_change_on_charge", change, "%",
             "(V_charged - V_discharged) / V_discharged per host"),
            ("volume_change_abs", abs(change), "%", "|volume change| between the end members"),
        ):  # fmt: skip
            out.set(name, value, unit=unit_, method=f"{what}; {how}")
        out.set(
            "specific_energy",
            profile.specific_energy_wh_kg,
            unit="Wh/kg",
            method="integral of the profile, average voltage x gravimetric capacity (cathode "
            f"material only); uncertainty = capacity x sigma_V; {how}",
            uncertainty=q * sigma_v if sigma_v is not None else None,
            model=model,
        )
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
        out.provenance["voltage_profile"] = {
            "framework": profile.framework,
            "working_ion": ion,
            "unit": unit,
            "uncertainty_v": sigma_v,
            "steps": [
                {
                    "x_charged": s.x_charged,
                    "x_discharged": s.x_discharged,
                    "voltage_v": s.voltage_v,
                    "formula_charged": s.formula_charged,
                    "formula_discharged": s.formula_discharged,
                    "capacity_to_mah_g": s.capacity_to_mah_g,
                }
                for s in steps
            ],
            "members": [
                {"record_id": m.id, "formula": m.formula, "energy_ev": m.number("energy")}
                for m in kept
            ],
            "above_hull_along_x_ev_per_atom": profile.unstable,
            "lost_members": members.lost.get(record.id, []),
            "redox_window": {
                "family": window.family if window else None,
                "couples": couples,
                "fallback": list(window.fallback) if window else [],
                "file": window.source if window else None,
            },
        }
        return out
