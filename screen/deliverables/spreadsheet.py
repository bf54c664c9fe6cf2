"""candidates.xlsx: the candidate table as a spreadsheet (openpyxl).

Sheet ``candidates`` holds the rows of candidates.csv with numbers stored as numbers
(the header row frozen, columns filterable); sheet ``columns`` gives every column's unit,
meaning and how the values were obtained (the method of the best candidate's property).
"""

from __future__ import annotations

import io
from typing import Any

from screen.deliverables.table import candidate_table, ranked
from screen.properties import csv_columns, definitions, uncertainty_columns
from screen.records import Record

_FIXED_COLUMNS = {
    "rank": "1 = best (see rank_score and pareto_front)",
    "id": "record id (hash of the recipe)",
    "formula": "reduced formula",
    "origin": "prototype, exchanged source or file the candidate came from",
    "generator": "candidate generator",
    "substitution": "species put on the prototype's sites, or the ion exchange",
    "working_ion": "mobile ion",
    "recipe": "the full generation recipe (JSON)",
    "potential": "machine-learned interatomic potential of every energy",
    "cif": "relaxed structure, symmetrized CIF",
}


def _column_notes(records: list[Record]) -> list[tuple[str, str, str, str]]:
    best = ranked(records)[0] if ranked(records) else None

    def method(name: str) -> str:
        prop = best.properties.get(name) if best else None
        return prop.method if prop else ""

    rows = [(name, "", text, "") for name, text in _FIXED_COLUMNS.items()]
    known = definitions()
    for name in csv_columns():
        definition = known.get(name)
        unit = definition.unit if definition else ""
        rows.append((name, unit, definition.description if definition else "", method(name)))
    for name in uncertainty_columns():
        unit = known[name].unit if name in known else ""
        rows.append((f"{name} uncertainty", unit, f"one standard uncertainty of {name}", ""))
    rows.append(
        (
            "score: <objective>",
            "",
            "the objective's contribution to rank_score",
            method("rank_score"),
        )
    )
    return rows


def candidates_xlsx(records: list[Record], potential: str) -> bytes:
    """The bytes of candidates.xlsx."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    header, rows = candidate_table(records, potential)
    book = Workbook()
    sheet = book.active
    sheet.title = "candidates"
    sheet.append(header)
    for row in rows:
        sheet.append([_excel(value) for value in row])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "D2"
    if rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(header))}{len(rows) + 1}"
    for index, name in enumerate(header, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = min(max(10, len(name) + 2), 40)

    notes = book.create_sheet("columns")
    notes.append(["column", "unit", "meaning", "how it was obtained"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    for line in _column_notes(records):
        notes.append(list(line))
    notes.append([])
    notes.append(["precursor_suggestions are suggestions balanced by pymatgen, not validated"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _excel(value: Any) -> Any:
    """Cells Excel can hold: numbers stay numbers, '' stays empty, the rest text."""
    if value == "" or value is None:
        return None
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)
