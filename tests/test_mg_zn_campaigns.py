"""The shipped Mg and Zn campaigns run with the bundled CHGNet and rank known hosts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from pymatgen.core import Composition

from tests.conftest import REPO, run_cli_campaign

pytestmark = pytest.mark.slow


def run_campaign(name: str, tmp_path: Path) -> tuple[Path, list[dict[str, str]]]:
    out = tmp_path / name
    run_cli_campaign(REPO / "workflows" / f"{name}.yaml", out)
    with (out / "candidates.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    return out, rows


def per_host(formula: str, ion: str, host: str) -> float:
    """Working ions per formula unit of the host element (Mg per Mo6: 6 Mg/Mo)."""
    composition = Composition(formula)
    return composition[ion] / composition[host]


def funnel_left(out: Path, stage: str) -> dict[str, dict]:
    rows = {r["stage"]: r for r in json.loads((out / "funnel.json").read_text())}
    return {item["reason"]: item for item in rows[stage]["left"]}


def test_mg_cathodes_rank_the_chevrel_hosts_with_one_and_two_mg(tmp_path):
    out, rows = run_campaign("mg-cathodes", tmp_path)
    assert len(rows) >= 8
    chevrel = [r for r in rows if {"Mo", "S"} <= set(Composition(r["formula"]).as_dict())]
    contents = sorted({round(6 * per_host(r["formula"], "Mg", "Mo")) for r in chevrel})
    assert 2 in contents, f"Mg2Mo6S8 not ranked: {[r['formula'] for r in rows]}"
    for row in rows:  # Mg is on the list: exempt and flagged, every other entry form-aware
        assert "Mg" in row["critical_elements"]
    critical = funnel_left(out, "prefilter")["critical-element"]["by_entry"]
    assert set(critical) <= {"manganese [any]", "vanadium [any]"}  # the hosts it excludes


def test_zn_cathodes_rank_spinel_and_layered_hosts(tmp_path):
    out, rows = run_campaign("zn-cathodes", tmp_path)
    assert len(rows) >= 8
    prototypes = {r["origin"] for r in rows}
    assert "spinel-AM2X4" in prototypes
    assert prototypes & {"layered-o3-AMX2", "layered-p2-AMX2"}
    assert all(r["critical_elements"] == "" for r in rows)  # Zn, Fe, Cr, Ti, Mo: unlisted
    critical = funnel_left(out, "prefilter")["critical-element"]["by_entry"]
    assert set(critical) == {"manganese [any]", "vanadium [any]"}


def test_mg_zn_electrolytes_rank_chalcogenide_spinels(tmp_path):
    _, rows = run_campaign("mg-zn-electrolytes", tmp_path)
    assert len(rows) >= 8
    ions = {ion for r in rows for ion in ("Mg", "Zn") if ion in Composition(r["formula"])}
    assert ions == {"Mg", "Zn"}
    assert all(r["bvse_barrier [eV]"] for r in rows)
