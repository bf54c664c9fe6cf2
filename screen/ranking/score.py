"""Ranking: constraints, a transparent weighted score and Pareto fronts, with uncertainties.

1. Constraints: a record outside a bound (on its point value) leaves the funnel; every
   ranked record gets ``constraint_probability``, the probability that all its
   constraints hold when each value carries an independent Gaussian error (its property's
   standard uncertainty; exact when none is known).
2. Weighted score: for each objective the ranked values are mapped to [0, 1] (1 = best in
   this set: lowest for 'minimize', highest for 'maximize'; all 1 when every value is
   equal), multiplied by the weight, summed and divided by the sum of weights. The
   per-objective contributions are stored (``score_breakdown``), so every score can be
   recomputed by hand. Its uncertainty (``rank_score``'s) is the standard deviation over
   Monte Carlo draws of the objective values, with the normalisation fixed at the point
   values.
3. Pareto fronts: non-dominated sorting over the objectives (``pareto_front``, 1 = no other
   candidate is at least as good in every objective and better in one), and the
   probability of being on the first front under the uncertainties
   (``pareto_probability``, Monte Carlo).
Order: by score (default) or by front then score (``order_by: pareto``); ties by id.
"""

from __future__ import annotations

import math

import numpy as np

from screen.context import StageContext, StageResult
from screen.properties import unit_of
from screen.ranking.pareto import front_probability, non_dominated_sort
from screen.records import Record
from screen.workflow.spec import RankParams

STAGE = "rank"


