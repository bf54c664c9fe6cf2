"""Cluster profiles (hpc/profiles/*.yaml) and the job scripts rendered from them.

A profile says how a site runs jobs: partition, account, CPUs, memory, GPUs, walltime per
kind of job, the lines that prepare the environment (module loads, virtualenv), the array
throttle, extra #SBATCH lines and limits tighter than the cluster reports (``limits``).
Values that are not public facts of a site are written as ``<FILL: ...>`` placeholders;
``batscreen submit`` refuses a profile that still has one (``--dry-run`` writes the
scripts anyway, with a warning listing the same fields) and names the file and the field.

Job kinds: one per per-record stage (``relax``, ``md``: arrays over shards, one pilot task
keeping a GPU busy with a whole shard); ``light`` runs the single jobs (estimate, finish).
A kind the profile leaves out gets the defaults of JobResources.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PLACEHOLDER = re.compile(r"<FILL:[^>]*>")
TIME = re.compile(r"^(\d+-)?\d{1,2}:\d{2}:\d{2}$")


class ProfileError(ValueError):
    """A profile file that cannot be used, with the file, the field and what is allowed."""


class JobResources(BaseModel):
    """What one job (or one array task) of a kind asks for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: str | None = None
    time: str = Field(default="01:00:00", description="walltime [D-]HH:MM:SS")
    cpus: int = Field(default=1, ge=1, description="--cpus-per-task")
    mem: str | None = Field(default=None, description="--mem, e.g. 16G")
    gpus: int = Field(default=0, ge=0, description="GPUs per task (--gpus-per-task)")
    gpu_type: str | None = Field(default=None, description="e.g. a100: --gpus-per-task=a100:1")

    @field_validator("time")
    @classmethod
    def _walltime(cls, value: str) -> str:
        if not TIME.match(value) and not PLACEHOLDER.search(value):
            raise ValueError(f"time {value!r}: use [D-]HH:MM:SS, e.g. 04:00:00 or 1-00:00:00")
        return value

    def seconds(self) -> int:
        """Walltime in seconds."""
        days, _, clock = self.time.rpartition("-")
        h, m, s = (int(v) for v in clock.split(":"))
        return (int(days) if days else 0) * 86400 + h * 3600 + m * 60 + s


class Limits(BaseModel):
    """A site's limits that submit plans around.

    Tighter than (or absent from) what ``scontrol show config`` and ``sacctmgr`` report;
    None: what the cluster says.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_array_size: int | None = Field(
        default=None, ge=1, description="array indices stay below N (SLURM's MaxArraySize)"
    )
    max_submit_jobs: int | None = Field(
        default=None, ge=1, description="this user's pending + running jobs, each array task one"
    )


class Profile(BaseModel):
    """One cluster's way of running batscreen jobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    account: str | None = Field(default=None, description="--account; None: not passed")
    setup: list[str] = Field(
        default_factory=list, description="shell lines before batscreen runs (modules, venv)"
    )
    batscreen: str = Field(default="batscreen", description="the command, or its full path")
    jobs: dict[Literal["light", "relax", "md"], JobResources] = Field(default_factory=dict)
    array_throttle: int | None = Field(default=None, ge=1, description="array %N: tasks at once")
    signal_seconds: int = Field(
        default=300, ge=30, description="SIGUSR1 this long before the walltime (stop, flush)"
    )
    extra_sbatch: list[str] = Field(default_factory=list, description="more #SBATCH options")
    limits: Limits = Field(default_factory=Limits, description="caps on arrays and job counts")

    def resources(self, kind: str) -> JobResources:
        """The resources of a job kind (defaults when the profile leaves it out)."""
        return self.jobs.get(kind, JobResources())  # type: ignore[call-overload]

    def placeholders(self) -> list[str]:
        """Fields still holding a <FILL: ...> placeholder (dotted paths)."""
        found: list[str] = []

        def walk(value: Any, path: str) -> None:
            if isinstance(value, dict):
                for k, v in value.items():
                    walk(v, f"{path}.{k}" if path else str(k))
            elif isinstance(value, list):
                for k, v in enumerate(value):
                    walk(v, f"{path}[{k}]")
            elif isinstance(value, str) and PLACEHOLDER.search(value):
                found.append(f"{path} = {value!r}")

        walk(self.model_dump(), "")
        return found


def profiles_dir() -> Path:
    """hpc/profiles, shipped with batscreen."""
    from screen.resources import resource_dir

    return resource_dir("hpc") / "profiles"


def load_profile(name_or_path: str | Path) -> tuple[Profile, Path]:
    """A shipped profile by name (generic, snellius, ...) or a profile file by path."""
    path = Path(name_or_path)
    if not path.is_file():
        path = profiles_dir() / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in profiles_dir().glob("*.yaml")))
        raise ProfileError(f"no profile {str(name_or_path)!r}: shipped profiles are {known}, "
                           "or give the path of a profile file")  # fmt: skip
    try:
        data = yaml.safe_load(path.read_text())
        return Profile.model_validate(data), path
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc']))}: {e['msg']} (given {e.get('input')!r})"
            for e in exc.errors()
        ]
        raise ProfileError(f"{path}: " + "; ".join(problems)) from None


def render_job(
    profile: Profile,
    *,
    kind: str,
    job_name: str,
    log_dir: Path,
    command: str,
    array: str | None = None,
) -> str:
    """The text of one sbatch script."""
    res = profile.resources(kind)
    log = log_dir / (f"{job_name}_%A_%a.out" if array else f"{job_name}_%j.out")
    lines = ["#!/bin/bash", f"#SBATCH --job-name={job_name}", f"#SBATCH --output={log}"]
    if res.partition:
        lines.append(f"#SBATCH --partition={res.partition}")
    if profile.account:
        lines.append(f"#SBATCH --account={profile.account}")
    lines += [f"#SBATCH --time={res.time}", "#SBATCH --nodes=1", "#SBATCH --ntasks=1"]
    lines.append(f"#SBATCH --cpus-per-task={res.cpus}")
    if res.mem:
        lines.append(f"#SBATCH --mem={res.mem}")
    if res.gpus:
        gpus = f"{res.gpu_type}:{res.gpus}" if res.gpu_type else str(res.gpus)
        lines.append(f"#SBATCH --gpus-per-task={gpus}")
    if array is not None:
        throttle = f"%{profile.array_throttle}" if profile.array_throttle else ""
        lines.append(f"#SBATCH --array={array}{throttle}")
    if array is not None:  # pilots (the array tasks) stop cleanly before the walltime
        lines.append(f"#SBATCH --signal=B:USR1@{profile.signal_seconds}")
    lines += [f"#SBATCH {extra}" for extra in profile.extra_sbatch]
    lines += ["", "set -eo pipefail", *profile.setup]
    threads = res.cpus if res.gpus else 1
    lines += [
        f"export OMP_NUM_THREADS={threads} OPENBLAS_NUM_THREADS={threads}",
        f"exec {command}",
        "",
    ]
    return "\n".join(lines)


def quoted(path: Path | str) -> str:
    """A path as one shell word."""
    return shlex.quote(str(path))
