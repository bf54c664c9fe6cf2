"""Guided search: ask/tell with batched evaluation, a journal shared by two processes,
resume after kill -9, and a clear error for a space without a feasible candidate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from screen.search.campaign import search
from screen.search.space import SearchSpace, SearchSpaceError
from screen.workflow.load import load_workflow
from tests.conftest import REPO, small_workflow, write_workflow
from tests.search_toys import ToyEvaluator, toy_energy

SEARCH = {"sampler": "tpe", "budget": 6, "batch_size": 3, "seed": 1, "n_startup_trials": 3}
GOALS = {
    "objectives": {"formation_energy_per_atom": {"direction": "minimize"}},
    "constraints": {},
}


def _workflow(tmp_path, cations=("Fe", "Cr", "Co", "Zn", "Ti", "V"), **search):
    data = small_workflow()
    data["chemical_space"]["framework_cations"] = list(cations)
    data["chemical_space"]["critical_policy"] = "report-only"
    data["search"] = {**SEARCH, **GOALS, **search}
    data["stages"]["rank"] = {  # deliverables rank on the same goal
        "objectives": GOALS["objectives"],
        "constraints": search.get("constraints", {}),
    }
    return load_workflow(write_workflow(tmp_path / "search.yaml", data))


def _study(out, wf):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(out / "search" / "journal.log")))
    return optuna.load_study(study_name=wf.name, storage=storage)


def test_search_space_maps_each_trial_to_one_recipe(tmp_path):
    wf = _workflow(tmp_path)
    space = SearchSpace(wf.chemical_space, wf.stages.generate)
    # O3 NaMX2 and perovskite NaMX3: up to 6 cations x 2 anions each (roles may restrict)
    assert 12 <= space.size == len(space.all_proposals()) <= 24
    ids = {space.candidate(p).id for p in space.all_proposals()}
    assert len(ids) == space.size
    proposal = space.all_proposals()[0]
    record = space.candidate(proposal)
    assert record.provenance["recipe"]["prototype"] == proposal.prototype
    assert record.provenance["recipe"]["substitution"] == {
        **proposal.mapping,
        **record.provenance["recipe"]["substitution"],
    }


def test_ask_tell_loop_evaluates_batches_and_never_twice(tmp_path):
    wf = _workflow(tmp_path, constraints={"formation_energy_per_atom": {"max": -0.9}})
    toy = ToyEvaluator()
    result = search(wf, tmp_path / "out", evaluate=toy)
    evaluated = [i for batch in toy.batches for i in batch]
    assert len(evaluated) == len(set(evaluated)) == result.evaluations == 6
    assert all(1 <= len(batch) <= 3 for batch in toy.batches)
    study = _study(tmp_path / "out", wf)
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    assert len(complete) == result.trials >= 6
    for trial in complete:  # constraints reach Optuna as constraints, not penalties
        assert set(trial.constraints) == {"candidate", "formation_energy_per_atom"}
        if trial.user_attrs["outcome"] == "complete":
            assert trial.values[0] <= -0.9 and all(v <= 0 for v in trial.constraints.values())
        else:
            assert any(v > 0 for v in trial.constraints.values())
    # deliverables of the evaluated records, ranked on the search objective
    summary = json.loads((tmp_path / "out" / "search.json").read_text())
    assert summary["evaluations"] == 6 and summary["best_trajectory"]
    best = summary["best_trajectory"][-1]["best"]
    feasible = [
        r for r in result.records if r.active and r.number("formation_energy_per_atom") <= -0.9
    ]
    assert best == min(toy_energy(r) for r in feasible)
    rows = (tmp_path / "out" / "candidates.csv").read_text().splitlines()
    assert len(rows) == 1 + len(feasible)
    assert (tmp_path / "out" / "report.html").is_file()


def test_a_rerun_continues_the_study_and_a_repeat_is_told_not_evaluated(tmp_path):
    wf = _workflow(tmp_path)
    first = ToyEvaluator()
    search(wf, tmp_path / "out", evaluate=first, max_rounds=1, deliver=False)
    second = ToyEvaluator()
    result = search(wf, tmp_path / "out", evaluate=second, deliver=False)
    again = set(i for b in first.batches for i in b) & set(i for b in second.batches for i in b)
    assert not again
    assert result.evaluations == 6


def _worker(wf_path, out, sleep_s, log, barrier=None):
    args = [str(wf_path), str(out), str(sleep_s), str(log)]
    args += [str(barrier)] if barrier else []
    return subprocess.Popen(
        [sys.executable, "-m", "tests.search_toys", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_share_one_journal(tmp_path):
    wf = _workflow(tmp_path, budget=10, batch_size=2)
    out = tmp_path / "out"
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [_worker(tmp_path / "search.yaml", out, 0.5, log, barrier) for log in logs]
    deadline = time.time() + 120
    while len(list(barrier.glob("*.ready"))) < 2 and time.time() < deadline:
        time.sleep(0.05)
    (barrier / "go").touch()  # both imported and waiting: they start together
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    per_worker = [log.read_text().split() if log.exists() else [] for log in logs]
    assert all(per_worker), "both processes evaluated candidates"
    study = _study(out, wf)
    workers = {t.user_attrs.get("worker") for t in study.trials}
    assert len(workers) == 2
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    evaluations = sum(1 for t in study.trials if t.user_attrs.get("evaluated"))
    assert 10 <= evaluations <= 10 + 2 * 2  # each process may finish its last batch
    ids = [i for ids in per_worker for i in ids]
    # a recipe both processes drew at the same moment can be evaluated twice; nothing else
    assert len(ids) - len(set(ids)) <= 2


def test_resume_after_kill_loses_nothing_and_repeats_nothing(tmp_path):
    wf = _workflow(tmp_path, budget=8, batch_size=2)
    out = tmp_path / "out"
    log = tmp_path / "killed.log"
    proc = _worker(tmp_path / "search.yaml", out, 1.5, log)
    deadline = time.time() + 120
    while time.time() < deadline and len(log.read_text().split() if log.exists() else []) < 4:
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = set(log.read_text().split())
    assert len(before) >= 4
    stored = {p.stem for p in (out / "search" / "records").glob("*.json")}
    toy = ToyEvaluator()
    result = search(wf, out, evaluate=toy, deliver=False)
    rerun = {i for b in toy.batches for i in b}
    assert not (rerun & stored), "a stored result was evaluated again"
    study = _study(out, wf)
    assert not [t for t in study.trials if t.state.name == "RUNNING"]
    assert any(t.state.name == "FAIL" for t in study.trials) or stored <= before
    assert result.evaluations >= 8
    assert {r.id for r in result.records} >= before & stored


def test_no_feasible_candidate_is_a_clear_error(tmp_path):
    # Zn on the O3 NaMO2 and NaMO3 perovskite sites cannot be charge balanced
    data = small_workflow()
    data["chemical_space"]["framework_cations"] = ["Zn"]
    data["chemical_space"]["anions"] = ["O"]
    data["search"] = {**SEARCH, **GOALS}
    try:
        wf = load_workflow(write_workflow(tmp_path / "none.yaml", data))
    except Exception as exc:  # the workflow validator may already refuse the space
        pytest.skip(f"refused at validation: {exc}")
    with pytest.raises(SearchSpaceError, match=r"no feasible candidate in \d+ trials.*charge"):
        search(wf, tmp_path / "out", evaluate=ToyEvaluator())


def test_a_constraint_nothing_meets_is_a_clear_error(tmp_path):
    wf = _workflow(tmp_path, constraints={"formation_energy_per_atom": {"max": -50.0}})
    with pytest.raises(SearchSpaceError, match=r"no feasible candidate.*constraint"):
        search(wf, tmp_path / "out", evaluate=ToyEvaluator())


def test_campaign_evaluator_relaxes_and_estimates_each_batch(tmp_path, lj):
    """The real evaluator with the toy potential: one relax call per batch, then estimate."""
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["stages"]["estimate"]["electrode"] = False
    data["stages"]["rank"] = {
        "objectives": {"energy_above_hull_per_atom": {"direction": "minimize"}}
    }
    data["search"] = {"sampler": "random", "budget": 4, "batch_size": 2, "seed": 0}
    wf = load_workflow(write_workflow(tmp_path / "lj.yaml", data))
    result = search(wf, tmp_path / "out", potential=lj)
    relaxed = [r for r in result.records if "relax" in r.status]
    assert len(relaxed) == result.evaluations >= 4
    done = [r for r in relaxed if r.active]
    assert done and all("energy_above_hull_per_atom" in r.properties for r in done)
    assert (tmp_path / "out" / "references").is_dir()  # hull references cached for reruns
    assert (tmp_path / "out" / "candidates.csv").read_text().count("\n") == 1 + len(done)


def test_a_budget_larger_than_the_space_stops_when_every_candidate_is_tried(tmp_path):
    wf = _workflow(tmp_path, cations=("Fe", "Cr"), budget=50, batch_size=4)
    space = SearchSpace(wf.chemical_space, wf.stages.generate)
    toy = ToyEvaluator()
    result = search(wf, tmp_path / "out", evaluate=toy, deliver=False)
    evaluated = [i for b in toy.batches for i in b]
    assert len(evaluated) == len(set(evaluated)) == result.evaluations < space.size
    assert result.trials < 20 * 50  # stopped on exhaustion, not on the trial limit


def test_candidates_the_generator_rejects_are_not_prefiltered_or_evaluated(tmp_path):
    from screen.search.loop import _evaluate_batch

    wf = _workflow(tmp_path)
    space = SearchSpace(wf.chemical_space, wf.stages.generate)
    records = [space.candidate(p) for p in space.all_proposals()[:4]]
    records[0].mark("generate", "filtered", "unlikely-substitution", "test")
    seen: list[str] = []

    def prefilter(batch):
        seen.extend(r.id for r in batch)
        return batch

    out = _evaluate_batch(records, ToyEvaluator(), prefilter)
    assert records[0].id not in seen and len(seen) == 3
    assert out[records[0].id].exit_stage()[1].reason == "unlikely-substitution"
    assert all("relax" in out[r.id].status for r in records[1:])


@pytest.mark.parametrize("sampler", ["tpe", "nsga2"])
def test_multi_objective_search_reports_its_pareto_front(tmp_path, sampler):
    goals = {
        "formation_energy_per_atom": {"direction": "minimize"},
        "element_cost": {"direction": "minimize"},  # set by the prefilter (supply data)
    }
    wf = _workflow(tmp_path, sampler=sampler, objectives=goals, budget=8, batch_size=4)
    result = search(wf, tmp_path / "out", evaluate=ToyEvaluator(), deliver=False)
    front = json.loads((tmp_path / "out" / "search.json").read_text())["pareto_front"]
    assert front
    points = {
        r.id: (r.number("formation_energy_per_atom"), r.number("element_cost"))
        for r in result.records
        if r.active
    }
    on_front = {p["record_id"] for p in front}
    for rid, (e, c) in points.items():  # by the definition, against every evaluated point
        dominated = any(e2 <= e and c2 <= c and (e2, c2) != (e, c) for e2, c2 in points.values())
        assert (rid in on_front) == (not dominated), rid


def test_bad_search_sections_are_refused_with_the_field_named(tmp_path):
    from screen.workflow.load import validate_workflow

    data = small_workflow()
    data["search"] = {
        "sampler": "qmc",  # on categorical choices Optuna's QMC is random sampling
        "budget": 0,
        "objectives": {"colour": {"direction": "minimize"}},
    }
    problems = {p.key: p for p in validate_workflow(write_workflow(tmp_path / "w.yaml", data))}
    assert set(problems) == {"search.sampler", "search.budget", "search.objectives"}, problems
    assert "tpe" in problems["search.sampler"].message
    assert "unknown property colour" in problems["search.objectives"].message


def test_cli_search_needs_a_search_section(tmp_path):
    from typer.testing import CliRunner

    from screen.cli.main import app

    path = write_workflow(tmp_path / "w.yaml", small_workflow())
    result = CliRunner().invoke(app, ["search", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no 'search' section" in result.output
    assert not (tmp_path / "out").exists()
