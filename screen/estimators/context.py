"""The estimate stage's shared context: the hull and the charged end members, built once.

Estimators do not talk to each other; what several need is a service of the context,
built once per call of the stage for all its records, before any record is estimated:

- :meth:`EstimateContext.charged_members`: the intercalation members of every electrode
  candidate (the charged end member, working ion removed as far as the accessible redox
  couples allow, and the intermediates), relaxed in one batch;
- :meth:`EstimateContext.hull`: the candidates' entries under the potential's energy
  convention, the reference entries of every chemical system involved (a reference
  provider), one phase diagram per system (screen/stability/hull.py);
- :meth:`EstimateContext.bvse_landscape`: the working ion's BVSE site-energy grid of a
  record (computed once, read by the bvse and carriers estimators);
- :meth:`EstimateContext.carriers`: the carriers of every candidate's working-ion
  sublattice, with the Frenkel pairs of those that need one relaxed in one batch.

Every extra structure (references, charged members, carrier defects) is relaxed through
``extra``, the stage's :class:`~screen.relaxation.stage.ExtraRelaxations`.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from screen.estimators.carrier_defects import CarrierFinding
    from screen.potentials.base import Potential
    from screen.records import Record
    from screen.relaxation.stage import ExtraRelaxations
    from screen.stability.hull import HullBook
    from screen.stability.providers import ReferenceProvider
    from screen.workflow.estimate import EstimateParams, HullParams
    from screen.workflow.params import RelaxParams
    from screen.workflow.space import ChemicalSpace

log = logging.getLogger(__name__)


def make_provider(
    params: HullParams,
    potential: Potential,
    relax_params: RelaxParams,
    references_dir: Path,
    extra: ExtraRelaxations,
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
        extra,
        polymorphs=params.polymorphs_per_formula,
        max_atoms=params.max_reference_atoms,
    )


def entries_with_convention(
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


def hull_sigma_note(card: Any) -> str:
    """The method's note on a hull distance's uncertainty (empty without a benchmark)."""
    if card.hull_sigma() is None:
        return ""
    return (
        f"; uncertainty {card.hull_sigma()} eV/atom = sqrt(pi/2) x the model's Matbench "
        f"Discovery hull MAE {card.hull_mae_eV_per_atom} eV/atom (against DFT)"
    )


def phases_text(phases: list[Any]) -> list[str]:
    """Phases as 'label: atom fraction' lines."""
    return [f"{p.label}: {p.atom_fraction:.4g}" for p in phases]


@dataclass
class Hull:
    """The phase diagrams of one call, and the candidates' hull-ready entries."""

    entries: dict[str, Any]  # record id -> entry under the hull's convention
    dropped: dict[str, str]  # record id -> why the energy correction refused its entry
    book: HullBook | None = None
    provider: ReferenceProvider | None = None
    error: str | None = None  # why there is no book (convention clash, no references)
    method: str = ""  # how the hull numbers were obtained, for the properties

    @property
    def complete(self) -> bool:
        """The references are known to hold every phase (not the self-consistent set)."""
        return self.provider is not None and bool(self.provider.complete)


@dataclass
class ChargedMembers:
    """Relaxed intercalation members by candidate id, or why a candidate has none.

    ``relaxed`` holds the fully charged end member, ``members`` every relaxed member
    (intermediates and the charged one, in order of removal), ``windows`` the redox window
    that bounded them.
    """

    relaxed: dict[str, Record] = field(default_factory=dict)  # candidate id -> charged record
    members: dict[str, list[Record]] = field(default_factory=dict)  # candidate id -> members
    windows: dict[str, Any] = field(default_factory=dict)  # candidate id -> RedoxWindow
    lost: dict[str, list[str]] = field(default_factory=dict)  # candidate id -> lost members
    entries: dict[str, Any] = field(default_factory=dict)  # member record id -> hull entry
    problem: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (reason, detail)


