"""The estimate stage: hull stability, electrochemical window, electrode end members.

Order of work, so that every potential evaluation is batched and every candidate's
failure stays its own:
1. cathodes: plan the charged end member of each candidate, relax them all at once;
2. hull: candidate (and charged) entries under the potential's energy convention, the
   references of every chemical system involved, one phase diagram per system;
3. per candidate: formation energy, energy above hull and decomposition, then the
   electrolyte window or the electrode numbers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.estimators.capacity import theoretical_capacity_gravimetric
from screen.ions import ion_charge, vs_metal
from screen.records import Record

if TYPE_CHECKING:  # pragma: no cover
    from screen.potentials.base import Potential
    from screen.stability.hull import HullBook
    from screen.stability.providers import ReferenceProvider
    from screen.stability.selfconsistent import RelaxRecords
    from screen.workflow.spec import ChemicalSpace, EstimateParams, HullParams, RelaxParams

log = logging.getLogger(__name__)
STAGE = "estimate"
INCOMPLETE = "hull-from-incomplete-references"


def make_provider(
    params: HullParams,
    potential: Potential,
    relax_params: RelaxParams,
    references_dir: Path,
    relax: RelaxRecords | None = None,
    single_points: RelaxRecords | None = None,
) -> ReferenceProvider:
    """The reference provider a workflow asks for."""
    from screen.stability.providers import FileReferences, MaterialsProjectReferences
    from screen.stability.selfconsistent import SelfConsistentReferences

    if params.references == "materials-project":
        return MaterialsProjectReferences(references_dir / "materials-project", params.api_key_env)
    if params.references == "file":
        assert params.entries_file is not None  # checked by HullParams
        return FileReferences(params.entries_file, params.entries_convention)
    folder = params.cache_dir or references_dir / "self-consistent"
    return SelfConsistentReferences(
        potential,
        relax_params,
        Path(folder) / potential.identity.name.replace(":", "_"),
        relax=relax,
        single_points=single_points,
        polymorphs=params.polymorphs_per_formula,
        max_atoms=params.max_reference_atoms,
    )


def _phases_text(phases: list[Any]) -> list[str]:
    return [f"{p.label}: {p.atom_fraction:.4g}" for p in phases]


class _Electrodes:
    """Charged end members of the cathode candidates, relaxed in one batch."""

    def __init__(self) -> None:
        self.charged: dict[str, Record] = {}  # candidate id -> relaxed charged record
        self.problem: dict[str, tuple[str, str]] = {}  # candidate id -> (reason, detail)

    def plan_and_relax(self, records: list[Record], relax: RelaxRecords) -> None:
        from screen.estimators.electrode import charged_structure, removable_ions
        from screen.records import record_from_structure

        todo: dict[str, Record] = {}
        for record in records:
            ion = str(record.working_ion)
            structure = record.current_structure()
            try:
                x = removable_ions(structure.composition, ion)
                if x == 0:
                    self.problem[record.id] = (
                        "no-redox-capacity",
                        f"no {ion} can be removed without oxidising an anion or a cation "
                        "beyond its known states",
                    )
                    continue
                charged = charged_structure(structure, ion, x)
            except Exception as exc:  # this candidate gets no voltage, the rest go on
                self.problem[record.id] = ("charged-state-failed", f"{type(exc).__name__}: {exc}")
                continue
            todo[record.id] = record_from_structure(
                charged, {"generator": "charged-end-member", "of": record.id, "removed": x}
            )
        if not todo:
            return
        relaxed = {r.id: r for r in relax(list(todo.values()))}
        for cid, charged_record in todo.items():
            done = relaxed[charged_record.id]
            if done.active and done.value("relax_converged"):
                self.charged[cid] = done
            else:
                why = done.exit_stage()
                detail = why[1].detail if why else "relaxation did not converge"
                self.problem[cid] = ("charged-relax-failed", str(detail))


def estimate(
    records: list[Record],
    space: ChemicalSpace,
    params: EstimateParams,
    potential: Potential,
    relax_params: RelaxParams,
    references_dir: Path | None = None,
    *,
    relax: RelaxRecords | None = None,
    single_points: RelaxRecords | None = None,
    provider: ReferenceProvider | None = None,
    info: dict[str, Any] | None = None,
) -> list[Record]:
    """Estimate properties of relaxed records; returns new records with an ``estimate`` status.

    ``references_dir`` holds cached references (default: a temporary folder);
    ``relax`` relaxes extra structures (reference phases, charged end members) and
    defaults to the engine in this process, ``single_points`` evaluates unrelaxed
    reference phases (default: in this process); ``provider`` overrides params.hull; ``info``
    receives what provenance should record (the reference provider and its counts).
    """
    import tempfile

    from screen.stability.entries import check_mixable, ml_entry
    from screen.stability.hull import HullBook, chemical_system
    from screen.stability.selfconsistent import relax_in_process

    out = [r.copy_for_stage() for r in records]
    relax = relax or relax_in_process(potential, relax_params)
    with tempfile.TemporaryDirectory() as scratch:
        refs_dir = references_dir or Path(scratch)
        electrodes = _Electrodes()
        if params.voltage and space.role == "cathode":
            cathodes = [r for r in out if r.working_ion_in_structure()]
            electrodes.plan_and_relax(cathodes, relax)
        book: HullBook | None = None
        hull_error: str | None = None
        entries: dict[str, Any] = {}
        dropped: dict[str, str] = {}
        if params.formation_energy:
            convention = potential.card.energy_convention
            raw = [
                ml_entry(
                    r.current_structure(),
                    r.number("energy"),
                    r.id,
                    {"label": f"{r.formula} (candidate {r.id})"},
                )
                for r in out
            ] + [
                ml_entry(
                    c.current_structure(),
                    c.number("energy"),
                    c.id,
                    {"label": f"{c.formula} (charged {cid})"},
                )
                for cid, c in electrodes.charged.items()
            ]
            processed, dropped = _each_with_convention(raw, convention)
            entries = processed
            provider = provider or make_provider(
                params.hull, potential, relax_params, refs_dir, relax, single_points
            )
            try:
                if provider.name != "self-consistent":
                    check_mixable(convention, provider.convention, provider.name)
                systems = sorted(
                    {chemical_system(r.current_structure().composition) for r in out}, key=sorted
                )
                reference_entries = provider.entries(systems)
                if provider.name == "self-consistent":
                    reference_entries = list(
                        _each_with_convention(reference_entries, convention)[0].values()
                    )
                extra = (
                    _physical_candidates(
                        [processed[r.id] for r in out if r.id in processed],
                        reference_entries,
                        params,
                    )
                    if params.hull.include_candidates
                    else []
                )
                book = HullBook(reference_entries, provider.name, extra)
                if info is not None:
                    info["hull_references"] = {
                        **provider.describe(),
                        "entries": len(reference_entries),
                        "chemical_systems": ["-".join(sorted(s)) for s in systems],
                    }
            except Exception as exc:  # convention clash, no key...: every record says why
                from screen.stability.entries import ConventionError
                from screen.stability.providers import ReferenceUnavailable

                if not isinstance(exc, ConventionError | ReferenceUnavailable):
                    raise
                hull_error = str(exc)
        for record in out:
            if record.id in dropped:
                record.mark(STAGE, "failed", "energy-correction-dropped", dropped[record.id])
                continue
            try:
                _estimate_one(
                    record,
                    space,
                    params,
                    potential,
                    book,
                    provider,
                    entries,
                    electrodes,
                    hull_error,
                )
            except Exception as exc:  # one record's failure never stops the others
                log.warning("estimate failed for %s: %s", record.id, exc)
                record.mark(STAGE, "failed", "estimate-error", f"{type(exc).__name__}: {exc}")
    return out


def _each_with_convention(
    entries: list[Any], convention: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Entries made hull-ready one by one: (kept by id, dropped id -> why).

    The correction scheme rejecting one entry costs that entry only.
    """
    from screen.stability.entries import DroppedEntryError, apply_convention

    kept: dict[str, Any] = {}
    dropped: dict[str, str] = {}
    if convention != "raw-vasp":
        return {e.entry_id: e for e in entries}, dropped
    for entry in entries:
        try:
            (kept[entry.entry_id],) = apply_convention([entry], convention)
        except DroppedEntryError as exc:
            log.warning("%s", exc)
            dropped[entry.entry_id] = str(exc)
    return kept, dropped


