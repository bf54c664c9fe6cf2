"""The deliverables of a campaign agree with each other and with the results.

One toy (Lennard-Jones) campaign for the module: candidates.csv against results.parquet,
candidates.xlsx against the CSV, candidates.json read back through the Python API, CIFs
with their space group, confidence flags and precursor suggestions, report.html.
"""

from __future__ import annotations

import json
import re

import pytest

import screen
from screen.workflow.load import load_workflow
from tests.conftest import small_workflow, write_workflow
from tests.deliverable_checks import (
    assert_csv_matches_parquet,
    assert_report_lists_ranked_in_order,
    csv_rows,
)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    from screen.potentials.registry import load_potential

    tmp = tmp_path_factory.mktemp("deliver")
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["stages"]["rank"] = {  # objectives every toy candidate has (no voltage needed)
        "objectives": {
            "energy_above_hull_per_atom": {"direction": "minimize"},
            "element_cost": {"direction": "minimize", "weight": 0.5},
            "bvse_barrier": {"direction": "minimize", "weight": 0.5},
        }
    }
    wf = load_workflow(write_workflow(tmp / "wf.yaml", data))
    result = screen.run(wf, tmp / "camp", potential=load_potential("lennard-jones-toy"))
    assert len(result.ranked()) >= 3
    return result


def test_csv_numbers_equal_results_parquet(campaign):
    compared = assert_csv_matches_parquet(campaign.root)
    assert compared >= 5 * len(csv_rows(campaign.root))


def test_csv_is_in_rank_order_with_score_breakdown(campaign):
    rows = csv_rows(campaign.root)
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    scores = [float(r["rank_score"]) for r in rows]
    assert scores == sorted(scores, reverse=True)
    parts = [c for c in rows[0] if c.startswith("score: ")]
    assert parts, "score breakdown columns"
    for row in rows:
        assert sum(float(row[c]) for c in parts) == pytest.approx(float(row["rank_score"]))
        assert row["pareto_front"] and 0 <= float(row["pareto_probability"]) <= 1
        assert json.loads(row["recipe"])["generator"] == row["generator"]


def test_xlsx_holds_the_csv_table_with_numbers_as_numbers(campaign):
    from openpyxl import load_workbook

    book = load_workbook(campaign.root / "candidates.xlsx", read_only=True)
    assert book.sheetnames == ["candidates", "columns"]
    sheet = list(book["candidates"].iter_rows(values_only=True))
    rows = csv_rows(campaign.root)
    header = list(sheet[0])
    assert header == list(rows[0])
    for values, row in zip(sheet[1:], rows, strict=True):
        for column, value in zip(header, values, strict=True):
            text = row[column]
            if value is None:
                assert text == "", column
            elif isinstance(value, bool):
                assert text == str(value)
            elif isinstance(value, int | float):
                assert float(text) == pytest.approx(value, rel=1e-15), column
            else:
                assert str(value) == text, column
    notes = {r[0]: r for r in book["columns"].iter_rows(values_only=True) if r and r[0]}
    assert notes["energy_above_hull_per_atom"][1] == "eV/atom"


def test_json_export_reads_back_through_the_api(campaign):
    records = screen.load_candidates(campaign.root)
    rows = csv_rows(campaign.root)
    assert [r.id for r in records] == [row["id"] for row in rows]
    best = records[0]
    assert best.number("rank") == 1
    assert best.properties["rank_score"].value == float(rows[0]["rank_score"])
    assert best.relaxed_structure is not None and best.current_structure().num_sites > 0
    with pytest.raises(ValueError, match=r"not a batscreen candidates\.json"):
        bad = campaign.root / "bad.json"
        bad.write_text("[]")
        screen.load_candidates(bad)


def test_cifs_are_symmetrized_with_their_space_group(campaign):
    from pymatgen.core import Structure
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    records = {r.id: r for r in screen.load_candidates(campaign.root)}
    for row in csv_rows(campaign.root):
        text = (campaign.root / row["cif"]).read_text()
        match = re.search(r"_symmetry_space_group_name_H-M\s+'?([^'\n]+)'?", text)
        assert match, row["cif"]
        structure = records[row["id"]].current_structure()
        expected = SpacegroupAnalyzer(structure, symprec=0.1).get_space_group_symbol()
        assert match.group(1).strip() == expected
        back = Structure.from_str(text, fmt="cif")
        assert back.composition.reduced_formula == row["formula"]


def test_ranked_records_carry_flags_and_precursor_suggestions(campaign):
    records = screen.load_candidates(campaign.root)
    for record in records:
        assert isinstance(record.value("confidence_flags"), list)
        suggestions = record.value("precursor_suggestions")
        assert isinstance(suggestions, list)
        assert all(s.startswith("suggestion:") for s in suggestions)
    formulas = {r.formula: r for r in records}
    if "NaFeO2" in formulas:
        assert any("Na2CO3" in s for s in formulas["NaFeO2"].value("precursor_suggestions"))
    assert any(r.value("precursor_suggestions") for r in records)


def test_report_names_the_top_candidates_in_rank_order(campaign):
    assert len(assert_report_lists_ranked_in_order(campaign.root)) >= 3


def test_a_campaign_from_an_older_version_reopens(tmp_path, campaign):
    """Fields added later take their defaults: the stored campaign is the same campaign."""
    import shutil

    import yaml

    from screen.records import canonical_json
    from screen.store.campaign import Campaign

    root = tmp_path / "old"
    shutil.copytree(campaign.root, root)
    wf_data = yaml.safe_load((root / "workflow.yaml").read_text())
    meta = json.loads((root / "campaign.json").read_text())
    for doc in (wf_data["stages"], meta["identity"]["stages"]):
        del doc["rank"]["uncertainty_samples"], doc["deliver"]["report_cards"]
    import hashlib

    meta["fingerprint"] = hashlib.sha256(canonical_json(meta["identity"]).encode()).hexdigest()
    (root / "workflow.yaml").write_text(yaml.safe_dump(wf_data))
    (root / "campaign.json").write_text(json.dumps(meta))
    wf = load_workflow(campaign.root.parent / "wf.yaml")
    opened = Campaign.open(root, wf)
    assert opened.meta["identity"]["stages"]["rank"]["uncertainty_samples"] == 512
    # a real difference is still refused
    changed = wf.model_copy(update={"name": "other"})
    with pytest.raises(Exception, match="different workflow"):
        Campaign.open(root, changed)
