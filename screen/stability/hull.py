"""Energy above the convex hull, decomposition products and distance below the hull.

One PhaseDiagram per chemical system, built once from the reference entries (and the
campaign's own candidates) and reused for every candidate of that system.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.analysis.phase_diagram import PhaseDiagram
    from pymatgen.entries.computed_entries import ComputedEntry

log = logging.getLogger(__name__)

#: an entry this close to the hull (eV/atom) counts as on it
ON_HULL_TOL = 1e-6


class MissingReferenceError(ValueError):
    """A chemical system lacks a reference for one of its elements."""

    def __init__(self, elements: list[str], provider: str):
        self.elements = elements
        super().__init__(
            f"no {provider} reference for element(s) {', '.join(elements)}: no hull can be built"
        )


@dataclass(frozen=True)
class Phase:
    """One phase of a decomposition: a label and its fraction of the atoms."""

    label: str
    formula: str
    atom_fraction: float


@dataclass(frozen=True)
class HullAssessment:
    """Where one entry sits relative to the hull of its chemical system (eV/atom)."""

    formation_energy_per_atom: float
    energy_above_hull_per_atom: float
    hull_distance_per_atom: float  # signed: < 0 when the entry lies below the reference hull
    decomposition: list[Phase]  # products if above the hull; competing phases if on it
    reference_count: int

    @property
    def stable(self) -> bool:
        """On (or below) the hull."""
        return self.energy_above_hull_per_atom <= ON_HULL_TOL


def chemical_system(composition: Any) -> frozenset[str]:
    """The element symbols of a composition (an entry's or a structure's)."""
    return frozenset(el.symbol for el in composition.elements)


def entry_label(entry: Any) -> str:
    """A readable label: the entry's own label, else its id and formula."""
    data = getattr(entry, "data", None) or {}
    if data.get("label"):
        return str(data["label"])
    return f"{entry.composition.reduced_formula} ({entry.entry_id})"


def phases_of(decomposition: dict[Any, float]) -> list[Phase]:
    """Phases of a pymatgen decomposition (entry -> amount), labelled, amounts to 1e-6."""
    return [
        Phase(entry_label(e), e.composition.reduced_formula, round(float(f), 6))
        for e, f in sorted(decomposition.items(), key=lambda kv: -kv[1])
        if f > 1e-8
    ]


@dataclass
class HullBook:
    """Phase diagrams per chemical system, built on first use and cached."""

    references: list[Any]
    provider: str = "references"
    extra: list[Any] = field(default_factory=list)  # e.g. the campaign's candidates
    _diagrams: dict[frozenset[str], PhaseDiagram] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def elemental_energies(self) -> dict[str, float]:
        """Lowest energy per atom of each element among the entries (eV/atom)."""
        mu: dict[str, float] = {}
        for e in (*self.references, *self.extra):
            if e.composition.is_element:
                symbol = e.composition.elements[0].symbol
                mu[symbol] = min(mu.get(symbol, float("inf")), e.energy_per_atom)
        return mu

    def _check_referenced(self, elements: frozenset[str]) -> None:
        missing = sorted(elements - set(self.elemental_energies))
        if missing:
            raise MissingReferenceError(missing, self.provider)

    def formation_energy_per_atom(self, entry: ComputedEntry) -> float:
        """(E - sum_i n_i mu_i) / N against the elemental references; no hull needed."""
        self._check_referenced(chemical_system(entry.composition))
        mu = self.elemental_energies
        reference = sum(n * mu[el.symbol] for el, n in entry.composition.items())
        return float((entry.energy - reference) / entry.composition.num_atoms)

    def diagram(self, elements: frozenset[str]) -> PhaseDiagram:
        """The phase diagram of a chemical system (cached)."""
        if elements not in self._diagrams:
            from pymatgen.analysis.phase_diagram import PhaseDiagram

            self._check_referenced(elements)
            pool = [
                e
                for e in (*self.references, *self.extra)
                if chemical_system(e.composition) <= elements
            ]
            self._diagrams[elements] = PhaseDiagram(pool)
        return self._diagrams[elements]

    def assess(self, entry: ComputedEntry) -> HullAssessment:
        """Formation energy, energy above hull, decomposition of ``entry``.

        For an entry on the hull, ``hull_distance_per_atom`` is its (negative) phase
        separation energy: how far it lies below the hull of the other phases.
        """
        pd = self.diagram(chemical_system(entry.composition))
        e_form = self.formation_energy_per_atom(entry)
        decomp, distance = pd.get_decomp_and_e_above_hull(entry, allow_negative=True)
        if decomp is None or distance is None:  # only with on_error="ignore"
            raise ValueError(f"no decomposition for {entry.composition.reduced_formula}")
        e_hull = float(distance)
        if e_hull <= ON_HULL_TOL and not entry.composition.is_element:
            # on the hull: distance to the hull of the other compositions (negative)
            separation = pd.get_decomp_and_phase_separation_energy(entry)
            if separation[0] is not None and separation[1] is not None:
                decomp, e_hull = separation[0], float(separation[1])
        return HullAssessment(
            formation_energy_per_atom=e_form,
            energy_above_hull_per_atom=max(e_hull, 0.0),
            hull_distance_per_atom=e_hull,
            decomposition=phases_of(dict(decomp or {})),
            reference_count=len(pd.all_entries),
        )
