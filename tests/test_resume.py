"""A campaign killed in the middle of the relax stage resumes without loss or duplicates.

Runs the real command in a subprocess with the bundled CHGNet and two worker processes,
kills it with SIGKILL once some relaxations are journaled, then reruns the same command.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import small_workflow, write_workflow


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _journaled(relax_dir: Path) -> dict[str, dict]:
    """Records finished so far: journals plus sealed shards."""
    done = {}
    for path in sorted(relax_dir.glob("shard-*.jsonl")):
        for line in path.read_text().splitlines():
            if line.endswith("}"):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                done[record["id"]] = record
    return done


def _command(workflow: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "screen.cli",
        "run",
        str(workflow),
        "--out",
        str(out),
        "--workers",
        "2",
    ]


def _start(workflow: Path, out: Path) -> subprocess.Popen:
    # faulthandler: a SIGABRT on a hung run prints every thread's stack (see _finish)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"}
    return subprocess.Popen(
        _command(workflow, out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=_foreground_signals,
    )


def _foreground_signals() -> None:
    """Ctrl-C as a terminal's foreground job sees it.

    A job started in the background by a non-interactive shell (as a CI script may be)
    inherits SIGINT ignored, and Python then keeps ignoring it; reset it to the default
    so that the run under test installs its KeyboardInterrupt handler.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _finish(proc: subprocess.Popen, timeout: float) -> bytes:
    """stderr of a run that should end by itself; a hung one is dumped and failed."""
    try:
        return proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)  # faulthandler prints the stacks
        _, stderr = proc.communicate()
        pytest.fail(f"run did not exit within {timeout} s:\n{stderr.decode()[-6000:]}")


def _wait_for_journal(proc: subprocess.Popen, relax_dir: Path, n: int, timeout: float) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = _journaled(relax_dir)
        if len(done) >= n:
            return done
        if proc.poll() is not None:
            pytest.fail(f"run ended before the kill: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail("no relaxation was journaled in time")


@pytest.fixture
def workflow(tmp_path):
    data = small_workflow(**{"execution.shard_size": 3})
    data["chemical_space"]["framework_cations"] = ["Fe", "Cr", "Zn", "Ca", "Sn", "Co"]
    data["chemical_space"]["anions"] = ["O", "Cl", "Br"]
    return write_workflow(tmp_path / "wf.yaml", data)


def _check_complete(out: Path, before_kill: dict) -> None:
    prefiltered = [
        json.loads(line)
        for line in (out / "stages" / "prefilter" / "records.jsonl").read_text().splitlines()
    ]
    to_relax = {
        r["id"] for r in prefiltered if all(s["state"] == "ok" for s in r["status"].values())
    }
    relaxed_lines = (out / "stages" / "relax" / "records.jsonl").read_text().splitlines()
    relaxed = [json.loads(line) for line in relaxed_lines]
    relaxed_ids = [r["id"] for r in relaxed if "relax" in r["status"]]
    assert sorted(relaxed_ids) == sorted(to_relax)  # none lost
    assert len(relaxed_ids) == len(set(relaxed_ids))  # none twice
    by_id = {r["id"]: r for r in relaxed}
    for rid, record in before_kill.items():  # finished before the kill: carried unchanged,
        assert by_id[rid] == record  # not recomputed (relax_wall_time would differ)
    assert not list((out / "stages" / "relax").glob("*.journal.jsonl"))
    funnel = {row["stage"]: row for row in json.loads((out / "funnel.json").read_text())}
    assert funnel["relax"]["entered"] == len(to_relax)


def test_kill_9_during_relax_then_resume(tmp_path, workflow):
    out = tmp_path / "camp"
    relax_dir = out / "stages" / "relax"
    proc = _start(workflow, out)
    before_kill = _wait_for_journal(proc, relax_dir, 2, timeout=240)
    workers = _children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert not (relax_dir / "records.jsonl").exists(), "killed too late: relax had finished"
    deadline = time.time() + 10
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "orphaned worker processes survived the kill"
    before_kill = _journaled(relax_dir)  # everything that made it to disk

    rerun = subprocess.run(_command(workflow, out), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "funnel" in rerun.stdout
    _check_complete(out, before_kill)
    runs = json.loads((out / "provenance.json").read_text())["runs"]
    assert runs[0]["status"] == "running"  # the killed run never got to say more
    assert runs[1]["status"] == "completed" and "relax" in runs[1]["stages_run"]
    assert "generate" in runs[1]["stages_reused"]


@pytest.mark.slow
def test_ctrl_c_during_relax_then_resume(tmp_path, workflow):
    out = tmp_path / "camp"
    relax_dir = out / "stages" / "relax"
    proc = _start(workflow, out)
    _wait_for_journal(proc, relax_dir, 1, timeout=240)
    proc.send_signal(signal.SIGINT)
    stderr = _finish(proc, timeout=60)
    assert proc.returncode == 130, stderr.decode()[-2000:]
    assert "run the same command again to resume" in stderr.decode()
    before = _journaled(relax_dir)
    rerun = subprocess.run(_command(workflow, out), capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    _check_complete(out, before)
