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
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.deliverables.table import candidate_table, cif_name, ranked
from screen.records import Record
from screen.store.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from screen.store.permissions import share_dir

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
    return "".join(candidates_json_chunks(records, potential))


def candidates_json_chunks(records: list[Record], potential: str) -> Iterator[str]:
    """The text of :func:`candidates_json` in pieces, one candidate at a time.

    The same characters as ``json.dumps(payload, indent=1)`` of the whole, without the
    whole in memory (over a gigabyte for 50,000 ranked candidates): each candidate is
    dumped alone and indented to its depth in the list (a JSON string never holds a raw
    newline, so re-indenting every line is exact).
    """
    head = {"format": "batscreen-candidates", "version": 1, "potential": potential}
    text = json.dumps({**head, "candidates": []}, indent=1, default=str)
    assert text.endswith('"candidates": []\n}')
    candidates = ranked(records)
    if not candidates:
        yield text
        return
    yield text[: -len("[]\n}")] + "["
    for index, record in enumerate(candidates):
        item = json.dumps(record.model_dump(mode="json"), indent=1, default=str)
        yield ("," if index else "") + "\n  " + item.replace("\n", "\n  ")
    yield "\n ]\n}"


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
        share_dir(tmp)  # mkdtemp makes it 0700: readable by the group as the umask allows
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


#: records per block of results.parquet's rows built at a time (their JSON text as Python
#: strings takes several times the memory of the Arrow columns)
_TABLE_BLOCK = 2000


def _result_row(record: Record, names: list[str]) -> dict[str, Any]:
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
    return row


def _columns(records: list[Record]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """Property columns of results.parquet, and each one's unit and method (first seen)."""
    names = sorted({name for r in records for name in r.properties})
    units: dict[str, str] = {}
    methods: dict[str, str] = {}
    for record in records:
        for name, prop in record.properties.items():
            units.setdefault(name, prop.unit)
            methods.setdefault(name, prop.method)
    return names, units, methods


def _blocks(records: list[Record], names: list[str]) -> Iterator[Any]:
    """results.parquet's rows as pyarrow Tables of at most _TABLE_BLOCK rows each."""
    import pyarrow as pa

    for start in range(0, len(records), _TABLE_BLOCK):
        rows = [_result_row(r, names) for r in records[start : start + _TABLE_BLOCK]]
        table = pa.Table.from_pylist(rows)
        del rows  # not alive while the next block's rows are built
        yield table
        del table


def _unified(schemas: Iterator[Any]) -> Any:
    """One schema for blocks built apart, as if the table were built in one go.

    A column takes the type the whole column gives: a block where a property is absent,
    or holds whole numbers where others do not, takes the type of the others.
    """
    import pyarrow as pa

    return pa.unify_schemas(list(schemas), promote_options="permissive")


def _with_metadata(schema: Any, units: dict[str, str], methods: dict[str, str]) -> Any:
    """The schema with each property column's unit and method as field metadata."""
    import pyarrow as pa

    fields = []
    for f in schema:
        if f.name in units:
            meta = {"unit": units[f.name], "method": methods[f.name][:500]}
            f = f.with_metadata({k: v.encode() for k, v in meta.items()})
        fields.append(f)
    return pa.schema(fields)


def results_table(records: list[Record]) -> Any:
    """A pyarrow Table with one row per record (built in blocks, see :func:`_unified`)."""
    import pyarrow as pa

    names, units, methods = _columns(records)
    blocks = list(_blocks(records, names))
    if len(blocks) <= 1:
        table = blocks[0] if blocks else pa.Table.from_pylist([])
    else:
        schema = _unified(b.schema for b in blocks)
        table = pa.concat_tables([b.cast(schema) for b in blocks])
        del blocks
    return table.cast(_with_metadata(table.schema, units, methods))


def write_results_parquet(path: Path, records: list[Record]) -> None:
    """Write results.parquet atomically.

    Beyond one block of rows, the file is written a block (a row group) at a time: the
    rows are built twice, once for the column types and once to write them, so the whole
    table (1.6 GB for 100,000 records) is never in memory.
    """
    import pyarrow.parquet as pq

    if len(records) <= _TABLE_BLOCK:
        table = results_table(records)
        with atomic_open(Path(path), "wb") as fh:
            pq.write_table(table, fh)
        return
    names, units, methods = _columns(records)
    schema = _with_metadata(_unified(b.schema for b in _blocks(records, names)), units, methods)
    with atomic_open(Path(path), "wb") as fh, pq.ParquetWriter(fh, schema) as writer:
        for block in _blocks(records, names):
            writer.write_table(block.cast(schema))
            del block


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
    with atomic_open(out / "candidates.json", "w") as fh:
        fh.writelines(candidates_json_chunks(records, potential))
    write_results_parquet(out / "results.parquet", records)
