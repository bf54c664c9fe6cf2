"""The ask/tell loop of a guided search, on a journal file several processes can share.

Per round: ask ``batch_size`` trials, map each to its candidate (screen.search.space),
tell repeats the known result (no evaluation), prefilter the new ones (charge balance,
critical elements, geometry: a filtered candidate is an infeasible trial), evaluate the
rest as one batch (relax + estimate), tell every trial its objective values and its
constraint values (Optuna's convention: <= 0 feasible). The budget counts evaluations,
not trials. Evaluated records are kept one file per record in ``store_dir``, so a killed
run, a second process, or a later trial proposing the same recipe reuses them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.records import Record
from screen.search.space import SearchSpace, SearchSpaceError
from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from screen.workflow.params import Bounds, Objective, SearchParams

log = logging.getLogger(__name__)

Evaluator = Callable[[list[Record]], list[Record]]
CONSTRAINTS_ATTR = "constraint_values"


@dataclass
class SearchResult:
    """What a search found (every process sees the whole shared study)."""

    study_name: str
    trials: int
    evaluations: int
    feasible: int
    records: list[Record] = field(default_factory=list)  # evaluated, one per recipe
    history: list[dict[str, Any]] = field(default_factory=list)  # per evaluation, in order


class RecordStore:
    """Evaluated records, one JSON file per record id (atomic writes; shared safely)."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def get(self, record_id: str) -> Record | None:
        path = self.directory / f"{record_id}.json"
        return Record.from_json(path.read_text()) if path.is_file() else None

    def put(self, record: Record) -> None:
        atomic_write_text(self.directory / f"{record.id}.json", record.to_json())

    def all(self) -> list[Record]:
        return [Record.from_json(p.read_text()) for p in sorted(self.directory.glob("*.json"))]


def _violation(value: float, bounds: Bounds) -> float:
    out = -math.inf
    if bounds.min is not None:
        out = max(out, bounds.min - value)
    if bounds.max is not None:
        out = max(out, value - bounds.max)
    return out


def trial_outcome(
    record: Record, objectives: dict[str, Objective], constraints: dict[str, Bounds]
) -> tuple[str, list[float] | None, list[float], str]:
    """(state, values, constraint values, reason) of an evaluated record.

    Constraint 0 is feasibility of the candidate itself (1 when a prefilter or the
    generator rejected it, else 0); then one per bound: the amount by which the value
    lies outside (<= 0 inside).
    """
    exit_info = record.exit_stage()
    if exit_info is not None and exit_info[1].state == "failed":
        return "fail", None, [], f"{exit_info[0]}: {exit_info[1].reason}"
    placeholder = [
        math.inf if o.direction == "minimize" else -math.inf for o in objectives.values()
    ]
    if exit_info is not None and exit_info[0] in ("generate", "prefilter"):
        reason = f"{exit_info[0]}: {exit_info[1].reason}"
        return "infeasible", placeholder, [1.0] + [0.0] * len(constraints), reason
    values = []
    for name in objectives:
        try:
            value = record.number(name)
        except (KeyError, TypeError, ValueError):
            return "fail", None, [], f"missing {name}"
        if not math.isfinite(value):
            return "fail", None, [], f"{name} not finite"
        values.append(value)
    bound_values = []
    for name, bounds in constraints.items():
        try:
            bound_values.append(_violation(record.number(name), bounds))
        except (KeyError, TypeError, ValueError):
            bound_values.append(1.0)  # unknown: not shown to hold
    state = "complete" if all(v <= 0 for v in bound_values) else "infeasible"
    return state, values, [0.0, *bound_values], "" if state == "complete" else "constraint"


def make_sampler(params: SearchParams) -> optuna.samplers.BaseSampler:
    """The study's sampler; constraints reach it through ``Trial.set_constraint``."""
    import optuna

    startup = params.n_startup_trials or params.batch_size
    if params.sampler == "tpe":
        with warnings.catch_warnings():  # multivariate and group are "experimental" flags
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=params.seed,
                n_startup_trials=startup,
                multivariate=True,
                group=True,  # the per-prototype roles are a conditional space
                constant_liar=True,  # a batch of asks does not propose one point B times
            )
    if params.sampler == "nsga2":
        return optuna.samplers.NSGAIISampler(
            seed=params.seed,
            population_size=max(4, params.batch_size),
        )
    return optuna.samplers.RandomSampler(seed=params.seed)


