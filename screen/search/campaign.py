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

from screen.records import Record
from screen.search.loop import Evaluator, SearchResult, run_search, write_summary
from screen.search.space import SearchSpace, SearchSpaceError
from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from screen.potentials.base import Potential
    from screen.workflow.params import Bounds, Objective
    from screen.workflow.spec import Workflow

log = logging.getLogger(__name__)


class CampaignEvaluator:
    """Relax a batch with the batched engine, then estimate it.

    Estimates: hull, electrode, BVSE; hull references cached in ``references_dir``.
    """

    def __init__(self, workflow: Workflow, potential: Any, references_dir: Path):
        self.workflow = workflow
        self.potential = potential
        self.references_dir = Path(references_dir)

    def __call__(self, records: list[Record]) -> list[Record]:
        """The batch relaxed and estimated (records that failed keep their reason)."""
        from screen import stages
        from screen.potentials.base import resolve_device
        from screen.relaxation.stage import relax_records

        wf = self.workflow
        device = resolve_device(wf.potential.device)
        # on a GPU the whole batch shares each potential call (execution.max_batch_atoms);
        # on CPU one structure at a time, where batching does not pay (MEASUREMENTS.md)
        relaxed = relax_records(
            records,
            wf.stages.relax,
            self.potential,
            max_batch_atoms=wf.execution.batch_atoms(device),
        )
        active = [r for r in relaxed if r.active]
        estimated = stages.estimate(
            active,
            wf.chemical_space,
            wf.stages.estimate,
            self.potential,
            wf.stages.relax,
            self.references_dir,
        )
        log.info("search batch: %d relaxed, %d estimated on %s", len(relaxed), len(active), device)
        return estimated + [r for r in relaxed if not r.active]


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
    from screen import stages
    from screen.potentials.registry import DeferredPotential
    from screen.workflow.load import load_workflow

    wf = workflow if not isinstance(workflow, str | Path) else load_workflow(workflow)
    params = wf.search
    objectives, constraints = search_goals(wf)
    assert params is not None  # search_goals raised otherwise
    out = Path(out)
    space = SearchSpace(wf.chemical_space, wf.stages.generate)
    prefilter_params = wf.stages.prefilter.model_copy(update={"duplicates": False})
    if evaluate is None:
        from screen.potentials.base import resolve_device

        model = potential or DeferredPotential(
            wf.potential.card(), resolve_device(wf.potential.device), wf.potential.dtype
        )
        evaluate = CampaignEvaluator(wf, model, out / "references")
    result = run_search(
        space,
        params,
        objectives,
        constraints,
        evaluate,
        journal=out / "search" / "journal.log",
        store_dir=out / "search" / "records",
        study_name=wf.name,
        prefilter=lambda records: stages.prefilter(records, wf.chemical_space, prefilter_params),
        max_rounds=max_rounds,
    )
    write_summary(out / "search.json", result, objectives)
    if deliver:
        deliver_search(wf, out, result, potential)
    return result


def deliver_search(
    wf: Workflow, out: Path, result: SearchResult, potential: Any = None
) -> list[Record]:
    """Rank (the workflow's rank stage) and deliver the evaluated records."""
    from screen import stages
    from screen.deliverables.funnel import format_funnel, funnel
    from screen.pipeline import write_campaign_report
    from screen.provenance import host_description, package_versions
    from screen.store.campaign import STAGE_ORDER, utc_now
    from screen.workflow.catalog import critical_elements

    records = list(result.records)
    ranked = stages.rank([r for r in records if r.active], wf.stages.rank)
    by_id = {r.id: r for r in ranked}
    records = [by_id.get(r.id, r) for r in records]
    name = getattr(potential, "card", None)
    card_name = name.name if name is not None else wf.potential.name
    delivered = stages.deliver(
        records,
        out,
        wf.stages.deliver,
        card_name,
        avoid_elements=critical_elements(wf.chemical_space.critical_list),
    )
    rows = funnel(delivered, tuple(s for s in STAGE_ORDER if s != "md"))
    atomic_write_text(out / "funnel.json", json.dumps([r.as_dict() for r in rows], indent=1))
    atomic_write_text(out / "funnel.txt", format_funnel(rows) + "\n")
    provenance = {
        "campaign": wf.name,
        "workflow": wf.model_dump(mode="json"),
        "potential": {"name": card_name},
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
        write_campaign_report(out, wf, delivered, rows)
    return delivered
