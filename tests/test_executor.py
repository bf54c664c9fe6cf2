"""The local executor: shards, journals, worker crashes."""

from __future__ import annotations

import json
import os
import threading

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
    # really ran in worker processes (not necessarily two: under load one worker can finish
    # every other record before the second has even imported torch)
    assert os.getpid() not in pids
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
    with pytest.raises(RuntimeError, match="planned for other records"):
        plan_shards(tmp_path, ["a", "b"], 2)
    assert json.loads((tmp_path / "plan.json").read_text())["shard_size"] == 2


class _ScriptedPool:
    """A stand-in for ProcessPoolExecutor whose worker dies at a chosen moment.

    Records run at once (their futures are done when submit returns) except a poisoned
    one: its worker dies, which breaks the pool. ``when`` says what the parent sees:
    'during' (the poisoned record's future reports the broken pool at once), 'unreported'
    (the pool is broken but that future has not reported yet, so the next submit raises
    first: the race seen in a full suite run), 'first-submit' (the pool broke before its
    first submit: a worker died while starting).
    """

    pools = 0

    def __init__(self, poison: set[str], when: str, break_first_only: bool):
        from concurrent.futures.process import BrokenProcessPool

        self.error = BrokenProcessPool
        self.poison = poison
        self.when = when
        type(self).pools += 1
        first = type(self).pools == 1
        self.broken = when == "first-submit" and (first or not break_first_only)
        self.pending = []

    def submit(self, fn, *args):
        from concurrent.futures import Future

        from screen.records import Record

        if self.broken:
            raise self.error("a child process terminated abruptly")
        if fn.__name__ == "worker_ping":  # a worker that starts answers
            future = Future()
            future.set_result(1)
            return future
        (record_json,) = args
        record = Record.from_json(record_json)
        future = Future()
        if record.id in self.poison:
            self.broken = True
            for other in self.pending:
                if not other.done():
                    other.set_exception(self.error("a child process terminated abruptly"))
            if self.when == "during":
                future.set_exception(self.error("a child process terminated abruptly"))
            else:  # reports a moment later, as the pool's manager thread would
                self.pending.append(future)
                timer = threading.Timer(0.2, self._report, args=(future,))
                timer.daemon = True
                timer.start()
            return future
        done = record.copy_for_stage()
        done.mark("relax", "ok")
        future.set_result(done.to_json())
        return future

    def _report(self, future):
        if not future.done():
            future.set_exception(self.error("a child process terminated abruptly"))

    def shutdown(self, wait=True, cancel_futures=False):
        for future in self.pending:
            future.cancel()


@pytest.mark.parametrize("when", ["during", "unreported", "first-submit"])
@pytest.mark.parametrize("position", [0, 2, 5])
def test_a_worker_crash_at_any_moment_costs_only_its_record(
    tmp_path, nacl, monkeypatch, when, position
):
    """Deterministic: the pool breaks before, during or between submits, at the first, a
    middle or the last record; every other record ends ok, the crashing one failed."""
    from screen.executors import local

    records = _records(nacl, 6)
    poison = {records[position].id} if when != "first-submit" else set()
    _ScriptedPool.pools = 0
    monkeypatch.setattr(local, "new_pool", lambda stage, workers: _ScriptedPool(poison, when, True))
    out = run_record_stage(_stage(), records, tmp_path, workers=2, shard_size=4)
    by_id = {r.id: r for r in out}
    assert sorted(by_id) == sorted(r.id for r in records)  # nothing lost
    for record in records:
        status = by_id[record.id].status["relax"]
        if record.id in poison:
            assert (status.state, status.reason) == ("failed", "worker-crashed")
        else:
            assert status.state == "ok"
    assert _ScriptedPool.pools >= 2  # the broken pool was replaced
    # every record journaled and sealed: a rerun recomputes nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "plan.json",
        "shard-0000.jsonl",
        "shard-0001.jsonl",
    ]


def test_workers_that_always_die_at_start_are_an_error_not_failed_records(
    tmp_path, nacl, monkeypatch
):
    from screen.executors import local

    records = _records(nacl, 3)
    _ScriptedPool.pools = 0
    monkeypatch.setattr(
        local, "new_pool", lambda stage, workers: _ScriptedPool(set(), "first-submit", False)
    )
    with pytest.raises(RuntimeError, match=r"die before (finishing|taking) any record"):
        run_record_stage(_stage(), records, tmp_path, workers=2, shard_size=4)
    assert not list(tmp_path.glob("shard-*"))  # nothing marked failed


def test_workers_are_capped_at_the_usable_cores(caplog):
    from screen.executors.local import resolve_worker_count, resolve_workers, usable_cores

    cores = usable_cores()
    caplog.set_level("WARNING")
    assert resolve_worker_count(100_000) == cores
    assert "100000 asked for" in caplog.text
    assert resolve_worker_count("auto") == "auto"
    assert resolve_workers(100_000, "cpu", 10_000) == cores
    assert resolve_workers(4, "cuda:0", 10) == 1
