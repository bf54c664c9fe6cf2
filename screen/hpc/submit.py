"""A campaign on SLURM: job arrays over shards, chained with afterok, resumable.

``submit`` runs the cheap stages (generate, prefilter) where it is called (the login
node), fixes the relax shard plan, writes one job script per step into
``<campaign>/slurm/`` and submits the chain

    relax  (array, one pilot task per shard)  --afterok-->  estimate (one job)
      --afterok-->  md (array over the top-K shards; only when md.top_k > 0)
      --afterok-->  finish (merge, rank, deliver)

Every task runs ``batscreen task DIR STEP``; a relax or md task works through its whole
shard with the batched engine and journals every finished record, so a cancelled, failed
or timed-out task loses nothing. ``status`` reads SLURM and the campaign store;
``resubmit`` submits only the unfinished shards and the steps after them; ``collect``
merges everything and writes the deliverables (the finish job does the same).
The submissions are recorded in ``<campaign>/slurm/jobs.json``.

An array step larger than the cluster allows (MaxArraySize, MaxSubmitJobs, MaxJobCount,
or the profile's ``limits``) is split into several arrays and, when the job budget
requires it, packs several shards into each task: ``screen.hpc.layout``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from screen.hpc.layout import ArrayPart, Layout, plan_layout, plan_parts, throttle_share
from screen.hpc.profiles import Profile, ProfileError, quoted, render_job
from screen.stage_table import PER_RECORD, STAGE_NAMES, STAGES, stage
from screen.store.atomic import atomic_write_text
from screen.store.campaign import Campaign, utc_now


def _chain() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The chain's steps from the stage table: (step, the stages it runs).

    The stages before the first per-record stage run where ``submit`` is called; each
    per-record stage is a job array (its name), and the whole stages between two of them
    one job, named after its last stage (the last job: ``finish``).
    """
    first = next(i for i, s in enumerate(STAGES) if s.per_record)
    steps: list[tuple[str, tuple[str, ...]]] = []
    group: list[str] = []
    for step in STAGES[first:]:
        if step.per_record:
            if group:
                steps.append((group[-1], tuple(group)))
                group = []
            steps.append((step.name, (step.name,)))
        else:
            group.append(step.name)
    if group:
        steps.append(("finish", tuple(group)))
    return tuple(steps)


CHAIN = _chain()
STEPS = tuple(name for name, _ in CHAIN)
ARRAY_STEPS = PER_RECORD
#: the stage a step ends with (its output marks the step done)
LAST_STAGE = {name: stages[-1] for name, stages in CHAIN}
#: where submit stops: the stage before the first per-record stage
LOGIN_UNTIL = STAGE_NAMES[STAGE_NAMES.index(ARRAY_STEPS[0]) - 1]
#: the job kind of the cluster profile each step asks for
KIND = {name: name if name in ARRAY_STEPS else "light" for name in STEPS}


@dataclass
class SubmitPlan:
    """What submit wrote (and submitted): scripts, array sizes, sbatch commands, job ids.

    ``job_ids``: per step its job id, or the ids of its arrays joined with ','.
    """

    root: Path
    scripts: dict[str, Path]
    shards: dict[str, int]
    commands: list[str] = field(default_factory=list)
    job_ids: dict[str, str] = field(default_factory=dict)
    layout: Layout | None = None
    warnings: list[str] = field(default_factory=list)


def slurm_dir(root: Path) -> Path:
    """<campaign>/slurm: scripts, logs, jobs.json."""
    return root / "slurm"


def _read_jobs(root: Path) -> dict[str, Any]:
    path = slurm_dir(root) / "jobs.json"
    return json.loads(path.read_text()) if path.is_file() else {"submissions": []}


def _record_job(
    root: Path,
    step: str,
    job_id: str,
    part: ArrayPart | None,
    dep: str | None,
    settings: dict[str, Any] | None = None,
) -> None:
    """Append one submission to jobs.json (``settings``: what resubmit needs of the profile)."""
    data = _read_jobs(root)
    if settings is not None:
        data["settings"] = settings
    data["submissions"].append(
        {"step": step, "job_id": job_id, "array": part.array() if part else None,
         **(part.record() if part else {}), "dependency": dep, "utc": utc_now()}
    )  # fmt: skip
    atomic_write_text(slurm_dir(root) / "jobs.json", json.dumps(data, indent=1))


