"""Elemental reference energies relaxed with the same potential as the candidates.

Structures come from candidates/elemental-references.yaml (simple crystals and molecules
in a box; complex ground states replaced by labelled stand-ins). Results are cached per
potential identity in a JSON file, so a campaign relaxes each element once.
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


def relax_reference(symbol: str, potential: Potential, params: RelaxParams) -> ElementReference:
    """Relax one element's reference (cell too for crystals; positions only for molecules)."""
    from screen.relaxation.engine import relax_many

    atoms, variable_cell = reference_atoms(symbol)
    ref_params = params if variable_cell else params.model_copy(update={"variable_cell": False})
    (outcome,) = relax_many([atoms], potential, ref_params)
    if isinstance(outcome, BaseException):
        raise outcome
    spec = reference_library()["elements"][symbol]
    return ElementReference(
        element=symbol,
        energy_per_atom_ev=outcome.energy_ev / len(atoms),
        kind=spec["kind"],
        converged=outcome.converged,
        steps=outcome.steps,
        approximation=spec.get("approximation"),
    )


def elemental_references(
    elements: set[str],
    potential: Potential,
    params: RelaxParams,
    cache_file: Path | None = None,
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
    for symbol in missing:
        log.info("relaxing elemental reference %s with %s", symbol, identity["name"])
        try:
            cached[symbol] = relax_reference(symbol, potential, params)
        except Exception as exc:  # its compounds get no formation energy, the rest go on
            log.warning("elemental reference %s failed with %s: %s", symbol, identity["name"], exc)
    if missing and cache_file is not None:
        payload = {"key": key, "references": {el: asdict(r) for el, r in sorted(cached.items())}}
        atomic_write_text(cache_file, json.dumps(payload, indent=1))
    return {el: ref for el, ref in cached.items() if el in elements}
