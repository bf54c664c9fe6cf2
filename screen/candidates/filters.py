"""Prefilters: geometry sanity, charge balance, critical raw materials, duplicates.

Each record gets one ``prefilter`` status: ok, or filtered with the first reason found.
The critical-element content is recorded as properties for every record that gets that far.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np

from screen.candidates.critical import CriticalList, assess
from screen.records import Record

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.workflow.spec import ChemicalSpace, PrefilterParams

log = logging.getLogger(__name__)
STAGE = "prefilter"


def shortest_distance(structure: Structure) -> float:
    """Shortest interatomic distance in Å, periodic images (and self-images) included."""
    if len(structure) > 1:
        dm = structure.distance_matrix + np.eye(len(structure)) * 1e9
        pair = float(dm.min())
    else:
        pair = float("inf")
    return min(pair, float(min(structure.lattice.abc)))


def charge_balanced_guess(structure: Structure) -> dict[str, float] | None:
    """The most likely charge-balanced oxidation states (pymatgen's ICSD statistics)."""
    guesses = structure.composition.oxi_state_guesses(max_sites=-50)
    return {str(k): float(v) for k, v in guesses[0].items()} if guesses else None


def _check_one(
    record: Record, space: ChemicalSpace, params: PrefilterParams, clist: CriticalList
) -> None:
    structure = record.initial_structure()
    if len(structure) > space.max_atoms:
        record.mark(STAGE, "filtered", "too-many-atoms", f"{len(structure)} > {space.max_atoms}")
        return
    dmin = shortest_distance(structure)
    if dmin < params.min_distance_angstrom:
        record.mark(
            STAGE,
            "filtered",
            "atoms-too-close",
            f"{dmin:.2f} Å < {params.min_distance_angstrom} Å",
        )
        return
    if params.charge_balance:
        oxi = charge_balanced_guess(structure)
        if oxi is None:
            record.mark(
                STAGE,
                "filtered",
                "charge-imbalance",
                f"no charge-balanced oxidation states for {record.formula}",
            )
            return
        record.set_property(
            "oxidation_states",
            oxi,
            unit="e",
            method="Composition.oxi_state_guesses (pymatgen, ICSD statistics)",
        )
    working = (
        [str(record.provenance.get("working_ion"))]
        if record.provenance.get("working_ion")
        else list(space.working_ions)
    )
    result = assess(structure.composition, clist, space.critical_policy, working)
    method = f"{clist.id} (mapping v{clist.mapping_version}), policy {space.critical_policy}"
    record.set_property("critical_elements", result.elements, unit="", method=method)
    record.set_property(
        "critical_mass_fraction", round(result.mass_fraction, 6), unit="", method=method
    )
    if params.critical_elements and result.excluded_by:
        detail = "; ".join(
            f"{el}: {', '.join(clist.materials_by_element[el])}" for el in result.excluded_by
        )
        record.mark(STAGE, "filtered", "critical-element", f"{detail} ({clist.id})")
        return
    record.mark(STAGE, "ok")


def mark_duplicates(records: list[Record], params: PrefilterParams) -> None:
    """Filter all but the first (by id) of each group of matching structures."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    active = sorted((r for r in records if r.status[STAGE].state == "ok"), key=lambda r: r.id)
    if len(active) < 2:
        return
    matcher = StructureMatcher(ltol=params.ltol, stol=params.stol, angle_tol=params.angle_tol)
    structures = []
    for record in active:
        structure = record.initial_structure()
        structure.properties = {"record_id": record.id}
        structures.append(structure)
    by_id = {r.id: r for r in active}
    for group in matcher.group_structures(structures):
        ids = sorted(s.properties["record_id"] for s in group)
        for dup in ids[1:]:
            by_id[dup].mark(STAGE, "filtered", "duplicate", f"same structure as {ids[0]}")


def prefilter(records: list[Record], space: ChemicalSpace, params: PrefilterParams) -> list[Record]:
    """Apply every prefilter; returns new records, each with a ``prefilter`` status."""
    clist = CriticalList.load(space.critical_list)
    out = [r.copy_for_stage() for r in records]
    for record in out:
        try:
            _check_one(record, space, params, clist)
        except Exception as exc:  # one bad structure must not stop the others
            log.warning("prefilter failed for %s: %s", record.id, exc)
            record.mark(STAGE, "failed", "prefilter-error", f"{type(exc).__name__}: {exc}")
    if params.duplicates:
        mark_duplicates(out, params)
    return out
