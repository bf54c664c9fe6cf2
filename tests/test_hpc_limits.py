"""Plans within the cluster's limits, without a cluster: reading the limits, packing and
splitting arrays, status and resubmit on split / packed arrays, dry-run warnings."""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import pytest

from screen.hpc.layout import (
    ArrayPart,
    choose_pack,
    effective_limits,
    plan_layout,
    plan_parts,
    task_shards,
    throttle_share,
)
from screen.hpc.profiles import Limits, ProfileError, load_profile
from screen.hpc.slurm import (
    ClusterLimits,
    SlurmError,
    TaskState,
    array_indices,
    cluster_limits,
    index_spec,
    parse_config,
    parse_submit_limits,
)

# an excerpt of `scontrol show config` (slurm 22.05), as printed
SCONTROL = """Configuration data as of 2026-12-02T14:05:10
AccountingStorageBackupHost = (null)
AccountingStorageEnforce = none
ClusterName             = snellius
DependencyParameters    = kill_invalid_depend
MaxArraySize            = 1001
MaxDBDMsgs              = 20024
MaxJobCount             = 250000
MaxStepCount            = 40000
SchedulerParameters     = batch_sched_delay=0,bf_continue
SLURM_VERSION           = 22.05.8

Cgroup Support Configuration:
AllowedRAMSpace         = 100.0%

Slurmctld(primary) at int3 is UP
"""


def test_scontrol_show_config_is_parsed():
    values = parse_config(SCONTROL)
    assert values["MaxArraySize"] == "1001" and values["MaxJobCount"] == "250000"
    assert values["SchedulerParameters"] == "batch_sched_delay=0,bf_continue"
    assert values["ClusterName"] == "snellius"
    assert "Slurmctld(primary) at int3 is UP" not in values and "Configuration" not in values


def test_submit_limits_from_sacctmgr_take_the_tightest_of_the_default_qos():
    assoc = "500||normal,long|normal\n|||\n"  # MaxSubmit|GrpSubmit|QOS|DefaultQOS
    qos = "normal|300|\nlong|50|\nstaff||\n"  # Name|MaxSubmitPU|GrpSubmit
    assert parse_submit_limits(assoc, qos) == 300  # long is not the default QOS
    assert parse_submit_limits("||normal,long|\n", qos) == 50  # no default: all allowed
    assert parse_submit_limits("|||\n", "normal||\n") is None  # nothing set
    assert parse_submit_limits("", "") is None


def _fake_commands(folder: Path, **outputs: tuple[int, str]) -> None:
    folder.mkdir(exist_ok=True)
    for name, (code, text) in outputs.items():
        (folder / f"{name}.out").write_text(text)
        script = folder / name
        script.write_text(f"#!/bin/sh\ncat '{folder / (name + '.out')}'\nexit {code}\n")
        script.chmod(0o755)


