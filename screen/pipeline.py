"""Run a campaign: the stages of screen/stage_table.py, in order, stored in its directory.

Each finished stage's output (the whole population, including records that left the
funnel) is stored atomically as ``stages/<name>/records.jsonl``; a rerun reuses finished
stages and resumes per-record work from its journals. ``run`` is what ``batscreen run``
calls; ``run_shard`` is what a SLURM array task runs.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screen.context import ProgressCallback, StageContext
from screen.deliverables.files import delivered_files
from screen.deliverables.funnel import FunnelRow, format_funnel
from screen.deliverables.stage import write_campaign_report, write_funnel
from screen.executors.campaign import CampaignRunner
from screen.executors.local import resolve_worker_count, shard_progress, single_threaded
from screen.potentials.base import Potential, resolve_device
from screen.potentials.registry import DeferredPotential, PotentialSource
from screen.provenance import device_description, host_description, package_versions
from screen.records import Record
from screen.stage_table import PER_RECORD, STAGE_NAMES, STAGES, previous, run_stage, stage
from screen.store.campaign import Campaign, CampaignDirectoryError, utc_now
from screen.store.lock import (
    campaign_lock,
    refuse_if_run_holds,
    refuse_if_tasks_run,
    shard_lock,
)
from screen.workflow.load import load_workflow
from screen.workflow.spec import Workflow

log = logging.getLogger(__name__)

__all__ = ["CampaignResult", "ShardOutcome", "campaign_context", "default_out", "run", "run_shard"]


@dataclass
class CampaignResult:
    """What a finished run leaves: the directory, every record, the funnel."""

    root: Path
    records: list[Record]
    funnel: list[FunnelRow]

    def ranked(self) -> list[Record]:
        """Records that passed every stage, best first."""
        from screen.deliverables.table import ranked

        return ranked(self.records)

    def funnel_table(self) -> str:
        """The funnel as plain text."""
        return format_funnel(self.funnel)


def default_out(workflow: Workflow) -> Path:
    """Where a campaign goes without --out: campaigns/<name>."""
    return Path("campaigns") / workflow.name


def campaign_context(
    workflow: Workflow,
    campaign: Campaign,
    potential: Potential | None,
    workers: int | str,
    progress: ProgressCallback | None = None,
    *,
    frozen: frozenset[str] = frozenset(),
    only_shard: int | None = None,
    should_stop: Any = None,
) -> StageContext:
    """The context of a campaign's stages: its folder, its potential, its journaled runner.

    ``potential``: an already loaded one to use in this process (tests, notebooks);
    otherwise the model card's, loaded only when something needs it.
    """
    device = resolve_device(workflow.potential.device)
    card = workflow.potential.card()
    dtype = workflow.potential.dtype
    model = potential or DeferredPotential(card, device, dtype)
    runner = CampaignRunner(
        campaign,
        PotentialSource(card, device, dtype),
        workers=workers,
        shard_size=workflow.execution.shard_size,
        max_batch_atoms=workflow.execution.batch_atoms(device),
        potential=model,
        injected=potential is not None,
        progress=progress,
        frozen=frozen,
        only_shard=only_shard,
        should_stop=should_stop,
    )
    return StageContext(
        stages=workflow.stages,
        potential=model,
        runner=runner,
        space=workflow.chemical_space,
        folder=campaign.root,
        references_dir=campaign.root / "references",
        potential_name=card.name,
        progress=progress,
    )


def run(
    spec: Workflow | str | Path,
    out: str | Path | None = None,
    *,
    workers: int | str | None = None,
    progress: ProgressCallback | None = None,
    potential: Potential | None = None,
    until: str | None = None,
    frozen: frozenset[str] = frozenset(),
) -> CampaignResult:
    """Run (or resume) a campaign and return its records and funnel.

    Args:
        spec: a Workflow or the path of a workflow file.
        out: campaign directory (default campaigns/<name>); rerunning with the same
            directory resumes, a directory of another campaign is refused.
        workers: parallel relaxation workers (default: the workflow's execution.workers).
        progress: called as progress(stage, done, total).
        potential: an already loaded Potential to use in-process instead of the model
            card's (tests, notebooks); its identity is recorded as usual.
        until: stop after this stage (SLURM jobs run the funnel in pieces).
        frozen: per-record stages whose shards must all be done already (SLURM collect:
            their array tasks did the work); a missing record raises IncompleteStage.
    """
    from screen.api_checks import check_run_arguments  # TypeError naming the argument

    check_run_arguments(spec, out, workers, progress, potential, until, frozen)
    if until is not None:
        stage(until)  # ValueError naming the stages
    workflow = spec if isinstance(spec, Workflow) else load_workflow(spec)
    if potential is None:
        from screen.potentials.weights import verified_identity

        verified_identity(workflow.potential.card())  # weights present and verified, or stop
    campaign = Campaign.open(Path(out) if out is not None else default_out(workflow), workflow)
    with campaign_lock(campaign.root):
        refuse_if_tasks_run(campaign.root)
        return _run_locked(workflow, campaign, workers, progress, potential, until, frozen)


def _run_locked(
    workflow: Workflow,
    campaign: Campaign,
    workers: int | str | None,
    progress: ProgressCallback | None,
    potential: Potential | None,
    until: str | None,
    frozen: frozenset[str],
) -> CampaignResult:
    """The stages of ``run``, with the campaign's lock held."""
    workers = resolve_worker_count(workers or workflow.execution.workers)
    context = campaign_context(workflow, campaign, potential, workers, progress, frozen=frozen)
    device = resolve_device(workflow.potential.device)
    run_info: dict[str, Any] = {
        "started_utc": utc_now(),
        "status": "running",
        **host_description(),
        **device_description(device),
        "workers": str(workers),
        "packages": package_versions(),
        "stages_run": [],
        "stages_reused": [],
    }
    provenance = campaign.read_provenance()
    provenance["workflow"] = workflow.model_dump(mode="json")
    provenance["potential"] = _potential_record(context.potential)
    provenance["runs"].append(run_info)
    campaign.write_provenance(provenance)

    records: list[Record] = []
    upstream = ""  # sha256 of the output the next stage takes (its manifest's input)
    try:
        for step in STAGES:
            checked = campaign.check_output(step.name, upstream)
            if checked.problem:
                _report_damage(campaign, step.name, checked, run_info)
            if checked.records is not None:
                records = checked.records
                upstream = checked.sha256
                run_info["stages_reused"].append(step.name)
                reached = sum(1 for r in records if step.name in r.status)
                context.report(step.name, reached, reached)
                continue
            log.info("stage %s: %d records in", step.name, sum(r.active for r in records))
            records, upstream = _run_one(
                step, records, context, device, run_info, campaign, provenance, upstream
            )
            if step.name == until:
                break
        run_info["status"] = "completed" if until in (None, STAGE_NAMES[-1]) else f"until {until}"
    except KeyboardInterrupt:
        run_info["status"] = "interrupted"
        raise
    except BaseException as exc:
        run_info["status"] = f"failed: {type(exc).__name__}: {exc}"
        raise
    finally:
        run_info["ended_utc"] = utc_now()
        campaign.write_provenance(provenance)

    if until not in (None, STAGE_NAMES[-1]):
        from screen.deliverables.funnel import funnel

        return CampaignResult(campaign.root, records, funnel(records, STAGE_NAMES))
    rows = write_funnel(campaign.root, records, STAGE_NAMES)
    if workflow.stages.deliver.report:
        write_campaign_report(campaign.root, workflow, records, rows)
    return CampaignResult(root=campaign.root, records=records, funnel=rows)


def _report_damage(
    campaign: Campaign, stage_name: str, checked: Any, run_info: dict[str, Any]
) -> None:
    """Say what is wrong with a stage's stored output, move it aside, note it."""
    moved = campaign.set_aside(stage_name, checked)
    per_record = stage(stage_name).per_record
    log.warning(
        "stage %s: %s; it is not reused: the stage reruns%s%s",
        stage_name,
        checked.problem,
        " from its sealed shards and journals (only records they lack are recomputed)"
        if per_record
        else " (relaxations it journaled under references/ are not redone)",
        f"; the damaged file is kept in {moved[0].parent}" if moved else "",
    )
    run_info.setdefault("stages_repaired", []).append(
        {"stage": stage_name, "problem": checked.problem, "set_aside": [str(p) for p in moved]}
    )


def _run_one(
    step: Any,
    records: list[Record],
    context: StageContext,
    device: str,
    run_info: dict[str, Any],
    campaign: Campaign,
    provenance: dict[str, Any],
    upstream: str,
) -> tuple[list[Record], str]:
    """One stage, stored with its manifest; a whole stage runs single-threaded on CPU."""
    given = 0 if step.takes == "nothing" else sum(step.takes == "all" or r.active for r in records)
    if not step.per_record:
        context.report(step.name, 0, given)
    limit = single_threaded() if device == "cpu" else contextlib.nullcontext()
    with limit:
        result = run_stage(step, records, context)
    if not step.per_record:
        reached = sum(1 for r in result.records if step.name in r.status)
        context.report(step.name, reached, reached)
    out = sorted(result.records, key=lambda r: r.id)
    files = delivered_files(campaign.root) if step.name == "deliver" else []
    sha = campaign.write_output(step.name, out, input_sha256=upstream, files=files)
    run_info["stages_run"].append(step.name)
    if result.info:
        run_info.setdefault("stage_info", {})[step.name] = result.info
        campaign.write_provenance(provenance)
    return out, sha


def _potential_record(potential: Any) -> dict[str, Any]:
    card = potential.card
    return {
        **potential.identity.model_dump(mode="json"),
        "backend": card.backend,
        "energy_convention": card.energy_convention,
        "dtype": potential.dtype,
        "license": card.license,
        "citation": " ".join(card.citation.split()),
    }


@dataclass
class ShardOutcome:
    """What one array task did: records of its shard done out of its size."""

    stage: str
    index: int
    done: int
    size: int

    @property
    def complete(self) -> bool:
        """Every record of the shard is done."""
        return self.done == self.size


def run_shard(
    root: str | Path,
    stage_name: str,
    index: int,
    *,
    workers: int | str | None = None,
    should_stop: Any = None,
    progress: ProgressCallback | None = None,
) -> ShardOutcome:
    """One shard of a per-record stage of an existing campaign (what an array task runs).

    The stage's input is the stored output of the stage before it; the shard plan of its
    records is fixed by the first process that gets there (submit plans the first one).
    """
    step = stage(stage_name)
    if not step.per_record:
        raise ValueError(
            f"stage {stage_name!r} has no shards; per-record stages: {', '.join(PER_RECORD)}"
        )
    campaign = Campaign.load(Path(root))
    workflow = campaign.workflow()
    source = previous(step.name)
    assert source is not None  # a per-record stage is never the first
    checked = campaign.check_output(source.name)
    if checked.records is None:
        raise CampaignDirectoryError(
            f"{campaign.root}: stage {source.name}, the input of {step.name}, "
            + (checked.problem or "has no output yet")
            + "; resubmit (batscreen resubmit) reruns the steps before this one"
        )
    workers = resolve_worker_count(workers or workflow.execution.workers)
    context = campaign_context(
        workflow, campaign, None, workers, progress, only_shard=index, should_stop=should_stop
    )
    active = [r for r in checked.records if r.active]
    refuse_if_run_holds(campaign.root)
    with shard_lock(campaign.stage_dir(step.name), index):
        try:
            step.run(active, step.params_of(workflow.stages), context)
        except IndexError:  # fewer records reached the stage than the array has shards
            return ShardOutcome(step.name, index, 0, 0)
    if not (campaign.stage_dir(step.name) / "plan.json").is_file():
        return ShardOutcome(step.name, index, 0, 0)  # nothing chosen (md top_k)
    done, size = shard_progress(campaign.stage_dir(step.name), index)
    return ShardOutcome(step.name, index, done, size)