def _physical_candidates(
    candidates: list[Any], references: list[Any], params: EstimateParams
) -> list[Any]:
    """Candidates that may join the hull: referenced, formation energy within bounds.

    An unphysical energy (a potential's hole) would otherwise sink the hull for every
    other candidate of its chemical system.
    """
    from screen.stability.hull import HullBook, MissingReferenceError

    elements = HullBook(references, "probe")
    lo, hi = params.min_formation_energy_per_atom_ev, params.max_formation_energy_per_atom_ev
    kept = []
    for entry in candidates:
        try:
            ef = elements.formation_energy_per_atom(entry)
        except MissingReferenceError:
            continue
        if lo <= ef <= hi:
            kept.append(entry)
    return kept


def _hull_sigma_note(card: Any) -> str:
    if card.hull_sigma() is None:
        return ""
    return (
        f"; uncertainty {card.hull_sigma()} eV/atom = sqrt(pi/2) x the model's Matbench "
        f"Discovery hull MAE {card.hull_mae_eV_per_atom} eV/atom (against DFT)"
    )


def _hull_method(provider: ReferenceProvider, potential: Potential, include: bool) -> str:
    text = (
        f"pymatgen PhaseDiagram of {provider.name} references"
        + (" and the campaign's candidates" if include else "")
        + f"; candidate energies from {potential.identity.name} "
        f"({potential.card.energy_convention}"
        + (", MP2020 corrections applied" if potential.card.energy_convention == "raw-vasp" else "")
        + ")"
    )
    if not provider.complete:
        text += (
            "; references are the phases the prototype library builds, so the hull may miss phases"
        )
    return text


