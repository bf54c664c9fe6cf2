"""Carriers of every candidate's working-ion sublattice, Frenkel pairs relaxed in one batch.

The estimate context calls :func:`find_carriers` once per stage call for the records the
carriers estimator applies to. Per record (screen/transport/carriers.py for the physics):

1. its generator ordered a partially occupied working-ion sublattice
   (``provenance.disordered_species``): intrinsic carriers;
2. a cathode candidate whose accessible redox couples let working ions leave: the
   vacancies are made by charging (a cathode host that gives no ion gets no defect: it
   is no cathode);
3. otherwise Frenkel pairs: on vacant BVSE sites symmetry-equivalent (in the framework)
   to occupied ones first, then on the lowest interstitial positions. A pair on an
   equivalent site cheaper than ``INTRINSIC_EV`` means intrinsic carriers. All
   pairs of all records are relaxed at fixed cell in one batch through the stage's extra
   relaxations (journaled as ``relax/defects``); Ef = E(defect) - n E(relaxed cell), the
   lowest pair counts. A pair that recombines is relaxed again with the interstitial ion
   held at its position (``relax/defects-held``, one batch): its energy is an upper bound
   and says so in a flag.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from screen.transport.carriers import (
    BY_CHARGING,
    FRENKEL,
    INTRINSIC_EV,
    INTRINSIC_PARTIAL,
    INTRINSIC_VACANT,
    FrenkelCell,
    frenkel_cells,
    interstitial_positions,
    recombined,
    survey_sites,
)

if TYPE_CHECKING:  # pragma: no cover
    from screen.records import Record
    from screen.relaxation.stage import ExtraRelaxations
    from screen.workflow.estimate import EstimateParams
    from screen.workflow.params import RelaxParams

log = logging.getLogger(__name__)


@dataclass
class CarrierFinding:
    """The carriers of one candidate's working-ion sublattice."""

    kind: str | None = None  # one of the carrier kinds; None: undecided (see problem)
    formation_eV: float | None = None  # Ef of the carrier defect (0 where carriers are given)
    why: str = ""  # how the kind was decided
    survey: dict[str, Any] = field(default_factory=dict)
    trials: list[dict[str, Any]] = field(default_factory=list)  # the Frenkel pairs tried
    flags: list[str] = field(default_factory=list)
    problem: str | None = None  # why there is no formation energy
    method: str = ""


def defect_relax_params(relax: RelaxParams, params: EstimateParams) -> RelaxParams:
    """The relax stage's optimizer at fixed cell, with the carriers section's limits."""
    section = params.carriers
    return relax.model_copy(
        update={
            "variable_cell": False,
            "fmax": section.fmax,
            "max_steps": section.max_steps,
            "drop_unconverged": False,
        }
    )


def _charging_window(record: Record, params: EstimateParams) -> Any:
    """The redox window of an electrode candidate (None when it cannot be had)."""
    from screen.estimators.couples import load_couples, redox_window

    electrode = params.electrode
    couples = load_couples(str(electrode.redox_couples) if electrode.redox_couples else None)
    try:
        return redox_window(
            record.current_structure().composition, str(record.working_ion), couples
        )
    except Exception:  # no window: carriers are judged as for an electrolyte
        return None


