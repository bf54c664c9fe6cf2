"""Known compounds from the Materials Project, through mp-api, cached for offline nodes.

The cache (a JSON list of {material_id, formula, structure}) is written on the first run
on a machine with network and an API key, and read from then on; compute nodes never
need the network. Without a cache and without a key the generator says how to get one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.candidates.generators.common import STAGE, make_record
from screen.candidates.generators.user import working_ion_of
from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.records import Record
    from screen.workflow.params import GenerateParams, MaterialsProjectParams
    from screen.workflow.space import ChemicalSpace


class MaterialsProjectUnavailable(RuntimeError):
    """No cache and no way to query (no key, no mp-api)."""


def query(settings: MaterialsProjectParams) -> list[dict[str, Any]]:
    """Entries of the chemical systems from the Materials Project API."""
    key = os.environ.get(settings.api_key_env)
    if not key:
        raise MaterialsProjectUnavailable(
            f"no Materials Project cache at {settings.cache} and {settings.api_key_env} is not "
            "set: set it (https://next-gen.materialsproject.org/api) on a machine with "
            "network and run again, or copy a cache file there"
        )
    try:
        from mp_api.client import MPRester
    except ImportError:
        raise MaterialsProjectUnavailable(
            "the Materials Project generator needs mp-api: pip install mp-api"
        ) from None
    entries = []
    with MPRester(key) as mpr:
        for system in settings.chemsys:
            docs = mpr.materials.summary.search(
                chemsys=system, fields=["material_id", "formula_pretty", "structure"]
            )
            for doc in docs:
                entries.append(
                    {
                        "material_id": str(doc.material_id),
                        "formula": doc.formula_pretty,
                        "structure": doc.structure.as_dict(),
                    }
                )
    return sorted(entries, key=lambda e: e["material_id"])


def cached_entries(settings: MaterialsProjectParams) -> list[dict[str, Any]]:
    """Entries from the cache, querying (and writing the cache) only when it is absent."""
    cache = Path(settings.cache)
    if cache.is_file():
        data: list[dict[str, Any]] = json.loads(cache.read_text())
        return data
    entries = query(settings)
    atomic_write_text(cache, json.dumps(entries))
    return entries


def mp_structures(settings: MaterialsProjectParams) -> list[tuple[str, Structure]]:
    """(material_id, structure) of every cached entry."""
    from pymatgen.core import Structure

    return [
        (e["material_id"], Structure.from_dict(e["structure"])) for e in cached_entries(settings)
    ]


class MaterialsProject:
    """Materials Project entries of the given chemical systems, as candidates."""

    name = "materials-project"

    def generate(self, space: ChemicalSpace, params: GenerateParams) -> list[Record]:
        """One record per cached entry."""
        assert params.materials_project is not None  # checked by GenerateParams
        records = []
        for material_id, structure in mp_structures(params.materials_project):
            record = make_record(
                structure,
                {"generator": self.name, "material_id": material_id},
                working_ion=working_ion_of(structure, space),
                source=f"Materials Project {material_id}",
            )
            record.mark(STAGE, "ok")
            records.append(record)
        return records
