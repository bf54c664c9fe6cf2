"""Electrode end members, average voltage, capacity, specific energy and volume change.

The discharged end member is the relaxed candidate A_x Host. The charged one removes the
working ion topotactically: all of it when the host's cations can be oxidised that far
(anions keep their nominal charge), otherwise as many ions as the redox budget allows,
with the remaining ions ordered by Ewald energy (pymatgen's order-disorder
transformation). Both end members are relaxed with the same potential.

Formulas (../shared/SCIENCE.md):
  V = -[E(A_x2 Host) - E(A_x1 Host) - (x2 - x1) E(A metal)] / ((x2 - x1) z)   [V vs A/A^z+]
  Q = z F (x2 - x1) / (3.6 M_discharged)   [mAh/g];  Q_vol = Q rho_discharged   [mAh/cm3]
  specific energy = V Q   [Wh/kg]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from screen.candidates.chemistry import oxidation_states
from screen.estimators.capacity import FARADAY_C_PER_MOL
from screen.ions import ion_charge

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition, Structure


class NoRedoxCapacity(ValueError):
    """No working ion can be removed without oxidising an anion or exceeding known states."""


def removable_ions(composition: Composition, ion: str) -> int:
    """How many working ions (per cell) the host's cations can give up by oxidation."""
    from pymatgen.core import Composition

    from screen.stability.phases import nominal_anion_charge

    present = composition[ion]
    n = round(present)
    if n < 1 or abs(present - n) > 1e-6:
        return 0
    discharged = oxidation_states(composition)
    if discharged is None:
        return 0
    anions = {el: nominal_anion_charge(el) for el, q in discharged.items() if q < 0}
    fixed = {el: q for el, q in anions.items() if q is not None}
    for x in range(n, 0, -1):
        amounts = composition.get_el_amt_dict()
        amounts[ion] -= x
        rest = Composition({el: a for el, a in amounts.items() if a > 1e-9})
        if all(el.symbol in fixed for el in rest.elements):
            continue  # nothing left to oxidise
        oxi = oxidation_states(rest, fixed)
        if oxi is not None and all(q > 0 for el, q in oxi.items() if el not in fixed):
            return x
    return 0


def charged_structure(structure: Structure, ion: str, x: int) -> Structure:
    """The structure with ``x`` of its working ions removed (lowest-Ewald ordering)."""
    from screen.candidates.ordering import lowest_orderings

    n = round(structure.composition[ion])
    charged = structure.copy()
    if x == n:
        charged.remove_species([ion])
        return charged
    charged.replace_species({ion: {ion: (n - x) / n}})
    (ordered,) = lowest_orderings(charged, 1)
    return ordered


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
