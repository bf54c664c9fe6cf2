"""Checks of a campaign's deliverables against each other (shared by several test files)."""

from __future__ import annotations

import csv
import json
import math
import re

import pyarrow.parquet as pq


def csv_rows(root):
    with (root / "candidates.csv").open() as fh:
        return list(csv.DictReader(fh))


def _column_property(column: str) -> str:
    return column.split(" [", 1)[0]


def assert_csv_matches_parquet(root) -> int:
    """Every number of candidates.csv equals results.parquet; returns how many compared."""
    rows = csv_rows(root)
    table = pq.read_table(root / "results.parquet").to_pylist()
    by_id = {row["id"]: row for row in table}
    compared = 0
    for row in rows:
        stored = by_id[row["id"]]
        assert row["formula"] == stored["formula"]
        props = json.loads(stored["properties_json"])
        for column, text in row.items():
            if " uncertainty" in column:  # the properties' standard uncertainties
                expected = props.get(column.split(" uncertainty", 1)[0], {}).get("uncertainty")
                assert (text == "") == (expected is None), column
                if expected is not None:
                    assert float(text) == expected, column
                continue
            name = _column_property(column)
            if name not in stored or text == "":
                continue
            value = stored[name]
            if isinstance(value, bool):
                assert text == str(value), column
            elif isinstance(value, float):
                assert float(text) == value or (math.isnan(value) and text == "nan"), column
                compared += 1
            elif isinstance(value, int):
                assert int(text) == value, column
    return compared


def assert_report_lists_ranked_in_order(root) -> list[tuple[str, str]]:
    """report.html's top-candidates table: (rank, formula) in candidates.csv order."""
    html = (root / "report.html").read_text()
    table = html[html.index('id="top-candidates"') :]
    table = table[: table.index("</table>")]
    found = []
    for tag in re.findall(r"<tr[^>]*data-rank[^>]*>", table):
        rank = re.search(r'data-rank="(\d+)"', tag).group(1)
        formula = re.search(r'data-formula="([^"]+)"', tag).group(1)
        found.append((rank, formula))
    expected = [(row["rank"], row["formula"]) for row in csv_rows(root)]
    assert found == expected
    return found