def find_carriers(
    records: list[Record],
    landscape_of: Callable[[Record], Any],
    extra: ExtraRelaxations,
    relax_params: RelaxParams,
    params: EstimateParams,
    role: str,
) -> dict[str, CarrierFinding]:
    """Carrier findings by record id (see the module docstring)."""
    from screen.records import record_from_structure, structure_sha256
    from screen.transport.bvse import BVSEError

    section = params.carriers
    found: dict[str, CarrierFinding] = {}
    asked: dict[str, list[tuple[Record, FrenkelCell]]] = {}
    for record in records:
        finding = found[record.id] = CarrierFinding()
        ion = str(record.working_ion)
        structure = record.current_structure()
        try:
            landscape = landscape_of(record)
        except BVSEError as exc:
            finding.problem = f"no BVSE landscape: {exc}"
            continue
        try:
            survey = survey_sites(landscape, structure, ion)
            finding.survey = survey.as_dict()
            if ion in record.provenance.get("disordered_species", []):
                finding.kind, finding.formation_eV = INTRINSIC_PARTIAL, 0.0
                finding.why = f"{ion} sites partially occupied before ordering (generator)"
                continue
            window = _charging_window(record, params) if role == "cathode" else None
            if window is not None and window.ions > 1e-6:
                finding.kind, finding.formation_eV = BY_CHARGING, 0.0
                finding.why = (
                    f"up to {window.ions:.3g} {ion} per cell leave on charge "
                    f"({', '.join(window.couples_text())})"
                )
                continue
            if role == "cathode":  # no capacity, no cathode: no defect relaxed for it
                finding.problem = "a cathode host from which no working ion can leave" + (
                    f" ({window.why_none()})" if window is not None else ""
                )
                continue
            finding.kind = FRENKEL
            equivalent = [
                (site.frac, site.energy_eV)
                for site in sorted(survey.equivalent_vacant, key=lambda s: s.energy_eV)
                if site.clear
            ]
            positions = equivalent + interstitial_positions(landscape, structure, ion)
            cells = frenkel_cells(
                structure,
                ion,
                positions,
                min_length=section.min_cell_length_angstrom,
                max_atoms=section.max_atoms,
                trials=section.trials,
                equivalent=[frac for frac, _ in equivalent],
            )
        except Exception as exc:  # this candidate keeps its BVSE values, the rest go on
            log.warning("carrier analysis failed for %s: %s", record.id, exc)
            finding.kind = None
            finding.problem = f"carrier analysis failed: {type(exc).__name__}: {exc}"
            continue
        if not cells:
            finding.problem = (
                f"no interstitial position for {ion} (no site-energy minimum below "
                f"3 eV at least 1.5 Å from every {ion})"
            )
            continue
        asked[record.id] = [
            (
                record_from_structure(
                    cell.structure,
                    {
                        "generator": "carrier-defect",
                        "of": record.id,
                        "defect": "Frenkel pair",
                        "trial": k,
                        "structure_sha256": structure_sha256(cell.structure),
                    },
                ),
                cell,
            )
            for k, cell in enumerate(cells)
        ]
        finding.trials = [cell.describe() for cell in cells]
    batch = [defect for pairs in asked.values() for defect, _ in pairs]
    relaxed = {
        r.id: r
        for r in extra.relax("defects", batch, params=defect_relax_params(relax_params, params))
    }
    held = _held_pairs(asked, relaxed, extra, defect_relax_params(relax_params, params))
    by_id = {r.id: r for r in records}
    for cid, pairs in asked.items():
        try:
            _frenkel_energy(
                found[cid],
                by_id[cid],
                [(relaxed[d.id], held.get(d.id), cell) for d, cell in pairs],
                section.fmax,
            )
        except Exception as exc:  # this candidate keeps its BVSE values, the rest go on
            log.warning("Frenkel energy failed for %s: %s", cid, exc)
            found[cid].problem = f"Frenkel energy failed: {type(exc).__name__}: {exc}"
            found[cid].flags.append(f"carrier-defect-failed: {type(exc).__name__}")
    return found


