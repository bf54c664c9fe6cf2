"""A plan bigger than the cluster allows, on a real SLURM with MaxArraySize=5 (marker slurm).

Its own local cluster (tests/slurm/start-local-slurm.sh with SLURM_LOCAL_MAX_ARRAY_SIZE=5,
its own directory, config and ports), beside the one tests/test_slurm.py uses; clients
reach it through SLURM_CONF. 12 relax shards of one candidate each (the LJ toy) run as
three arrays (5 + 5 + 2 tasks, indices 0-4), or packed two shards a task when the
profile caps the jobs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, small_workflow, write_workflow
from tests.test_slurm import cli, local_profile, toy_card, wait_for

pytestmark = pytest.mark.slurm
DIR = Path("/tmp/slurm-local-max-array-5")
CONF = DIR / "etc" / "slurm.conf"
SCRIPTS = REPO / "tests" / "slurm"


@pytest.fixture(scope="module")
def small_arrays():
    """A local SLURM whose MaxArraySize is 5, as SLURM_CONF for this module's tests."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("starting a local SLURM needs root on Debian")
    env = {
        **os.environ,
        "SLURM_LOCAL_DIR": str(DIR),
        "SLURM_CONF_DIR": str(CONF.parent),
        "SLURM_LOCAL_CTLD_PORT": "6917",
        "SLURM_LOCAL_SLURMD_PORT": "6918",
        "SLURM_LOCAL_CLUSTER": "maxarray5",
        "SLURM_LOCAL_MAX_ARRAY_SIZE": "5",
        "SLURM_LOCAL_MIN_JOB_AGE": "3600",
        "SLURM_LOCAL_GPUS": "0",
    }
    env.pop("SLURM_CONF", None)
    done = subprocess.run(["bash", str(SCRIPTS / "start-local-slurm.sh")], env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, f"local SLURM did not start:\n{done.stdout}\n{done.stderr}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SLURM_CONF", str(CONF))
        yield
    # munged may serve another local cluster too: leave it running then
    keep = "1" if _other_slurmctld() else "0"
    subprocess.run(["bash", str(SCRIPTS / "stop-local-slurm.sh")], env={**env, "KEEP_MUNGE": keep},
                   capture_output=True, check=False)  # fmt: skip


def _other_slurmctld() -> bool:
    """A slurmctld runs that is not this module's cluster's."""
    pid_file = DIR / "slurmctld.pid"
    ours = pid_file.read_text().strip() if pid_file.is_file() else ""
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == "slurmctld" and comm.parent.name != ours:
                return True
        except OSError:
            continue
    return False


def workflow_12(tmp_path: Path, potential: str = "lennard-jones-toy") -> Path:
    """12 candidates after the prefilter, one per shard; md on the best 2; lean estimates."""
    data = small_workflow(**{"potential.name": potential})
    data["chemical_space"]["framework_cations"] = ["Fe", "Cr", "Co", "Zn", "Ti", "V"]
    data["chemical_space"]["critical_policy"] = "report-only"
    data["stages"]["estimate"].update(electrode=False, bvse=False)  # seconds, not a minute
    data["stages"]["rank"] = {
        "objectives": {"energy_above_hull_per_atom": {"direction": "minimize"}}
    }
    data["execution"] = {"workers": 1, "shard_size": 1}
    data["stages"]["md"] = {
        "top_k": 2, "select_by": "formation_energy_per_atom", "temperatures_K": [300],
        "duration_ps": 0.1, "equilibration_ps": 0.02, "sample_interval_fs": 10,
        "min_cell_length_angstrom": 5.0,
    }  # fmt: skip
    return write_workflow(tmp_path / "wf.yaml", data)


def profile_with(path: Path, **limits: int) -> Path:
    local_profile(path)
    data = yaml.safe_load(path.read_text())
    data["limits"] = limits
    path.write_text(yaml.safe_dump(data))
    return path


def submissions(root: Path, step: str) -> list[dict]:
    jobs = json.loads((root / "slurm" / "jobs.json").read_text())["submissions"]
    return [s for s in jobs if s["step"] == step]


def test_the_cluster_refuses_array_indices_from_max_array_size_on(small_arrays, tmp_path):
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    assert any(line.split() == ["MaxArraySize", "=", "5"] for line in config.splitlines())
    six = subprocess.run(["sbatch", "--array=0-5", "-o", "/dev/null", "--wrap", "true"],
                         capture_output=True, text=True, check=False, cwd=tmp_path)  # fmt: skip
    assert six.returncode != 0 and "Invalid job array specification" in six.stderr