def test_cluster_limits_are_read_from_scontrol_sacctmgr_and_squeue(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    _fake_commands(bin_dir, scontrol=(0, SCONTROL), sacctmgr=(0, "400||normal|normal\n"),
                   squeue=(0, "12_1\n12_2\n13\n"))  # fmt: skip
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
    limits = cluster_limits()
    assert (limits.max_array_size, limits.max_job_count) == (1001, 250000)
    assert limits.max_submit_jobs == 400 and limits.queued == 3
    assert limits.jobs_available() == 397
    assert any("scontrol" in s for s in limits.source)


def test_without_scontrol_or_accounting_the_defaults_apply(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    _fake_commands(bin_dir, sacctmgr=(1, "You are not running a supported accounting_storage"))
    monkeypatch.setenv("PATH", str(bin_dir))
    limits = cluster_limits()
    assert limits.max_array_size == 1001  # SLURM's default MaxArraySize
    assert limits.max_job_count is None and limits.max_submit_jobs is None
    assert limits.jobs_available() is None and "default" in limits.source[0]


def test_a_profile_only_tightens_the_cluster_limits():
    cluster = ClusterLimits(max_array_size=1001, max_job_count=10000, max_submit_jobs=None)
    mine = effective_limits(cluster, Limits(max_array_size=5, max_submit_jobs=100))
    assert (mine.max_array_size, mine.max_submit_jobs) == (5, 100)
    looser = effective_limits(cluster, Limits(max_array_size=5000))
    assert looser.max_array_size == 1001
    assert effective_limits(cluster, Limits()) == cluster


def test_profile_limits_are_validated(tmp_path):
    good = tmp_path / "site.yaml"
    good.write_text("name: site\nlimits: {max_array_size: 5, max_submit_jobs: 40}\n")
    profile, _ = load_profile(good)
    assert profile.limits == Limits(max_array_size=5, max_submit_jobs=40)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: site\nlimits: {max_array_size: 0, max_jobs: 3}\n")
    with pytest.raises(ProfileError) as info:
        load_profile(bad)
    assert "limits.max_array_size" in str(info.value) and "limits.max_jobs" in str(info.value)
    for name in ("generic", "snellius", "delftblue", "habrok"):
        assert load_profile(name)[0].limits == Limits()  # the shipped ones: what SLURM says


def test_index_specs_are_compact_and_round_trip():
    assert index_spec([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"
    assert index_spec([3]) == "3" and index_spec([]) == ""
    rng = random.Random(1)
    for _ in range(50):
        picked = sorted(rng.sample(range(3000), rng.randint(1, 200)))
        assert array_indices(index_spec(picked)) == picked


def _check(parts: list[ArrayPart], shards: list[int], pack: int, max_array_size: int) -> None:
    """Every shard runs in exactly one task; indices stay below MaxArraySize."""
    ran: list[int] = []
    for part in parts:
        assert max(part.indices) < max_array_size and part.pack == pack
        assert array_indices(part.array()) == list(part.indices)
        for index in part.indices:
            mine = part.shards_of(index)
            assert 1 <= len(mine) <= pack
            args = part.args()  # what the job script passes to `batscreen task`
            spec = args[args.index("--shards") + 1] if args else None
            assert task_shards(index, spec, pack) == mine
            assert all(part.task_of()[s] == index for s in mine)
            ran += mine
    assert sorted(ran) == sorted(shards) and len(ran) == len(set(ran))


def test_100000_candidates_in_shards_of_50_split_into_arrays_below_max_array_size():
    shards = list(range(math.ceil(100_000 / 50)))  # 2000 tasks: more than one array allows
    parts = plan_parts(shards, 1, 1001)
    assert [p.array() for p in parts] == ["0-1000", "0-998"]
    assert parts[0].shards is None and parts[0].args() == []  # task index = shard, as before
    assert parts[1].args() == ["--shards", "1001-1999"]
    _check(parts, shards, 1, 1001)


def test_a_job_budget_packs_shards_into_tasks():
    limits = ClusterLimits(max_array_size=1001, max_submit_jobs=500, queued=2)
    layout = plan_layout({"relax": range(2000), "md": range(1)}, 2, limits)
    assert layout.pack == 5  # (2000/5 + 1) tasks + 2 single jobs <= 498 jobs left
    tasks = sum(len(p.indices) for parts in layout.parts.values() for p in parts)
    assert tasks + 2 <= 498
    relax = layout.parts["relax"]
    assert [p.array() for p in relax] == ["0-399"]
    assert relax[0].args() == ["--shards", "0-1999", "--pack", "5"]
    assert relax[0].shards_of(399) == [1995, 1996, 1997, 1998, 1999]
    assert layout.describe("relax") == "2000 shard(s) -> 400 task(s) (5 shards each)"
    assert layout.warnings({"relax": "04:00:00", "md": "12:00:00"})  # one walltime per task
    assert plan_layout({"relax": range(12)}, 2, ClusterLimits(max_array_size=5)).pack == 1


def test_packing_and_splitting_together_cover_every_shard_once():
    rng = random.Random(7)
    for _ in range(200):
        size = rng.randint(1, 40)
        shards = sorted(rng.sample(range(400), rng.randint(1, 300)))
        budget = rng.randint(3, 400)
        pack = choose_pack({"relax": len(shards), "md": 1}, 2, budget)
        assert math.ceil(len(shards) / pack) + 1 + 2 <= budget
        if pack > 1:
            assert math.ceil(len(shards) / (pack - 1)) + 1 + 2 > budget  # the smallest pack
        _check(plan_parts(shards, pack, size), shards, pack, size)


def test_no_room_for_the_chain_and_no_arrays_are_refused():
    with pytest.raises(SlurmError, match="room for 2 more job"):
        choose_pack({"relax": 10, "md": 2}, 2, 2)
    with pytest.raises(SlurmError, match="MaxArraySize = 0"):
        plan_parts([0, 1], 1, 0)
    assert choose_pack({"relax": 10}, 2, None) == 1  # no known cap


def test_throttle_is_shared_by_the_parts_of_a_step():
    assert throttle_share(8, 1) == 8 and throttle_share(8, 3) == 2
    assert throttle_share(2, 3) == 1 and throttle_share(None, 3) is None


def test_task_shards_follow_the_script_arguments():
    assert task_shards(3, None, 1) == [3]  # today's `--shard $SLURM_ARRAY_TASK_ID`
    assert task_shards(1, "5-9", 1) == [6]
    assert task_shards(1, "10-20", 3) == [13, 14, 15]
    assert task_shards(1, "3,7,9-11", 2) == [9, 10] and task_shards(2, "3,7,9-11", 2) == [11]
    with pytest.raises(ValueError, match="no shard"):
        task_shards(5, "0-3", 2)
    old = ArrayPart.from_record({"array": "3,7", "job_id": "9"})  # jobs.json before packing
    assert old.shards is None and old.task_of() == {3: 3, 7: 7}


# ------------------------------------------------------------ status / resubmit, faked SLURM
def _small(tmp_path: Path) -> Path:
    from tests.conftest import small_workflow, write_workflow

    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["execution"] = {"workers": 1, "shard_size": 1}  # 5 candidates: 5 relax shards
    data["stages"]["md"] = {**data["stages"].get("md", {}), "top_k": 0}
    return write_workflow(tmp_path / "wf.yaml", data)


def _dry_run(tmp_path, monkeypatch, profile: str, limits: ClusterLimits):
    from typer.testing import CliRunner

    from screen.cli.main import app

    monkeypatch.setattr("screen.hpc.slurm.cluster_limits", lambda account=None: limits)
    root = tmp_path / "c"
    result = CliRunner().invoke(app, ["submit", str(_small(tmp_path)), "--profile", profile,
                                      "--out", str(root), "--dry-run"])  # fmt: skip
    return root, result


def test_dry_run_warns_with_the_fields_that_submit_refuses(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from screen.cli.main import app

    root, result = _dry_run(tmp_path, monkeypatch, "delftblue", ClusterLimits(1001))
    assert result.exit_code == 0, result.output
    assert (root / "slurm" / "relax.sbatch").is_file() and "<FILL:" in (
        root / "slurm" / "relax.sbatch"
    ).read_text()
    profile, path = load_profile("delftblue")
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warning and str(path) in result.stderr
    for field in profile.placeholders():
        assert field.split(" = ")[0] in result.stderr
    refused = CliRunner().invoke(app, ["submit", str(tmp_path / "wf.yaml"), "--profile",
                                       "delftblue", "--out", str(root)])  # fmt: skip
    assert refused.exit_code == 2
    # the same list of fields, word for word
    listed = result.stderr.split("fill in the site values first (")[1].split(")")[0]
    assert listed.replace("\n", "") in refused.stderr.replace("\n", "")


def test_a_filled_profile_dry_runs_without_a_warning(tmp_path, monkeypatch):
    site = tmp_path / "site.yaml"
    site.write_text("name: site\njobs:\n  relax: {partition: gpu, gpus: 1}\n")
    _, result = _dry_run(tmp_path, monkeypatch, str(site), ClusterLimits(1001))
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_dry_run_shows_the_split_arrays_and_their_shards(tmp_path, monkeypatch):
    site = tmp_path / "site.yaml"
    site.write_text("name: site\narray_throttle: 4\nlimits: {max_array_size: 2}\n")
    root, result = _dry_run(tmp_path, monkeypatch, str(site), ClusterLimits(1001))
    assert result.exit_code == 0, result.output
    out = result.stdout
    relax = root / "slurm" / "relax.sbatch"
    assert "#SBATCH --array=0-1%4" in relax.read_text()  # the first part, by hand too
    assert f"--array=0-1%1 {relax}\n" in out
    assert f"--array=0-1%1 {relax} --shards 2-3\n" in out
    assert f"--array=0%1 {relax} --shards 4\n" in out
    assert "afterok:${RELAX_JOB_1}:${RELAX_JOB_2}:${RELAX_JOB_3}" in out
    assert "5 shard(s) -> 5 task(s) in 3 arrays" in out


class FakeSlurm:
    """sbatch / job_states / scancel / cluster_limits of a pretend cluster."""

    def __init__(self, monkeypatch, limits: ClusterLimits) -> None:
        self.states: dict[str, TaskState] = {}
        self.submitted: list[tuple[str, str | None, str | None, list[str]]] = []
        self.next_id = 100
        monkeypatch.setattr("screen.hpc.slurm.cluster_limits", lambda account=None: limits)
        monkeypatch.setattr("screen.hpc.slurm.job_states", lambda ids: dict(self.states))
        monkeypatch.setattr("screen.hpc.slurm.scancel", lambda ids: None)
        monkeypatch.setattr("screen.hpc.slurm.sbatch", self.sbatch)

    def sbatch(self, script, *, dependency=None, array=None, args=()):
        self.next_id += 1
        self.submitted.append((Path(script).stem, dependency, array, list(args)))
        return str(self.next_id)


def _seal(root: Path, *shards: int) -> None:
    for k in shards:  # what a finished shard leaves behind (the name is what counts)
        (root / "stages" / "relax" / f"shard-{k:04d}.jsonl").write_text("")


def test_status_and_resubmit_map_shards_to_the_tasks_of_packed_split_arrays(tmp_path, monkeypatch):
    from screen.hpc.submit import campaign_status, resubmit, submit
    from screen.workflow.load import load_workflow

    site = tmp_path / "site.yaml"
    site.write_text("name: site\narray_throttle: 4\nlimits: {max_array_size: 2}\n")
    profile, path = load_profile(site)
    fake = FakeSlurm(monkeypatch, ClusterLimits(1001, max_submit_jobs=5))
    plan = submit(load_workflow(_small(tmp_path)), tmp_path / "c", profile, path)
    root = plan.root
    # 5 shards, 2 single jobs, 5 jobs allowed: 2 shards per task, 3 tasks in 2 arrays
    assert plan.layout is not None and plan.layout.pack == 2
    relax = [s for s in fake.submitted if s[0] == "relax"]
    assert [(s[2], s[3]) for s in relax] == [
        ("0-1%2", ["--shards", "0-3", "--pack", "2"]),
        ("0%2", ["--shards", "4", "--pack", "2"]),
    ]
    assert fake.submitted[-2][1] == "afterok:101:102"  # estimate waits for both arrays
    jobs = json.loads((root / "slurm" / "jobs.json").read_text())
    assert jobs["settings"] == {
        "account": None,
        "array_throttle": 4,
        "limits": {"max_array_size": 2, "max_submit_jobs": None},
    }
    assert [(s["array"], s["shards"], s["pack"]) for s in jobs["submissions"][:2]] == [
        ("0-1", "0-3", 2), ("0", "4", 2)]  # fmt: skip
    # task 101_0 (shards 0, 1) failed; 101_1 (2, 3) sealed; 102_0 (4) still runs
    _seal(root, 2, 3)
    fake.states = {
        "101_0": TaskState("101_0", "FAILED", "", "1:0"),
        "101_1": TaskState("101_1", "COMPLETED"),
        "102_0": TaskState("102_0", "RUNNING"),
        "103": TaskState("103", "PENDING", "DependencyNeverSatisfied"),
        "104": TaskState("104", "PENDING", "Dependency"),
    }
    relax_status = campaign_status(root)[0]
    assert (relax_status.total, relax_status.done, relax_status.running) == (5, 2, 1)
    assert sorted(relax_status.failed) == [0, 1]
    assert relax_status.failed[1][1].endswith("bs-small-relax_101_0.out")  # task 0's log
    fake.submitted.clear()
    again = resubmit(root)
    # only shards 0 and 1 again (4 is running): one array, task index = shard, throttle kept
    assert fake.submitted[0] == ("relax", None, "0-1%4", [])
    assert fake.submitted[1] == ("estimate", "afterok:102:105", None, [])
    assert again.job_ids["relax"] == "105"
    # a resubmit beyond the array size maps shards to indices again
    _seal(root, 0, 1)
    fake.states = {"105_0": TaskState("105_0", "COMPLETED")}
    fake.submitted.clear()
    last = resubmit(root).job_ids["relax"]
    assert fake.submitted[0] == ("relax", None, "0%4", ["--shards", "4"])
    fake.states[f"{last}_0"] = TaskState(f"{last}_0", "PENDING", "Priority")
    status = campaign_status(root)[0]
    assert (status.pending, status.done, status.failed) == (1, 4, {})


def test_a_packed_task_runs_its_shards_in_turn_and_reports_the_first_failure(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from screen.cli.main import app
    from screen.pipeline import ShardOutcome

    ran: list[int] = []

    def run_shard(root, step, index, *, workers=None, should_stop=None):
        ran.append(index)
        if index == broken:
            raise RuntimeError(f"shard {index} broke")
        return ShardOutcome(step, index, 0 if index == short else 2, 2)

    monkeypatch.setattr("screen.pipeline.run_shard", run_shard)
    monkeypatch.setattr("signal.signal", lambda *args: None)  # keep pytest's own handlers
    task = ["task", str(tmp_path), "relax", "--shard", "1", "--shards", "10-20", "--pack", "3"]
    broken = short = -1
    result = CliRunner().invoke(app, task)
    assert (result.exit_code, ran) == (0, [13, 14, 15]), result.output
    ran.clear()
    short = 14  # incomplete (walltime warning): exit 75, resubmit goes on
    assert (CliRunner().invoke(app, task).exit_code, ran) == (75, [13, 14, 15])
    ran.clear()
    broken, short = 13, -1  # a failing shard does not keep the others from running
    result = CliRunner().invoke(app, task)
    assert ran == [13, 14, 15] and isinstance(result.exception, RuntimeError)
    assert "shard 13 broke" in str(result.exception)
