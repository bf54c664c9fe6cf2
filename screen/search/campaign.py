"""A guided-search campaign: the study, the batch evaluation, and the deliverables.

``search(workflow, out)`` runs (or resumes, or joins) the study of ``workflow.search`` in
``out/search/``: journal.log (the Optuna journal, shared by every process on the
filesystem), records/ (one evaluated record per file). At the end the evaluated records
go through the rank and deliver stages like an enumerated campaign's (candidates.csv,
report.html, ...), and search.json holds the history and the best-so-far trajectory.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.context import StageContext
from screen.records import Record
from screen.search.loop import Evaluator, SearchResult, run_search, write_summary
from screen.search.space import SearchSpace, SearchSpaceError
from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from screen.potentials.base import Potential
    from screen.workflow.params import Bounds, Objective
    from screen.workflow.spec import Workflow

log = logging.getLogger(__name__)


def search_context(
    wf: Workflow, potential: Any, out: Path, max_batch_atoms: int | None = None
) -> StageContext:
    """The context of a search's stages: in this process, references cached in ``out``."""
    from screen.context import InProcessRunner

    card = getattr(potential, "card", None)
    return StageContext(
        stages=wf.stages,
        potential=potential,
        runner=InProcessRunner(potential, max_batch_atoms=max_batch_atoms),
        space=wf.chemical_space,
        folder=Path(out),
        references_dir=Path(out) / "references",
        potential_name=card.name if card is not None else wf.potential.name,
    )


class CampaignEvaluator:
    """A batch through the stages a search evaluates (relax, estimate), in this process."""

    def __init__(self, workflow: Workflow, potential: Any, out: Path):
        """The evaluator of a search in ``out``.

        On a GPU the whole batch shares each potential call (execution.max_batch_atoms);
        on CPU one structure at a time, where batching does not pay.
        """
        from screen.potentials.base import resolve_device

        atoms = workflow.execution.batch_atoms(resolve_device(workflow.potential.device))
        self.context = search_context(workflow, potential, out, atoms)

    def __call__(self, records: list[Record]) -> list[Record]:
        """The batch relaxed and estimated (records that failed keep their reason)."""
        from screen.stage_table import in_search, run_stage

        for stage in in_search("evaluate"):
            records = run_stage(stage, records, self.context).records
        log.info(
            "search batch: %d evaluated, %d active", len(records), sum(r.active for r in records)
        )
        return records


def search_goals(workflow: Workflow) -> tuple[dict[str, Objective], dict[str, Bounds]]:
    """The search's objectives and constraints (default: the rank stage's)."""
    params = workflow.search
    if params is None:
        raise SearchSpaceError(f"workflow {workflow.name!r} has no 'search' section")
    rank = workflow.stages.rank
    objectives = params.objectives if params.objectives is not None else rank.objectives
    constraints = params.constraints if params.constraints is not None else rank.constraints
    return dict(objectives), dict(constraints)


def search(
    workflow: Workflow | str | Path,
    out: str | Path,
    potential: Potential | None = None,
    *,
    evaluate: Evaluator | None = None,
    max_rounds: int | None = None,
    deliver: bool = True,
) -> SearchResult:
    """Run, resume or join the guided search of a workflow; deliver the evaluated records.

    ``evaluate`` replaces relax + estimate (benchmarks replay cached results, tests use
    toys); ``max_rounds`` stops after that many ask/tell rounds (a rerun continues).
    """
    from screen.potentials.registry import DeferredPotential
    from screen.workflow.load import load_workflow

    wf = workflow if not isinstance(workflow, str | Path) else load_workflow(workflow)
    params = wf.search
    objectives, constraints = search_goals(wf)
    assert params is not None  # search_goals raised otherwise
    out = Path(out)
    space = SearchSpace(wf.chemical_space, wf.stages.generate)
    # a proposal is compared with the others by the study itself: no duplicate merging
    prefilter_params = wf.stages.prefilter.model_copy(update={"duplicates": False})
    stages = wf.stages.model_copy(update={"prefilter": prefilter_params})
    filtering = search_context(wf.model_copy(update={"stages": stages}), potential, out)
    if evaluate is None:
        from screen.potentials.base import resolve_device

        model = potential or DeferredPotential(
            wf.potential.card(), resolve_device(wf.potential.device), wf.potential.dtype
        )
        evaluate = CampaignEvaluator(wf, model, out)
    result = run_search(
        space,
        params,
        objectives,
        constraints,
        evaluate,
        journal=out / "search" / "journal.log",
        store_dir=out / "search" / "records",
        study_name=wf.name,
        prefilter=lambda records: _filtered(records, filtering),
        max_rounds=max_rounds,
    )
    write_summary(out / "search.json", result, objectives)
    if deliver:
        deliver_search(wf, out, result, potential)
    return result


def _filtered(records: list[Record], context: StageContext) -> list[Record]:
    from screen.stage_table import in_search, run_stage

    for stage in in_search("filter"):
        records = run_stage(stage, records, context).records
    return records


def deliver_search(
    wf: Workflow, out: Path, result: SearchResult, potential: Any = None
) -> list[Record]:
    """The search's finish stages (rank, deliver) on the evaluated records, and the report."""
    from screen.deliverables.stage import write_campaign_report, write_funnel
    from screen.provenance import host_description, package_versions
    from screen.stage_table import STAGES, in_search, run_stage
    from screen.store.campaign import utc_now

    context = search_context(wf, potential, out)
    records = list(result.records)
    for stage in in_search("finish"):
        records = run_stage(stage, records, context).records
    rows = write_funnel(out, records, tuple(s.name for s in STAGES if s.search != "skip"))
    provenance = {
        "campaign": wf.name,
        "workflow": wf.model_dump(mode="json"),
        "potential": {"name": context.potential_name},
        "search": {
            "trials": result.trials,
            "evaluations": result.evaluations,
            "feasible": result.feasible,
        },
        "runs": [{"ended_utc": utc_now(), "status": "search", **host_description()}],
        "packages": package_versions(),
    }
    atomic_write_text(out / "provenance.json", json.dumps(provenance, indent=1, default=str))
    if wf.stages.deliver.report:
        write_campaign_report(out, wf, records, rows)
    return records
