"""Write the deliverables of a campaign.

candidates.csv  ranked candidates, one row each, units in the column names
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
from typing import Any

from pymatgen.core import Structure

from screen.properties import PROPERTIES
from screen.records import Record
from screen.store.atomic import atomic_write_bytes, atomic_write_text

#: (column, property name) of candidates.csv; the unit is appended to the column name
CSV_PROPERTIES = (
    "rank_score",
    "formation_energy_per_atom",
    "energy_above_hull_per_atom",
    "hull_distance_per_atom",
    "decomposition",
    "average_voltage",
    "capacity_gravimetric",
    "capacity_volumetric",
    "specific_energy",
    "volume_change_on_charge",
    "charged_formula",
    "energy_above_hull_charged",
    "theoretical_capacity_gravimetric",
    "reduction_limit",
    "oxidation_limit",
    "reduction_products",
    "oxidation_products",
    "bvse_barrier",
    "bvse_barrier_3d",
    "bvse_dimensionality",
    "conductivity_300K",
    "diffusivity_300K",
    "md_activation_energy",
    "md_diffusivity",
    "md_diffusivity_std",
    "md_flags",
    "estimate_flags",
    "energy_per_atom",
    "relax_converged",
    "relax_steps",
    "relax_max_force",
    "relax_max_stress",
    "volume_change_relax",
    "spacegroup_initial",
    "spacegroup_relaxed",
    "critical_elements",
    "critical_mass_fraction",
    "hhi_production",
    "element_cost",
)


#: properties whose standard uncertainty gets its own column ("<name> uncertainty [unit]")
CSV_UNCERTAINTIES = ("md_activation_energy", "diffusivity_300K", "conductivity_300K")


def _uncertainty(record: Record, name: str) -> Any:
    prop = record.properties.get(name)
    return "" if prop is None or prop.uncertainty is None else prop.uncertainty


def _column(name: str) -> str:
    unit = PROPERTIES[name].unit if name in PROPERTIES else ""
    return f"{name} [{unit}]" if unit else name


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return value


def recipe_label(recipe: dict[str, Any]) -> str:
    """Where a candidate came from, in a few words (prototype, exchanged source, file)."""
    for key in ("prototype", "source", "file", "material_id"):
        if recipe.get(key):
            return str(recipe[key])
    return str(recipe.get("generator", ""))


def ranked(records: list[Record]) -> list[Record]:
    """Records that passed ranking, best first."""
    out = [r for r in records if r.active and "rank" in r.properties]
    return sorted(out, key=lambda r: r.number("rank"))


def cif_name(record: Record) -> str:
    """File name of a ranked record's CIF."""
    return f"{int(record.number('rank')):03d}_{record.formula}_{record.id}.cif"


def candidates_csv(records: list[Record], potential: str) -> str:
    """CSV text of the ranked candidates."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["rank", "id", "formula", "origin", "generator", "substitution", "working_ion"]
    header += [_column(name) for name in CSV_PROPERTIES]
    header += [_column(name).replace(" [", " uncertainty [", 1) for name in CSV_UNCERTAINTIES]
    header += ["potential", "cif"]
    writer.writerow(header)
    for record in ranked(records):
        recipe = record.provenance.get("recipe", {})
        substitution = recipe.get("substitution") or {}
        change = " ".join(f"{k}={v}" for k, v in sorted(substitution.items()))
        change += " ".join(f"{k}->{v}" for k, v in sorted(recipe.get("exchange", {}).items()))
        row = [
            int(record.number("rank")),
            record.id,
            record.formula,
            recipe_label(recipe),
            recipe.get("generator", ""),
            change,
            record.provenance.get("working_ion") or "",
        ]
        row += [_cell(record.value(name, "")) for name in CSV_PROPERTIES]
        row += [_uncertainty(record, name) for name in CSV_UNCERTAINTIES]
        row += [potential, f"cifs/{cif_name(record)}"]
        writer.writerow(row)
    return buffer.getvalue()


def cif_text(structure: Structure, symprec: float) -> str:
    """A symmetrized CIF that reads back to the same structure, else a P1 CIF.

    Symmetrizing a slightly distorted relaxed cell with a loose tolerance can generate
    overlapping sites; the CIF is re-read and checked before it is delivered.
    """
    from pymatgen.io.cif import CifWriter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            text = str(CifWriter(structure, symprec=symprec))
            back = Structure.from_str(text, fmt="cif")
            if len(back) == len(structure) and back.composition == structure.composition:
                return text
        except Exception:  # spglib or the CIF parser gave up: fall back to P1
            pass
        return str(CifWriter(structure))


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
            "working_ion": record.provenance.get("working_ion"),
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
    """candidates.csv, cifs/ and results.parquet in ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if cif:
        write_cifs(out / "cifs", records, symprec)
    atomic_write_text(out / "candidates.csv", candidates_csv(records, potential))
    write_results_parquet(out / "results.parquet", records)
