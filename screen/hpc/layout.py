"""Array steps laid out within the cluster's limits: packing shards, splitting arrays.

A job array's indices must stay below MaxArraySize (SLURM's default 1001), and every
array task counts as one job against MaxSubmitJobs (the user's pending + running jobs)
and MaxJobCount. The rule (``plan_layout``):

1. **Pack** only when the job budget forces it: the smallest ``pack`` (shards per task,
   the same for every array step) with which all the chain's jobs fit the jobs this user
   may still queue (min(MaxSubmitJobs, MaxJobCount) - jobs already queued). A packed task
   runs its shards one after the other within one walltime.
2. **Split** every array step into arrays ("parts") of at most MaxArraySize tasks, indices
   0..MaxArraySize-1; the parts of a step run side by side (each with its share of the
   profile's array_throttle), all after the previous step, and the next step waits
   for all of them (``afterok:part1:part2:...``). Splitting keeps one shard per task.

Without packing and with every shard index below MaxArraySize the layout is today's one
array whose task index is the shard (``--shard $SLURM_ARRAY_TASK_ID``); otherwise a part
tells its tasks which shards are theirs with the script arguments ``--shards SPEC
--pack K``: task ``i`` runs shards SPEC[i*K .. i*K+K-1]. ``slurm/jobs.json`` records the
shards and pack of every submission, so status and resubmit map tasks back to shards.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from screen.hpc.slurm import ClusterLimits, SlurmError, array_indices, index_spec


@dataclass(frozen=True)
class ArrayPart:
    """One sbatch of an array step: its task indices and the shards each task runs.

    ``shards`` None: task ``i`` runs shard ``i`` (pack 1); else task ``i`` runs
    ``shards[i*pack : i*pack+pack]``.
    """

    indices: tuple[int, ...]
    shards: tuple[int, ...] | None = None
    pack: int = 1

    def shards_of(self, index: int) -> list[int]:
        """The shards array task ``index`` runs."""
        if self.shards is None:
            return [index]
        return list(self.shards[index * self.pack : (index + 1) * self.pack])

    def covered(self) -> list[int]:
        """Every shard of this part."""
        return list(self.indices) if self.shards is None else list(self.shards)

    def task_of(self) -> dict[int, int]:
        """Shard -> the array task index that runs it."""
        if self.shards is None:
            return {k: k for k in self.indices}
        return {s: k // self.pack for k, s in enumerate(self.shards)}

    def array(self, throttle: int | None = None) -> str:
        """The --array value."""
        return index_spec(self.indices) + (f"%{throttle}" if throttle else "")

    def args(self) -> list[str]:
        """The job script's arguments (passed on to ``batscreen task``)."""
        if self.shards is None:
            return []
        return ["--shards", index_spec(self.shards)] + (
            ["--pack", str(self.pack)] if self.pack > 1 else []
        )

    def record(self) -> dict[str, Any]:
        """What jobs.json keeps of it (besides the array)."""
        return {"shards": index_spec(self.shards) if self.shards is not None else None,
                "pack": self.pack}  # fmt: skip

    @classmethod
    def from_record(cls, sub: Mapping[str, Any]) -> ArrayPart:
        """The part a jobs.json submission was (older records: task index = shard)."""
        shards = sub.get("shards")
        return cls(
            tuple(array_indices(sub.get("array"))),
            tuple(array_indices(shards)) if shards else None,
            int(sub.get("pack") or 1),
        )


def task_shards(index: int, shards: str | None, pack: int) -> list[int]:
    """What ``batscreen task --shard INDEX [--shards SPEC] [--pack K]`` runs."""
    if pack < 1:
        raise ValueError(f"--pack {pack}: must be 1 or more")
    if index < 0:
        raise ValueError(f"--shard {index}: must be 0 or more")
    if shards is None:
        return list(range(index * pack, index * pack + pack))
    listed = array_indices(shards)
    mine = listed[index * pack : (index + 1) * pack]
    if not mine:
        raise ValueError(f"task {index} has no shard: --shards {shards} --pack {pack}")
    return mine


