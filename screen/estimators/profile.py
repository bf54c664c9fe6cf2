"""Voltage profiles over the intercalation range: members, hull along x, steps, uncertainty.

1. :func:`intercalation_members` builds the charged end member and the intermediates of a
   discharged host: the working ion removed in equal steps up to the redox window
   (screen/estimators/couples.py), each in the smallest supercell (up to ``max_atoms``)
   where the removal is a whole number of ions, ordered by Ewald energy.
2. The members are relaxed in one batch with the other candidates' (the estimate
   context), then :func:`voltage_profile` hands them to pymatgen's ``InsertionElectrode``:
   the convex hull along x picks the stable members, each pair of neighbours is one step.
3. :func:`voltage_sigma` is the standard uncertainty of a step or average voltage from the
   model's known energy error (derivation in its docstring).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition, Structure

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Member:
    """One intercalation state built from the discharged host."""

    removed: float  # working ions removed per discharged cell
    target: float  # the removal asked for (differs when the cell could not hold it)
    multiplier: int  # discharged cells in the member's supercell
    structure: Structure


def removal_targets(window: float, intermediates: int) -> list[float]:
    """Ions removed per cell at each member: equal steps up to the window, charged last."""
    steps = intermediates + 1
    return [window * k / steps for k in range(1, steps + 1)]


def _whole(value: float) -> bool:
    return abs(value - round(value)) < TOLERANCE


def supercell_multiplier(target: float, atoms: int, max_atoms: int) -> int:
    """Smallest multiple of the cell (within max_atoms) in which ``target`` ions are whole.

    The largest multiple allowed when none is: the removal is then rounded in it.
    """
    largest = max(1, max_atoms // max(atoms, 1))
    for m in range(1, largest + 1):
        if _whole(m * target):
            return m
    return largest


def grown(structure: Structure, multiplier: int) -> Structure:
    """A compact supercell of ``multiplier`` cells.

    Each prime factor multiplies the currently shortest lattice vector.
    """
    scaling = [1, 1, 1]
    n = multiplier
    factors: list[int] = []
    p = 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    for f in sorted(factors, reverse=True):
        lengths = [a * s for a, s in zip(structure.lattice.abc, scaling, strict=True)]
        scaling[lengths.index(min(lengths))] *= f
    return structure * scaling


def intercalation_members(
    structure: Structure, ion: str, window: float, intermediates: int, max_atoms: int
) -> list[Member]:
    """The charged end member and the intermediates, lowest-Ewald orderings.

    A target the supercell cannot hold exactly is rounded to the nearest whole number of
    ions in the largest allowed supercell; a member whose rounded removal repeats another
    one, or is zero, is dropped.
    """
    from screen.estimators.redox import charged_structure

    present = round(structure.composition[ion])
    members: list[Member] = []
    seen: set[float] = set()
    for target in removal_targets(window, intermediates):
        m = supercell_multiplier(target, len(structure), max_atoms)
        count = round(m * target)
        count = min(count, present * m)
        removed = count / m
        if count < 1 or any(abs(removed - s) < TOLERANCE for s in seen):
            continue
        seen.add(removed)
        cell = grown(structure, m) if m > 1 else structure.copy()
        members.append(Member(removed, target, m, charged_structure(cell, ion, count)))
    return members


# --------------------------------------------------------------------------- profile
@dataclass(frozen=True)
class Step:
    """One plateau of the profile, between two stable members (x per host formula)."""

    x_charged: float
    x_discharged: float
    voltage_v: float
    formula_charged: str
    formula_discharged: str
    capacity_to_mah_g: float  # discharge capacity from the fully charged state to x_discharged


@dataclass(frozen=True)
class VoltageProfile:
    """The profile from pymatgen's InsertionElectrode."""

    framework: str  # reduced formula of the host framework
    steps: tuple[Step, ...]  # fully charged first
    average_voltage_v: float
    capacity_gravimetric_mah_g: float
    capacity_volumetric_mah_cm3: float | None  # None for entries without a structure
    specific_energy_wh_kg: float
    stable: tuple[str, ...]  # formulas of the stable members, charged first
    unstable: dict[str, float]  # formula -> eV/atom above the hull along x

    @property
    def voltages(self) -> list[float]:
        """Step voltages, fully charged first."""
        return [s.voltage_v for s in self.steps]

    @property
    def intermediates(self) -> list[str]:
        """Stable members between the two ends."""
        return list(self.stable[1:-1])