def _estimate_one(
    record: Record,
    space: ChemicalSpace,
    params: EstimateParams,
    potential: Potential,
    book: HullBook | None,
    provider: ReferenceProvider | None,
    entries: dict[str, Any],
    electrodes: _Electrodes,
    hull_error: str | None,
) -> None:
    from screen.stability.hull import MissingReferenceError

    ion = record.working_ion_in_structure()
    flags: list[str] = []
    if params.formation_energy:
        if hull_error is not None or book is None or provider is None:
            record.mark(STAGE, "failed", "no-hull-references", hull_error or "no references")
            return
        try:
            assessment = book.assess(entries[record.id])
        except MissingReferenceError as exc:
            record.mark(STAGE, "filtered", "no-reference", str(exc))
            return
        method = _hull_method(provider, potential, params.hull.include_candidates)
        if not provider.complete:
            flags.append(INCOMPLETE)
        ef = assessment.formation_energy_per_atom
        record.set_property(
            "formation_energy_per_atom", ef, unit="eV/atom", method=method, model=potential.identity
        )
        sigma = potential.card.hull_sigma()
        record.set_property(
            "energy_above_hull_per_atom",
            assessment.energy_above_hull_per_atom,
            unit="eV/atom",
            method=method + _hull_sigma_note(potential.card),
            uncertainty=sigma,
            model=potential.identity,
        )
        record.set_property(
            "hull_distance_per_atom",
            assessment.hull_distance_per_atom,
            unit="eV/atom",
            method=method
            + "; negative: distance below the hull of the other compositions"
            + _hull_sigma_note(potential.card),
            uncertainty=sigma,
            model=potential.identity,
        )
        record.set_property(
            "decomposition",
            _phases_text(assessment.decomposition),
            unit="atom fraction",
            method="phases at the candidate's composition on the hull (competing phases "
            "when the candidate is on it)",
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
        if params.electrochemical_window and space.role == "electrolyte" and ion:
            _window(record, book, entries[record.id], ion, method, flags)
    if ion and space.role == "cathode":
        if params.capacity:
            record.set_property(
                "theoretical_capacity_gravimetric",
                theoretical_capacity_gravimetric(record.current_structure().composition, ion),
                unit="mAh/g",
                method=f"z F x / (3.6 M), every {ion} extracted (z = {ion_charge(ion)}), "
                "M of the discharged formula",
            )
        if params.voltage:
            _electrode(record, potential, book, entries, electrodes, ion, flags)
    if params.bvse.enabled and ion:
        _bvse(record, ion, params, flags)
    record.set_property(
        "estimate_flags",
        sorted(set(flags)),
        unit="",
        method="confidence flags of the estimate stage",
    )
    record.mark(STAGE, "ok")


def _bvse(record: Record, ion: str, params: EstimateParams, flags: list[str]) -> None:
    """Tier-1 conductivity: BVSE percolation barriers of the relaxed structure."""
    import math

    from screen.transport.bvse import BVSEError, bvse_barriers

    given = record.value("oxidation_states")
    oxidation_states = given if isinstance(given, dict) else None
    try:
        result = bvse_barriers(
            record.current_structure(),
            ion,
            oxidation_states=oxidation_states,
            resolution=params.bvse.resolution_angstrom,
        )
    except BVSEError as exc:
        flags.append(f"bvse-unavailable: {exc}")
        return
    finite = {
        "bvse_barrier": result.barrier_eV,
        "bvse_barrier_3d": result.barrier_3d_eV,
    }
    for name, value in finite.items():
        if math.isfinite(value):
            record.set_property(name, value, unit="eV", method=result.method)
    record.set_property(
        "bvse_dimensionality",
        result.dimensionality,
        unit="",
        method=result.method + "; network dimension open at bvse_barrier",
    )
    if not math.isfinite(result.barrier_eV):
        flags.append("bvse-no-percolation")


def _window(
    record: Record, book: HullBook, entry: Any, ion: str, method: str, flags: list[str]
) -> None:
    from screen.stability.window import stability_window

    window = stability_window(entry, book, ion, ion_charge(ion))
    how = (
        f"grand-potential phase diagram with {ion} open (Richards et al. 2016), "
        f"V = -(mu_{ion} - mu_{ion}(metal)) / {ion_charge(ion)}; " + method
    )
    if window.stabilised_by_ev_per_atom > 0:
        flags.append("window-of-metastable-phase")
        shift = window.stabilised_by_ev_per_atom
        how += f"; candidate placed on the hull (lowered by {shift:.3f} eV/atom)"
    record.set_property("reduction_limit", window.reduction_limit_v, unit=vs_metal(ion), method=how)
    if window.oxidation_limit_v is not None:
        record.set_property(
            "oxidation_limit", window.oxidation_limit_v, unit=vs_metal(ion), method=how
        )
    record.set_property(
        "reduction_products",
        _phases_text(window.reduction_products),
        unit="atom fraction",
        method=how,
    )
    record.set_property(
        "oxidation_products",
        _phases_text(window.oxidation_products),
        unit="atom fraction",
        method=how,
    )


def _electrode(
    record: Record,
    potential: Potential,
    book: HullBook | None,
    entries: dict[str, Any],
    electrodes: _Electrodes,
    ion: str,
    flags: list[str],
) -> None:
    from screen.estimators.electrode import electrode_result

    if record.id in electrodes.problem:
        reason, detail = electrodes.problem[record.id]
        flags.append(f"no-voltage: {reason}")
        record.set_property("voltage_note", detail, unit="", method="charged end member")
        return
    charged = electrodes.charged.get(record.id)
    if charged is None or book is None:
        return
    metal_pd = book.diagram(frozenset({ion}))
    metal = min(
        (e for e in metal_pd.all_entries if e.composition.is_element),
        key=lambda e: e.energy_per_atom,
    )
    if charged.id not in entries:  # its energy correction was refused
        flags.append("no-voltage: charged-energy-correction-dropped")
        return
    discharged_entry, charged_entry = entries[record.id], entries[charged.id]
    result = electrode_result(
        record.current_structure(),
        discharged_entry.energy,
        charged.current_structure(),
        charged_entry.energy,
        metal.energy_per_atom,
        ion,
    )
    z = ion_charge(ion)
    how = (
        f"discharged {record.formula} and charged {charged.formula} ({ion} removed, ordering by "
        f"Ewald energy) relaxed with {potential.identity.name}; {ion} metal energy from the "
        f"hull references ({metal.data.get('label', metal.entry_id)}); z = {z}"
    )
    unit_v = vs_metal(ion)
    record.set_property(
        "average_voltage",
        result.average_voltage_v,
        unit=unit_v,
        method=how,
        model=potential.identity,
    )
    record.set_property(
        "capacity_gravimetric",
        result.capacity_gravimetric_mah_g,
        unit="mAh/g",
        method="z F dx / (3.6 M_discharged); " + how,
    )
    record.set_property(
        "capacity_volumetric",
        result.capacity_volumetric_mah_cm3,
        unit="mAh/cm3",
        method="gravimetric capacity x density of the discharged phase; " + how,
    )
    record.set_property(
        "specific_energy",
        result.specific_energy_wh_kg,
        unit="Wh/kg",
        method="average voltage x gravimetric capacity (cathode material only); " + how,
    )
    record.set_property(
        "volume_change_on_charge",
        result.volume_change_percent,
        unit="%",
        method="(V_charged - V_discharged) / V_discharged per host; " + how,
    )
    record.set_property(
        "volume_change_abs",
        abs(result.volume_change_percent),
        unit="%",
        method="|volume change| between the end members; " + how,
    )
    record.set_property("charged_formula", charged.formula, unit="", method=how)
    charged_hull = book.assess(charged_entry)
    record.set_property(
        "energy_above_hull_charged",
        charged_hull.energy_above_hull_per_atom,
        unit="eV/atom",
        method="hull of the candidate's chemical system; " + how + _hull_sigma_note(potential.card),
        uncertainty=potential.card.hull_sigma(),
        model=potential.identity,
    )
    record.provenance["charged_end_member"] = {
        "record_id": charged.id,
        "formula": charged.formula,
        "structure": charged.relaxed_structure,
    }
