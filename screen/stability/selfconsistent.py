"""The offline default hull references: computed with the campaign's own potential.

Elements come from candidates/elemental-references.yaml (screen/stability/elements.py);
binary and ternary phases from the ionic AFLOW prototypes (screen/stability/phases.py).
For each subsystem, every buildable phase gets a single-point energy at its predicted
volume, the ``polymorphs`` lowest per formula are relaxed (through the stage's extra
relaxations: in a campaign in parallel and journaled), and the converged ones are cached
per (potential, subsystem). Such a hull misses every phase the library cannot build, so
results carry the flag ``hull-from-incomplete-references``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.stability.entries import ml_entry
from screen.stability.phases import ReferencePhase, prototype_phases, subsystems
from screen.stability.providers import chemsys
from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from screen.potentials.base import Potential
    from screen.records import Record
    from screen.relaxation.stage import ExtraRelaxations
    from screen.workflow.spec import RelaxParams

log = logging.getLogger(__name__)

PHASES_VERSION = 1  # bump when prototype_phases changes what it builds


class SelfConsistentReferences:
    """Elements plus prototype-built binary/ternary phases, relaxed with the same potential."""

    name = "self-consistent"
    complete = False

    def __init__(
        self,
        potential: Potential,
        relax_params: RelaxParams,
        cache_dir: Path,
        extra: ExtraRelaxations,
        polymorphs: int = 2,
        max_atoms: int = 24,
        largest_subsystem: int = 3,
    ):
        self.potential = potential
        self.convention: str = potential.card.energy_convention
        self.relax_params = relax_params
        self.cache_dir = Path(cache_dir)
        self.extra = extra
        self.polymorphs = polymorphs
        self.max_atoms = max_atoms
        self.largest = largest_subsystem
        self.counts: dict[str, dict[str, int]] = {}

    # ------------------------------------------------------------------ cache
    def _key(self) -> dict[str, Any]:
        p = self.relax_params
        return {
            "potential": self.potential.identity.model_dump(mode="json"),
            "phases_version": PHASES_VERSION,
            "polymorphs": self.polymorphs,
            "max_atoms": self.max_atoms,
            "relax": {"fmax": p.fmax, "smax_gpa": p.smax_gpa, "optimizer": p.optimizer},
        }

    def _file(self, sub: tuple[str, ...]) -> Path:
        return self.cache_dir / f"{chemsys(frozenset(sub))}.json"

    def _cached(self, sub: tuple[str, ...]) -> list[dict[str, Any]] | None:
        path = self._file(sub)
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        if data.get("key") != self._key():
            return None
        phases: list[dict[str, Any]] = data["phases"]
        return phases

    # ------------------------------------------------------------------ build
    def _screen(
        self, phases: dict[tuple[str, ...], list[ReferencePhase]]
    ) -> dict[tuple[str, ...], list[ReferencePhase]]:
        """Per subsystem, the ``polymorphs`` lowest single-point energies per formula."""
        from screen.records import record_from_structure

        records: list[Record] = []
        owner: dict[str, tuple[tuple[str, ...], ReferencePhase]] = {}
        for sub, options in phases.items():
            for phase in options:
                record = record_from_structure(
                    phase.structure, {"generator": "hull-reference-point", "label": phase.label}
                )
                owner[record.id] = (sub, phase)
                records.append(record)
        scored: dict[tuple[tuple[str, ...], str], list[tuple[float, ReferencePhase]]] = {}
        for record in self.extra.single_points("ref-points", records):
            if not record.active:
                log.warning("single point of %s failed", owner[record.id][1].label)
                continue
            sub, phase = owner[record.id]
            energy = record.number("energy") / len(phase.structure)
            formula = phase.structure.composition.reduced_formula
            scored.setdefault((sub, formula), []).append((energy, phase))
        chosen: dict[tuple[str, ...], list[ReferencePhase]] = {sub: [] for sub in phases}
        for (sub, _), ranked in sorted(scored.items(), key=lambda kv: kv[0]):
            ranked.sort(key=lambda t: (t[0], t[1].label))
            chosen[sub].extend(option for _, option in ranked[: self.polymorphs])
        return chosen

    def _build(self, subs: list[tuple[str, ...]]) -> dict[tuple[str, ...], list[dict[str, Any]]]:
        """Build, screen, relax and cache the phases of ``subs``; returns them."""
        from screen.records import record_from_structure

        built = {sub: prototype_phases(sub, self.max_atoms) for sub in subs}
        chosen = self._screen(built)
        records: list[Record] = []
        owner: dict[str, tuple[tuple[str, ...], ReferencePhase]] = {}
        for sub in subs:
            self.counts[chemsys(frozenset(sub))] = {
                "built": len(built[sub]),
                "relaxed": len(chosen[sub]),
            }
            for phase in chosen[sub]:
                record = record_from_structure(
                    phase.structure, {"generator": "hull-reference", "label": phase.label}
                )
                owner[record.id] = (sub, phase)
                records.append(record)
        log.info("relaxing %d reference phases for %d subsystems", len(records), len(subs))
        relaxed = self.extra.relax("hull-refs", records)
        found: dict[tuple[str, ...], list[dict[str, Any]]] = {sub: [] for sub in subs}
        for record in relaxed:
            sub, phase = owner[record.id]
            if not record.active or not record.value("relax_converged"):
                continue
            found[sub].append(
                {
                    "label": f"{phase.label} self-consistent",
                    "energy_ev": record.number("energy"),
                    "structure": record.relaxed_structure,
                }
            )
        for sub, phases_out in found.items():
            payload = {"key": self._key(), "phases": phases_out}
            atomic_write_text(self._file(sub), json.dumps(payload))
        return found

    # ------------------------------------------------------------------ interface
    def entries(self, systems: list[frozenset[str]]) -> list[Any]:
        """Every reference entry within ``systems`` and their subsystems."""
        from pymatgen.core import Composition, Structure

        from screen.stability.elements import elemental_references

        elements = set().union(*systems) if systems else set()
        refs = elemental_references(
            elements,
            self.potential,
            self.relax_params,
            self.cache_dir / "elements.json",
            self.extra,
        )
        out: list[Any] = [
            ml_entry(
                Composition(el),
                ref.energy_per_atom_ev,
                f"{el}-self-consistent",
                {"label": f"{el} ({ref.kind}) self-consistent", "approximation": ref.approximation},
            )
            for el, ref in sorted(refs.items())
        ]
        subs = sorted({sub for s in systems for sub in subsystems(s, self.largest)})
        phases = {sub: self._cached(sub) for sub in subs}
        missing = [sub for sub, found in phases.items() if found is None]
        if missing:
            phases.update(self._build(missing))
        for sub in subs:
            for k, phase in enumerate(phases[sub] or []):
                structure = Structure.from_dict(phase["structure"])
                out.append(
                    ml_entry(
                        structure,
                        phase["energy_ev"],
                        f"{chemsys(frozenset(sub))}-{k}",
                        {"label": phase["label"]},
                    )
                )
        return out

    def describe(self) -> dict[str, Any]:
        """What provenance records about this provider."""
        return {
            "provider": self.name,
            "convention": self.convention,
            "cache_dir": str(self.cache_dir),
            "polymorphs_per_formula": self.polymorphs,
            "max_atoms": self.max_atoms,
            "phases_built_now": self.counts,
            "complete": False,
        }
