"""Shard bookkeeping of a per-record stage: the plan, the journals, the sealed shards.

``plan.json`` fixes which records form each shard at the first run, so resumes and SLURM
array tasks agree. Each finished record is appended to its shard's journal; a shard
whose records are all done is sealed (one atomic file) and its journal removed.

Nothing here is trusted blindly. A sealed shard that does not parse or does not hold
exactly its planned records is moved aside (``damaged/``) with a warning naming it; the
records it still holds are journaled again and only the rest are recomputed. A damaged
plan, or one made for other records than the stage now has (its input was rerun), is
moved aside too and planned anew; every record found in the old shards and journals
whose generated structure is the one the stage now takes is kept.
"""

from __future__ import annotations

import contextlib
import json
import logging
from pathlib import Path

from screen.records import Record
from screen.store.atomic import atomic_write_text
from screen.store.errors import CampaignError
from screen.store.journal import Journal, write_shard
from screen.store.manifest import set_aside

log = logging.getLogger(__name__)

PLAN = "plan.json"


def _read_plan(path: Path) -> tuple[list[list[str]] | None, str]:
    try:
        data = json.loads(path.read_text())
        shards = data["shards"]
        if not all(isinstance(s, list) and all(isinstance(i, str) for i in s) for s in shards):
            raise ValueError("shards are not lists of record ids")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        return None, f"{path} is damaged ({type(exc).__name__}: {exc})"
    return shards, ""


def plan_shards(stage_dir: Path, ids: list[str], shard_size: int) -> list[list[str]]:
    """The stage's shards, fixed at the first run (plan.json) so resumes agree.

    Raises:
        RuntimeError: plan.json is damaged or was planned for other records (use
            :func:`open_shards`, which replans and keeps what it can).
    """
    shards, problem = _read_plan(stage_dir / PLAN) if (stage_dir / PLAN).is_file() else ([], "")
    if problem:
        raise RuntimeError(problem)
    if shards:
        if sorted(i for shard in shards for i in shard) != sorted(ids):
            raise RuntimeError(
                f"{stage_dir / PLAN} was planned for other records than this stage now has"
            )
        return shards
    ordered = sorted(ids)
    shards = [ordered[i : i + shard_size] for i in range(0, len(ordered), shard_size)]
    atomic_write_text(stage_dir / PLAN, json.dumps({"shard_size": shard_size, "shards": shards}))
    return shards


