"""Local executor for per-record stages: shards, journals, one single-threaded worker per core.

The records of a per-record stage (relaxation) are split into shards (plan.json, fixed at
the first run). Each finished record is appended to its shard's journal at once; a shard
whose records are all done is written as one atomic file and its journal removed. A
killed run therefore resumes with every finished record and recomputes none.

On CPU the fastest layout is one single-threaded worker process per core (measured by
benchmarks/relax_workers.py; docs/relaxation.md); on a GPU the stage runs in-process. A
worker that dies (segfault, out of memory) costs only the records it held: they are
retried one at a time in a fresh worker, and a record that kills its worker again is
marked failed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from screen.executors.shards import (
    ShardBook,
    open_shards,
    plan_shards,
    sealed_shards,
    shard_count,
    shard_index,
    shard_progress,
)
from screen.potentials.registry import PotentialSource
from screen.records import Record

__all__ = [
    "IncompleteStage",
    "RecordStage",
    "plan_shards",
    "resolve_worker_count",
    "resolve_workers",
    "run_record_stage",
    "sealed_shards",
    "shard_count",
    "shard_progress",
    "single_threaded",
    "usable_cores",
]

log = logging.getLogger(__name__)

ProgressCallback = Callable[[str, int, int], None]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


#: a per-record stage function: ``function(records, params, potential, *, on_result, **options)``
RecordFunction = Callable[..., list[Record]]


@dataclass(frozen=True)
class RecordStage:
    """A stage that maps each record independently, as objects a worker process unpickles.

    ``function`` is a module-level function (pickled by reference), ``params`` its
    parameters (a pydantic model), ``potential`` what loads the potential in the worker.
    """

    name: str
    function: RecordFunction
    params: Any
    potential: PotentialSource
    options: tuple[tuple[str, Any], ...] = ()  # keyword arguments of the function


# ---------------------------------------------------------------------- worker side
_WORKER: dict[str, Any] = {}


def _watch_parent(parent_pid: int) -> None:  # pragma: no cover - runs in workers
    """Exit when the parent dies (kill -9 leaves pool workers orphaned otherwise)."""
    import time

    while True:
        if os.getppid() != parent_pid:
            os._exit(1)
        time.sleep(1.0)


def _worker_init(stage: RecordStage, parent_pid: int) -> None:  # pragma: no cover - workers
    import signal

    import torch

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle

    torch.set_num_threads(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()

    _WORKER["potential"] = stage.potential.load()
    _WORKER["stage"] = stage


def _worker_apply(record_json: str) -> str:  # pragma: no cover - runs in workers
    record = Record.from_json(record_json)
    stage: RecordStage = _WORKER["stage"]
    out = stage.function([record], stage.params, _WORKER["potential"], **dict(stage.options))
    return out[0].to_json()


# ---------------------------------------------------------------------- driver
def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity: a SLURM allocation's, say)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_worker_count(workers: int | str) -> int | str:
    """``workers`` capped at the usable cores, with a warning ('auto' stays 'auto').

    More single-threaded workers than cores only share the cores, each with its own copy
    of the potential in memory.
    """
    if workers == "auto":
        return workers
    cores = usable_cores()
    if int(workers) > cores:
        log.warning(
            "workers: %s asked for, but this process may use %d core(s); using %d",
            workers,
            cores,
            cores,
        )
        return cores
    return int(workers)


def resolve_workers(workers: int | str, device: str, n_records: int) -> int:
    """How many worker processes to use: at most the usable cores and the records."""
    if device.startswith("cuda"):
        return 1
    cores = usable_cores()
    asked = cores if workers == "auto" else int(workers)
    return max(1, min(asked, cores, n_records))


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One BLAS/OpenMP thread and one torch thread in this process, restored afterwards.

    On CPU, ASE's cell filters call small numpy/scipy linear algebra every step; with
    several BLAS threads they run several times slower (benchmarks/relax_workers.py).
    """
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _single_threaded_children() -> Iterator[None]:
    old = {var: os.environ.get(var) for var in _THREAD_VARS}
    os.environ.update({var: "1" for var in _THREAD_VARS})
    try:
        yield
    finally:
        for var, value in old.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


class IncompleteStage(RuntimeError):
    """A stage that may not compute here (a SLURM collect) has records left to do."""


def run_record_stage(
    stage: RecordStage,
    records: list[Record],
    stage_dir: Path,
    *,
    workers: int,
    shard_size: int,
    potential: Any = None,
    progress: ProgressCallback | None = None,
    only_shard: int | None = None,
    compute: bool = True,
    should_stop: Callable[[], bool] | None = None,
) -> list[Record]:
    """Apply a per-record stage to every record, journaled and resumable.

    ``potential`` is used in-process when given (or when ``workers == 1``).
    ``only_shard``: do (and return) only that shard of the plan (a SLURM array task).
    ``compute=False``: every record must already be done (else IncompleteStage naming
    the missing shards). ``should_stop``: checked between chunks of records; when it
    turns true no new record starts and the finished ones are already journaled.
    """
    stage_dir.mkdir(parents=True, exist_ok=True)
    by_id = {r.id: r for r in records}
    book = open_shards(stage_dir, list(by_id.values()), shard_size)
    shards = book.shards
    wanted = shards if only_shard is None else [shard_index(shards, only_shard, stage.name)]
    todo = [rid for shard in wanted for rid in shard if rid not in book.done]
    total = sum(len(shard) for shard in wanted)
    if todo and not compute:
        missing = [k for k, shard in enumerate(shards) if any(i not in book.done for i in shard)]
        raise IncompleteStage(
            f"{stage.name}: {len(todo)} record(s) not done in shard(s) "
            f"{', '.join(map(str, missing))} of {stage_dir}"
        )
    if book.done:
        log.info("%s: resuming, %d of %d records already done", stage.name, len(book.done), total)

    def report() -> None:
        if progress:
            progress(stage.name, sum(rid in book.done for s in wanted for rid in s), total)

    report()
    # with a stop check, work in small chunks: a few records per worker on CPU, a batch's
    # worth on a GPU (where the stage batches them)
    on_gpu = stage.potential.device.startswith("cuda")
    chunk = len(todo) if should_stop is None else (32 if on_gpu else max(2 * workers, 1))
    for start in range(0, len(todo), max(chunk, 1)):
        if should_stop is not None and should_stop():
            break
        part = [by_id[i] for i in todo[start : start + chunk]]
        if workers <= 1 or potential is not None:
            _run_in_process(stage, part, book, potential, report)
        else:
            _run_pool(stage, part, book, workers, report)
    return [book.done[rid] for shard in wanted for rid in sorted(shard) if rid in book.done]


