"""The README's main job: the quickstart campaign with the bundled CHGNet, checked for content."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest
from pymatgen.core import Composition, Structure

from screen.potentials.cards import get_card
from screen.stage_table import STAGE_NAMES
from tests.campaign_digest import compare_with_golden
from tests.conftest import QUICKSTART, run_cli_campaign


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart") / "camp"
    return out, run_cli_campaign(QUICKSTART, out).stdout


pytestmark = pytest.mark.slow


def test_funnel_adds_up_and_is_printed(campaign):
    out, stdout = campaign
    assert "funnel" in stdout and "critical-element" in stdout
    rows = {r["stage"]: r for r in json.loads((out / "funnel.json").read_text())}
    assert list(rows) == list(STAGE_NAMES)
    for stage, row in rows.items():
        left = sum(item["count"] for item in row["left"])
        assert row["entered"] == row["passed"] + left, stage
    for before, after in itertools.pairwise(STAGE_NAMES):
        assert rows[after]["entered"] == rows[before]["passed"]
    assert 30 <= rows["generate"]["entered"] <= 100  # "a few dozen candidates"
    reasons = {item["reason"] for item in rows["prefilter"]["left"]}
    assert {"critical-element", "charge-imbalance"} <= reasons
    assert rows["deliver"]["passed"] >= 3
    rank_reasons = {item["reason"] for item in rows["rank"]["left"]}
    assert "missing-property" in rank_reasons  # hosts without redox have no voltage


def test_quickstart_matches_its_golden_digest(campaign, request):
    """Same records, properties and deliverables as the golden run (tests/golden/digests).

    CHGNet runs in float32; the golden run reproduced itself to 1e-12 relative.
    """
    out, _ = campaign
    update = request.config.getoption("--update-golden")
    assert compare_with_golden(out, "quickstart-chgnet", update=update, rel=1e-6) == []


def test_every_ranked_candidate_is_physical(campaign):
    out, _ = campaign
    with (out / "candidates.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows, "no ranked candidates"
    assert [int(r["rank"]) for r in rows] == list(range(1, len(rows) + 1))
    table = pq.read_table(out / "results.parquet").to_pylist()
    by_id = {r["id"]: r for r in table}
    critical = {"Co", "Ni", "Mn", "V", "Ti", "Al", "Cu", "Mg"}
    for row in rows:
        record = by_id[row["id"]]
        relaxed = Structure.from_dict(json.loads(record["relaxed_structure_json"]))
        assert relaxed.composition.reduced_formula == Composition(row["formula"]).reduced_formula
        assert row["relax_converged"] == "True"
        assert float(row["relax_max_force [eV/Å]"]) <= 0.05
        assert float(row["relax_max_stress [GPa]"]) <= 0.2
        ef = float(row["formation_energy_per_atom [eV/atom]"])
        assert -5.0 <= ef < 0.0
        e_hull = float(row["energy_above_hull_per_atom [eV/atom]"])
        assert 0.0 <= e_hull <= 0.1  # the workflow's constraint
        assert 0.0 < float(row["average_voltage [V vs metal]"]) < 6.0
        assert "hull-from-incomplete-references" in row["estimate_flags"]
        # charged as far as the accessible couples go: fewer Na per host, the profile's steps
        # inside the range of the average
        charged, discharged = Composition(row["charged_formula"]), Composition(row["formula"])
        host = next(el for el in discharged if el.symbol != "Na")
        assert charged["Na"] / charged[host] < discharged["Na"] / discharged[host]
        assert row["redox_couples"]
        steps = [float(v) for v in row["voltage_steps [V vs metal]"].split(";")]
        assert min(steps) <= float(row["average_voltage [V vs metal]"]) <= max(steps)
        assert not critical & {str(el) for el in relaxed.composition.elements}
        cif = Structure.from_file(out / row["cif"])
        assert cif.composition.reduced_formula == relaxed.composition.reduced_formula
        capacity = float(row["theoretical_capacity_gravimetric [mAh/g]"])
        assert 50 < capacity < 500
    assert len(list((out / "cifs").glob("*.cif"))) == len(rows)


def test_results_keep_every_record_with_exit_reasons(campaign):
    out, _ = campaign
    table = pq.read_table(out / "results.parquet")
    rows = table.to_pylist()
    generated = json.loads((out / "funnel.json").read_text())[0]["entered"]
    assert len(rows) == generated
    for row in rows:
        assert row["active"] == (row["exit_stage"] is None)
        if not row["active"]:
            assert row["exit_reason"]
    meta = table.schema.field("formation_energy_per_atom").metadata
    assert meta[b"unit"] == b"eV/atom" and b"chgnet-0.3.0" in meta[b"method"]


def test_provenance_record(campaign):
    out, _ = campaign
    prov = json.loads((out / "provenance.json").read_text())
    assert prov["potential"]["name"] == "chgnet-0.3.0"
    assert prov["potential"]["sha256"] == get_card("chgnet-0.3.0").source.sha256
    assert prov["workflow"]["stages"]["relax"]["fmax"] == 0.05
    run = prov["runs"][-1]
    assert run["status"] == "completed"
    assert run["started_utc"] <= run["ended_utc"]
    refs = run["stage_info"]["estimate"]["hull_references"]
    assert refs["provider"] == "self-consistent" and refs["complete"] is False
    assert refs["entries"] > 0 and "Cr-Na-O" in refs["chemical_systems"]
    # single points, reference and charged relaxations ran on the journaled executor
    for sub in ("points", "relax"):
        assert any((out / "references" / sub).iterdir()), sub
    assert run["host"] and run["device"] == "cpu"
    assert run["packages"]["pymatgen"] and run["packages"]["torch"]


def test_status_command_summarizes(campaign):
    out, _ = campaign
    result = subprocess.run(
        [sys.executable, "-m", "screen.cli", "status", str(out)], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "quickstart" in result.stdout and "done" in result.stdout
    assert "candidates.csv" in result.stdout


def test_readme_python_example(campaign, tmp_path, monkeypatch):
    """The README's Python block runs as written (resuming the finished quickstart)."""
    import re
    import shutil

    from tests.conftest import REPO

    out, _ = campaign
    block = re.search(r"```python\n(.*?)```", (REPO / "README.md").read_text(), re.S).group(1)
    shutil.copytree(out, tmp_path / "campaigns" / "quickstart")
    shutil.copytree(REPO / "workflows", tmp_path / "workflows")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["best"].number("rank") == 1
    assert namespace["relaxed"].value("relax_converged") is True
    assert namespace["est"].working_ion == "Na"
    assert namespace["est"].number("bvse_barrier") > 0.5
    assert 2.0 < namespace["est"].number("density") < 2.2  # NaCl: 2.165 g/cm3 measured
    assert namespace["est"].value("carrier_kind") == "Frenkel pair"
    assert namespace["est"].number("effective_activation_energy") > namespace["est"].number(
        "bvse_barrier"
    )
    assert namespace["md"].value("md_diffusivity")["1000"] > 0
    assert namespace["md"].provenance["md"]["carrier_defect"]["kind"] == "vacancy"
    assert (tmp_path / "md-runs").is_dir()