def effective_limits(cluster: ClusterLimits, profile_limits: Any) -> ClusterLimits:
    """The cluster's limits, tightened by a profile's ``limits``.

    A profile never loosens them: SLURM would refuse what exceeds its own.
    """

    def tighter(mine: int | None, theirs: int | None) -> int | None:
        known = [v for v in (mine, theirs) if v is not None]
        return min(known) if known else None

    size = getattr(profile_limits, "max_array_size", None)
    submit = getattr(profile_limits, "max_submit_jobs", None)
    source = list(cluster.source)
    if size is not None:
        source.append(f"max_array_size {size} (profile)")
    if submit is not None:
        source.append(f"max_submit_jobs {submit} (profile)")
    return replace(
        cluster,
        max_array_size=tighter(size, cluster.max_array_size),
        max_submit_jobs=tighter(submit, cluster.max_submit_jobs),
        source=tuple(source),
    )


def choose_pack(tasks: Mapping[str, int], singles: int, available: int | None) -> int:
    """The smallest shards-per-task with which every job fits ``available``.

    ``tasks``: shards to submit per array step; ``singles``: the single jobs submitted
    with them; ``available``: jobs (array tasks each) this user may still queue.
    """
    counts = [n for n in tasks.values() if n > 0]
    if available is None or singles + sum(counts) <= available:
        return 1
    room = available - singles
    if room < len(counts):
        raise SlurmError(
            f"the cluster's job limits leave room for {max(available, 0)} more job(s) of "
            f"yours; this chain needs at least {singles + len(counts)} (one task per array "
            "and its single jobs): wait for queued jobs to finish, or raise "
            "limits.max_submit_jobs in the profile if the site allows more"
        )
    pack = max(1, math.ceil(sum(counts) / room))
    while sum(math.ceil(n / pack) for n in counts) > room:
        pack += 1
    return pack


def plan_parts(shards: Iterable[int], pack: int, max_array_size: int | None) -> list[ArrayPart]:
    """The arrays (parts) that run ``shards``, ``pack`` per task, indices < max_array_size."""
    ordered = sorted(set(shards))
    if not ordered:
        return []
    if max_array_size is not None and max_array_size < 1:
        raise SlurmError("job arrays are disabled on this cluster (MaxArraySize = 0)")
    size = max_array_size or len(ordered) * pack + ordered[-1] + 1
    if pack == 1 and ordered[-1] < size:
        return [ArrayPart(tuple(ordered))]
    parts = []
    per = size * pack
    for start in range(0, len(ordered), per):
        chunk = ordered[start : start + per]
        if pack == 1 and chunk[-1] < size:
            parts.append(ArrayPart(tuple(chunk)))
        else:
            tasks = math.ceil(len(chunk) / pack)
            parts.append(ArrayPart(tuple(range(tasks)), tuple(chunk), pack))
    return parts


@dataclass(frozen=True)
class Layout:
    """Per array step its parts; the pack and the limits it was planned for."""

    parts: dict[str, list[ArrayPart]]
    pack: int
    limits: ClusterLimits

    def describe(self, step: str) -> str:
        """'12 shards -> 6 tasks (2 shards each) in 2 arrays'."""
        parts = self.parts.get(step, [])
        shards = sum(len(p.covered()) for p in parts)
        tasks = sum(len(p.indices) for p in parts)
        text = f"{shards} shard(s) -> {tasks} task(s)"
        if self.pack > 1:
            text += f" ({self.pack} shards each)"
        if len(parts) > 1:
            text += f" in {len(parts)} arrays"
        return text

    def warnings(self, time_of: Mapping[str, str]) -> list[str]:
        """What a user should know about this layout (packing shares one walltime)."""
        if self.pack == 1:
            return []
        steps = [s for s, parts in self.parts.items() if parts]
        times = ", ".join(f"{s} {time_of.get(s, '?')}" for s in steps)
        return [
            f"{', '.join(steps)}: {self.pack} shards per array task to stay within the job "
            f"limits ({'; '.join(self.limits.source)}); a task has one walltime ({times}) "
            "for all its shards: one that runs out stops cleanly and resubmit goes on"
        ]


def plan_layout(shards: Mapping[str, Iterable[int]], singles: int, limits: ClusterLimits) -> Layout:
    """Parts of every array step (``shards``: the shards each step submits now)."""
    lists = {step: sorted(set(s)) for step, s in shards.items()}
    pack = choose_pack({s: len(v) for s, v in lists.items()}, singles, limits.jobs_available())
    parts = {s: plan_parts(v, pack, limits.max_array_size) for s, v in lists.items()}
    return Layout(parts, pack, limits)


def throttle_share(throttle: int | None, parts: int) -> int | None:
    """Each part's %N so that the parts of a step together stay near ``throttle``."""
    if not throttle or parts <= 1:
        return throttle
    return max(1, throttle // parts)