def _held_pairs(
    asked: dict[str, list[tuple[Record, FrenkelCell]]],
    relaxed: dict[str, Record],
    extra: ExtraRelaxations,
    params: RelaxParams,
) -> dict[str, Record]:
    """Pairs that recombined, relaxed again with the interstitial ion held (one batch).

    The energy of such a pair is an upper bound of a bound pair's: the interstitial stays
    at its BVSE position while everything else relaxes. Keyed by the free pair's id.
    """
    from screen.records import record_from_structure, structure_sha256

    again: dict[str, Record] = {}
    for pairs in asked.values():
        for defect, cell in pairs:
            done = relaxed[defect.id]
            if not done.active or done.value("energy") is None:
                continue
            if not recombined(done.current_structure(), cell.perfect):
                continue
            structure = cell.structure.copy()
            last = len(structure) - 1  # frenkel_cells appends the interstitial ion
            structure.add_site_property(
                "selective_dynamics", [[k != last] * 3 for k in range(len(structure))]
            )
            again[defect.id] = record_from_structure(
                structure,
                {
                    **defect.provenance["recipe"],
                    "held": "interstitial",
                    "structure_sha256": structure_sha256(structure),
                },
            )
    if not again:
        return {}
    out = {r.id: r for r in extra.relax("defects-held", list(again.values()), params=params)}
    return {free: out[record.id] for free, record in again.items()}


def _frenkel_energy(
    finding: CarrierFinding,
    record: Record,
    done: list[tuple[Record, Record | None, FrenkelCell]],
    fmax: float,
) -> None:
    """The lowest Frenkel energy of the relaxed pairs (failed or recombined ones say why)."""
    ion = str(record.working_ion)
    perfect = record.number("energy")
    energies = []
    for trial, (free, held, cell) in zip(finding.trials, done, strict=True):
        n = math.prod(cell.repeats)
        defect = free
        trial["wall_time_s"] = round(
            sum(
                r.number("relax_wall_time")
                for r in (free, held)
                if r and r.value("relax_wall_time")
            ),
            3,
        )
        if not free.active or free.value("energy") is None:
            why = free.exit_stage()
            trial["outcome"] = f"failed: {why[1].detail if why else 'relaxation failed'}"
            continue
        if held is not None:
            trial["recombined"] = True
            if not held.active or held.value("energy") is None:
                trial["outcome"] = "recombined; the held pair failed to relax"
                continue
            defect = held
        ef = defect.number("energy") - n * perfect
        trial["formation_eV"] = round(ef, 4)
        trial["converged"] = bool(defect.value("relax_converged"))
        trial["steps"] = defect.value("relax_steps")
        trial["outcome"] = ("ok" if trial["converged"] else "not converged") + (
            " (recombined when free; interstitial held: an upper bound)" if held else ""
        )
        if not math.isfinite(ef) or ef < 0:
            trial["outcome"] = f"rejected: Ef {ef:.3f} eV below the perfect crystal"
            continue
        energies.append((ef, trial))
    if not energies:
        outcomes = "; ".join(t.get("outcome", "?") for t in finding.trials)
        finding.problem = f"no Frenkel pair gave an energy ({outcomes})"
        finding.flags.append(f"carrier-defect-failed: {outcomes}")
        return
    ef, trial = min(energies, key=lambda x: x[0])
    finding.formation_eV = ef
    if trial["equivalent_site"] and ef <= INTRINSIC_EV:
        finding.kind = INTRINSIC_VACANT
    where = (
        "a vacant site equivalent to occupied ones"
        if trial["equivalent_site"]
        else "an interstitial position"
    )
    finding.why = (
        f"lowest of {len(finding.trials)} Frenkel pair(s): {ion} moved "
        f"{trial['separation_angstrom']} Å to {where} {trial['interstitial_bvse_eV']} eV up "
        f"the BVSE landscape, {trial['atoms']} atoms"
    )
    finding.method = (
        f"Frenkel pair relaxed at fixed cell (fmax {fmax} eV/Å) in a "
        f"{'x'.join(map(str, trial['repeats']))} supercell of the relaxed candidate; "
        "Ef = E(defect cell) - n E(relaxed cell)"
    )
    if not trial["converged"]:
        finding.flags.append("carrier-defect-unconverged")
    if trial.get("recombined"):
        finding.flags.append("carrier-defect-held: the free pair recombined; Ef is an upper bound")
        finding.method += "; the free pair recombined, so the interstitial ion was held fixed"