def _settings(profile: Profile) -> dict[str, Any]:
    return {"account": profile.account, "array_throttle": profile.array_throttle,
            "limits": profile.limits.model_dump()}  # fmt: skip


def placeholder_problem(profile: Profile, profile_path: Path) -> str | None:
    """The fields of a profile still holding <FILL: ...>, as submit refuses them."""
    missing = profile.placeholders()
    if not missing:
        return None
    return f"{profile_path}: fill in the site values first ({'; '.join(missing)})"


def task_command(profile: Profile, root: Path, step: str) -> str:
    """The command line a job of ``step`` runs."""
    base = f"{profile.batscreen} task {quoted(root)} {step}"
    # "$@": the part's --shards/--pack when submit splits or packs the array
    return base + ' --shard "$SLURM_ARRAY_TASK_ID" "$@"' if step in ARRAY_STEPS else base


def render_scripts(
    profile: Profile,
    root: Path,
    name: str,
    shards: dict[str, int],
    layout: Layout | None = None,
) -> dict[str, str]:
    """The text of every step's job script (steps without work are left out).

    An array script's ``#SBATCH --array`` is its first part's (all shards, without a
    layout); submit passes the others' on the command line.
    """
    logs = slurm_dir(root) / "logs"
    scripts = {}
    for step in STEPS:
        if step in ARRAY_STEPS and shards.get(step, 0) == 0:
            continue
        array = None
        if step in ARRAY_STEPS:
            parts = layout.parts.get(step) if layout else None
            array = (parts or plan_parts(range(shards[step]), 1, None))[0].array()
        scripts[step] = render_job(
            profile,
            kind=KIND[step],
            job_name=f"bs-{name}-{step}",
            log_dir=logs,
            command=task_command(profile, root, step),
            array=array,
        )
    return scripts


def write_scripts(
    campaign: Campaign, profile: Profile, shards: dict[str, int], layout: Layout | None = None
) -> dict[str, Path]:
    """Write the job scripts into <campaign>/slurm/; returns their paths."""
    root = campaign.root.resolve()
    (slurm_dir(root) / "logs").mkdir(parents=True, exist_ok=True)
    name = campaign.meta.get("name", "campaign")
    paths = {}
    for step, text in render_scripts(profile, root, name, shards, layout).items():
        path = slurm_dir(root) / f"{step}.sbatch"
        atomic_write_text(path, text)
        paths[step] = path
    return paths


def prepare(workflow: Any, out: Path) -> tuple[Campaign, dict[str, int]]:
    """Run the stages before the first array here, fix its shard plan; shards per array.

    Later arrays are sized by the most records their stage can take (md: top_k); tasks
    beyond what reaches them find an empty shard and finish at once.
    """
    from screen.executors.local import plan_shards
    from screen.pipeline import run

    run(workflow, out, until=LOGIN_UNTIL)
    campaign = Campaign.open(out, workflow)
    active = [r.id for r in campaign.read_output(LOGIN_UNTIL) if r.active]
    size = workflow.execution.shard_size
    first, *later = ARRAY_STEPS
    shards = {first: len(plan_shards(campaign.stage_dir(first), active, size)) if active else 0}
    for name in later:
        step = stage(name)
        most = len(active)
        if step.most_records is not None:
            most = step.most_records(step.params_of(workflow.stages), most)
        shards[name] = math.ceil(most / size)
    return campaign, shards


