"""A transparent weighted score over min-max normalised objectives.

For each objective the active candidates' values are mapped to [0, 1] (1 = best in this
set: lowest for 'minimize', highest for 'maximize'; all 1 when every value is equal),
multiplied by the weight, summed and divided by the sum of weights. The per-objective
contributions are stored with every record (``score_breakdown``), so each score can be
recomputed by hand. Hard constraints are applied first; records outside leave the funnel.
"""

from __future__ import annotations

from screen.properties import unit_of
from screen.records import Record
from screen.workflow.spec import RankParams

STAGE = "rank"


def _numeric(record: Record, name: str) -> float | None:
    try:
        return record.number(name)
    except (KeyError, TypeError):
        return None


def rank(records: list[Record], params: RankParams) -> list[Record]:
    """Score, sort and number the records; returns new records with a ``rank`` status."""
    out = [r.copy_for_stage() for r in records]
    candidates = []
    for record in out:
        missing = [n for n in params.objectives if _numeric(record, n) is None]
        if missing:
            record.mark(STAGE, "filtered", "missing-property", ", ".join(missing))
            continue
        violated = []
        for name, bounds in params.constraints.items():
            value = _numeric(record, name)
            if value is None:
                violated.append(f"{name} missing")
            elif bounds.min is not None and value < bounds.min:
                violated.append(f"{name} = {value:.4g} < {bounds.min} {unit_of(name)}")
            elif bounds.max is not None and value > bounds.max:
                violated.append(f"{name} = {value:.4g} > {bounds.max} {unit_of(name)}")
        if violated:
            record.mark(STAGE, "filtered", "constraint", "; ".join(violated))
            continue
        candidates.append(record)

    total_weight = sum(o.weight for o in params.objectives.values())
    spans = {}
    for name in params.objectives:
        values = [record.number(name) for record in candidates]
        spans[name] = (min(values), max(values)) if values else (0.0, 0.0)
    for record in candidates:
        breakdown = {}
        for name, objective in params.objectives.items():
            lo, hi = spans[name]
            value = record.number(name)
            if hi == lo:
                normalised = 1.0
            elif objective.direction == "maximize":
                normalised = (value - lo) / (hi - lo)
            else:
                normalised = (hi - value) / (hi - lo)
            breakdown[name] = objective.weight * normalised / total_weight
        method = "weighted sum of min-max normalised objectives: " + ", ".join(
            f"{n} ({o.direction}, weight {o.weight})" for n, o in params.objectives.items()
        )
        record.set_property("score_breakdown", breakdown, unit="", method=method)
        record.set_property("rank_score", sum(breakdown.values()), unit="", method=method)

    candidates.sort(key=lambda r: (-r.number("rank_score"), r.id))
    for position, record in enumerate(candidates, start=1):
        record.set_property("rank", position, unit="", method="order of rank_score, 1 = best")
        if params.top_n is not None and position > params.top_n:
            record.mark(STAGE, "filtered", "below-top-n", f"rank {position} > top_n {params.top_n}")
        else:
            record.mark(STAGE, "ok")
    return out
