"""A campaign's results as plain data, for comparing two runs (golden files).

The digest holds what a user of the campaign directory gets: every record of
results.parquet (status per stage with reason and detail, every property with value,
unit, uncertainty, method and model, provenance), the funnel, the header and rows of
candidates.csv, the ranked ids of candidates.json and the CIF names. Wall-clock times
are left out (they differ between runs by nature), and the campaign's own path reads
``<campaign>``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

#: properties whose value is a measured time, not a result
VOLATILE_VALUES = frozenset({"relax_wall_time"})

GOLDEN = Path(__file__).resolve().parent / "golden" / "digests"

#: properties added since the golden runs, by design (name -> the change that added it)
ADDED_PROPERTIES: dict[str, str] = {
    "density": "the density estimator (docs/dev/estimator.md), enabled by default",
    "ionic_packing_fraction": "the density estimator, enabled by default",
}


def campaign_digest(root: Path) -> dict[str, Any]:
    """The comparable content of a finished campaign directory."""
    import pyarrow.parquet as pq

    root = Path(root)
    records = {}
    for row in pq.read_table(root / "results.parquet").to_pylist():
        properties = json.loads(row["properties_json"])
        provenance = json.loads(row["provenance_json"].replace(str(root), "<campaign>"))
        if isinstance(provenance.get("md"), dict):
            provenance["md"]["wall_time_s"] = None
        for pair in (provenance.get("carriers") or {}).get("frenkel_pairs", []):
            pair["wall_time_s"] = None  # the defect relaxations' measured time
        for hop in (provenance.get("neb") or {}).get("hops", []):
            hop["seconds"] = None
        for name in VOLATILE_VALUES & set(properties):
            properties[name]["value"] = None
        records[row["id"]] = {
            "formula": row["formula"],
            "status": json.loads(row["status_json"]),
            "properties": properties,
            "provenance": provenance,
            "structure": _compact(json.loads(row["structure_json"])),
            "relaxed_structure": _compact(json.loads(row["relaxed_structure_json"] or "null")),
        }
    with (root / "candidates.csv").open() as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [dict(zip(header, row, strict=True)) for row in reader]
    ranked = json.loads((root / "candidates.json").read_text())["candidates"]
    return {
        "records": records,
        "funnel": json.loads((root / "funnel.json").read_text()),
        "csv_header": header,
        "csv_rows": rows,
        "ranked_ids": [r["id"] for r in ranked],
        "cifs": sorted(p.name for p in (root / "cifs").glob("*.cif")),
    }


def _compact(structure: dict[str, Any] | None) -> dict[str, Any] | None:
    """Lattice, species and fractional coordinates of a Structure.as_dict()."""
    if structure is None:
        return None
    sites = [
        [[s["element"] for s in site["species"]], *site["abc"], site.get("properties") or {}]
        for site in structure["sites"]
    ]
    return {"lattice": structure["lattice"]["matrix"], "sites": sites}


def differences(
    old: Any, new: Any, where: str = "", rel: float = 0.0, out: list[str] | None = None
) -> list[str]:
    """Where two digests differ (paths into the data); floats within ``rel`` agree."""
    out = [] if out is None else out
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            if key not in old or key not in new:
                out.append(f"{where}.{key}: {'added' if key not in old else 'removed'}")
            else:
                differences(old[key], new[key], f"{where}.{key}", rel, out)
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            out.append(f"{where}: length {len(old)} -> {len(new)}")
        else:
            for k, (a, b) in enumerate(zip(old, new, strict=True)):
                differences(a, b, f"{where}[{k}]", rel, out)
    elif _numbers(old, new):
        if math.isnan(float(old)) and math.isnan(float(new)):
            return out
        if not math.isclose(float(old), float(new), rel_tol=rel, abs_tol=rel * 1e-3):
            out.append(f"{where}: {old!r} -> {new!r}")
    elif old != new:
        out.append(f"{where}: {old!r} -> {new!r}")
    return out


def _numbers(a: Any, b: Any) -> bool:
    def number(x: Any) -> bool:
        if isinstance(x, bool):
            return False
        if isinstance(x, int | float):
            return True
        try:
            float(x)
        except (TypeError, ValueError):
            return False
        return isinstance(x, str) and x.strip() != ""

    return number(a) and number(b)


def write_digest(root: Path, path: Path) -> None:
    """Store a campaign's digest as JSON (a golden file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(campaign_digest(root), indent=1, sort_keys=True) + "\n")


def compare_with_golden(root: Path, name: str, *, update: bool, rel: float) -> list[str]:
    """Differences of a campaign directory from its golden digest.

    Properties added by design (ADDED_PROPERTIES) are taken out of both digests first,
    with their CSV columns (a golden file recorded since holds them); anything else
    that differs is reported. ``update`` rewrites the golden file from this campaign
    first (pytest --update-golden).
    """
    path = GOLDEN / f"{name}.json"
    if update:
        write_digest(root, path)
    golden = without_additions(json.loads(path.read_text()))  # also once they are recorded
    digest = without_additions(campaign_digest(root))
    for data in (golden, digest):  # columns are compared by name; their order is layout
        data["csv_header"] = sorted(data["csv_header"])
    return differences(golden, digest, rel=rel)


def without_additions(digest: dict[str, Any]) -> dict[str, Any]:
    """The digest without the properties added by design (records and CSV columns)."""

    def added(column: str) -> bool:
        return column.split(" [", 1)[0].removesuffix(" uncertainty") in ADDED_PROPERTIES

    for record in digest["records"].values():
        for name in ADDED_PROPERTIES:
            record["properties"].pop(name, None)
    digest["csv_header"] = [c for c in digest["csv_header"] if not added(c)]
    digest["csv_rows"] = [
        {c: v for c, v in row.items() if not added(c)} for row in digest["csv_rows"]
    ]
    return digest
