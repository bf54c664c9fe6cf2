"""Prefilters: size, charge balance, electronegativity, geometry, critical, duplicates.

Applied in that order. Each record gets one ``prefilter`` status: ok, or filtered with
the reason of the first check it fails; the funnel counts records per reason.

Every record, filtered or not, gets its supply-side properties first: critical elements
and their mass fraction, Herfindahl-Hirschman indices of production and reserves
(pymatgen's HHI data) and an element-cost estimate where data exist.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from screen.candidates.chemistry import oxidation_states, radius
from screen.candidates.critical import CriticalList, assess
from screen.candidates.supply import supply_properties
from screen.context import StageContext, StageResult
from screen.records import Record

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.workflow.params import PrefilterParams
    from screen.workflow.space import ChemicalSpace

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


def closest_contact(structure: Structure, oxi: dict[str, float] | None) -> tuple[float, str]:
    """Smallest d_ij / (r_i + r_j) over neighbour pairs within 4 Å, and the pair."""
    radii = {
        el.symbol: radius(el.symbol, oxi.get(el.symbol) if oxi else None)
        for el in structure.composition.elements
    }
    centers, neighbors, _, distances = structure.get_neighbor_list(4.0)
    if len(distances) == 0:
        return float("inf"), ""
    symbols = np.array([site.specie.symbol for site in structure])
    sums = np.array(
        [radii[a] + radii[b] for a, b in zip(symbols[centers], symbols[neighbors], strict=True)]
    )
    ratios = distances / sums
    k = int(np.argmin(ratios))
    pair = f"{symbols[centers[k]]}-{symbols[neighbors[k]]} {distances[k]:.2f} Å"
    return float(ratios[k]), pair


def _fixed_note(record: Record) -> str:
    fixed = record.provenance.get("fixed_oxidation_states")
    if not fixed:
        return ""
    return " with polyanion centres " + ", ".join(f"{el}{v:+d}" for el, v in sorted(fixed.items()))


def electronegativity_violation(oxi: dict[str, float]) -> str | None:
    """A cation at least as electronegative (Pauling) as an anion, or None."""
    from pymatgen.core import Element

    cations = {el: Element(el).X for el, v in oxi.items() if v > 0}
    anions = {el: Element(el).X for el, v in oxi.items() if v < 0}
    if not cations or not anions:
        return None
    cat = max(cations, key=lambda el: cations[el])
    an = min(anions, key=lambda el: anions[el])
    if cations[cat] >= anions[an]:
        return f"cation {cat} (χ {cations[cat]:.2f}) vs anion {an} (χ {anions[an]:.2f})"
    return None


def _check_one(
    record: Record, space: ChemicalSpace, params: PrefilterParams, clist: CriticalList
) -> None:
    structure = record.initial_structure()
    working = record.working_ion
    oxi = oxidation_states(
        structure.composition, record.provenance.get("fixed_oxidation_states"), established=True
    )
    result = assess(
        structure.composition,
        clist,
        space.critical_policy,
        [str(working)] if working else list(space.working_ions),
        oxi,
    )
    method = f"{clist.id} (mapping v{clist.mapping_version}), policy {space.critical_policy}"
    record.set_property("critical_elements", result.elements, unit="", method=method)
    record.set_property(
        "critical_mass_fraction", round(result.mass_fraction, 6), unit="", method=method
    )
    record.set_property(
        "critical_materials",
        sorted({d.entry for d in result.decisions if d.applies}),
        unit="",
        method=method,
    )
    record.provenance["critical_entries"] = [d.as_dict() for d in result.decisions]
    for name, (value, unit, how) in supply_properties(structure.composition).items():
        record.set_property(name, value, unit=unit, method=how)
    if params.max_atoms and len(structure) > space.max_atoms:
        record.mark(STAGE, "filtered", "too-many-atoms", f"{len(structure)} > {space.max_atoms}")
        return
    if params.charge_balance:
        if oxi is None:
            record.mark(
                STAGE,
                "filtered",
                "charge-imbalance",
                f"no charge-balanced ICSD oxidation states for {record.formula}"
                + _fixed_note(record),
            )
            return
        record.set_property(
            "oxidation_states",
            oxi,
            unit="e",
            method="Composition.oxi_state_guesses (pymatgen, ICSD statistics), most likely",
        )
    if params.electronegativity and oxi is not None:
        violation = electronegativity_violation(oxi)
        if violation:
            record.mark(STAGE, "filtered", "electronegativity-order", violation)
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
    ratio, pair = closest_contact(structure, oxi)
    if ratio < params.min_distance_fraction:
        record.mark(
            STAGE,
            "filtered",
            "atoms-too-close",
            f"{pair} is {ratio:.2f} x the radii sum < {params.min_distance_fraction}",
        )
        return
    density = float(structure.density)
    low, high = params.density_g_cm3
    if not low <= density <= high:
        record.mark(STAGE, "filtered", "density", f"{density:.2f} g/cm³ outside [{low}, {high}]")
        return
    if params.critical_elements and result.excluded_by:  # last of the chemistry checks
        record.provenance["critical_excluded_by"] = sorted(
            {f"{d.entry} [{d.form}]" for el in result.excluded_by for d in result.applied(el)}
        )
        record.mark(
            STAGE,
            "filtered",
            "critical-element",
            f"{result.reason()} ({clist.id}, policy {space.critical_policy})",
        )
        return
    if result.exempt:
        record.provenance["critical_working_ion"] = result.exempt
    record.mark(STAGE, "ok")


def _spacegroup(structure: Structure) -> int:
    """Space-group number by spglib (symprec 0.1 Å); 0 when spglib cannot tell."""
    import spglib

    cell = (
        structure.lattice.matrix.tolist(),
        structure.frac_coords.tolist(),
        [site.specie.Z for site in structure],
    )
    try:
        dataset = spglib.get_symmetry_dataset(cell, symprec=0.1)
    except Exception:  # spglib fails on some distorted cells: compare those all together
        return 0
    return int(dataset.number) if dataset is not None else 0


def merge_duplicates(records: list[Record], params: PrefilterParams) -> int:
    """Collapse structure duplicates; returns how many records were marked duplicate.

    Records are grouped by reduced formula, then (for groups of two or more) by space
    group, and only compared with StructureMatcher inside a group, so the cost grows
    with group sizes, not with the square of the number of records. In each set of
    matching structures the first record by id is kept; it lists the others (ids and
    recipes) in ``provenance['duplicates']`` and they leave with reason ``duplicate``.
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    active = sorted((r for r in records if r.status[STAGE].state == "ok"), key=lambda r: r.id)
    by_formula: dict[str, list[Record]] = defaultdict(list)
    for record in active:
        by_formula[record.formula].append(record)
    matcher = StructureMatcher(ltol=params.ltol, stol=params.stol, angle_tol=params.angle_tol)
    merged = 0
    for group in by_formula.values():
        if len(group) < 2:
            continue
        structures = {r.id: r.initial_structure() for r in group}
        by_sg: dict[int, list[Record]] = defaultdict(list)
        for record in group:
            by_sg[_spacegroup(structures[record.id])].append(record)
        for subgroup in by_sg.values():
            if len(subgroup) < 2:
                continue
            # group_structures reduces each structure once (fit() would per pair)
            matched = matcher.group_structures([structures[r.id] for r in subgroup])
            by_structure = {id(structures[r.id]): r for r in subgroup}
            for same in matched:
                members = sorted((by_structure[id(s)] for s in same), key=lambda r: r.id)
                keep, *duplicates = members
                for record in duplicates:
                    keep.provenance.setdefault("duplicates", []).append(
                        {"id": record.id, "recipe": record.provenance.get("recipe")}
                    )
                    record.mark(STAGE, "filtered", "duplicate", f"same structure as {keep.id}")
                    merged += 1
    return merged


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
        merge_duplicates(out, params)
    return out


def prefilter_stage(
    records: list[Record], params: PrefilterParams, context: StageContext
) -> StageResult:
    """The prefilter stage of a run."""
    return StageResult(prefilter(records, context.chemical_space(STAGE), params))
