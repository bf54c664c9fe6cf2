"""The one table of stages, in funnel order.

Every place that needs to know the stages reads them here: the campaign runner
(screen/pipeline.py) runs them in this order and stores each under its name
(``stages/<name>/``); the SLURM chain (screen/hpc/submit.py) makes a job array of each
per-record stage and one job of the whole stages between them; the Python API
(screen/stages.py) calls the same functions; the guided search (screen/search/) runs the
``evaluate`` stages on every batch it proposes and the ``finish`` stages at the end.

A stage is ``run(records, params, context) -> StageResult`` (screen/context.py) with
``params`` its section ``stages.<name>`` of the workflow. docs/dev/stage.md says how to
add one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from screen.candidates.filters import prefilter_stage
from screen.candidates.generate import generate_stage
from screen.context import RecordFunction, StageContext, StageResult
from screen.deliverables.stage import deliver_stage
from screen.estimators.stage import estimate_stage
from screen.ranking.score import rank_stage
from screen.records import Record
from screen.relaxation.stage import relax_records, relax_stage
from screen.transport.stage import md_records, md_records_at_most, md_stage
from screen.workflow.params import (
    DeliverParams,
    EstimateParams,
    GenerateParams,
    MDParams,
    PrefilterParams,
    RankParams,
    RelaxParams,
)

StageFunction = Callable[[list[Record], Any, StageContext], StageResult]


@dataclass(frozen=True)
class Stage:
    """One stage of the funnel."""

    name: str  # also its workflow section (stages.<name>) and its folder (stages/<name>/)
    params: type[Any]  # the model of its section
    run: StageFunction
    takes: Literal["nothing", "active", "all"] = "active"  # which records it is given
    #: its records go one by one through the journaled executor: shards, a SLURM array
    record_function: RecordFunction | None = None
    #: most records it will take of ``n`` that reach it (a SLURM array is sized by it)
    most_records: Callable[[Any, int], int] | None = None
    #: in a guided search: replaced by the sampler, run on each proposed batch (filter,
    #: then evaluate), not run, or run once on every evaluated record at the end
    search: Literal["propose", "filter", "evaluate", "skip", "finish"] = "evaluate"

    @property
    def per_record(self) -> bool:
        """The stage's records are sharded and journaled one by one."""
        return self.record_function is not None

    def params_of(self, stages: Any) -> Any:
        """This stage's parameters in a workflow's ``stages`` section."""
        return getattr(stages, self.name)


STAGES: tuple[Stage, ...] = (
    Stage("generate", GenerateParams, generate_stage, takes="nothing", search="propose"),
    Stage("prefilter", PrefilterParams, prefilter_stage, search="filter"),
    Stage("relax", RelaxParams, relax_stage, record_function=relax_records),
    Stage("estimate", EstimateParams, estimate_stage),
    Stage(
        "md",
        MDParams,
        md_stage,
        record_function=md_records,
        most_records=md_records_at_most,
        search="skip",
    ),
    Stage("rank", RankParams, rank_stage, search="finish"),
    Stage("deliver", DeliverParams, deliver_stage, takes="all", search="finish"),
)

STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)
PER_RECORD: tuple[str, ...] = tuple(s.name for s in STAGES if s.per_record)


def stage(name: str) -> Stage:
    """The stage called ``name`` (ValueError listing the stages)."""
    for candidate in STAGES:
        if candidate.name == name:
            return candidate
    raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGE_NAMES)}")


def previous(name: str) -> Stage | None:
    """The stage before ``name`` (whose output is its input), None for the first."""
    index = STAGE_NAMES.index(stage(name).name)
    return STAGES[index - 1] if index else None


def in_search(role: str) -> tuple[Stage, ...]:
    """The stages a guided search runs in ``role`` (filter, evaluate, finish)."""
    return tuple(s for s in STAGES if s.search == role)


def run_stage(stage: Stage, records: list[Record], context: StageContext) -> StageResult:
    """Run one stage on the records it takes; the others pass through, order kept."""
    params = stage.params_of(context.stages)
    if stage.takes == "nothing":
        return stage.run([], params, context)
    given = records if stage.takes == "all" else [r for r in records if r.active]
    result = stage.run(given, params, context)
    if stage.takes == "all":
        return result
    done = {r.id: r for r in result.records}
    kept = [done.pop(r.id, r) for r in records]
    return StageResult(kept + list(done.values()), result.info)