def voltage_profile(entries: list[Any], metal_entry: Any, ion: str) -> VoltageProfile:
    """Steps, average voltage, capacities and specific energy of the given members.

    ``entries``: the discharged member and every charged or intermediate member, all under
    one energy convention; ``metal_entry``: the working-ion metal's.
    """
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.apps.battery.insertion_battery import InsertionElectrode, InsertionVoltagePair

    from screen.ions import FARADAY_C_PER_MOL, ion_charge

    electrode = InsertionElectrode.from_entries(entries, metal_entry)
    stable = list(electrode.get_stable_entries())
    top = stable[-1].composition
    mass = top.weight / framework_factor(top, ion)  # g/mol per framework formula, discharged
    x_min = x_per_framework(stable[0].composition, ion)
    steps = []
    for pair in electrode.voltage_pairs:
        assert isinstance(pair, InsertionVoltagePair)
        charged, discharged = pair.entry_charge.composition, pair.entry_discharge.composition
        x_d = x_per_framework(discharged, ion)
        capacity = ion_charge(ion) * FARADAY_C_PER_MOL * (x_d - x_min) / (3.6 * mass)
        steps.append(
            Step(
                x_per_framework(charged, ion), x_d, float(pair.voltage),
                charged.reduced_formula, discharged.reduced_formula, float(capacity),
            )
        )  # fmt: skip
    unstable: dict[str, float] = {}
    if electrode.get_unstable_entries():
        diagram = PhaseDiagram([*entries, *_corner_entries(entries)])
        for entry in electrode.get_unstable_entries():
            unstable[entry.composition.reduced_formula] = float(
                diagram.get_e_above_hull(entry) or 0.0
            )
    return VoltageProfile(
        framework=electrode.framework_formula,
        steps=tuple(steps),
        average_voltage_v=float(electrode.get_average_voltage()),
        capacity_gravimetric_mah_g=float(electrode.get_capacity_grav()),
        capacity_volumetric_mah_cm3=(
            float(electrode.get_capacity_vol())
            if all(hasattr(e, "structure") for e in stable)
            else None
        ),
        specific_energy_wh_kg=float(electrode.get_specific_energy()),
        stable=tuple(e.composition.reduced_formula for e in stable),
        unstable=unstable,
    )


def framework_factor(composition: Composition, ion: str) -> float:
    """Reduced framework formulas (everything but the working ion) in ``composition``."""
    from pymatgen.core import Composition

    rest = Composition({el: n for el, n in composition.get_el_amt_dict().items() if el != ion})
    return float(rest.get_reduced_composition_and_factor()[1])


def x_per_framework(composition: Composition, ion: str) -> float:
    """Working ions per formula of the reduced framework."""
    return float(composition[ion]) / framework_factor(composition, ion)


def _corner_entries(entries: list[Any]) -> list[Any]:
    """High-energy elements, as InsertionElectrode adds them, so a hull along x exists."""
    from pymatgen.analysis.phase_diagram import PDEntry
    from pymatgen.core import Composition

    high = max(e.energy_per_atom for e in entries) + 10
    elements = {el for e in entries for el in e.composition.elements}
    return [PDEntry(Composition({el: 1}), high) for el in elements]


# --------------------------------------------------------------------------- uncertainty
def voltage_sigma(sigma_atom_ev: float, z: int) -> float:
    """Standard uncertainty of a step (or average) voltage from a per-atom energy error.

    Assumption (../shared/SCIENCE.md, Electrodes): the model's energy error is local and
    systematic. Atoms whose local environment is the same in the two members (the
    framework) carry the same error in both and cancel. What changes between the members
    of a step of dx working ions (per host formula) is
      - dx working ions, in the host on one side and in the metal reference on the other:
        two independent errors, each systematic over the dx ions (one per kind of site):
        variance 2 (dx sigma)^2;
      - z dx electrons taken up by redox centres: the centres' error in the reduced and in
        the oxidised state, independent, systematic over the centres and proportional to
        the electrons they take up: variance 2 (z dx sigma)^2.
    With V = -dE / (z dx):  sigma_V = sigma sqrt(2 (1 + z^2)) / z, the same for every step
    and for the average (sigma = the model's per-atom error of an energy relative to the
    competing phases, the hull uncertainty of its card). For z = 1: 2 sigma; z = 2:
    sqrt(2.5) sigma. The dx cancels: systematic errors do not average out over a longer
    step, and do not grow either.
    """
    return sigma_atom_ev * math.sqrt(2.0 * (1.0 + z * z)) / z
