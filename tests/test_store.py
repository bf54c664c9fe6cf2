"""The campaign directory as a store: atomic writes, journals, ownership."""

from __future__ import annotations

import json

import pytest

from screen.records import record_from_structure
from screen.store.atomic import atomic_open, atomic_write_text
from screen.store.campaign import Campaign, CampaignDirectoryError
from screen.store.journal import Journal
from screen.workflow.load import load_workflow
from tests.conftest import small_workflow, write_workflow


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_open(target) as fh:
        fh.write("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]  # no temp file left


def test_journal_repairs_torn_last_line_and_counts_duplicates_once(tmp_path, nacl):
    journal = Journal(tmp_path / "j.jsonl")
    a = record_from_structure(nacl)
    nacl2 = nacl.copy()
    nacl2.scale_lattice(nacl.volume * 1.1)
    b = record_from_structure(nacl2)
    journal.append(a)
    journal.append(a)  # journaled twice (e.g. by two runs) counts once
    journal.append(b)
    with journal.path.open("a") as fh:
        fh.write(b.to_json()[:40])  # the process died mid-write
    done = journal.load()
    assert set(done) == {a.id, b.id}
    assert journal.path.read_text().endswith("\n")  # torn line cut off
    journal.append(a)
    assert len(journal.path.read_text().splitlines()) == 4
    assert set(journal.load()) == {a.id, b.id}


def _workflow(tmp_path, **overrides):
    return load_workflow(write_workflow(tmp_path / "wf.yaml", small_workflow(**overrides)))


def test_campaign_created_complete_and_reopened(tmp_path):
    wf = _workflow(tmp_path)
    root = tmp_path / "camp"
    campaign = Campaign.open(root, wf)
    assert json.loads((root / "campaign.json").read_text())["name"] == "small"
    assert (root / "workflow.yaml").is_file()
    assert Campaign.open(root, wf).meta["fingerprint"] == campaign.meta["fingerprint"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".camp")]


def test_execution_settings_do_not_change_the_campaign(tmp_path):
    root = tmp_path / "camp"
    Campaign.open(root, _workflow(tmp_path))
    Campaign.open(root, _workflow(tmp_path, **{"execution.workers": 1}))


def test_directory_of_another_campaign_is_refused(tmp_path):
    root = tmp_path / "camp"
    Campaign.open(root, _workflow(tmp_path))
    other = _workflow(tmp_path, **{"stages.relax.fmax": 0.02})
    with pytest.raises(
        CampaignDirectoryError, match=r"this workflow: stages\.relax\.fmax: 0\.05 -> 0\.02"
    ):
        Campaign.open(root, other)


def test_non_empty_foreign_directory_is_refused(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "thesis.tex").write_text("precious")
    with pytest.raises(CampaignDirectoryError, match="not empty and is not a batscreen"):
        Campaign.open(root, _workflow(tmp_path))
    assert [p.name for p in root.iterdir()] == ["thesis.tex"]


def test_file_as_output_is_refused(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(CampaignDirectoryError, match="is a file"):
        Campaign.open(target, _workflow(tmp_path))


def test_empty_directory_is_adopted(tmp_path):
    root = tmp_path / "empty"
    root.mkdir()
    Campaign.open(root, _workflow(tmp_path))
    assert (root / "campaign.json").is_file()
