"""The local executor: shards, journals, worker crashes."""

from __future__ import annotations

import json

import pytest

from screen.executors.local import RecordStage, plan_shards, run_record_stage
from screen.potentials.cards import get_card
from screen.potentials.registry import PotentialSource
from screen.records import record_from_structure
from screen.store.journal import Journal, write_shard
from screen.workflow.spec import RelaxParams
from tests import stage_helpers


def _records(nacl, n, crash=()):
    out = []
    for i in range(n):
        s = nacl.copy()
        s.scale_lattice(nacl.volume * (1 + 0.01 * i))
        r = record_from_structure(s)
        if i in crash:
            r.provenance["crash"] = True
        out.append(r)
    return out


def _stage():
    return RecordStage(
        name="relax",
        function=stage_helpers.crash_or_pass,
        params=RelaxParams(),
        potential=PotentialSource(get_card("lennard-jones-toy"), "cpu"),
    )


def test_worker_crash_costs_only_its_record(tmp_path, nacl):
    records = _records(nacl, 6, crash={2})
    out = run_record_stage(_stage(), records, tmp_path, workers=2, shard_size=4)
    by_id = {r.id: r for r in out}
    assert sorted(by_id) == sorted(r.id for r in records)
    crashed = by_id[records[2].id]
    assert crashed.status["relax"].reason == "worker-crashed"
    assert all(by_id[r.id].status["relax"].state == "ok" for i, r in enumerate(records) if i != 2)
    pids = {by_id[r.id].number("relax_steps") for i, r in enumerate(records) if i != 2}
    assert len(pids) >= 2  # really ran in worker processes
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plan.json",
        "shard-0000.jsonl",
        "shard-0001.jsonl",
    ]


def test_resume_uses_sealed_shards_and_journals(tmp_path, nacl):
    records = _records(nacl, 5)
    shards = plan_shards(tmp_path, [r.id for r in records], 2)
    by_id = {r.id: r for r in records}
    done = {}
    for rid in shards[0]:
        done[rid] = by_id[rid].copy_for_stage()
        done[rid].mark("relax", "ok")
        done[rid].set_property("relax_steps", -1, unit="", method="sealed earlier")
    write_shard(tmp_path / "shard-0000.jsonl", [done[rid] for rid in shards[0]])
    Journal(tmp_path / "shard-0000.journal.jsonl").append(done[shards[0][0]])  # stale
    early = by_id[shards[1][0]].copy_for_stage()
    early.mark("relax", "ok")
    early.set_property("relax_steps", -2, unit="", method="journaled earlier")
    Journal(tmp_path / "shard-0001.journal.jsonl").append(early)

    class InProcess:
        device = "cpu"

    stage = RecordStage(**{**_stage().__dict__, "function": stage_helpers.counting_pass})
    stage_helpers.CALLS.clear()
    out = run_record_stage(stage, records, tmp_path, workers=1, shard_size=2, potential=InProcess())
    assert sorted(stage_helpers.CALLS) == sorted(shards[1][1:] + shards[2])  # only what was missing
    values = {r.id: r.number("relax_steps") for r in out}
    assert all(values[rid] == -1 for rid in shards[0])
    assert values[shards[1][0]] == -2
    assert not list(tmp_path.glob("*.journal.jsonl"))


def test_plan_is_fixed_at_first_run(tmp_path):
    first = plan_shards(tmp_path, ["b", "a", "c"], 2)
    assert first == [["a", "b"], ["c"]]
    assert plan_shards(tmp_path, ["a", "b", "c"], 1) == first  # shard_size changed later
    with pytest.raises(RuntimeError, match="inconsistent"):
        plan_shards(tmp_path, ["a", "b"], 2)
    assert json.loads((tmp_path / "plan.json").read_text())["shard_size"] == 2
