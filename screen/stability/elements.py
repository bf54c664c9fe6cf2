"""Elemental reference energies relaxed with the same potential as the candidates.

Structures come from candidates/elemental-references.yaml (simple crystals and molecules
in a box; complex ground states replaced by labelled stand-ins). They are relaxed through
the stage's extra relaxations (journaled and parallel in a campaign): crystals with
their cell, molecules at fixed cell. Results are cached per potential identity in a JSON
file, so a campaign relaxes each element once.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from screen.resources import resource_dir
from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from screen.potentials.base import Potential
    from screen.records import Record
    from screen.relaxation.stage import ExtraRelaxations
    from screen.workflow.spec import RelaxParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ElementReference:
    """One element's reference energy under one potential."""

    element: str
    energy_per_atom_ev: float
    kind: str
    converged: bool
    steps: int
    approximation: str | None


@functools.cache
def reference_library() -> dict[str, Any]:
    """The parsed elemental-references.yaml."""
    path = resource_dir("candidates") / "elemental-references.yaml"
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def reference_atoms(symbol: str) -> tuple[Atoms, bool]:
    """(structure, variable_cell) of an element's reference; KeyError when none exists."""
    from ase import Atoms
    from ase.build import bulk

    library = reference_library()
    spec = library["elements"][symbol]
    kind = spec["kind"]
    box = float(library["box_angstrom"])
    if kind in ("bcc", "fcc", "diamond"):
        return bulk(symbol, kind, a=spec["a"]), True
    if kind == "hcp":
        return bulk(symbol, "hcp", a=spec["a"], c=spec["c"]), True
    if kind == "bct":
        return bulk(symbol, "bct", a=spec["a"], c=spec["c"]), True
    if kind == "dimer":
        d = float(spec["bond_length"])
        positions = [[box / 2 - d / 2, box / 2, box / 2], [box / 2 + d / 2, box / 2, box / 2]]
        return Atoms(symbol * 2, positions=positions, cell=[box] * 3, pbc=True), False
    if kind == "crystal":
        from pymatgen.core import Lattice, Structure
        from pymatgen.io.ase import AseAtomsAdaptor

        lat = spec["lattice"]
        lattice = Lattice.from_parameters(
            lat["a"], lat["b"], lat["c"], lat["alpha"], lat["beta"], lat["gamma"]
        )
        structure = Structure.from_spacegroup(
            spec["spacegroup"],
            lattice,
            [site["species"] for site in spec["sites"]],
            [site["coords"] for site in spec["sites"]],
        ).get_primitive_structure()
        return AseAtomsAdaptor.get_atoms(structure), True
    if kind == "molecule":
        pos = np.asarray(spec["positions"], dtype=float)
        pos = pos - pos.mean(axis=0) + box / 2
        return Atoms(f"{symbol}{len(pos)}", positions=pos, cell=[box] * 3, pbc=True), False
    raise ValueError(f"unknown reference kind {kind!r} for {symbol}")


def has_reference(symbol: str) -> bool:
    """True when elemental-references.yaml has a structure for ``symbol``."""
    return symbol in reference_library()["elements"]


def reference_record(symbol: str) -> tuple[Record, bool]:
    """(record of an element's reference structure, variable_cell)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from screen.records import record_from_structure

    atoms, variable_cell = reference_atoms(symbol)
    recipe = {
        "generator": "elemental-reference",
        "element": symbol,
        "library_version": reference_library()["version"],
    }
    return record_from_structure(AseAtomsAdaptor.get_structure(atoms), recipe), variable_cell


def _relaxed(
    symbols: list[str], params: RelaxParams, extra: ExtraRelaxations
) -> dict[str, ElementReference]:
    """Relax the references of ``symbols`` (crystals and molecules apart); failures left out."""
    crystals: dict[str, Record] = {}
    boxed: dict[str, Record] = {}
    for symbol in symbols:
        record, variable_cell = reference_record(symbol)
        (crystals if variable_cell else boxed)[symbol] = record
    fixed_cell = params.model_copy(update={"variable_cell": False})
    done = {r.id: r for r in extra.relax("elements", list(crystals.values()))}
    done.update({r.id: r for r in extra.relax("elements-in-box", list(boxed.values()), fixed_cell)})
    library = reference_library()["elements"]
    out: dict[str, ElementReference] = {}
    for symbol, record in {**crystals, **boxed}.items():
        relaxed = done[record.id]
        if "energy" not in relaxed.properties:  # failed: its compounds get no formation energy
            why = relaxed.exit_stage()
            log.warning(
                "elemental reference %s failed: %s", symbol, why[1].detail if why else "no energy"
            )
            continue
        out[symbol] = ElementReference(
            element=symbol,
            energy_per_atom_ev=relaxed.number("energy") / len(relaxed.structure["sites"]),
            kind=library[symbol]["kind"],
            converged=bool(relaxed.value("relax_converged")),
            steps=int(relaxed.number("relax_steps")),
            approximation=library[symbol].get("approximation"),
        )
    return out


def elemental_references(
    elements: set[str],
    potential: Potential,
    params: RelaxParams,
    cache_file: Path | None,
    extra: ExtraRelaxations,
) -> dict[str, ElementReference]:
    """References for every element that has one, from the cache or freshly relaxed."""
    identity = potential.identity.model_dump(mode="json")
    key = {
        "potential": identity,
        "library_version": reference_library()["version"],
        "fmax": params.fmax,
        "smax_gpa": params.smax_gpa,
        "optimizer": params.optimizer,
    }
    cached: dict[str, ElementReference] = {}
    if cache_file is not None and cache_file.is_file():
        data = json.loads(cache_file.read_text())
        if data.get("key") == key:
            cached = {el: ElementReference(**ref) for el, ref in data["references"].items()}
    missing = sorted(el for el in elements if el not in cached and has_reference(el))
    if missing:
        log.info("relaxing elemental references %s with %s", ", ".join(missing), identity["name"])
        cached.update(_relaxed(missing, params, extra))
    if missing and cache_file is not None:
        payload = {"key": key, "references": {el: asdict(r) for el, r in sorted(cached.items())}}
        atomic_write_text(cache_file, json.dumps(payload, indent=1))
    return {el: ref for el, ref in cached.items() if el in elements}
