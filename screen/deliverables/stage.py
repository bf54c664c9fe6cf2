"""The deliver stage, and the files that close a campaign (funnel, report).

The stage gives each ranked record its confidence flags and precursor suggestions and
writes candidates.csv/.xlsx/.json, cifs/ and results.parquet into the campaign folder.
When a run is over, :func:`write_funnel` and :func:`write_campaign_report` write
funnel.json/.txt and report.html (an enumerated campaign and a guided search alike).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.context import StageContext, StageResult
from screen.deliverables.confidence import confidence_flags
from screen.deliverables.funnel import FunnelRow, format_funnel, funnel
from screen.records import Record
from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from screen.workflow.params import DeliverParams
    from screen.workflow.spec import Workflow

STAGE = "deliver"


def deliver_stage(
    records: list[Record], params: DeliverParams, context: StageContext
) -> StageResult:
    """Flags and precursor routes for the ranked records; every deliverable into the folder.

    Takes every record (also those that left the funnel): results.parquet keeps them all.
    Precursors with an element of the campaign's critical list are used only for
    candidates that contain it.
    """
    from screen.deliverables.export import write_deliverables
    from screen.workflow.catalog import critical_elements

    if context.folder is None:
        raise ValueError("the deliver stage needs a folder to write into (out=...)")
    space = context.space
    avoid = (  # precursors are cation compounds: a 'metal' form does not reach them
        critical_elements(space.critical_list, space.critical_policy)
        if space is not None
        else frozenset()
    )
    out = [_results_copy(r) for r in records]
    for record in out:
        if not record.active:
            continue
        if "rank" in record.properties:
            flags, how = confidence_flags(record)
            record.set_property("confidence_flags", flags, unit="", method=how)
            if params.precursors:
                _precursors(record, avoid)
        record.mark(STAGE, "ok")
    write_deliverables(
        context.folder,
        out,
        potential=context.potential_name,
        cif=params.cif,
        symprec=params.symprec,
    )
    return StageResult(out)


def _results_copy(record: Record) -> Record:
    """A copy whose properties and statuses may change without touching ``record``.

    The stage only adds properties and statuses, so the structures and the provenance are
    shared with the input rather than deep-copied (minutes and twice the memory for
    100,000 records; benchmarks/scale.py).
    """
    return record.model_copy(
        update={"properties": dict(record.properties), "status": dict(record.status)}
    )


def _precursors(record: Record, avoid: frozenset[str] | set[str]) -> None:
    from screen.deliverables.precursors import PRECURSOR_METHOD, suggest_precursors

    # carbon is listed for coking coal and natural graphite; the C of a carbonate leaves as
    # CO2 and draws on neither, so carbonates stay allowed
    avoid = set(avoid) - {"C"}
    try:
        suggestions = [s.as_text() for s in suggest_precursors(record.formula, avoid=avoid)]
    except ValueError as exc:  # a formula the balancer cannot read: say so, keep the record
        suggestions, method = [], f"no suggestion: {exc}"
    else:
        method = PRECURSOR_METHOD if suggestions else PRECURSOR_METHOD + " (none balanced)"
    record.set_property("precursor_suggestions", suggestions, unit="", method=method)


def write_funnel(root: Path, records: list[Record], stages: tuple[str, ...]) -> list[FunnelRow]:
    """funnel.json and funnel.txt of a finished run; returns the rows."""
    rows = funnel(records, stages)
    atomic_write_text(root / "funnel.json", json.dumps([r.as_dict() for r in rows], indent=1))
    atomic_write_text(root / "funnel.txt", format_funnel(rows) + "\n")
    return rows


def write_campaign_report(
    root: Path, workflow: Workflow, records: list[Record], rows: list[FunnelRow]
) -> Path:
    """report.html of a finished campaign (funnel, Pareto front, cards, provenance)."""
    from screen.deliverables.report import write_report

    provenance: dict[str, Any] = json.loads((root / "provenance.json").read_text())
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
        top_n=workflow.stages.deliver.report_top_n,
    )