def test_quickstart_delivers_everything_consistently(campaign, chromium, tmp_path):
    """Every deliverable exists, agrees with results.parquet, and the report opens in a
    real browser showing the top candidate."""
    from openpyxl import load_workbook

    import screen
    from screen.deliverables.report import fmt_pm
    from tests.browser import dump_dom, js_errors, script_finished
    from tests.deliverable_checks import (
        assert_csv_matches_parquet,
        assert_report_lists_ranked_in_order,
    )

    out, _ = campaign
    with (out / "candidates.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert assert_csv_matches_parquet(out) >= 10 * len(rows)
    assert assert_report_lists_ranked_in_order(out)
    assert len(list((out / "cifs").glob("*.cif"))) == len(rows)
    sheet = load_workbook(out / "candidates.xlsx", read_only=True)["candidates"]
    assert sum(1 for _ in sheet.iter_rows()) == len(rows) + 1
    shortlist = screen.load_candidates(out)
    assert [r.id for r in shortlist] == [row["id"] for row in rows]

    best = shortlist[0]
    # the stationary profile, and the hull error of CHGNet's benchmark carried through
    assert "profile stationary" in best.properties["rank_score"].method
    assert best.properties["energy_above_hull_per_atom"].uncertainty == pytest.approx(
        0.079, abs=1e-3
    )
    assert best.properties["rank_score"].uncertainty > 0
    assert any(r.value("precursor_suggestions") for r in shortlist)

    result = dump_dom(chromium, out / "report.html", tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert script_finished(result.stdout) and not js_errors(result.stderr)
    score = best.properties["rank_score"]
    assert best.formula in result.stdout
    assert fmt_pm(score.value, score.uncertainty) in result.stdout
