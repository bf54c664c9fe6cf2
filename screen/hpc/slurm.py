"""Thin wrappers over the SLURM commands batscreen uses (sbatch, squeue, sacct, scancel).

Only the plain ``-o``/``--format`` outputs are parsed: they are stable across SLURM
versions, unlike the JSON outputs (22.05's ``squeue --json`` ignores ``-j``). ``sacct``
is used when the site has accounting, else ``squeue -t all`` (finished jobs stay
visible for MinJobAge seconds). The cluster's limits come from ``scontrol show config``
and, where accounting is readable, ``sacctmgr``.
"""

from __future__ import annotations

import getpass
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


def sbatch(
    script: Path,
    *,
    dependency: str | None = None,
    array: str | None = None,
    args: Sequence[str] = (),
) -> str:
    """Submit a script (``args``: the script's own arguments); returns the job id."""
    cmd = ["sbatch", "--parsable"]
    if dependency:
        cmd.append(f"--dependency={dependency}")
    if array:
        cmd.append(f"--array={array}")
    cmd += [str(script), *args]
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


def index_spec(indices: Iterable[int]) -> str:
    """The shortest --array spec of some indices: [0, 1, 2, 5, 7, 8] -> '0-2,5,7-8'."""
    ordered = sorted(set(indices))
    parts: list[str] = []
    k = 0
    while k < len(ordered):
        end = k
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        lo, hi = ordered[k], ordered[end]
        parts.append(str(lo) if lo == hi else f"{lo}-{hi}")
        k = end + 1
    return ",".join(parts)


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


# ------------------------------------------------------------------ the cluster's limits
#: SLURM's own default (slurm.conf), assumed where scontrol cannot be read
DEFAULT_MAX_ARRAY_SIZE = 1001


@dataclass(frozen=True)
class ClusterLimits:
    """What the cluster allows one user to queue; None: not known (no limit assumed).

    ``max_array_size``: array indices must be below it (SLURM's MaxArraySize);
    ``max_job_count``: jobs slurmctld holds at once, every array task counting (MaxJobCount);
    ``max_submit_jobs``: this user's pending + running jobs (association / QOS
    MaxSubmitJobs, or the profile's per-user cap); ``queued``: this user's jobs (array
    tasks each) already pending or running; ``source``: where each value came from.
    """

    max_array_size: int | None = None
    max_job_count: int | None = None
    max_submit_jobs: int | None = None
    queued: int = 0
    source: tuple[str, ...] = ()

    def jobs_available(self) -> int | None:
        """Jobs (array tasks each) this user may still queue; None: no known cap."""
        caps = [c for c in (self.max_submit_jobs, self.max_job_count) if c is not None]
        return min(caps) - self.queued if caps else None


def parse_config(text: str) -> dict[str, str]:
    """``scontrol show config`` as {Key: value}.

    'MaxArraySize = 1001' -> {'MaxArraySize': '1001'}; headers and other lines are left out.
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        key = key.strip()
        if sep and key and " " not in key:
            out.setdefault(key, value.strip())
    return out


def _number(value: str | None) -> int | None:
    """'1001' -> 1001; '', 'N/A', 'UNLIMITED' and other words -> None."""
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def parse_submit_limits(assoc: str, qos: str) -> int | None:
    """The tightest per-user submit limit in ``sacctmgr -n -P`` outputs.

    ``assoc``: rows of ``show assoc format=MaxSubmit,GrpSubmit,QOS,DefaultQOS``; ``qos``:
    rows of ``show qos format=Name,MaxSubmitPU,GrpSubmit``. A QOS counts when it is one
    of the association's default QOS (else the ones it may use are all considered).
    """
    limits: list[int] = []
    names: set[str] = set()
    for line in assoc.splitlines():
        if not line.strip():
            continue
        max_submit, grp_submit, allowed, default = [*line.split("|"), "", "", "", ""][:4]
        limits += [n for n in (_number(max_submit), _number(grp_submit)) if n is not None]
        names |= {default.strip()} if default.strip() else set(filter(None, allowed.split(",")))
    for line in qos.splitlines():
        if not line.strip():
            continue
        name, per_user, grp_submit = [*line.split("|"), "", "", ""][:3]
        if names and name.strip() not in names:
            continue
        limits += [n for n in (_number(per_user), _number(grp_submit)) if n is not None]
    return min(limits) if limits else None


def _try(cmd: Sequence[str], timeout: float = 20) -> str | None:
    """Stdout of a best-effort query; None when the command is missing, fails or hangs."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        done = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout,
                              check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def cluster_limits(account: str | None = None) -> ClusterLimits:
    """The limits of the cluster this runs on, best effort.

    MaxArraySize and MaxJobCount from ``scontrol show config`` (MaxArraySize: SLURM's
    default 1001 when it cannot be read, e.g. a dry run off the cluster); MaxSubmitJobs
    from ``sacctmgr`` (association and QOS; absent without accounting); the user's queued
    jobs from ``squeue -r``.
    """
    source: list[str] = []
    config = _try(["scontrol", "show", "config"])
    values = parse_config(config or "")
    array_size = _number(values.get("MaxArraySize"))
    job_count = _number(values.get("MaxJobCount"))
    if config is None:  # no SLURM here, or its controller does not answer: nor will the rest
        source.append(f"MaxArraySize {DEFAULT_MAX_ARRAY_SIZE} (SLURM's default; scontrol "
                      "not readable)")  # fmt: skip
        return ClusterLimits(DEFAULT_MAX_ARRAY_SIZE, source=tuple(source))
    if array_size is None:
        array_size = DEFAULT_MAX_ARRAY_SIZE
        source.append(f"MaxArraySize {array_size} (SLURM's default; not in scontrol's output)")
    else:
        source.append(f"MaxArraySize {array_size} (scontrol show config)")
    if job_count is not None:
        source.append(f"MaxJobCount {job_count} (scontrol show config)")
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        return ClusterLimits(array_size, job_count, None, 0, tuple(source))
    where = [f"user={user}"] + ([f"account={account}"] if account else [])
    assoc = _try(["sacctmgr", "-n", "-P", "show", "assoc", *where,
                  "format=MaxSubmit,GrpSubmit,QOS,DefaultQOS"])  # fmt: skip
    qos = _try(["sacctmgr", "-n", "-P", "show", "qos", "format=Name,MaxSubmitPU,GrpSubmit"])
    submit = parse_submit_limits(assoc or "", qos or "") if assoc is not None else None
    if submit is not None:
        source.append(f"MaxSubmitJobs {submit} (sacctmgr)")
    queue = _try(["squeue", "-h", "-r", "-u", user, "-t", "PENDING,RUNNING,SUSPENDED", "-o", "%i"])
    queued = len([line for line in (queue or "").splitlines() if line.strip()])
    return ClusterLimits(array_size, job_count, submit, queued, tuple(source))
