"""Campaigns on a real SLURM: arrays, dependencies, status, resubmit, collect (marker slurm).

The local single-node cluster comes from tests/slurm/start-local-slurm.sh (munge +
slurmctld + slurmd from Debian's packages, two fake GPUs); the fixture starts it when this
machine has none and the tests run as root, else the tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import screen
from tests.conftest import REPO, small_workflow, write_workflow

pytestmark = pytest.mark.slurm
BATSCREEN = str(Path(sys.executable).with_name("batscreen"))


def _cluster_up() -> bool:
    if shutil.which("sinfo") is None:
        return False
    done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, check=False)
    return done.returncode == 0 and "idle" in done.stdout + "mixed"


@pytest.fixture(scope="module")
def cluster():
    started = False
    if not _cluster_up():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("no SLURM here, and starting the local one needs root on Debian")
        env = {**os.environ, "SLURM_LOCAL_MIN_JOB_AGE": "3600", "SLURM_LOCAL_GPUS": "2"}
        done = subprocess.run(
            ["bash", str(REPO / "tests" / "slurm" / "start-local-slurm.sh")],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"local SLURM did not start:\n{done.stdout}\n{done.stderr}"
        started = True
    yield
    if started:
        subprocess.run(["bash", str(REPO / "tests" / "slurm" / "stop-local-slurm.sh")],
                       capture_output=True, check=False)  # fmt: skip


def local_profile(path: Path, **light_or_gpu) -> Path:
    """A profile for the local cluster (debug partition, fake GPUs on the pilots)."""
    data = {
        "name": "local-test",
        "setup": [f"export BATSCREEN_MODELS_PATH={os.environ.get('BATSCREEN_MODELS_PATH', '')}"],
        "batscreen": BATSCREEN,
        "jobs": {
            "light": {"partition": "debug", "time": "00:10:00", "cpus": 1},
            "relax": {"partition": "debug", "time": "00:10:00", "cpus": 1, **light_or_gpu},
            "md": {"partition": "debug", "time": "00:10:00", "cpus": 1},
        },
        "array_throttle": 4,
        "signal_seconds": 30,
    }
    path.write_text(yaml.safe_dump(data))
    return path


def lj_workflow(tmp_path: Path, **extra) -> Path:
    data = small_workflow(**{"potential.name": "lennard-jones-toy", **extra})
    data["stages"]["rank"]["constraints"] = {}
    data["execution"] = {"workers": 1, "shard_size": 3}
    data["stages"]["md"] = {
        "top_k": 2, "select_by": "formation_energy_per_atom", "temperatures_K": [300, 400],
        "duration_ps": 0.2, "equilibration_ps": 0.02, "sample_interval_fs": 10,
        "min_cell_length_angstrom": 5.0,
    }  # fmt: skip
    return write_workflow(tmp_path / "wf.yaml", data)


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([BATSCREEN, *args], capture_output=True, text=True, timeout=600,
                          check=False)  # fmt: skip
    if check:
        assert done.returncode == 0, f"batscreen {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def wait_for(root: Path, timeout: float = 300) -> None:
    """Until no job of the campaign runs or can still start.

    Jobs pending on a dependency that failed (or on such a job) never start: a chain that
    is stuck counts as finished here, as it does for a user.
    """
    jobs = json.loads((root / "slurm" / "jobs.json").read_text())["submissions"]
    ids = ",".join(j["job_id"] for j in jobs)
    deadline = time.time() + timeout
    quiet_since = None  # a finished parent leaves its child "Dependency" until the next pass
    while time.time() < deadline:
        q = subprocess.run(
            ["squeue", "-h", "-j", ids, "-t", "PENDING,RUNNING,COMPLETING", "-o", "%i|%T|%r"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        rows = [line.split("|") for line in q.stdout.splitlines() if line.strip()]
        running = [r for r in rows if r[1] != "PENDING"]
        startable = [r for r in rows if r[1] == "PENDING" and not r[2].startswith("Dependency")]
        if running or startable:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 6.0:
            return
        time.sleep(0.5)
    raise AssertionError(f"jobs {ids} still queued after {timeout} s")


def comparable(records) -> dict[str, tuple]:
    """id -> (statuses, numeric properties) of every record."""
    out = {}
    for r in records:
        numbers = {k: round(p.value, 9) for k, p in r.properties.items()
                   if isinstance(p.value, float) and k != "relax_wall_time"}  # fmt: skip
        out[r.id] = ({k: v.state for k, v in r.status.items()}, numbers)
    return out


def test_campaign_runs_as_arrays_with_dependencies_and_matches_a_local_run(cluster, tmp_path):
    wf = lj_workflow(tmp_path)
    profile = local_profile(tmp_path / "local.yaml", gpus=1)
    root = tmp_path / "on-slurm"
    started = time.perf_counter()
    out = cli("submit", str(wf), "--profile", str(profile), "--out", str(root))
    assert "relax" in out.stdout and "finish" in out.stdout
    relax_script = (root / "slurm" / "relax.sbatch").read_text()
    assert "#SBATCH --gpus-per-task=1" in relax_script and "#SBATCH --array=0-" in relax_script
    wait_for(root)
    on_slurm = time.perf_counter() - started
    status = cli("status", str(root)).stdout
    assert "SLURM" in status and "failed:" not in status
    assert (root / "candidates.csv").is_file()
    jobs = json.loads((root / "slurm" / "jobs.json").read_text())["submissions"]
    assert [j["step"] for j in jobs] == ["relax", "estimate", "md", "finish"]
    assert jobs[1]["dependency"] == f"afterok:{jobs[0]['job_id']}"
    logs = list((root / "slurm" / "logs").glob("*relax*"))
    assert len(logs) == len(json.loads((root / "stages" / "relax" / "plan.json").read_text())
                            ["shards"])  # fmt: skip  # one pilot task per shard
    started = time.perf_counter()
    local = screen.run(wf, tmp_path / "local")
    on_host = time.perf_counter() - started
    from screen.store.campaign import Campaign

    remote = Campaign.load(root).read_output("deliver")
    assert comparable(remote) == comparable(local.records)
    print(f"LJ small campaign: SLURM {on_slurm:.1f} s, local {on_host:.1f} s")


def test_dry_run_writes_scripts_and_submits_nothing(cluster, tmp_path):
    wf = lj_workflow(tmp_path)
    root = tmp_path / "dry"
    out = cli("submit", str(wf), "--profile", "delftblue", "--out", str(root), "--dry-run")
    assert "sbatch --parsable" in out.stdout and "afterok:${RELAX_JOB}" in out.stdout
    assert (root / "slurm" / "relax.sbatch").is_file()
    assert not (root / "slurm" / "jobs.json").exists()
    refused = cli("submit", str(wf), "--profile", "delftblue", "--out", str(root), check=False)
    assert refused.returncode == 2 and "delftblue.yaml" in refused.stderr
    assert "account" in refused.stderr


def _journal_lines(root: Path, shard: int) -> int:
    path = root / "stages" / "relax" / f"shard-{shard:04d}.journal.jsonl"
    return len(path.read_text().splitlines()) if path.is_file() else 0


def _task_state(job: str) -> str:
    q = subprocess.run(["squeue", "-h", "-t", "all", "-j", job.split("_")[0], "-o", "%i|%T"],
                       capture_output=True, text=True, check=False)  # fmt: skip
    for line in q.stdout.splitlines():
        if line.startswith(job + "|"):
            return line.split("|")[1]
    return ""


CANDIDATES = ["NaCrCl3", "NaCrO2", "NaFeCl3", "NaFeO2", "NaZnCl3"]  # after prefilter


def toy_card(folder: Path, name: str, **parameters) -> str:
    """A Lennard-Jones card with test parameters (latency or crash injection)."""
    folder.mkdir(exist_ok=True)
    card = yaml.safe_load((REPO / "models" / "lennard-jones-toy.yaml").read_text())
    card["name"] = name
    card["parameters"].update(parameters)
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(card))
    return name


@pytest.fixture
def slow_lj(tmp_path, monkeypatch):
    """Candidates cost 0.2 s per potential call: a shard takes tens of seconds."""
    monkeypatch.setenv("BATSCREEN_MODELS_PATH", str(tmp_path / "cards"))
    return toy_card(tmp_path / "cards", "lennard-jones-slow", slow_formulas=CANDIDATES,
                    seconds_per_call=0.2)  # fmt: skip


def test_a_cancelled_task_is_resubmitted_and_nothing_is_lost_or_repeated(
    cluster, tmp_path, slow_lj
):
    wf = lj_workflow(tmp_path, **{"potential.name": slow_lj})
    root = tmp_path / "cancelled"
    cli("submit", str(wf), "--profile", str(local_profile(tmp_path / "p.yaml")), "--out", str(root))
    relax_job = json.loads((root / "slurm" / "jobs.json").read_text())["submissions"][0]["job_id"]
    deadline = time.time() + 120
    while _journal_lines(root, 0) < 1:  # mid-shard: one record journaled, more to come
        assert time.time() < deadline, "shard 0 never started"
        time.sleep(0.2)
    subprocess.run(["scancel", f"{relax_job}_0"], check=True)
    wait_for(root)
    journaled = _journal_lines(root, 0)
    assert 1 <= journaled < 3
    status = cli("status", str(root)).stdout
    assert "failed: relax shard 0: CANCELLED" in status
    assert "failed: estimate shard 0: dependency failed" in status
    assert not (root / "stages" / "estimate").exists() or not any(
        (root / "stages" / "estimate").glob("records*")
    )
    again = cli("resubmit", str(root)).stdout
    assert "relax" in again and "estimate" in again
    resubmitted = json.loads((root / "slurm" / "jobs.json").read_text())["submissions"]
    assert [s["array"] for s in resubmitted if s["step"] == "relax"] == ["0-1", "0"]
    wait_for(root)
    from screen.store.campaign import Campaign

    final = Campaign.load(root).read_output("deliver")
    (tmp_path / "plain").mkdir()
    local = screen.run(lj_workflow(tmp_path / "plain"), tmp_path / "local")  # same physics
    assert len({r.id for r in final}) == len(final) == len(local.records)
    assert comparable(final) == comparable(local.records)
    assert "failed:" not in cli("status", str(root)).stdout


def test_a_crashing_task_shows_its_reason_and_resubmit_after_the_fix_completes(
    cluster, tmp_path, monkeypatch
):
    cards = tmp_path / "cards"
    monkeypatch.setenv("BATSCREEN_MODELS_PATH", str(cards))
    name = toy_card(cards, "lennard-jones-crash", crash_on_formula="NaFeO2")  # poisoned
    wf = lj_workflow(tmp_path, **{"potential.name": name})
    root = tmp_path / "crash"
    cli("submit", str(wf), "--profile", str(local_profile(tmp_path / "p.yaml")), "--out", str(root))
    wait_for(root)
    status = cli("status", str(root)).stdout
    failed = [line for line in status.splitlines() if line.startswith("failed: relax")]
    assert len(failed) == 1 and "FAILED" in failed[0] and "log " in failed[0]
    log = Path(failed[0].split("(log ")[1].rstrip(")"))
    assert log.is_file()
    assert "failed: estimate shard 0: dependency failed" in status
    assert not (root / "candidates.csv").exists()  # nothing after the failed step ran
    toy_card(cards, name, crash_on_formula="")  # the fix
    cli("resubmit", str(root))
    wait_for(root)
    assert (root / "candidates.csv").is_file()
    assert "failed:" not in cli("status", str(root)).stdout


def test_walltime_warning_stops_a_pilot_cleanly_and_its_shard_resumes(cluster, tmp_path, slow_lj):
    wf = lj_workflow(tmp_path, **{"potential.name": slow_lj})
    root = tmp_path / "walltime"
    cli("submit", str(wf), "--profile", str(local_profile(tmp_path / "p.yaml")), "--out", str(root))
    relax_job = json.loads((root / "slurm" / "jobs.json").read_text())["submissions"][0]["job_id"]
    deadline = time.time() + 120
    while _journal_lines(root, 0) < 1:
        assert time.time() < deadline, "shard 0 never started"
        time.sleep(0.2)
    # what SLURM sends signal_seconds before the time limit (--signal=B:USR1@N)
    subprocess.run(["scancel", "--batch", "--signal=USR1", f"{relax_job}_0"], check=True)
    wait_for(root)
    assert _task_state(f"{relax_job}_0") == "FAILED"  # exit 75: incomplete, afterok holds
    log = next((root / "slurm" / "logs").glob(f"*relax_{relax_job}_0.out")).read_text()
    assert "signal 10" in log and "records done" in log
    assert 1 <= _journal_lines(root, 0) < 3
    cli("resubmit", str(root))
    wait_for(root)
    assert (root / "candidates.csv").is_file()


@pytest.mark.slow
def test_quickstart_on_slurm_matches_the_local_executor(cluster, tmp_path, capsys):
    """The real quickstart (CHGNet) as arrays on the local cluster, against a local run."""
    from screen.store.campaign import Campaign

    workflow = REPO / "workflows" / "quickstart.yaml"
    profile = local_profile(tmp_path / "local.yaml")
    root = tmp_path / "qs-slurm"
    started = time.perf_counter()
    cli("submit", str(workflow), "--profile", str(profile), "--out", str(root))
    wait_for(root, timeout=1500)
    on_slurm = time.perf_counter() - started
    assert (root / "candidates.csv").is_file(), cli("status", str(root)).stdout
    started = time.perf_counter()
    local = screen.run(workflow, tmp_path / "qs-local")
    on_host = time.perf_counter() - started
    remote = Campaign.load(root).read_output("deliver")
    mine, theirs = comparable(remote), comparable(local.records)
    assert mine.keys() == theirs.keys()
    for rid in mine:  # same ids, same statuses; energies equal to float noise of the model
        assert mine[rid][0] == theirs[rid][0], rid
        for name, value in theirs[rid][1].items():
            assert mine[rid][1][name] == pytest.approx(value, rel=1e-6, abs=1e-6), (rid, name)
    with capsys.disabled():
        print(f"\nquickstart: local SLURM {on_slurm:.0f} s, local executor {on_host:.0f} s")


def test_search_study_shared_by_an_array_of_two_tasks(cluster, tmp_path):
    """Two array tasks run `batscreen search` on one directory: one journal, one budget."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["chemical_space"]["framework_cations"] = ["Fe", "Cr", "Co", "Zn", "Ti", "V"]
    data["chemical_space"]["critical_policy"] = "report-only"  # 12 candidates to evaluate
    data["stages"]["estimate"]["electrode"] = False
    data["stages"]["rank"] = {
        "objectives": {"energy_above_hull_per_atom": {"direction": "minimize"}}
    }
    data["search"] = {"sampler": "random", "budget": 8, "batch_size": 2, "seed": 0}
    wf = write_workflow(tmp_path / "search.yaml", data)
    out = tmp_path / "out"
    done = subprocess.run(
        ["sbatch", "--wait", "--array=0-1", "--partition=debug", "--time=00:10:00",
         f"--output={tmp_path}/task-%a.log",
         f"--wrap={BATSCREEN} search {wf} --out {out}"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    logs = "".join(p.read_text() for p in sorted(tmp_path.glob("task-*.log")))
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}\n{logs}"
    storage = JournalStorage(JournalFileBackend(str(out / "search" / "journal.log")))
    study = optuna.load_study(study_name="small", storage=storage)
    workers = {t.user_attrs.get("worker") for t in study.trials}
    assert len(workers) == 2, workers  # both tasks asked and told trials
    evaluations = sum(1 for t in study.trials if t.user_attrs.get("evaluated"))
    assert 8 <= evaluations <= 8 + 2 * 2
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    assert (out / "candidates.csv").is_file() and (out / "search.json").is_file()
