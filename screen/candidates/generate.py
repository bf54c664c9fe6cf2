"""Generate candidate records: prototype substitution and user structure files.

Every candidate carries its recipe (generator, prototype, role -> element map) and its id
is a hash of that recipe, so the same chemical space always yields the same ids.
"""

from __future__ import annotations

import itertools
import logging
import random
import warnings
from typing import TYPE_CHECKING

from screen.candidates.prototypes import Prototype, load_prototypes
from screen.records import (
    Record,
    record_from_structure,
    record_id,
    structure_dict,
    structure_sha256,
)

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.workflow.spec import ChemicalSpace, GenerateParams

log = logging.getLogger(__name__)


def role_choices(proto: Prototype, space: ChemicalSpace) -> dict[str, list[str]]:
    """Elements the chemical space allows on each role of a prototype."""
    pools = {
        "working_ion": list(space.working_ions),
        "framework_cation": list(space.framework_cations),
        "anion": list(space.anions),
    }
    choices = {}
    for role, spec in proto.roles.items():
        pool = pools[spec.kind]
        if spec.allowed is not None:
            pool = [el for el in pool if el in spec.allowed]
        choices[role] = pool
    return choices


def scale_to_predicted_volume(structure: Structure, reference: Structure) -> Structure:
    """Rescale a substituted cell with pymatgen's ionic/atomic-radius volume predictor."""
    from pymatgen.analysis.structure_prediction.volume_predictor import RLSVolumePredictor

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "No default ionic radius for Cr5+" and alike
            volume = RLSVolumePredictor(check_isostructural=False).predict(structure, reference)
    except Exception as exc:  # the predictor raises on missing radii
        log.debug("volume prediction failed for %s: %s", structure.formula, exc)
        return structure
    scaled = structure.copy()
    scaled.scale_lattice(volume)
    return scaled


def substitute_prototypes(space: ChemicalSpace, params: GenerateParams) -> list[Record]:
    """Every role assignment the chemical space allows, on every selected prototype."""
    library = load_prototypes()
    names = space.prototypes or sorted(
        name for name, proto in library.items() if space.role in proto.applications
    )
    records = []
    for name in names:
        proto = library[name]
        reference = proto.reference_structure()
        choices = role_choices(proto, space)
        roles = sorted(choices)
        for combo in itertools.product(*(choices[r] for r in roles)):
            mapping = dict(zip(roles, combo, strict=True))
            structure = proto.substituted(mapping)
            if params.scale_volume:
                structure = scale_to_predicted_volume(structure, reference)
            working_ion = next(
                mapping[r] for r, s in proto.roles.items() if s.kind == "working_ion"
            )
            recipe = {
                "generator": "prototype-substitution",
                "prototype": name,
                "substitution": mapping,
            }
            record = Record(
                id=record_id(recipe),
                formula=structure.composition.reduced_formula,
                structure=structure_dict(structure),
                provenance={
                    "recipe": recipe,
                    "prototype_reference": proto.reference_compound,
                    "working_ion": working_ion,
                    "volume_scaled": params.scale_volume,
                },
            )
            records.append(record)
    return records


def read_user_structures(space: ChemicalSpace) -> list[Record]:
    """Records for the structure files named in the chemical space."""
    from pymatgen.core import Structure

    records = []
    for path in space.structures:
        structure = Structure.from_file(path)
        present = [ion for ion in space.working_ions if ion in structure.composition]
        recipe = {
            "generator": "user-structure",
            "file": path.name,
            "structure_sha256": structure_sha256(structure),
        }
        record = record_from_structure(
            structure, recipe, source_file=str(path), working_ion=present[0] if present else None
        )
        records.append(record)
    return records


def generate(space: ChemicalSpace, params: GenerateParams) -> list[Record]:
    """All candidates of a chemical space, capped at ``max_candidates`` (seeded sample)."""
    records = substitute_prototypes(space, params) + read_user_structures(space)
    unique: dict[str, Record] = {}
    for record in records:
        unique.setdefault(record.id, record)
    records = sorted(unique.values(), key=lambda r: r.id)
    if len(records) > space.max_candidates:
        log.info(
            "%d candidates generated, sampling %d (seed %d)",
            len(records),
            space.max_candidates,
            space.seed,
        )
        records = sorted(
            random.Random(space.seed).sample(records, space.max_candidates), key=lambda r: r.id
        )
    for record in records:
        record.mark("generate", "ok")
    return records