def _run_in_process(
    stage: RecordStage,
    records: list[Record],
    book: ShardBook,
    potential: Any,
    report: Callable[[], None],
) -> None:
    if potential is None:
        potential = stage.potential.load()

    def finished(record: Record) -> None:
        book.add(record)
        report()

    limit = single_threaded() if potential.device == "cpu" else contextlib.nullcontext()
    with limit:  # the whole remainder in one call: the stage batches it
        stage.function(records, stage.params, potential, on_result=finished, **dict(stage.options))


def _run_pool(
    stage: RecordStage,
    records: list[Record],
    book: ShardBook,
    workers: int,
    report: Callable[[], None],
) -> None:
    finished_before = len(book.done)
    while records:
        given = len(records)
        suspects, records = _pool_pass(stage, records, book, workers, report)
        if not suspects and len(records) == given and not _workers_start(stage):
            # the pool broke before it took a single record, and a fresh worker cannot
            # start either: retrying would loop for ever
            raise RuntimeError(
                f"{stage.name}: worker processes die before taking any record (cannot load "
                "the potential? out of memory?); nothing was marked failed"
            )
        # in flight when a worker died: retried one at a time to find the culprit (a record
        # whose lone worker dies before it even starts counts as a crash too)
        crashed = [r for r in suspects if any(_pool_pass(stage, [r], book, 1, report))]
        if crashed and len(book.done) == finished_before and not _workers_start(stage):
            raise RuntimeError(
                f"{stage.name}: worker processes die before finishing any record "
                "(cannot load the potential? out of memory?); nothing was marked failed"
            )
        for record in crashed:
            failed = record.copy_for_stage()
            failed.mark(stage.name, "failed", "worker-crashed", "the worker process died twice")
            book.add(failed)
            report()


def worker_ping() -> int:  # pragma: no cover - runs in workers
    """What a started worker answers (its pid): the potential loaded, the worker alive."""
    return os.getpid()


def _workers_start(stage: RecordStage) -> bool:
    """True when a fresh worker starts and answers (so records that crashed are culprits).

    Asked only when nothing has finished yet: a record that kills its worker first thing
    looks the same, from the pool, as a worker that cannot load the potential.
    """
    pool = new_pool(stage, 1)
    try:
        pool.submit(worker_ping).result()
        return True
    except BrokenProcessPool:
        return False
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def new_pool(stage: RecordStage, workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh single-threaded processes that load the stage's potential."""
    with _single_threaded_children():
        return ProcessPoolExecutor(
            max_workers=workers,
            mp_context=get_context("spawn"),
            initializer=_worker_init,
            initargs=(stage, os.getpid()),
        )


def _pool_pass(
    stage: RecordStage,
    records: list[Record],
    book: ShardBook,
    workers: int,
    report: Callable[[], None],
) -> tuple[list[Record], list[Record]]:
    """Run records in a fresh pool.

    Returns (records in flight when a worker died, records not yet started); both are
    empty when the pass finished normally.
    """
    queue = list(reversed(records))
    pool = new_pool(stage, workers)
    running: dict[Future[str], Record] = {}

    def submit() -> bool:
        """Start the next record; False when the pool is broken (the record stays queued).

        A worker that dies breaks the whole pool, and the next submit raises at once, even
        before the dead worker's own future reports it.
        """
        record = queue.pop()
        try:
            with _single_threaded_children():
                running[pool.submit(_worker_apply, record.to_json())] = record
        except BrokenProcessPool:
            queue.append(record)
            return False
        return True

    def broken(suspects: list[Record]) -> tuple[list[Record], list[Record]]:
        """Keep what finished, name what was in flight, hand back what never started."""
        log.warning("%s: a worker died; retrying its records alone", stage.name)
        for future, held in running.items():
            if future.done() and future.exception() is None:
                book.add(Record.from_json(future.result()))
            else:
                suspects.append(held)
        return suspects, list(reversed(queue))

    try:
        while queue and len(running) < 2 * workers:
            if not submit():
                return broken([])
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                record = running.pop(future)
                try:
                    book.add(Record.from_json(future.result()))
                except BrokenProcessPool:
                    return broken([record])
                except Exception as exc:  # the stage function raised despite its guards
                    failed = record.copy_for_stage()
                    failed.mark(stage.name, "failed", "stage-error", f"{type(exc).__name__}: {exc}")
                    book.add(failed)
                report()
                if queue and not submit():
                    return broken([])
    except BaseException:  # Ctrl-C or an error: stop the workers now, not after their task
        _terminate_workers(pool)
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [], []


def _terminate_workers(pool: ProcessPoolExecutor) -> None:
    processes = getattr(pool, "_processes", None) or {}
    for process in list(processes.values()):
        with contextlib.suppress(Exception):
            process.terminate()