def submit(
    workflow: Any, out: Path, profile: Profile, profile_path: Path, *, dry_run: bool = False
) -> SubmitPlan:
    """Write the job scripts and (unless ``dry_run``) submit the chain.

    A dry run with unfilled profile values still writes the scripts and warns
    (``plan.warnings``) with the fields that a real submit refuses.
    """
    from screen.hpc import slurm
    from screen.hpc.layout import effective_limits

    warnings: list[str] = []
    problem = placeholder_problem(profile, profile_path)
    if problem and not dry_run:
        raise ProfileError(problem + "; --dry-run shows the scripts as they are")
    if problem:
        warnings.append(problem + "; submit refuses the profile until then")
    if not dry_run:
        from screen.potentials.weights import verified_identity

        verified_identity(workflow.potential.card())  # weights staged, or the staging command
    campaign, shards = prepare(workflow, out)
    limits = effective_limits(slurm.cluster_limits(profile.account), profile.limits)
    steps = [s for s in STEPS if s not in ARRAY_STEPS or shards.get(s, 0) > 0]
    singles = len([s for s in steps if s not in ARRAY_STEPS])
    layout = plan_layout({s: range(shards[s]) for s in steps if s in ARRAY_STEPS}, singles,
                         limits)  # fmt: skip
    warnings += layout.warnings({s: profile.resources(KIND[s]).time for s in ARRAY_STEPS})
    scripts = write_scripts(campaign, profile, shards, layout)
    plan = SubmitPlan(campaign.root, scripts, shards, layout=layout, warnings=warnings)
    settings: dict[str, Any] | None = _settings(profile)
    previous: list[str] = []
    for step, script in scripts.items():
        parts: list[ArrayPart | None] = [None]
        if layout.parts.get(step):
            parts = [*layout.parts[step]]
        share = throttle_share(profile.array_throttle, len(parts))
        ids = []
        for k, part in enumerate(parts):
            array = part.array(share) if part and len(parts) > 1 else None
            args = part.args() if part else []
            if dry_run:
                shown = f"afterok:{':'.join(f'${{{v}}}' for v in previous)}" if previous else None
                plan.commands.append(_command(script, shown, array, args))
                ids.append(f"{step.upper()}_JOB" + (f"_{k + 1}" if len(parts) > 1 else ""))
                continue
            dep = f"afterok:{':'.join(previous)}" if previous else None
            plan.commands.append(_command(script, dep, array, args))
            job_id = slurm.sbatch(script, dependency=dep, array=array, args=args)
            _record_job(campaign.root, step, job_id, part, dep, settings)
            settings = None
            ids.append(job_id)
        if not dry_run:
            plan.job_ids[step] = ",".join(ids)
        previous = ids
    return plan


def _command(script: Path, dep: str | None, array: str | None, args: list[str]) -> str:
    """The sbatch command line as a user would type it."""
    return (
        "sbatch --parsable"
        + (f" --dependency={dep}" if dep else "")
        + (f" --array={array}" if array else "")
        + f" {script}"
        + "".join(f" {quoted(a)}" for a in args)
    )


# ------------------------------------------------------------------------- status
@dataclass
class StepStatus:
    """One step of the chain: its shards (array steps) or its single job."""

    step: str
    total: int
    done: int = 0
    running: int = 0
    pending: int = 0
    failed: dict[int, tuple[str, str]] = field(default_factory=dict)  # shard -> (reason, log)

    @property
    def complete(self) -> bool:
        """Every shard (or the job) finished its work."""
        return self.total > 0 and self.done == self.total


def _log_path(root: Path, name: str, step: str, job_id: str, index: int | None) -> Path:
    logs = slurm_dir(root) / "logs"
    if index is None:
        return logs / f"bs-{name}-{step}_{job_id}.out"
    return logs / f"bs-{name}-{step}_{job_id}_{index}.out"


def _last_error(path: Path) -> str:
    if not path.is_file():
        return ""
    lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        if "Error" in line or "error" in line or "failed" in line:
            return line[:200]
    return lines[-1][:200] if lines else ""


def campaign_status(root: Path, states: dict[str, Any] | None = None) -> list[StepStatus]:
    """Per step: shards done / running / pending / failed (with reason and log path).

    ``states``: the SLURM states of the campaign's jobs when the caller has them already.
    Shards are mapped to the array task that ran them (split or packed arrays included).
    """
    from screen.executors.local import sealed_shards, shard_count
    from screen.hpc import slurm

    campaign = Campaign.load(root)
    name = campaign.meta.get("name", "campaign")
    submissions = _read_jobs(root)["submissions"]
    if states is None:
        states = slurm.job_states(s["job_id"] for s in submissions)
    out = []
    for step in STEPS:
        mine = [s for s in submissions if s["step"] == step]
        tasks = [(sub, ArrayPart.from_record(sub).task_of()) for sub in mine]
        if step in ARRAY_STEPS:
            stage_dir = campaign.stage_dir(step)
            total = shard_count(stage_dir) or _planned(mine)
            done_set = sealed_shards(stage_dir)
        else:
            total = 1 if mine else 0
            done_set = {0} if campaign.has_output(LAST_STAGE[step]) else set()
        status = StepStatus(step, total, done=len(done_set & set(range(total))))
        for shard in range(total):
            if shard in done_set:
                continue
            latest = _latest_state(tasks, states, shard if step in ARRAY_STEPS else None)
            if latest is None:
                status.pending += 1 if mine else 0
                continue
            sub, index, state = latest
            if state.state in ("RUNNING", "COMPLETING", "CONFIGURING"):
                status.running += 1
            elif state.state == "PENDING":
                status.pending += 1
                if state.reason == "DependencyNeverSatisfied":
                    status.failed[shard] = ("dependency failed", "")
                    status.pending -= 1
            else:
                log = _log_path(root, name, step, sub["job_id"], index)
                reason = state.state + (f" ({state.exit_code})" if state.exit_code else "")
                detail = _last_error(log)
                status.failed[shard] = (reason + (f": {detail}" if detail else ""), str(log))
        out.append(status)
    return out


