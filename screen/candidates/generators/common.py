"""Pieces every generator uses: volume scaling, orderings, record construction."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from screen.candidates.chemistry import predicted_volume
from screen.candidates.ordering import OrderingError, lowest_orderings
from screen.records import Record, record_id, structure_dict

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.workflow.params import GenerateParams

log = logging.getLogger(__name__)
STAGE = "generate"


def scale_to_predicted_volume(structure: Structure, reference: Structure) -> Structure:
    """Rescale a substituted cell to the radius-ratio volume (chemistry.predicted_volume)."""
    if structure.composition.reduced_formula == reference.composition.reduced_formula:
        return structure
    volume = predicted_volume(structure.composition, reference.composition, reference.volume)
    scaled = structure.copy()
    scaled.scale_lattice(volume)
    return scaled


def make_record(structure: Structure, recipe: dict[str, Any], **provenance: Any) -> Record:
    """A new record with its recipe; the id is the recipe's hash."""
    if "role" in structure.site_properties:
        structure = structure.copy()
        structure.remove_site_property("role")
    return Record(
        id=record_id(recipe),
        formula=structure.composition.reduced_formula,
        structure=structure_dict(structure),
        provenance={"recipe": recipe, **provenance},
    )


def ordered_records(
    structure: Structure, recipe: dict[str, Any], params: GenerateParams, **provenance: Any
) -> list[Record]:
    """One ok record per ordering of ``structure`` (itself when already ordered).

    A structure that cannot be ordered gives one failed record with the reason.
    """
    if structure.is_ordered:
        record = make_record(structure, recipe, **provenance)
        record.mark(STAGE, "ok")
        return [record]
    try:
        orderings = lowest_orderings(structure, params.max_orderings, params.max_supercell)
    except OrderingError as exc:
        record = make_record(structure, recipe, **provenance)
        if exc.reason == "charge-imbalance":
            record.mark(STAGE, "filtered", exc.reason, str(exc))
        else:
            record.mark(STAGE, "failed", exc.reason, str(exc))
        return [record]
    except ValueError as exc:  # pymatgen's ordering gave up
        record = make_record(structure, recipe, **provenance)
        record.mark(STAGE, "failed", "ordering-failed", str(exc))
        return [record]
    disordered = sorted(
        {el.symbol for site in structure if not site.is_ordered for el in site.species}
    )
    records = []
    for k, ordered in enumerate(orderings):
        record = make_record(
            ordered,
            {**recipe, "ordering": k},
            ordering_rank=k,
            disordered_species=disordered,
            **provenance,
        )
        record.mark(STAGE, "ok")
        records.append(record)
    return records