def open_study(
    journal: Path, name: str, params: SearchParams, objectives: dict[str, Objective]
) -> optuna.Study:
    """Create or load the study in an Optuna journal file (shared filesystems: open lock)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    journal = Path(journal)
    journal.parent.mkdir(parents=True, exist_ok=True)
    backend = JournalFileBackend(str(journal), lock_obj=JournalFileOpenLock(str(journal)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(
        study_name=name,
        storage=JournalStorage(backend),
        directions=[o.direction for o in objectives.values()],
        sampler=make_sampler(params),
        load_if_exists=True,
    )


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def fail_orphans(study: optuna.Study) -> int:
    """Fail the running trials of dead processes on this host (a killed run)."""
    from optuna.trial import TrialState

    host = socket.gethostname()
    failed = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = str(trial.user_attrs.get("worker", ""))
        name, _, pid = worker.rpartition(":")
        if name == host and pid.isdigit() and not _pid_alive(int(pid)):
            study.tell(trial.number, state=TrialState.FAIL)
            failed += 1
    return failed


def _tried(study: optuna.Study) -> int:
    """Distinct candidates (generator choices) told so far."""
    trials = study.get_trials(deepcopy=False)
    return len({t.user_attrs["search_choice"] for t in trials if "search_choice" in t.user_attrs})


def _count(study: optuna.Study) -> tuple[int, int]:
    """(trials, evaluations) so far in the whole study."""
    trials = study.get_trials(deepcopy=False)
    return len(trials), sum(1 for t in trials if t.user_attrs.get("evaluated"))


def _tell(
    study: optuna.Study,
    trial: optuna.Trial,
    record: Record,
    objectives: dict[str, Objective],
    constraints: dict[str, Bounds],
    *,
    evaluated: bool,
) -> None:
    from optuna.trial import TrialState

    state, values, constraint_values, reason = trial_outcome(record, objectives, constraints)
    trial.set_user_attr("record_id", record.id)
    trial.set_user_attr("search_choice", record.provenance.get("search_choice", record.id))
    trial.set_user_attr("formula", record.formula)
    trial.set_user_attr("evaluated", evaluated)
    trial.set_user_attr("outcome", state)
    if reason:
        trial.set_user_attr("reason", reason)
    if state == "fail":
        study.tell(trial, state=TrialState.FAIL)
        return
    trial.set_user_attr(CONSTRAINTS_ATTR, constraint_values)
    for key, value in zip(["candidate", *constraints], constraint_values, strict=True):
        trial.set_constraint(key, value)
    study.tell(trial, values)


def run_search(
    space: SearchSpace,
    params: SearchParams,
    objectives: dict[str, Objective],
    constraints: dict[str, Bounds],
    evaluate: Evaluator,
    *,
    journal: Path,
    store_dir: Path,
    study_name: str,
    prefilter: Callable[[list[Record]], list[Record]] | None = None,
    max_rounds: int | None = None,
) -> SearchResult:
    """Ask, build, prefilter, evaluate as one batch, tell; until the budget is spent.

    ``max_rounds`` stops early (tests); a rerun with the same journal continues.
    Raises SearchSpaceError when no trial so far found a feasible candidate and the
    trial limit is reached.
    """
    study = open_study(journal, study_name, params, objectives)
    store = RecordStore(store_dir)
    orphans = fail_orphans(study)
    if orphans:
        log.info("search: %d trials of a killed run marked failed", orphans)
    max_trials = params.max_trials or 20 * params.budget
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        n_trials, n_evaluated = _count(study)
        if n_evaluated >= params.budget or n_trials >= max_trials:
            break
        if _tried(study) >= space.size:  # every candidate of the space has its result
            log.info("search: all %d candidates of the space tried", space.size)
            break
        rounds += 1
        asked = [study.ask() for _ in range(min(params.batch_size, params.budget - n_evaluated))]
        fresh: dict[str, Record] = {}
        waiting: list[tuple[optuna.Trial, str]] = []
        for trial in asked:
            trial.set_user_attr("worker", _worker_id())
            record = space.candidate(space.suggest(trial))
            known = store.get(record.id)
            if known is not None:  # a repeat: tell the known result, evaluate nothing
                _tell(study, trial, known, objectives, constraints, evaluated=False)
                continue
            fresh.setdefault(record.id, record)
            waiting.append((trial, record.id))
        results = _evaluate_batch(list(fresh.values()), evaluate, prefilter)
        for record in results.values():
            store.put(record)
        told: set[str] = set()
        for trial, record_id in waiting:
            record = results[record_id]
            costs = record_id not in told and record.status.get("relax") is not None
            _tell(study, trial, record, objectives, constraints, evaluated=costs)
            told.add(record_id)
        _check_feasible(study, max_trials, space.size)
    if max_rounds is None:  # the budget is spent: it must have found something
        _check_feasible(study, 0, space.size)
    return search_result(study, store, study_name)


def _evaluate_batch(
    records: list[Record],
    evaluate: Evaluator,
    prefilter: Callable[[list[Record]], list[Record]] | None,
) -> dict[str, Record]:
    """Prefilter and evaluate the candidates the generator accepted; keep the others."""
    out = {r.id: r for r in records if not r.active}  # rejected by the generator
    built = [r for r in records if r.active]
    screened = prefilter(built) if prefilter and built else built
    active = [r for r in screened if r.active]
    out.update({r.id: r for r in screened if not r.active})
    if active:
        for record in evaluate(active):
            out[record.id] = record
    missing = [r.id for r in active if r.id not in out]
    if missing:
        raise RuntimeError(f"the evaluator returned no record for {', '.join(missing)}")
    return out


def _check_feasible(study: optuna.Study, max_trials: int, space_size: int) -> None:
    """Raise SearchSpaceError when no trial was feasible and the search cannot go on.

    That is: the trial limit is reached (0: now) or every candidate was tried.
    """
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if "outcome" in t.user_attrs]
    if any(t.user_attrs["outcome"] == "complete" for t in done):
        return
    if len(trials) >= max_trials or _tried(study) >= space_size:
        reasons: dict[str, int] = {}
        for t in done:
            key = str(t.user_attrs.get("reason", t.user_attrs["outcome"]))
            reasons[key] = reasons.get(key, 0) + 1
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items()))
        raise SearchSpaceError(
            f"no feasible candidate in {len(done)} trials ({detail}); widen the chemical "
            "space or relax the constraints"
        )


def search_result(study: optuna.Study, store: RecordStore, study_name: str) -> SearchResult:
    """The study's state: trials, evaluations, and the evaluated records in trial order."""
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    history = []
    for t in trials:
        if t.user_attrs.get("evaluated"):
            history.append(
                {
                    "trial": t.number,
                    "record_id": t.user_attrs.get("record_id"),
                    "formula": t.user_attrs.get("formula"),
                    "outcome": t.user_attrs.get("outcome"),
                    "values": list(t.values) if t.values else None,
                    "constraints": t.user_attrs.get(CONSTRAINTS_ATTR),
                }
            )
    return SearchResult(
        study_name=study_name,
        trials=len(trials),
        evaluations=len(history),
        feasible=sum(1 for h in history if h["outcome"] == "complete"),
        records=store.all(),
        history=history,
    )