def _planned(submissions: list[dict[str, Any]]) -> int:
    """Shards of an array step as submitted (before its plan exists)."""
    covered = [k for sub in submissions for k in ArrayPart.from_record(sub).covered()]
    return max(covered) + 1 if covered else 0


def _latest_state(
    tasks: list[tuple[dict[str, Any], dict[int, int]]], states: dict[str, Any], shard: int | None
) -> tuple[dict[str, Any], int | None, Any] | None:
    """The newest submission that covers this shard, its task index and its SLURM state.

    ``tasks``: the step's submissions, each with its map shard -> array task index.
    """
    from screen.hpc.slurm import TaskState

    for sub, task_of in reversed(tasks):
        index = None if shard is None else task_of.get(shard)
        if shard is not None and index is None:
            continue
        key = sub["job_id"] if index is None else f"{sub['job_id']}_{index}"
        state = states.get(key)
        if state is None and index is not None:
            state = states.get(sub["job_id"])  # a pending array not yet split into tasks
        if state is None:
            return sub, index, TaskState(key, "UNKNOWN", "SLURM no longer reports it")
        return sub, index, state
    return None


# ------------------------------------------------------------------------- resubmit
def resubmit(root: Path) -> SubmitPlan:
    """Submit what is missing or failed, and the steps after it; nothing done twice.

    The unfinished shards are laid out anew within the cluster's limits (and the
    profile's, as recorded at submit): split into arrays, packed when the job budget
    requires it (``screen.hpc.layout``).
    """
    from screen.executors.local import sealed_shards
    from screen.hpc import slurm
    from screen.hpc.layout import effective_limits
    from screen.hpc.profiles import Limits

    root = root.resolve()
    jobs = _read_jobs(root)
    settings = jobs.get("settings") or {}
    submissions = jobs["submissions"]
    states = slurm.job_states(s["job_id"] for s in submissions)
    statuses = {s.step: s for s in campaign_status(root, states)}
    scripts = {p.stem: p for p in sorted(slurm_dir(root).glob("*.sbatch"))}
    plan = SubmitPlan(root, scripts, {})
    # jobs waiting on the old chain are rebuilt below with dependencies on what runs now
    waiting = {
        st.parent
        for st in states.values()
        if st.state == "PENDING" and st.reason.startswith("Dependency")
    }
    slurm.scancel(waiting)
    states = {k: v for k, v in states.items() if v.parent not in waiting}
    # what each step needs: (its active job ids, the shards to run | None: its single job)
    todo: list[tuple[str, list[str], list[int] | None]] = []
    started = False
    for step in STEPS:
        if step not in scripts:
            continue
        status = statuses[step]
        if status.complete and not started:
            continue
        started = True
        active = [
            sub["job_id"]
            for sub in submissions
            if sub["step"] == step
            and any(
                st.state in slurm.ACTIVE_STATES and st.parent == sub["job_id"]
                for st in states.values()
            )
        ]
        if step in ARRAY_STEPS:
            total = status.total or _planned([s for s in submissions if s["step"] == step])
            busy = _busy_shards(submissions, states, step)
            sealed = sealed_shards(Campaign.load(root).stage_dir(step))
            skip = sealed | busy
            todo.append((step, active, [k for k in range(total) if k not in skip]))
        else:
            todo.append((step, active, None))
    limits = effective_limits(
        slurm.cluster_limits(settings.get("account")),
        Limits.model_validate(settings.get("limits") or {}),
    )
    singles = len([1 for _, active, missing in todo if missing is None and not active])
    layout = plan_layout({s: m for s, _, m in todo if m}, singles, limits)
    plan.layout = layout
    throttle = settings.get("array_throttle")
    previous: list[str] = []
    for step, active, missing in todo:
        dep = f"afterok:{':'.join(previous)}" if previous else None
        if missing is None:
            if active:
                previous = active
                continue
            job_id = slurm.sbatch(scripts[step], dependency=dep)
            _record_job(root, step, job_id, None, dep)
            plan.job_ids[step] = job_id
            previous = [job_id]
            continue
        ids = list(active)
        parts = layout.parts.get(step, [])
        share = throttle_share(throttle, len(parts))
        new = []
        for part in parts:
            array = part.array(share)
            job_id = slurm.sbatch(scripts[step], dependency=dep, array=array, args=part.args())
            _record_job(root, step, job_id, part, dep)
            new.append(job_id)
        if new:
            plan.job_ids[step] = ",".join(new)
        previous = ids + new or previous
    return plan


