"""The estimate stage: every enabled estimator over a shared context, record by record.

1. the enabled estimators (``stages.estimate.<name>.enabled``) in stage order;
2. one :class:`~screen.estimators.context.EstimateContext` for the call, which builds
   what they need once for all records (charged end members relaxed in one batch, then
   the hull with its references);
3. per record, each estimator that applies (its roles, its working ion) returns an
   :class:`~screen.estimators.base.Estimate`, applied to the record; one whose estimate
   says the record leaves ends it there. A failure is that record's alone.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from screen.context import InProcessRunner, StageContext, StageResult
from screen.estimators.base import Estimator, applies
from screen.estimators.context import EstimateContext
from screen.estimators.registry import enabled_estimators
from screen.records import Record
from screen.relaxation.stage import ExtraRelaxations

if TYPE_CHECKING:  # pragma: no cover
    from screen.potentials.base import Potential
    from screen.stability.providers import ReferenceProvider
    from screen.workflow.estimate import EstimateParams
    from screen.workflow.params import RelaxParams
    from screen.workflow.space import ChemicalSpace

log = logging.getLogger(__name__)
STAGE = "estimate"


def estimate_stage(
    records: list[Record], params: EstimateParams, context: StageContext
) -> StageResult:
    """The estimate stage of a run: extra relaxations through the run's runner."""
    return estimate_records(
        records,
        context.chemical_space(STAGE),
        params,
        context.potential,
        context.stages.relax,
        context.references_dir,
        extra=ExtraRelaxations.of(context, STAGE),
    )


def estimate_records(
    records: list[Record],
    space: ChemicalSpace,
    params: EstimateParams,
    potential: Potential,
    relax_params: RelaxParams,
    references_dir: Path | None = None,
    *,
    extra: ExtraRelaxations | None = None,
    provider: ReferenceProvider | None = None,
) -> StageResult:
    """Estimate properties of relaxed records; new records with an ``estimate`` status.

    ``references_dir`` caches hull references (default: a temporary folder); ``extra``
    relaxes the structures the estimators need (default: in this process); ``provider``
    replaces the reference provider ``params.hull`` names. The result's ``info`` is what
    provenance records (the hull references).
    """
    estimators = enabled_estimators(params)
    out = [r.copy_for_stage() for r in records]
    extra = extra or ExtraRelaxations(InProcessRunner(potential), relax_params, STAGE)
    with EstimateContext(
        out, space, potential, params, relax_params, extra, references_dir, provider
    ) as context:
        _prepare(context, estimators)
        for record in out:
            try:
                _estimate_one(record, estimators, context)
            except Exception as exc:  # one record's failure never stops the others
                log.warning("estimate failed for %s: %s", record.id, exc)
                record.mark(STAGE, "failed", "estimate-error", f"{type(exc).__name__}: {exc}")
    return StageResult(out, context.provenance)


def _prepare(context: EstimateContext, estimators: list[Estimator]) -> None:
    """Build what the estimators need, each once, for the records they apply to.

    First the charged end members of the records that need them (one batch), then the
    carrier defects (one batch), then the hull.
    """
    wanting: dict[str, list[Record]] = {}
    for record in context.records:
        for estimator in estimators:
            if applies(estimator, record, context.role):
                for need in estimator.needs:
                    wanting.setdefault(need, []).append(record)
    if "charged_members" in wanting:
        chosen = {r.id for r in wanting["charged_members"]}
        context.charged_members([r for r in context.records if r.id in chosen])
    if "carriers" in wanting:
        chosen = {r.id for r in wanting["carriers"]}
        context.carriers([r for r in context.records if r.id in chosen])
    if "hull" in wanting:
        context.hull()


def _estimate_one(record: Record, estimators: list[Estimator], context: EstimateContext) -> None:
    flags: list[str] = []
    for estimator in estimators:
        if not applies(estimator, record, context.role):
            continue
        found = estimator.estimate(record, context)
        record.properties.update(found.properties)
        record.provenance.update(found.provenance)
        flags += found.flags
        if found.exit is not None:
            record.mark(STAGE, *found.exit)
            return
    record.set_property(
        "estimate_flags",
        sorted(set(flags)),
        unit="",
        method="confidence flags of the estimate stage",
    )
    record.mark(STAGE, "ok")
