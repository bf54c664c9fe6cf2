"""Campaign integrity: damaged files are never reused, the identity is fixed, one writer.

A finished toy campaign is copied, one of its files truncated, cut by a line, garbled or
deleted, and the campaign rerun: every record comes back with the same values, the
damaged output is not reused (the run says which file), and the repaired campaign
verifies again.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import screen
from screen.stage_table import STAGE_NAMES
from screen.store.campaign import Campaign, CampaignDirectoryError
from screen.workflow.load import load_workflow
from tests.conftest import REPO, small_workflow, write_workflow


@pytest.fixture(scope="module")
def lj_model():
    from screen.potentials.registry import load_potential

    return load_potential("lennard-jones-toy")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, lj_model):
    tmp = tmp_path_factory.mktemp("integrity")
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["stages"]["deliver"] = {"report": False}
    wf = load_workflow(write_workflow(tmp / "wf.yaml", data))
    result = screen.run(wf, tmp / "camp", potential=lj_model)
    return wf, result.root, _outcome(result.root)


def _outcome(root: Path) -> dict[str, tuple]:
    """Per record: where it left (or its rank) and its energy, from the deliver output."""
    out = {}
    for record in Campaign.load(root).read_output("deliver"):
        exit_info = record.exit_stage()
        energy = record.value("energy_per_atom")
        out[record.id] = (
            exit_info[0] if exit_info else None,
            exit_info[1].reason if exit_info else None,
            record.value("rank"),
            None if energy is None else round(energy, 8),
        )
    return out


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def truncate_at_line(path: Path) -> None:
    lines = _lines(path)
    path.write_bytes(b"".join(lines[: max(1, len(lines) // 4)]))


def delete_a_line(path: Path) -> None:
    lines = _lines(path)
    del lines[len(lines) // 2]
    path.write_bytes(b"".join(lines))


def garble(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 40] = b"\x00garbled\xff" * 4
    path.write_bytes(bytes(data))


def cut_mid_line(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 7])


def delete(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


DAMAGE = {
    "truncate": truncate_at_line,
    "delete-line": delete_a_line,
    "garble": garble,
    "cut": cut_mid_line,
    "delete": delete,
}

# (file, damage kinds, the stage whose output the run must not reuse; None: repaired or
# rewritten without a rerun)
CASES = [
    ("stages/relax/records.jsonl", ["truncate", "delete-line", "garble", "delete"], "relax"),
    ("stages/estimate/records.jsonl", ["delete-line"], "estimate"),
    ("stages/rank/records.jsonl", ["truncate"], "rank"),
    ("stages/deliver/records.jsonl", ["cut"], "deliver"),
    ("stages/prefilter/manifest.json", ["garble", "delete"], "prefilter"),
    ("candidates.csv", ["truncate", "delete"], "deliver"),
    ("results.parquet", ["garble"], "deliver"),
    ("cifs", ["delete"], "deliver"),
    ("campaign.json", ["cut"], None),
    ("provenance.json", ["cut"], None),
    ("workflow.yaml", ["garble"], None),
]


@pytest.mark.parametrize(
    "name,kind,stage",
    [(name, kind, stage) for name, kinds, stage in CASES for kind in kinds],
)
def test_damage_is_never_reused_and_nothing_is_lost(
    tmp_path, finished, lj_model, caplog, name, kind, stage
):
    wf, root, before = finished
    copy = tmp_path / "camp"
    shutil.copytree(root, copy)
    DAMAGE[kind](copy / name)
    caplog.set_level("WARNING")
    result = screen.run(wf, copy, potential=lj_model)
    assert _outcome(copy) == before  # every record, the same values
    last = Campaign.load(copy).read_provenance()["runs"][-1]
    if stage is not None:
        assert stage in last["stages_run"] and stage not in last["stages_reused"]
        assert str(copy / name) in caplog.text  # the warning names the file
    for step in STAGE_NAMES:  # the repaired campaign verifies
        assert Campaign.load(copy).check_output(step).reusable, step
    assert len(result.ranked()) == sum(1 for v in before.values() if v[2] is not None)
    assert (copy / "candidates.csv").read_text() == (root / "candidates.csv").read_text()


def test_damaged_shards_and_plan_keep_their_records(tmp_path, finished, lj_model, caplog):
    """The relax output gone and its sealed shard cut, or its plan torn: the records the
    shards still hold are kept; only the rest are relaxed again."""
    wf, root, before = finished
    for damage in ("shard", "plan", "journal"):
        copy = tmp_path / damage
        shutil.copytree(root, copy)
        relax = copy / "stages" / "relax"
        (relax / "records.jsonl").unlink()
        shard = relax / "shard-0000.jsonl"
        if damage == "shard":
            delete_a_line(shard)
        elif damage == "plan":
            cut_mid_line(relax / "plan.json")
        else:  # the shard not sealed yet, its journal with a garbled line inside
            lines = _lines(shard)
            lines[1] = b'{"id": garbled\n'
            (relax / "shard-0000.journal.jsonl").write_bytes(b"".join(lines))
            shard.unlink()
        caplog.clear()
        caplog.set_level("WARNING")
        screen.run(wf, copy, potential=lj_model)
        assert _outcome(copy) == before, damage
        assert "damaged" in caplog.text, damage
        provenance = Campaign.load(copy).read_provenance()
        relaxed = provenance["runs"][-1]["stages_run"]
        assert "relax" in relaxed


def test_edited_stored_workflow_is_refused_naming_the_fields(tmp_path, finished, lj_model):
    import yaml

    wf, root, _ = finished
    copy = tmp_path / "camp"
    shutil.copytree(root, copy)
    stored = yaml.safe_load((copy / "workflow.yaml").read_text())
    stored["stages"]["relax"]["fmax"] = 0.5
    (copy / "workflow.yaml").write_text(yaml.safe_dump(stored, sort_keys=False))
    edited = load_workflow(copy / "workflow.yaml")
    # the edited file as a workflow: refused, the identity kept
    with pytest.raises(CampaignDirectoryError, match=r"stages\.relax\.fmax: 0\.05 -> 0\.5"):
        screen.run(edited, copy, potential=lj_model)
    # what reads the stored file (task, collect, resubmit): refused too
    with pytest.raises(CampaignDirectoryError, match="was edited after campaign"):
        Campaign.load(copy).workflow()
    # the original workflow is still this campaign's: it runs and puts the file back
    screen.run(wf, copy, potential=lj_model)
    assert Campaign.load(copy).workflow().stages.relax.fmax == 0.05
    assert list(copy.glob("workflow.yaml.edited-*"))
    # provenance never claims the edited value
    runs = json.loads((copy / "provenance.json").read_text())
    assert runs["workflow"]["stages"]["relax"]["fmax"] == 0.05


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path, finished):
    from screen.store.lock import FileLock, LockHeld, campaign_lock

    wf, root, _ = finished
    copy = tmp_path / "camp"
    shutil.copytree(root, copy)
    hold = (
        "import pathlib, time; from screen.store.lock import FileLock; "
        f"FileLock(pathlib.Path({str(copy / '.lock')!r}), 'x').acquire(); "
        "print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen(  # another process holds the campaign's lock
        [sys.executable, "-c", hold],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockHeld, match=rf"pid {holder.pid} on"):
            screen.run(wf, copy)
        cli = subprocess.run(
            [sys.executable, "-m", "screen.cli", "collect", str(copy)],
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        assert cli.returncode == 2 and "in use by" in cli.stderr, cli.stderr
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale on this host and is taken over
    with campaign_lock(copy):
        pass
    assert not (copy / ".lock").exists()
    # a lock from another host counts until its heartbeat is old
    lock = copy / ".lock"
    lock.write_text(json.dumps({"host": "elsewhere", "pid": 1, "started_utc": "x"}))
    with pytest.raises(LockHeld, match="elsewhere"):
        FileLock(lock, "campaign").acquire()
    old = lock.stat().st_mtime - 3600
    os.utime(lock, (old, old))
    with campaign_lock(copy):
        pass


def test_shard_tasks_lock_their_own_shard_only(tmp_path):
    from screen.store.lock import LockHeld, shard_lock

    with (
        shard_lock(tmp_path, 0),
        shard_lock(tmp_path, 2),
        shard_lock(tmp_path, 1),
        pytest.raises(LockHeld, match="shard 0"),
        shard_lock(tmp_path, 0),
    ):
        pass


def test_files_follow_the_umask(tmp_path, lj_model):
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["chemical_space"]["framework_cations"] = ["Fe"]
    wf = load_workflow(write_workflow(tmp_path / "wf.yaml", data))
    old = os.umask(0o022)
    try:
        screen.run(wf, tmp_path / "camp", potential=lj_model)
    finally:
        os.umask(old)
    modes = {}
    for path in [tmp_path / "camp", *(tmp_path / "camp").rglob("*")]:
        modes[path.relative_to(tmp_path)] = path.stat().st_mode & 0o777
    wrong = {p: oct(m) for p, m in modes.items() if m != (0o755 if (tmp_path / p).is_dir()
                                                            else 0o644)}  # fmt: skip
    assert not wrong
    assert (tmp_path / "camp" / "candidates.csv").stat().st_mode & 0o044 == 0o044


def test_out_that_is_an_empty_link_or_folder_is_used_in_place(tmp_path, lj_model):
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["chemical_space"]["framework_cations"] = ["Fe"]
    data["chemical_space"]["prototypes"] = ["perovskite-AMX3"]
    wf = load_workflow(write_workflow(tmp_path / "wf.yaml", data))
    target = tmp_path / "mount"
    target.mkdir()
    link = tmp_path / "link"
    link.symlink_to(target)
    Campaign.open(link, wf)
    assert (target / "campaign.json").is_file() and link.is_symlink()
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(CampaignDirectoryError, match="does not exist"):
        Campaign.open(dangling, wf)


def test_a_campaign_without_manifests_is_adopted(tmp_path, finished, lj_model):
    """Written before manifests existed: reused as it is, and given manifests."""
    wf, root, before = finished
    copy = tmp_path / "camp"
    shutil.copytree(root, copy)
    for manifest in (copy / "stages").glob("*/manifest.json"):
        manifest.unlink()
    meta = json.loads((copy / "campaign.json").read_text())
    del meta["stage_manifests"]
    (copy / "campaign.json").write_text(json.dumps(meta))
    screen.run(wf, copy, potential=lj_model)
    last = Campaign.load(copy).read_provenance()["runs"][-1]
    assert last["stages_run"] == [] and len(last["stages_reused"]) == len(STAGE_NAMES)
    assert len(list((copy / "stages").glob("*/manifest.json"))) == len(STAGE_NAMES)
    assert _outcome(copy) == before


def test_a_run_is_refused_while_a_task_holds_a_shard_and_the_reverse(tmp_path, finished):
    from screen.store.lock import LockHeld, refuse_if_run_holds, refuse_if_tasks_run

    _, root, _ = finished
    copy = tmp_path / "camp"
    shutil.copytree(root, copy)
    lock = copy / "stages" / "relax" / "shard-0000.lock"
    for path in (lock, copy / ".lock"):
        path.write_text(json.dumps({"host": "node7", "pid": 12, "started_utc": "now"}))
    with pytest.raises(LockHeld, match=r"shard-0000\.lock"):
        refuse_if_tasks_run(copy)
    with pytest.raises(LockHeld, match="node7"):
        refuse_if_run_holds(copy)
    lock.unlink()
    refuse_if_tasks_run(copy)
