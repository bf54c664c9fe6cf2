"""Run a whole campaign: generate -> prefilter -> relax -> estimate -> rank -> deliver.

Each finished stage's output (the whole population, including records that left the
funnel) is stored atomically in the campaign directory; a rerun reuses finished stages and
resumes the relax stage from its journals. ``run`` is what ``batscreen run`` calls.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screen.deliverables.funnel import FunnelRow, format_funnel, funnel
from screen.executors.local import (
    ProgressCallback,
    RecordStage,
    resolve_workers,
    run_record_stage,
)
from screen.potentials.base import Potential, resolve_device
from screen.potentials.registry import DeferredPotential, PotentialSource
from screen.provenance import device_description, host_description, package_versions
from screen.records import Record
from screen.store.atomic import atomic_write_text
from screen.store.campaign import STAGE_ORDER, Campaign, utc_now
from screen.workflow.load import load_workflow
from screen.workflow.spec import Workflow

log = logging.getLogger(__name__)


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


def _split(records: list[Record]) -> tuple[list[Record], list[Record]]:
    active = [r for r in records if r.active]
    return active, [r for r in records if not r.active]


class _Runner:
    def __init__(
        self,
        workflow: Workflow,
        campaign: Campaign,
        potential: Potential | None,
        workers: int | str,
        progress: ProgressCallback | None,
    ):
        self.wf = workflow
        self.campaign = campaign
        self.device = resolve_device(workflow.potential.device)
        self.injected = potential
        self.card = workflow.potential.card()
        self.potential: Any = potential or DeferredPotential(
            self.card, self.device, workflow.potential.dtype
        )
        self.workers = workers
        self.progress = progress
        self.frozen: frozenset[str] = frozenset()  # stages that must not compute (collect)
        self.only_shard: int | None = None  # a SLURM array task does one shard
        self.should_stop: Any = None  # walltime warning: start no new record
        self.stage_info: dict[str, dict[str, Any]] = {}  # what stages report for provenance

    def report(self, stage: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(stage, done, total)

    def stage(self, name: str, records: list[Record]) -> list[Record]:
        stages = self.wf.stages
        space = self.wf.chemical_space
        if name == "generate":
            from screen.stages import generate

            self.report(name, 0, 0)
            out = generate(space, stages.generate)
            self.report(name, len(out), len(out))
            return out
        if name == "deliver":
            from screen.stages import deliver

            self.report(name, 0, len(records))
            from screen.workflow.catalog import critical_elements

            out = deliver(
                records,
                self.campaign.root,
                stages.deliver,
                self.card.name,
                avoid_elements=critical_elements(space.critical_list),
            )
            self.report(name, len(out), len(out))
            return out
        active, inactive = _split(records)
        if name == "relax":
            out = self._relax(active)
        elif name == "md":
            out = self._md(active)
        else:
            self.report(name, 0, len(active))
            out = self._whole_stage(name, active)
            self.report(name, len(active), len(active))
        return out + inactive

    def _whole_stage(self, name: str, active: list[Record]) -> list[Record]:
        from screen import stages as api

        st, space = self.wf.stages, self.wf.chemical_space
        if name == "prefilter":
            return api.prefilter(active, space, st.prefilter)
        if name == "estimate":
            from screen.executors.local import single_threaded

            limit = single_threaded() if self.device == "cpu" else contextlib.nullcontext()
            with limit:  # single points and phase diagrams run in this process
                return api.estimate(
                    active,
                    space,
                    st.estimate,
                    self.potential,
                    st.relax,
                    self.campaign.root / "references",
                    relax=self._relax_extra,
                    single_points=self._single_points_extra,
                    info=self.stage_info.setdefault("estimate", {}),
                )
        if name == "rank":
            return api.rank(active, st.rank)
        raise ValueError(f"unknown stage {name}")

    def _on_executor(
        self,
        name: str,
        records: list[Record],
        stage_dir: Path,
        function: Any,
        params: Any,
        options: tuple[tuple[str, Any], ...] = (),
        *,
        main: bool,
    ) -> list[Record]:
        """Apply a per-record potential function on the executor (journaled, resumable).

        ``main``: a funnel stage (relax, md), which a SLURM task runs one shard of and a
        collect may not compute; the estimate stage's extra relaxations always compute.
        """
        workers = resolve_workers(self.workers, self.device, len(records))
        # an injected potential, or one worker: run in this process (the deferred
        # potential loads its weights only if something is left to do)
        in_process = self.injected or (self.potential if workers == 1 else None)
        stage = RecordStage(
            name=name,
            function=function,
            params=params,
            potential=PotentialSource(self.card, self.device, self.wf.potential.dtype),
            options=(("max_batch_atoms", self.wf.execution.batch_atoms(self.device)), *options),
        )
        return run_record_stage(
            stage,
            records,
            stage_dir,
            workers=workers,
            shard_size=self.wf.execution.shard_size,
            potential=in_process,
            progress=self.report,
            compute=not (main and name in self.frozen),
            only_shard=self.only_shard if main else None,
            should_stop=self.should_stop if main else None,
        )

    def _run_relax(
        self,
        name: str,
        records: list[Record],
        stage_dir: Path,
        function: Any = None,
    ) -> list[Record]:
        """Relax (or single-point) records with the relax stage's parameters."""
        from screen.relaxation.stage import relax_records

        function = function or relax_records
        return self._on_executor(
            name, records, stage_dir, function, self.wf.stages.relax, main=name == "relax"
        )

    def _md(self, active: list[Record]) -> list[Record]:
        """MD for the top K on the executor (journaled); the rest pass through."""
        from screen.transport.stage import md_records, select_top_k

        params = self.wf.stages.md
        chosen = set(select_top_k(active, params, self.wf.stages.rank))
        rest = [r.copy_for_stage() for r in active if r.id not in chosen]
        for record in rest:
            record.mark("md", "ok")
        self.report("md", 0, len(chosen))
        if not chosen:
            return rest
        done = self._on_executor(
            "md",
            [r for r in active if r.id in chosen],
            self.campaign.stage_dir("md"),
            md_records,
            params,
            (("trajectory_dir", str(self.campaign.root / "md")),),
            main=True,
        )
        return done + rest

    def _relax(self, active: list[Record]) -> list[Record]:
        return self._run_relax("relax", active, self.campaign.stage_dir("relax"))

    def _relax_extra(self, records: list[Record]) -> list[Record]:
        """Relax structures the estimators need (hull references, charged end members).

        Same executor as the relax stage (parallel, journaled); the folder is named by
        the set of structures, so a resumed campaign finds its journals again.
        """
        kinds = {r.provenance.get("recipe", {}).get("generator", "extra") for r in records}
        label = "hull-refs" if kinds == {"hull-reference"} else "charged"
        return self._run_relax(label, records, self._extra_dir("relax", label, records))

    def _single_points_extra(self, records: list[Record]) -> list[Record]:
        """Single points of unrelaxed hull reference phases, on the same executor."""
        from screen.stability.selfconsistent import single_point_records

        return self._run_relax(
            "ref-points",
            records,
            self._extra_dir("points", "ref-points", records),
            single_point_records,
        )

    def _extra_dir(self, kind: str, label: str, records: list[Record]) -> Path:
        """references/<kind>/<label>-<digest of the record ids>: same set, same folder."""
        import hashlib

        digest = hashlib.sha256("\n".join(sorted(r.id for r in records)).encode()).hexdigest()
        return self.campaign.root / "references" / kind / f"{label}-{digest[:12]}"


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
    if until is not None and until not in STAGE_ORDER:
        raise ValueError(f"until: unknown stage {until!r}; stages: {', '.join(STAGE_ORDER)}")
    workflow = spec if isinstance(spec, Workflow) else load_workflow(spec)
    if potential is None:
        from screen.potentials.weights import verified_identity

        verified_identity(workflow.potential.card())  # weights present and verified, or stop
    campaign = Campaign.open(Path(out) if out is not None else default_out(workflow), workflow)
    runner = _Runner(workflow, campaign, potential, workers or workflow.execution.workers, progress)
    runner.frozen = frozen
    run_info: dict[str, Any] = {
        "started_utc": utc_now(),
        "status": "running",
        **host_description(),
        **device_description(runner.device),
        "workers": str(runner.workers),
        "packages": package_versions(),
        "stages_run": [],
        "stages_reused": [],
    }
    provenance = campaign.read_provenance()
    provenance["workflow"] = workflow.model_dump(mode="json")
    provenance["potential"] = _potential_record(runner.potential)
    provenance["runs"].append(run_info)
    campaign.write_provenance(provenance)

    records: list[Record] = []
    try:
        for name in STAGE_ORDER:
            if campaign.has_output(name):
                records = campaign.read_output(name)
                run_info["stages_reused"].append(name)
                self_total = sum(1 for r in records if name in r.status)
                runner.report(name, self_total, self_total)
                continue
            log.info("stage %s: %d records in", name, sum(r.active for r in records))
            records = sorted(runner.stage(name, records), key=lambda r: r.id)
            campaign.write_output(name, records)
            run_info["stages_run"].append(name)
            if runner.stage_info.get(name):
                run_info.setdefault("stage_info", {})[name] = runner.stage_info[name]
                campaign.write_provenance(provenance)
            if name == until:
                break
        run_info["status"] = "completed" if until in (None, STAGE_ORDER[-1]) else f"until {until}"
    except KeyboardInterrupt:
        run_info["status"] = "interrupted"
        raise
    except BaseException as exc:
        run_info["status"] = f"failed: {type(exc).__name__}: {exc}"
        raise
    finally:
        run_info["ended_utc"] = utc_now()
        campaign.write_provenance(provenance)

    rows = funnel(records, STAGE_ORDER)
    if until not in (None, STAGE_ORDER[-1]):
        return CampaignResult(root=campaign.root, records=records, funnel=rows)
    atomic_write_text(
        campaign.root / "funnel.json", json.dumps([r.as_dict() for r in rows], indent=1)
    )
    atomic_write_text(campaign.root / "funnel.txt", format_funnel(rows) + "\n")
    if workflow.stages.deliver.report:
        write_campaign_report(campaign.root, workflow, records, rows)
    return CampaignResult(root=campaign.root, records=records, funnel=rows)