class EstimateContext:
    """Built once per call of the estimate stage; estimators read it, never each other."""

    def __init__(
        self,
        records: list[Record],
        space: ChemicalSpace,
        potential: Potential,
        params: EstimateParams,
        relax_params: RelaxParams,
        extra: ExtraRelaxations,
        references_dir: Path | None = None,
        provider: ReferenceProvider | None = None,
    ):
        self.records = records
        self.space = space
        self.role = space.role
        self.potential = potential
        self.params = params
        self.relax_params = relax_params
        self.extra = extra
        self.references_dir = references_dir
        self.provider = provider
        self.provenance: dict[str, Any] = {}  # what the stage's provenance records
        self._hull: Hull | None = None
        self._charged: ChargedMembers | None = None
        self._landscapes: dict[str, Any] = {}  # record id -> BVSELandscape or BVSEError
        self._carriers: dict[str, CarrierFinding] | None = None
        self._scratch: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> EstimateContext:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()

    # ------------------------------------------------------------------ services
    def hull(self) -> Hull:
        """The hull of every chemical system of the records (built on first use)."""
        if self._hull is None:
            self._hull = self._build_hull()
        return self._hull

    def charged_members(self, records: list[Record] | None = None) -> ChargedMembers:
        """Charged end members of ``records`` (built on first use, in one batch)."""
        if self._charged is None:
            self._charged = self._build_charged(self.records if records is None else records)
        return self._charged

    def bvse_landscape(self, record: Record) -> Any:
        """The BVSE landscape of the record's working ion (computed once); raises BVSEError."""
        from screen.transport.bvse import BVSEError, bvse_landscape

        if record.id not in self._landscapes:
            given = record.value("oxidation_states")
            try:
                self._landscapes[record.id] = bvse_landscape(
                    record.current_structure(),
                    str(record.working_ion_in_structure()),
                    oxidation_states=given if isinstance(given, dict) else None,
                    resolution=self.params.bvse.resolution_angstrom,
                )
            except BVSEError as exc:
                self._landscapes[record.id] = exc
        found = self._landscapes[record.id]
        if isinstance(found, Exception):
            raise found
        return found

    def carriers(self, records: list[Record] | None = None) -> dict[str, CarrierFinding]:
        """Carriers of ``records`` by id (built on first use; Frenkel pairs in one batch)."""
        if self._carriers is None:
            from screen.estimators.carrier_defects import find_carriers

            self._carriers = find_carriers(
                self.records if records is None else records,
                self.bvse_landscape,
                self.extra,
                self.relax_params,
                self.params,
                self.role,
            )
        return self._carriers

    # ------------------------------------------------------------------ building
    def _references_dir(self) -> Path:
        if self.references_dir is not None:
            return self.references_dir
        if self._scratch is None:
            self._scratch = tempfile.TemporaryDirectory()
        return Path(self._scratch.name)

    def _build_hull(self) -> Hull:
        from screen.stability.entries import ConventionError, check_mixable, ml_entry
        from screen.stability.hull import HullBook, chemical_system
        from screen.stability.providers import ReferenceUnavailable

        params = self.params.hull
        convention = self.potential.card.energy_convention
        raw = [
            ml_entry(
                r.current_structure(),
                r.number("energy"),
                r.id,
                {"label": f"{r.formula} (candidate {r.id})"},
            )
            for r in self.records
        ]
        entries, dropped = entries_with_convention(raw, convention)
        provider = self.provider or make_provider(
            params, self.potential, self.relax_params, self._references_dir(), self.extra
        )
        hull = Hull(entries, dropped, provider=provider, method=self._hull_method(provider))
        try:
            if provider.name != "self-consistent":
                check_mixable(convention, provider.convention, provider.name)
            systems = sorted(
                {chemical_system(r.current_structure().composition) for r in self.records},
                key=sorted,
            )
            references = provider.entries(systems)
            if provider.name == "self-consistent":
                references = list(entries_with_convention(references, convention)[0].values())
            joining = (
                self._physical_candidates(
                    [entries[r.id] for r in self.records if r.id in entries], references
                )
                if params.include_candidates
                else []
            )
            hull.book = HullBook(references, provider.name, joining)
            self.provenance["hull_references"] = {
                **provider.describe(),
                "entries": len(references),
                "chemical_systems": ["-".join(sorted(s)) for s in systems],
            }
        except (ConventionError, ReferenceUnavailable) as exc:  # every record says why
            hull.error = str(exc)
        return hull

    def _physical_candidates(self, candidates: list[Any], references: list[Any]) -> list[Any]:
        """Candidates that may join the hull: referenced, formation energy within bounds.

        An unphysical energy (a potential's hole) would otherwise sink the hull for every
        other candidate of its chemical system.
        """
        from screen.stability.hull import HullBook, MissingReferenceError

        params = self.params.hull
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

    def _hull_method(self, provider: ReferenceProvider) -> str:
        card = self.potential.card
        include = self.params.hull.include_candidates
        text = (
            f"pymatgen PhaseDiagram of {provider.name} references"
            + (" and the campaign's candidates" if include else "")
            + f"; candidate energies from {self.potential.identity.name} "
            f"({card.energy_convention}"
            + (", MP2020 corrections applied" if card.energy_convention == "raw-vasp" else "")
            + ")"
        )
        if not provider.complete:
            text += (
                "; references are the phases the prototype library builds, so the hull may "
                "miss phases"
            )
        return text

    def _build_charged(self, records: list[Record]) -> ChargedMembers:
        """Every candidate's intercalation members, relaxed in one batch."""
        from screen.estimators.couples import load_couples, redox_window
        from screen.estimators.profile import intercalation_members
        from screen.records import record_from_structure
        from screen.stability.entries import ml_entry

        params = self.params.electrode
        couples = load_couples(str(params.redox_couples) if params.redox_couples else None)
        found = ChargedMembers()
        todo: dict[str, list[Record]] = {}
        for record in records:
            ion = str(record.working_ion)
            structure = record.current_structure()
            try:
                window = redox_window(structure.composition, ion, couples)
                found.windows[record.id] = window
                if window.ions <= 1e-6:
                    found.problem[record.id] = ("no-redox-capacity", window.why_none())
                    continue
                members = intercalation_members(
                    structure, ion, window.ions, params.intermediates, params.max_atoms
                )
                if not members:
                    found.problem[record.id] = (
                        "no-redox-capacity",
                        f"the window of {window.ions:.3g} {ion} per cell is less than one "
                        f"ion in a supercell of up to {params.max_atoms} atoms",
                    )
                    continue
            except Exception as exc:  # this candidate gets no voltage, the rest go on
                found.problem[record.id] = ("charged-state-failed", f"{type(exc).__name__}: {exc}")
                continue
            todo[record.id] = [
                record_from_structure(
                    m.structure,
                    {
                        "generator": "charged-end-member"
                        if m is members[-1]
                        else "intercalation-member",
                        "of": record.id,
                        "removed": round(m.removed, 6),
                        "cells": m.multiplier,
                        "couples_version": couples.version,
                    },
                )
                for m in members
            ]
        batch = [m for ms in todo.values() for m in ms]
        relaxed = {r.id: r for r in self.extra.relax("charged", batch)}
        for cid, asked in todo.items():
            done = [relaxed[m.id] for m in asked]
            ok = [d for d in done if d.active and d.value("relax_converged")]
            converged = {d.id for d in ok}
            found.lost[cid] = [d.formula for d in done if d.id not in converged]
            charged = done[-1]
            if charged.id not in converged:
                why = charged.exit_stage()
                detail = why[1].detail if why else "relaxation did not converge"
                found.problem[cid] = ("charged-relax-failed", str(detail))
                continue
            found.relaxed[cid] = charged
            found.members[cid] = ok
        raw = [
            ml_entry(
                c.current_structure(),
                c.number("energy"),
                c.id,
                {"label": f"{c.formula} (member of {cid})"},
            )
            for cid, ms in found.members.items()
            for c in ms
        ]
        found.entries, _ = entries_with_convention(raw, self.potential.card.energy_convention)
        return found
