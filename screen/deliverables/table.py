"""The candidate table: the ranked records as rows, shared by candidates.csv and .xlsx.

Columns: rank, id, formula, where the candidate came from, its working ion, every
reported property (unit in the column name), standard uncertainties in their own
columns, each objective's share of the score, the full recipe, the potential and the CIF.
"""

from __future__ import annotations

import json
from typing import Any

from screen.properties import csv_columns, definitions, uncertainty_columns
from screen.records import Record


def _uncertainty(record: Record, name: str) -> Any:
    prop = record.properties.get(name)
    return "" if prop is None or prop.uncertainty is None else prop.uncertainty


def _column(name: str) -> str:
    known = definitions()
    unit = known[name].unit if name in known else ""
    return f"{name} [{unit}]" if unit else name


def _uncertainty_column(name: str) -> str:
    known = definitions()
    unit = known[name].unit if name in known else ""
    return f"{name} uncertainty [{unit}]" if unit else f"{name} uncertainty"


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


def _breakdown(record: Record) -> dict[str, float]:
    value = record.value("score_breakdown")
    return value if isinstance(value, dict) else {}


def score_objectives(records: list[Record]) -> list[str]:
    """The ranking objectives, in the order of the score breakdown."""
    names: list[str] = []
    for record in ranked(records):
        for name in _breakdown(record):
            if name not in names:
                names.append(name)
    return names


def change_label(recipe: dict[str, Any]) -> str:
    """The substitution or ion exchange of a recipe, e.g. 'M=Fe X=O' or 'Li->Na'."""
    substitution = recipe.get("substitution") or {}
    change = " ".join(f"{k}={v}" for k, v in sorted(substitution.items()))
    change += " ".join(f"{k}->{v}" for k, v in sorted(recipe.get("exchange", {}).items()))
    return change


def candidate_table(records: list[Record], potential: str) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of the candidate table (CSV and spreadsheet), best first."""
    objectives = score_objectives(records)
    header = ["rank", "id", "formula", "origin", "generator", "substitution", "working_ion"]
    columns, uncertainties = csv_columns(), uncertainty_columns()
    header += [_column(name) for name in columns]
    header += [_uncertainty_column(name) for name in uncertainties]
    header += [f"score: {name}" for name in objectives]
    header += ["recipe", "potential", "cif"]
    rows = []
    for record in ranked(records):
        recipe = record.provenance.get("recipe", {})
        breakdown = _breakdown(record)
        row = [
            int(record.number("rank")),
            record.id,
            record.formula,
            recipe_label(recipe),
            recipe.get("generator", ""),
            change_label(recipe),
            record.working_ion or "",
        ]
        row += [_cell(record.value(name, "")) for name in columns]
        row += [_uncertainty(record, name) for name in uncertainties]
        row += [breakdown.get(name, "") for name in objectives]
        row += [json.dumps(recipe, sort_keys=True, default=str), potential]
        row += [f"cifs/{cif_name(record)}"]
        rows.append(row)
    return header, rows