def _numeric(record: Record, name: str) -> float | None:
    try:
        value = record.number(name)
    except (KeyError, TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _sigma(record: Record, name: str) -> float:
    prop = record.properties.get(name)
    if prop is None or prop.uncertainty is None or not math.isfinite(prop.uncertainty):
        return 0.0
    return abs(float(prop.uncertainty))


def _violations(record: Record, params: RankParams) -> list[str]:
    violated = []
    for name, bounds in params.constraints.items():
        value = _numeric(record, name)
        if value is None:
            violated.append(f"{name} missing")
        elif bounds.min is not None and value < bounds.min:
            violated.append(f"{name} = {value:.4g} < {bounds.min} {unit_of(name)}")
        elif bounds.max is not None and value > bounds.max:
            violated.append(f"{name} = {value:.4g} > {bounds.max} {unit_of(name)}")
    return violated


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def constraint_probability(record: Record, params: RankParams) -> float:
    """P(all constraints hold) with independent Gaussian errors on the values."""
    p = 1.0
    for name, bounds in params.constraints.items():
        value, sigma = _numeric(record, name), _sigma(record, name)
        if value is None:
            return 0.0
        lo = -math.inf if bounds.min is None else bounds.min
        hi = math.inf if bounds.max is None else bounds.max
        if sigma == 0.0:
            p *= float(lo <= value <= hi)
        else:
            p *= _normal_cdf((hi - value) / sigma) - _normal_cdf((lo - value) / sigma)
    return p


def _method(params: RankParams) -> str:
    objectives = ", ".join(
        f"{n} ({o.direction}, weight {o.weight})" for n, o in params.objectives.items()
    )
    profile = f"profile {params.profile}; " if params.profile else ""
    return f"{profile}weighted sum of min-max normalised objectives: {objectives}"


def _normalised(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Per-objective [0, 1] scores (1 = best) with fixed spans; any leading axes."""
    span = hi - lo
    safe = np.where(span > 0, span, 1.0)
    up = (values - lo) / safe
    out = np.where(sign > 0, up, 1.0 - up)
    return np.where(span > 0, out, 1.0)


def _results_copy(record: Record) -> Record:
    """A copy whose properties and statuses may change without touching ``record``.

    Ranking only adds or replaces properties and statuses, so the structures and the
    provenance are shared with the input rather than deep-copied: a deep copy of 100,000
    records costs minutes and doubles the memory (benchmarks/scale.py).
    """
    return record.model_copy(
        update={"properties": dict(record.properties), "status": dict(record.status)}
    )


def rank(records: list[Record], params: RankParams) -> list[Record]:
    """Score, sort and number the records; returns new records with a ``rank`` status."""
    out = [_results_copy(r) for r in records]
    candidates = []
    for record in out:
        missing = [n for n in params.objectives if _numeric(record, n) is None]
        if missing:
            record.mark(STAGE, "filtered", "missing-property", ", ".join(missing))
            continue
        violated = _violations(record, params)
        if violated:
            record.mark(STAGE, "filtered", "constraint", "; ".join(violated))
            continue
        candidates.append(record)
    if candidates:
        _score(candidates, params)
    if params.order_by == "pareto":
        candidates.sort(key=lambda r: (r.number("pareto_front"), -r.number("rank_score"), r.id))
    else:
        candidates.sort(key=lambda r: (-r.number("rank_score"), r.id))
    how = (
        "order of rank_score, 1 = best"
        if params.order_by == "score"
        else ("order of pareto_front, then rank_score; 1 = best")
    )
    for position, record in enumerate(candidates, start=1):
        record.set_property("rank", position, unit="", method=how)
        if params.top_n is not None and position > params.top_n:
            record.mark(STAGE, "filtered", "below-top-n", f"rank {position} > top_n {params.top_n}")
        else:
            record.mark(STAGE, "ok")
    return out


def _score(candidates: list[Record], params: RankParams) -> None:
    names = list(params.objectives)
    values = np.array([[r.number(n) for n in names] for r in candidates], dtype=float)
    sigmas = np.array([[_sigma(r, n) for n in names] for r in candidates], dtype=float)
    sign = np.array([1.0 if params.objectives[n].direction == "maximize" else -1.0 for n in names])
    weights = np.array([params.objectives[n].weight for n in names], dtype=float)
    weights = weights / weights.sum()
    lo, hi = values.min(axis=0), values.max(axis=0)

    contributions = weights * _normalised(values, lo, hi, sign)
    scores = contributions.sum(axis=1)
    rng = np.random.default_rng(params.seed)
    samples = params.uncertainty_samples if np.any(sigmas > 0) else 0
    score_std = np.zeros(len(candidates))
    if samples:
        score_std = _score_draws(values, sigmas, weights, lo, hi, sign, samples, rng).std(axis=0)
    costs = -sign * values
    fronts = non_dominated_sort(costs)
    # the front Monte Carlo costs ~6 ms per draw at 1000 candidates: at most 1e6
    # candidate-draws (>= 64 draws), so 10,000 candidates take seconds, not minutes
    mc = min(samples, max(64, 1_000_000 // len(candidates))) if samples else 0
    p_front = front_probability(costs, sigmas, mc, rng)

    method = _method(params)
    mc_note = (
        f"; uncertainty: std over {samples} Monte Carlo draws of the objectives with their "
        "standard uncertainties (normalisation fixed)"
        if samples
        else "; no objective has an uncertainty"
    )
    objectives_text = ", ".join(names)
    for i, record in enumerate(candidates):
        breakdown = {name: float(contributions[i, j]) for j, name in enumerate(names)}
        record.set_property("score_breakdown", breakdown, unit="", method=method)
        record.set_property(
            "rank_score",
            float(scores[i]),
            unit="",
            method=method + mc_note,
            uncertainty=float(score_std[i]) if samples else None,
        )
        record.set_property(
            "pareto_front",
            int(fronts[i]),
            unit="",
            method=f"non-dominated sorting over {objectives_text}; 1 = non-dominated",
        )
        record.set_property(
            "pareto_probability",
            round(float(p_front[i]), 4),
            unit="",
            method=(
                f"fraction of {mc} Monte Carlo draws of the objectives (Gaussian, standard "
                f"uncertainties) in which it is non-dominated over {objectives_text}"
                if mc
                else "exact values: 1 on the first Pareto front, else 0"
            ),
        )
        record.set_property(
            "constraint_probability",
            round(constraint_probability(record, params), 4),
            unit="",
            method="probability that every constraint holds, independent Gaussian errors "
            "(standard uncertainties; exact values where none is known)",
        )


#: elements of one block of Monte Carlo draws (samples x candidates x objectives): 32 MB
_DRAW_BLOCK = 4_000_000


def _score_draws(
    values: np.ndarray,
    sigmas: np.ndarray,
    weights: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    sign: np.ndarray,
    samples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The score of every candidate in each of ``samples`` draws (samples x candidates).

    The draws are made in blocks of samples, so memory stays at one block of draws plus
    the scores (not samples x candidates x objectives, gigabytes at 100,000 candidates);
    the generator yields the same numbers in the same order as one draw of the whole.
    """
    scores = np.empty((samples, len(values)))
    step = max(1, _DRAW_BLOCK // max(1, values.size))
    for start in range(0, samples, step):
        count = min(step, samples - start)
        draws = values + sigmas * rng.standard_normal((count, *values.shape))
        scores[start : start + count] = (weights * _normalised(draws, lo, hi, sign)).sum(axis=2)
    return scores


def rank_stage(records: list[Record], params: RankParams, context: StageContext) -> StageResult:
    """The rank stage of a run."""
    return StageResult(rank(records, params))