def _busy_shards(submissions: list[dict[str, Any]], states: dict[str, Any], step: str) -> set[int]:
    """Shards that a queued or running task of ``step`` will run (or runs)."""
    from screen.hpc.slurm import ACTIVE_STATES

    busy: set[int] = set()
    for sub in submissions:
        if sub["step"] != step:
            continue
        part = ArrayPart.from_record(sub)
        for st in states.values():
            if st.parent != sub["job_id"] or st.state not in ACTIVE_STATES:
                continue
            if st.array_index is not None:
                busy.update(part.shards_of(st.array_index))
            else:  # the array has not been split into tasks yet
                busy.update(part.covered())
    return busy


# ------------------------------------------------------------------------- tasks
def run_task(
    root: Path,
    step: str,
    shard: int | None,
    workers: int | str | None,
    *,
    shards: str | None = None,
    pack: int = 1,
) -> int:
    """What one SLURM job runs; the exit code tells SLURM (and afterok) how it went.

    An array task runs shard ``shard`` (its task index), or with ``shards`` (an array
    spec, e.g. '5-9') and ``pack`` the shards ``shards[shard*pack : shard*pack+pack]``,
    one after the other. 0: the step's work is complete; 75 (EX_TEMPFAIL): stopped at the
    walltime warning (SIGUSR1) or otherwise incomplete, finished records journaled,
    resubmit to go on. A shard that fails does not keep the task's next shards from
    running; the task then fails with the first error.
    """
    import signal

    from screen.hpc.layout import task_shards
    from screen.pipeline import run, run_shard

    stop = {"now": False}

    def warned(signum: int, frame: Any) -> None:
        stop["now"] = True
        print(f"batscreen task: signal {signum}, finishing the records in flight", flush=True)

    signal.signal(signal.SIGUSR1, warned)
    signal.signal(signal.SIGTERM, warned)
    if step in ARRAY_STEPS:
        if shard is None:
            raise ValueError(f"step {step} needs --shard")
        mine = task_shards(shard, shards, pack)
        complete = True
        errors: list[BaseException] = []
        for index in mine:
            if stop["now"]:
                complete = False
                print(f"{step} shard {index}: not started (stopping)", flush=True)
                continue
            try:
                outcome = run_shard(
                    root, step, index, workers=workers, should_stop=lambda: stop["now"]
                )
            except Exception as exc:
                if len(mine) == 1:
                    raise
                import traceback

                traceback.print_exc()  # into the task's log; its other shards still run
                print(f"{step} shard {index}: failed: {exc!r}", flush=True)
                errors.append(exc)
                continue
            print(f"{step} shard {index}: {outcome.done}/{outcome.size} records done", flush=True)
            complete = complete and outcome.complete
        if errors:
            raise errors[0]
        return 0 if complete else 75
    if step not in STEPS:
        raise ValueError(f"unknown step {step!r}; steps: {', '.join(STEPS)}")
    campaign = Campaign.load(root)
    until = None if step == STEPS[-1] else LAST_STAGE[step]
    # the arrays did the per-record work; a job never computes it
    run(campaign.workflow(), root, workers=workers, until=until, frozen=frozenset(ARRAY_STEPS))
    return 0


def collect(root: Path) -> Any:
    """Merge the shards and write the deliverables (IncompleteStage if shards are missing)."""
    from screen.pipeline import run

    campaign = Campaign.load(root)
    return run(campaign.workflow(), root, frozen=frozenset(ARRAY_STEPS))