def open_shards(stage_dir: Path, records: list[Record], shard_size: int) -> ShardBook:
    """The plan and the finished records of a stage taking ``records`` (see the module)."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    ids = [r.id for r in records]
    try:
        shards = plan_shards(stage_dir, ids, shard_size)
    except RuntimeError as exc:
        log.warning("%s; planning the stage anew and keeping every finished record", exc)
        kept = _salvage(stage_dir, {r.id: r for r in records})
        set_aside([stage_dir / PLAN], stage_dir)
        shards = plan_shards(stage_dir, ids, shard_size)
        book = ShardBook(stage_dir, shards)
        for record in kept:
            book.add(record)
        return book
    return ShardBook(stage_dir, shards)


def _shard_files(stage_dir: Path) -> list[Path]:
    return sorted(stage_dir.glob("shard-[0-9]*.jsonl"))


def _salvage(stage_dir: Path, wanted: dict[str, Record]) -> list[Record]:
    """Finished records of the old shards and journals that the stage still takes."""
    kept: dict[str, Record] = {}
    files = _shard_files(stage_dir)
    for path in files:
        for record in _readable(path):
            given = wanted.get(record.id)
            if given is not None and given.structure == record.structure:
                kept[record.id] = record
    set_aside(files, stage_dir)
    log.warning("%s: kept %d finished record(s) from the old shards", stage_dir, len(kept))
    return list(kept.values())


def _readable(path: Path) -> list[Record]:
    """The records of the whole lines of a shard or journal that parse."""
    out = []
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                break
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                out.append(Record.from_json(raw.decode()))
    return out


class ShardBook:
    """Tracks finished records per shard; journals each and seals complete shards."""

    def __init__(self, stage_dir: Path, shards: list[list[str]], *, repair: bool = True):
        self.stage_dir = stage_dir
        self.shards = shards
        self.shard_of = {rid: k for k, shard in enumerate(shards) for rid in shard}
        self.done: dict[str, Record] = {}
        self.sealed: set[int] = set()
        salvaged: list[Record] = []
        for k, shard in enumerate(shards):
            out = self._out(k)
            if out.is_file():
                records = _readable(out)
                if sorted(r.id for r in records) == sorted(shard):
                    self.done.update((r.id, r) for r in records)
                    self.sealed.add(k)
                    if repair:
                        with contextlib.suppress(FileNotFoundError):  # killed after sealing
                            self._journal(k).path.unlink()
                    continue
                if not repair:
                    continue
                log.warning(
                    "sealed shard %s is damaged (%d of its %d records readable); it is moved "
                    "aside and the records it lacks are recomputed",
                    out,
                    len({r.id for r in records} & set(shard)),
                    len(shard),
                )
                set_aside([out], stage_dir)
                salvaged += [r for r in records if r.id in set(shard)]
            journaled = self._journal(k).load(repair=repair)
            self.done.update((rid, r) for rid, r in journaled.items() if rid in set(shard))
            if repair:
                self._maybe_seal(k)
        for record in salvaged:
            self.add(record)

    def _out(self, k: int) -> Path:
        return self.stage_dir / f"shard-{k:04d}.jsonl"

    def _journal(self, k: int) -> Journal:
        return Journal(self.stage_dir / f"shard-{k:04d}.journal.jsonl")

    def _maybe_seal(self, k: int) -> None:
        if k in self.sealed or any(rid not in self.done for rid in self.shards[k]):
            return
        write_shard(self._out(k), (self.done[rid] for rid in self.shards[k]))
        self.sealed.add(k)
        with contextlib.suppress(FileNotFoundError):
            self._journal(k).path.unlink()

    def add(self, record: Record) -> None:
        """Journal one finished record (durably) and seal its shard when complete."""
        if record.id in self.done:
            return
        k = self.shard_of[record.id]
        self._journal(k).append(record)
        self.done[record.id] = record
        self._maybe_seal(k)


def shard_index(shards: list[list[str]], index: int, name: str) -> list[str]:
    """Shard ``index`` of a plan (IndexError naming the stage when there is none)."""
    if not 0 <= index < len(shards):
        raise IndexError(f"{name}: shard {index} does not exist (the plan has {len(shards)})")
    return shards[index]


def _plan_of(stage_dir: Path) -> list[list[str]]:
    shards, problem = _read_plan(stage_dir / PLAN)
    if shards is None:
        raise CampaignError(
            f"{problem}; the next run, collect or task of the stage plans it anew and keeps "
            "every finished record (batscreen run WORKFLOW --out DIR, or resubmit after "
            "deleting it)"
        )
    return shards


def shard_count(stage_dir: Path) -> int:
    """Number of shards in a stage's plan (0 when not planned yet)."""
    return len(_plan_of(stage_dir)) if (stage_dir / PLAN).is_file() else 0


def shard_progress(stage_dir: Path, index: int) -> tuple[int, int]:
    """(records done, records planned) of one shard, journals included (read only)."""
    shards = _plan_of(stage_dir)
    book = ShardBook(stage_dir, shards, repair=False)
    shard = shard_index(shards, index, stage_dir.name)
    return sum(rid in book.done for rid in shard), len(shard)


def sealed_shards(stage_dir: Path) -> set[int]:
    """Indices of the shards whose every record is done (sealed files)."""
    return {int(p.stem.split("-")[1]) for p in stage_dir.glob("shard-[0-9]*.jsonl")
            if not p.name.endswith(".journal.jsonl")}  # fmt: skip
