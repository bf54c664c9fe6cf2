"""Thin wrappers over the SLURM commands batscreen uses (sbatch, squeue, sacct, scancel).

Only the plain ``-o``/``--format`` outputs are parsed: they are stable across SLURM
versions, unlike the JSON outputs (22.05's ``squeue --json`` ignores ``-j``). ``sacct``
is used when the site has accounting, else ``squeue -t all`` (finished jobs stay
visible for MinJobAge seconds).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

FAILED_STATES = frozenset(
    {"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
     "BOOT_FAIL", "DEADLINE"}
)  # fmt: skip
ACTIVE_STATES = frozenset(
    {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "RESIZING", "SUSPENDED"}
)


class SlurmError(RuntimeError):
    """A SLURM command failed or is missing."""


@dataclass(frozen=True)
class TaskState:
    """State of one job or array task as SLURM reports it."""

    job_id: str  # "12" or "12_3"
    state: str  # COMPLETED, FAILED, RUNNING, ...
    reason: str = ""
    exit_code: str = ""

    @property
    def array_index(self) -> int | None:
        """The task index of an array task, else None."""
        _, _, index = self.job_id.partition("_")
        return int(index) if index.isdigit() else None

    @property
    def parent(self) -> str:
        """The array's (or job's) id."""
        return self.job_id.partition("_")[0]


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
    if shutil.which(cmd[0]) is None:
        raise SlurmError(f"{cmd[0]} not found: run this on a SLURM login node")
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=120, check=False)


def sbatch(script: Path, *, dependency: str | None = None, array: str | None = None) -> str:
    """Submit a script; returns the job id."""
    cmd = ["sbatch", "--parsable"]
    if dependency:
        cmd.append(f"--dependency={dependency}")
    if array:
        cmd.append(f"--array={array}")
    cmd.append(str(script))
    done = _run(cmd)
    if done.returncode != 0:
        raise SlurmError(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip().split(";")[0]


def scancel(job_ids: Iterable[str]) -> None:
    """Cancel jobs (unknown ids are ignored by SLURM)."""
    ids = sorted(set(job_ids))
    if ids:
        _run(["scancel", *ids])


_RANGE = re.compile(r"^(\d+)_\[(.+)\]$")


def array_indices(spec: str | None) -> list[int]:
    """Task indices of an --array spec: '0-2,5%4' -> [0, 1, 2, 5]; None or '' -> []."""
    out: list[int] = []
    for part in (spec or "").split("%")[0].split(","):
        if part:
            lo, _, hi = part.partition("-")
            out += range(int(lo), int(hi or lo) + 1)
    return out


def _expand(job_id: str) -> list[str]:
    """'12_[3-5,7%2]' -> ['12_3', '12_4', '12_5', '12_7']; other ids unchanged."""
    match = _RANGE.match(job_id)
    if not match:
        return [job_id]
    return [f"{match.group(1)}_{k}" for k in array_indices(match.group(2))]


def job_states(job_ids: Iterable[str]) -> dict[str, TaskState]:
    """Every job / array task of ``job_ids`` that SLURM still knows, by id ('12_3')."""
    ids = sorted(set(job_ids))
    if not ids:
        return {}
    states: dict[str, TaskState] = {}
    acct = _run(["sacct", "-n", "-P", "-X", "-j", ",".join(ids), "-o", "JobID,State,ExitCode"])
    if acct.returncode == 0 and acct.stdout.strip():
        for line in acct.stdout.splitlines():
            job, state, code = [*line.split("|"), "", "", ""][:3]
            for one in _expand(job):
                states[one] = TaskState(one, state.split()[0] if state else "", "", code)
    lines = _squeue(ids)
    if lines is None:  # one id SLURM has forgotten fails the whole query: ask one by one
        lines = [line for one in ids for line in (_squeue([one]) or [])]
    for line in lines:
        if line.strip():
            job, state, reason, _ = [*line.split("|"), "", "", "", ""][:4]
            for one in _expand(job.strip()):
                states[one] = TaskState(one, state.strip(), reason.strip(), "")
    return states


def _squeue(ids: list[str]) -> list[str] | None:
    done = _run(["squeue", "-h", "-t", "all", "-j", ",".join(ids), "-o", "%i|%T|%r|%K"])
    return done.stdout.splitlines() if done.returncode == 0 else None
