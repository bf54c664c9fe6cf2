"""The whole campaign in-process with the toy potential (fast), and the Python API."""

from __future__ import annotations

import itertools
import json

import pyarrow.parquet as pq
import pytest

import screen
from screen.stage_table import STAGE_NAMES
from screen.workflow.load import load_workflow
from tests.campaign_digest import campaign_digest, differences
from tests.conftest import small_workflow, write_workflow


@pytest.fixture
def lj_workflow(tmp_path):
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["stages"]["rank"]["constraints"] = {}
    return load_workflow(write_workflow(tmp_path / "wf.yaml", data))


def test_campaign_runs_end_to_end_and_funnel_adds_up(tmp_path, lj_workflow, lj):
    events = []
    result = screen.run(
        lj_workflow, tmp_path / "camp", potential=lj, progress=lambda *e: events.append(e)
    )
    rows = {row.stage: row for row in result.funnel}
    assert list(rows) == list(STAGE_NAMES)
    for before, after in itertools.pairwise(STAGE_NAMES):
        assert rows[after].entered == rows[before].passed, (before, after)
        assert rows[before].entered == rows[before].passed + sum(rows[before].left.values())
    assert rows["generate"].entered == len(result.records) == 12
    # NaCoO2, NaCoCl3 are critical (Co); NaZnO2, NaZnO3, NaFeO3, NaCoO3 are not balanced
    assert rows["prefilter"].left[("filtered", "critical-element")] == 2
    assert rows["prefilter"].left[("filtered", "charge-imbalance")] == 4
    ranked = result.ranked()
    assert len(ranked) == rows["deliver"].passed > 0
    assert set(STAGE_NAMES) <= {e[0] for e in events}  # plus hull-refs / charged relaxations

    root = result.root
    table = pq.read_table(root / "results.parquet")
    assert table.num_rows == 12
    unit = table.schema.field("formation_energy_per_atom").metadata[b"unit"]
    assert unit == b"eV/atom"
    cifs = sorted((root / "cifs").glob("*.cif"))
    assert len(cifs) == len(ranked)
    csv_lines = (root / "candidates.csv").read_text().splitlines()
    assert len(csv_lines) == len(ranked) + 1
    assert "formation_energy_per_atom [eV/atom]" in csv_lines[0]
    funnel = json.loads((root / "funnel.json").read_text())
    assert [r["stage"] for r in funnel] == list(STAGE_NAMES)
    provenance = json.loads((root / "provenance.json").read_text())
    assert provenance["potential"]["name"] == "lennard-jones-toy"
    assert provenance["runs"][-1]["status"] == "completed"


def test_rerun_reuses_every_stage(tmp_path, lj_workflow, lj):
    first = screen.run(lj_workflow, tmp_path / "camp", potential=lj)
    second = screen.run(lj_workflow, tmp_path / "camp", potential=lj)
    assert [r.to_json() for r in first.records] == [r.to_json() for r in second.records]
    runs = json.loads((tmp_path / "camp" / "provenance.json").read_text())["runs"]
    assert runs[1]["stages_run"] == [] and runs[1]["stages_reused"] == list(STAGE_NAMES)


def test_stage_functions_work_on_structures(lj, nacl):
    relaxed = screen.relax([nacl], potential=lj)
    assert relaxed[0].relaxed_structure is not None
    ranked = screen.rank(relaxed)  # no formation energy estimated yet
    assert ranked[0].status["rank"].reason == "missing-property"


def test_status_summarizes_a_partial_campaign(tmp_path, lj_workflow, lj):
    from screen.status import summarize
    from screen.store.journal import Journal, read_shard

    result = screen.run(lj_workflow, tmp_path / "camp", potential=lj)
    relax_dir = result.root / "stages" / "relax"
    relaxed = [r for r in read_shard(relax_dir / "records.jsonl") if "relax" in r.status]
    for path in [*relax_dir.glob("*.jsonl"), relax_dir / "manifest.json"]:
        path.unlink()  # as if killed after one relaxation (a stage's manifest comes with it)
    Journal(relax_dir / "shard-0000.journal.jsonl").append(relaxed[0])
    for later in ("estimate", "rank", "deliver"):
        for name in ("records.jsonl", "manifest.json"):
            (result.root / "stages" / later / name).unlink()
    info = summarize(result.root)
    states = {s.stage: s for s in info["stages"]}
    assert states["prefilter"].state == "done" and states["prefilter"].passed == len(relaxed)
    assert states["relax"].state == "partial"
    assert (states["relax"].records, states["relax"].planned) == (1, len(relaxed))
    assert states["rank"].state == "not started"
    assert info["last_run"]["status"] == "completed"
    assert "candidates.csv" in info["deliverables"]