def pareto_front(result: SearchResult, objectives: dict[str, Objective]) -> list[dict[str, Any]]:
    """The feasible evaluations no other feasible one dominates, over the objectives."""
    import numpy as np

    from screen.ranking.pareto import first_front

    feasible = [h for h in result.history if h["outcome"] == "complete" and h["values"]]
    if not feasible:
        return []
    sign = np.array([1.0 if o.direction == "minimize" else -1.0 for o in objectives.values()])
    mask = first_front(np.array([h["values"] for h in feasible]) * sign)
    names = list(objectives)
    return [
        {
            "record_id": h["record_id"],
            "formula": h["formula"],
            "values": dict(zip(names, h["values"], strict=True)),
        }
        for h, keep in zip(feasible, mask, strict=True)
        if keep
    ]


def write_summary(path: Path, result: SearchResult, objectives: dict[str, Objective]) -> None:
    """Write search.json: counts, the evaluation history, and the outcome.

    One objective: the best-so-far trajectory; several: the Pareto front of the feasible
    evaluations.
    """
    best: list[dict[str, Any]] = []
    if len(objectives) == 1:
        sign = 1.0 if next(iter(objectives.values())).direction == "minimize" else -1.0
        current = math.inf
        for i, h in enumerate(result.history, start=1):
            if h["outcome"] == "complete" and h["values"]:
                current = min(current, sign * h["values"][0])
            if math.isfinite(current):
                best.append({"evaluations": i, "best": sign * current})
    payload = {
        "study": result.study_name,
        "trials": result.trials,
        "evaluations": result.evaluations,
        "feasible": result.feasible,
        "objectives": {k: v.direction for k, v in objectives.items()},
        "best_trajectory": best,
        "pareto_front": pareto_front(result, objectives) if len(objectives) > 1 else [],
        "history": result.history,
    }
    atomic_write_text(Path(path), json.dumps(payload, indent=1))


__all__ = ["SearchSpaceError"]
