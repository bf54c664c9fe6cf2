"""Write the deliverables of a campaign.

candidates.csv  ranked candidates, one row each, units in the column names, standard
                uncertainties in their own columns, the score's per-objective breakdown,
                confidence flags and precursor suggestions
candidates.xlsx the same table (numbers as numbers) plus a sheet of units and methods
candidates.json the ranked records for the Python API (every property with its unit,
                uncertainty and method; recipe, structures, provenance)
cifs/           one symmetrized CIF per ranked candidate (relaxed structure)
results.parquet every record (also those that left the funnel), with exact structures as
                JSON, every property's value as a column (unit and method in the field
                metadata) and the stage and reason where each record left
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.deliverables.table import candidate_table, cif_name, ranked
from screen.records import Record
from screen.store.atomic import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure


def candidates_csv(records: list[Record], potential: str) -> str:
    """CSV text of the ranked candidates."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header, rows = candidate_table(records, potential)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def candidates_json(records: list[Record], potential: str) -> str:
    """JSON of the ranked candidates, best first, for the Python API.

    ``{"potential": ..., "candidates": [record, ...]}``, each record as
    :meth:`screen.records.Record.model_dump` (properties with value, unit, uncertainty,
    method, model; initial and relaxed structures as pymatgen dicts; provenance; status).
    ``screen.load_candidates(path)`` reads it back into records.
    """
    payload = {
        "format": "batscreen-candidates",
        "version": 1,
        "potential": potential,
        "candidates": [r.model_dump(mode="json") for r in ranked(records)],
    }
    return json.dumps(payload, indent=1, default=str)


def load_candidates(path: str | Path) -> list[Record]:
    """Ranked records from a campaign's candidates.json (or the campaign directory)."""
    path = Path(path)
    if path.is_dir():
        path = path / "candidates.json"
    data = json.loads(path.read_text())
    if not isinstance(data, dict) or data.get("format") != "batscreen-candidates":
        raise ValueError(f"{path}: not a batscreen candidates.json (no 'format' field)")
    return [Record.model_validate(item) for item in data["candidates"]]


def cif_text(structure: Structure, symprec: float) -> str:
    """A symmetrized CIF that reads back to the same crystal, else a P1 CIF.

    Symmetrizing a slightly distorted relaxed cell with a loose tolerance can generate
    overlapping sites; the CIF is re-read and checked before it is delivered (the same
    crystal, possibly in its conventional cell).
    """
    from pymatgen.core import Structure
    from pymatgen.io.cif import CifWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            text = str(CifWriter(structure, symprec=symprec))
            back = Structure.from_str(text, fmt="cif")
            if _same_crystal(back, structure):
                return text
        except Exception:  # spglib or the CIF parser gave up: fall back to P1
            pass
        return str(CifWriter(structure))


def _same_crystal(a: Structure, b: Structure) -> bool:
    """Same crystal in any cell.

    A symmetrized CIF may use the conventional cell (e.g. the hexagonal setting of a
    rhombohedral primitive cell, three times the atoms).
    """
    from pymatgen.analysis.structure_matcher import StructureMatcher

    if a.composition.reduced_composition != b.composition.reduced_composition:
        return False
    if len(a) == len(b) and a.composition == b.composition:
        return True
    return bool(StructureMatcher(primitive_cell=True, scale=False).fit(a, b))


def write_cifs(directory: Path, records: list[Record], symprec: float) -> list[Path]:
    """Replace ``directory`` with one symmetrized CIF per ranked record."""
    directory = Path(directory)
    tmp = Path(tempfile.mkdtemp(prefix=".cifs.", dir=directory.parent))
    written = []
    try:
        for record in ranked(records):
            (tmp / cif_name(record)).write_text(cif_text(record.current_structure(), symprec))
            written.append(directory / cif_name(record))
        old = directory.with_name(f".{directory.name}.old")
        if directory.exists():
            os.replace(directory, old)
        os.replace(tmp, directory)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return written


def results_table(records: list[Record]) -> Any:
    """A pyarrow Table with one row per record."""
    import pyarrow as pa

    names = sorted({name for r in records for name in r.properties})
    units: dict[str, str] = {}
    methods: dict[str, str] = {}
    for record in records:
        for name, prop in record.properties.items():
            units.setdefault(name, prop.unit)
            methods.setdefault(name, prop.method)
    rows = []
    for record in records:
        exit_info = record.exit_stage()
        recipe = record.provenance.get("recipe", {})
        row: dict[str, Any] = {
            "id": record.id,
            "formula": record.formula,
            "generator": recipe.get("generator"),
            "prototype": recipe.get("prototype"),
            "working_ion": record.working_ion,
            "active": record.active,
            "exit_stage": exit_info[0] if exit_info else None,
            "exit_state": exit_info[1].state if exit_info else None,
            "exit_reason": exit_info[1].reason if exit_info else None,
            "exit_detail": exit_info[1].detail if exit_info else None,
        }
        for name in names:
            value = record.value(name)
            row[name] = json.dumps(value) if isinstance(value, list | dict) else value
        row["structure_json"] = json.dumps(record.structure)
        row["relaxed_structure_json"] = (
            json.dumps(record.relaxed_structure) if record.relaxed_structure else None
        )
        row["properties_json"] = json.dumps(
            {k: v.model_dump(mode="json") for k, v in record.properties.items()}
        )
        row["status_json"] = json.dumps({k: v.model_dump() for k, v in record.status.items()})
        row["provenance_json"] = json.dumps(record.provenance, default=str)
        rows.append(row)
    table = pa.Table.from_pylist(rows)
    fields = []
    for f in table.schema:
        if f.name in units:
            meta = {"unit": units[f.name], "method": methods[f.name][:500]}
            f = f.with_metadata({k: v.encode() for k, v in meta.items()})
        fields.append(f)
    return table.cast(pa.schema(fields))


def write_results_parquet(path: Path, records: list[Record]) -> None:
    """Write results.parquet atomically."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(results_table(records), sink)
    atomic_write_bytes(Path(path), sink.getvalue())


def write_deliverables(
    out: Path, records: list[Record], *, potential: str, cif: bool, symprec: float
) -> None:
    """candidates.csv/.xlsx/.json, cifs/ and results.parquet in ``out``."""
    from screen.deliverables.spreadsheet import candidates_xlsx

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cif:
        write_cifs(out / "cifs", records, symprec)
    atomic_write_text(out / "candidates.csv", candidates_csv(records, potential))
    atomic_write_bytes(out / "candidates.xlsx", candidates_xlsx(records, potential))
    atomic_write_text(out / "candidates.json", candidates_json(records, potential))
    write_results_parquet(out / "results.parquet", records)
