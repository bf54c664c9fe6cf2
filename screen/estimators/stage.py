"""The estimate stage: formation energy and theoretical capacity of relaxed candidates."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from screen.candidates.chemistry import ION_CHARGE
from screen.estimators.capacity import theoretical_capacity_gravimetric
from screen.estimators.formation import MissingReference, formation_energy_per_atom
from screen.estimators.references import ElementReference, elemental_references
from screen.records import Record

if TYPE_CHECKING:  # pragma: no cover
    from screen.potentials.base import Potential
    from screen.workflow.spec import ChemicalSpace, EstimateParams, RelaxParams

log = logging.getLogger(__name__)
STAGE = "estimate"


def _formation_method(potential: Potential, refs: dict[str, ElementReference]) -> str:
    approx = sorted(f"{el}: {r.approximation}" for el, r in refs.items() if r.approximation)
    unconverged = sorted(el for el, r in refs.items() if not r.converged)
    text = (
        "E_f = (E - sum_i n_i mu_i) / N with mu_i from elemental references relaxed with "
        f"{potential.identity.name} (energy convention {potential.card.energy_convention}); "
        "a stability proxy, not a hull distance"
    )
    if approx:
        text += "; stand-ins: " + "; ".join(approx)
    if unconverged:
        text += "; unconverged references: " + ", ".join(unconverged)
    return text


def estimate(
    records: list[Record],
    space: ChemicalSpace,
    params: EstimateParams,
    potential: Potential,
    relax_params: RelaxParams,
    reference_cache: Path | None = None,
) -> list[Record]:
    """Estimate properties of relaxed records; returns new records with an ``estimate`` status."""
    out = [r.copy_for_stage() for r in records]
    refs: dict[str, ElementReference] = {}
    if params.formation_energy:
        elements = {str(el) for r in out for el in r.current_structure().composition.elements}
        refs = elemental_references(elements, potential, relax_params, reference_cache)
    for record in out:
        try:
            _estimate_one(record, space, params, potential, refs)
        except Exception as exc:  # one record's failure never stops the others
            log.warning("estimate failed for %s: %s", record.id, exc)
            record.mark(STAGE, "failed", "estimate-error", f"{type(exc).__name__}: {exc}")
    return out


def _estimate_one(
    record: Record,
    space: ChemicalSpace,
    params: EstimateParams,
    potential: Potential,
    refs: dict[str, ElementReference],
) -> None:
    composition = record.current_structure().composition
    if params.formation_energy:
        used = {el: refs[el] for el in map(str, composition.elements) if el in refs}
        try:
            ef = formation_energy_per_atom(record.number("energy"), composition, refs)
        except MissingReference as exc:
            record.mark(STAGE, "filtered", "no-elemental-reference", f"no reference for {exc}")
            return
        record.set_property(
            "formation_energy_per_atom",
            ef,
            unit="eV/atom",
            method=_formation_method(potential, used),
            model=potential.identity,
        )
        lo, hi = params.min_formation_energy_per_atom_ev, params.max_formation_energy_per_atom_ev
        if not lo <= ef <= hi:
            record.mark(
                STAGE,
                "failed",
                "unphysical-energy",
                f"formation energy {ef:.3f} eV/atom outside [{lo}, {hi}]",
            )
            return
    working_ion = record.provenance.get("working_ion")
    if (
        params.capacity
        and space.role == "cathode"
        and working_ion in ION_CHARGE
        and composition[working_ion] > 0
    ):
        record.set_property(
            "theoretical_capacity_gravimetric",
            theoretical_capacity_gravimetric(composition, working_ion),
            unit="mAh/g",
            method=f"z F x / (3.6 M), every {working_ion} extracted (z = "
            f"{ION_CHARGE[working_ion]}), M of the discharged formula",
        )
    record.mark(STAGE, "ok")