def test_twelve_shards_run_as_three_arrays_each_shard_once(small_arrays, tmp_path):
    wf = workflow_12(tmp_path)
    root = tmp_path / "split"
    out = cli("submit", str(wf), "--profile", str(local_profile(tmp_path / "p.yaml")),
              "--out", str(root)).stdout  # fmt: skip
    assert "12 shard(s) -> 12 task(s) in 3 arrays" in out
    relax = submissions(root, "relax")
    assert [(s["array"], s["shards"], s["pack"]) for s in relax] == [
        ("0-4", None, 1), ("0-4", "5-9", 1), ("0-1", "10-11", 1)]  # fmt: skip
    estimate = submissions(root, "estimate")[0]
    assert estimate["dependency"] == "afterok:" + ":".join(s["job_id"] for s in relax)
    wait_for(root)
    from screen.hpc.submit import campaign_status

    steps = {s.step: s for s in campaign_status(root)}
    assert (steps["relax"].total, steps["relax"].done) == (12, 12)
    assert all(s.complete for s in steps.values())
    assert "failed:" not in cli("status", str(root)).stdout
    assert len(list((root / "slurm" / "logs").glob("*relax*"))) == 12  # one task per shard
    from screen.store.campaign import Campaign

    planned = json.loads((root / "stages" / "relax" / "plan.json").read_text())["shards"]
    relaxed = [r.id for r in Campaign.load(root).read_output("relax") if "relax" in r.status]
    assert sorted(relaxed) == sorted(i for shard in planned for i in shard)  # each once
    assert (root / "candidates.csv").is_file()


def _formula_in_shard(root: Path, shard: int) -> str:
    from screen.hpc.submit import LOGIN_UNTIL
    from screen.store.campaign import Campaign

    plan = json.loads((root / "stages" / "relax" / "plan.json").read_text())["shards"]
    active = [r for r in Campaign.load(root).read_output(LOGIN_UNTIL) if r.active]
    formula = next(r.formula for r in active if r.id == plan[shard][0])
    assert [r.formula for r in active].count(formula) == 1
    return formula


def test_packed_split_arrays_fail_resubmit_and_finish_shard_by_shard(
    small_arrays, tmp_path, monkeypatch
):
    cards = tmp_path / "cards"
    monkeypatch.setenv("BATSCREEN_MODELS_PATH", str(cards))
    name = toy_card(cards, "lennard-jones-crash", crash_on_formula="")
    wf = workflow_12(tmp_path, name)
    profile = profile_with(tmp_path / "p.yaml", max_submit_jobs=10)
    # the dry run plans the same shards: poison the candidate of shard 10 (second array)
    dry = cli("submit", str(wf), "--profile", str(profile), "--out", str(tmp_path / "dry"),
              "--dry-run")  # fmt: skip
    assert "2 shards per array task" in dry.stderr and "MaxArraySize 5" in dry.stderr
    toy_card(cards, name, crash_on_formula=_formula_in_shard(tmp_path / "dry", 10))
    root = tmp_path / "packed"
    cli("submit", str(wf), "--profile", str(profile), "--out", str(root))
    # 12 relax + 2 md shards + 2 single jobs > 10 jobs: 2 shards a task, 6 + 1 tasks + 2 jobs
    relax = submissions(root, "relax")
    assert [(s["array"], s["shards"], s["pack"]) for s in relax] == [
        ("0-4", "0-9", 2), ("0", "10-11", 2)]  # fmt: skip
    assert [(s["array"], s["shards"], s["pack"]) for s in submissions(root, "md")] == [
        ("0", "0-1", 2)]  # fmt: skip
    wait_for(root)
    status = cli("status", str(root)).stdout
    failed = [line for line in status.splitlines() if line.startswith("failed: relax")]
    # task 0 of the second array ran shards 10 and 11: the crash in 10 took 11 with it
    assert [line.split(":")[1].strip() for line in failed] == ["relax shard 10",
                                                               "relax shard 11"]  # fmt: skip
    log = f"bs-small-relax_{relax[1]['job_id']}_0.out"
    assert all(line.endswith(f"{log})") and "FAILED" in line for line in failed), failed
    assert "failed: estimate shard 0: dependency failed" in status
    toy_card(cards, name, crash_on_formula="")  # the fix
    cli("resubmit", str(root))
    again = submissions(root, "relax")[2:]
    assert [(s["array"], s["shards"], s["pack"]) for s in again] == [("0-1", "10-11", 1)]
    wait_for(root)
    assert (root / "candidates.csv").is_file()
    assert "failed:" not in cli("status", str(root)).stdout