def write_campaign_report(
    root: Path, workflow: Workflow, records: list[Record], rows: list[FunnelRow]
) -> Path:
    """report.html of a finished campaign (funnel, Pareto front, cards, provenance)."""
    from screen.deliverables.report import write_report

    provenance = json.loads((root / "provenance.json").read_text())
    rank = workflow.stages.rank
    title = f"{workflow.name}: {workflow.chemical_space.role} candidates"
    if rank.profile:
        title += f", profile {rank.profile}"
    return write_report(
        root / "report.html",
        records,
        rows,
        provenance,
        objectives={name: o.direction for name, o in rank.objectives.items()},
        title=title,
        max_cards=workflow.stages.deliver.report_cards,
    )


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
    stage: str,
    index: int,
    *,
    workers: int | str | None = None,
    should_stop: Any = None,
    progress: ProgressCallback | None = None,
) -> ShardOutcome:
    """One shard of a per-record stage (relax or md) of an existing campaign.

    The stage's input is the previous stage's stored output (prefilter for relax,
    estimate for md); the shard plan was fixed when the campaign was submitted. This is
    what a SLURM array task runs.
    """
    from screen.executors.local import shard_progress

    if stage not in ("relax", "md"):
        raise ValueError(f"stage {stage!r} has no shards; per-record stages: relax, md")
    campaign = Campaign.load(Path(root))
    workflow = campaign.workflow()
    runner = _Runner(workflow, campaign, None, workers or workflow.execution.workers, progress)
    runner.only_shard, runner.should_stop = index, should_stop
    source = "prefilter" if stage == "relax" else "estimate"
    if not campaign.has_output(source):
        raise FileNotFoundError(f"{campaign.root}: stage {source} has no output yet")
    active, _ = _split(campaign.read_output(source))
    if stage == "relax":
        runner._relax(active)
    else:
        try:
            runner._md(active)
        except IndexError:  # fewer candidates reached md than top_k: this shard is empty
            return ShardOutcome(stage, index, 0, 0)
    if not (campaign.stage_dir(stage) / "plan.json").is_file():
        return ShardOutcome(stage, index, 0, 0)  # nothing chosen for md
    done, size = shard_progress(campaign.stage_dir(stage), index)
    return ShardOutcome(stage, index, done, size)