def test_md_stage_runs_the_top_k_only_saves_trajectories_and_resumes(tmp_path, lj):
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["stages"]["rank"]["constraints"] = {}
    data["stages"]["md"] = {
        "top_k": 2,
        "select_by": "formation_energy_per_atom",
        "temperatures_K": [300, 400],
        "duration_ps": 0.4,
        "equilibration_ps": 0.04,
        "sample_interval_fs": 10,
        "min_cell_length_angstrom": 6.0,
    }
    workflow = load_workflow(write_workflow(tmp_path / "wf.yaml", data))
    result = screen.run(workflow, tmp_path / "camp", potential=lj)
    reached = [r for r in result.records if "md" in r.status]
    ran = [r for r in reached if "md_diffusivity" in r.properties]
    assert len(ran) == 2 and len(reached) > 2
    best = sorted(reached, key=lambda r: r.number("formation_energy_per_atom"))[:2]
    assert {r.id for r in ran} == {r.id for r in best}
    for record in ran:
        assert set(record.value("md_diffusivity")) == {"300", "400"}
        assert isinstance(record.value("md_flags"), list)
        for path in record.provenance["md"]["trajectories"]:
            assert (tmp_path / "camp" / "md" / record.id).exists() and path.endswith(".traj")
        assert record.provenance["md"]["supercell"] and record.status["md"].state == "ok"
    again = screen.run(workflow, tmp_path / "camp", potential=lj)
    assert [r.to_json() for r in again.records] == [r.to_json() for r in result.records]


def test_a_campaign_with_numbered_stage_folders_opens_and_resumes(tmp_path, lj_workflow, lj):
    """Campaigns of format 1 kept stage outputs in stages/<i>-<stage>: migrated on opening."""
    from screen.status import summarize
    from screen.store.campaign import CampaignDirectoryError

    fresh = screen.run(lj_workflow, tmp_path / "fresh", potential=lj)
    root = screen.run(lj_workflow, tmp_path / "old", potential=lj, until="estimate").root
    for i, name in enumerate(STAGE_NAMES, 1):  # as an older batscreen left it
        if (root / "stages" / name).is_dir():
            (root / "stages" / name).rename(root / "stages" / f"{i}-{name}")
    meta = json.loads((root / "campaign.json").read_text())
    (root / "campaign.json").write_text(json.dumps({**meta, "format_version": 1}))
    assert (root / "stages" / "3-relax" / "records.jsonl").is_file()

    states = {s.stage: s.state for s in summarize(root)["stages"]}  # status reads it
    assert [n for n in STAGE_NAMES if states[n] == "done"] == list(STAGE_NAMES[:4])
    assert sorted(p.name for p in (root / "stages").iterdir()) == sorted(STAGE_NAMES[:4])
    assert json.loads((root / "campaign.json").read_text())["format_version"] == 2

    resumed = screen.run(lj_workflow, root, potential=lj)
    last = json.loads((root / "provenance.json").read_text())["runs"][-1]
    assert last["stages_reused"] == list(STAGE_NAMES[:4])
    assert last["stages_run"] == list(STAGE_NAMES[4:])
    assert [r.id for r in resumed.records] == [r.id for r in fresh.records]
    assert differences(campaign_digest(fresh.root), campaign_digest(root)) == []

    (root / "stages" / "relax").rename(root / "stages" / "3-relax")
    (root / "stages" / "relax").mkdir()
    (root / "campaign.json").write_text(json.dumps({**meta, "format_version": 1}))
    with pytest.raises(CampaignDirectoryError, match=r"both 3-relax .* and relax exist"):
        summarize(root)
