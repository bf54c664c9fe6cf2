"""Relaxation throughput on CPU: one-structure-at-a-time ASE (baseline) vs batscreen's
local executor (one single-threaded worker process per core), same structures, same run.

    .venv/bin/python benchmarks/relax_workers.py [--workers N] [--repeat-set K]

Three measurements, each in a fresh process so thread settings cannot leak:
1. baseline: what a user writes first, a loop relaxing each structure with ASE FIRE +
   FrechetCellFilter and CHGNet in one process with default threading;
2. the same loop single-threaded (OMP/OpenBLAS/MKL and torch at 1 thread), which shows
   how much of the gain is only avoiding thread oversubscription;
3. batscreen's local executor (journaled, one single-threaded worker per core), timed
   including worker start-up and model loading.
All relax the prefiltered candidates of workflows/quickstart.yaml with the same
parameters. Printed: wall times, structures per minute and the ratios to the baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def candidates(repeat: int) -> list:
    import screen

    workflow = screen.load_workflow(REPO / "workflows" / "quickstart.yaml")
    space = workflow.chemical_space
    records = [r for r in screen.prefilter(screen.generate(space), space) if r.active]
    return [r for r in records for _ in range(repeat)]


def baseline(records: list, params) -> float:
    """Plain loop in one process (torch default threads)."""
    import torch

    from screen.potentials.registry import load_potential
    from screen.relaxation.stage import relax_records

    potential = load_potential("chgnet-0.3.0", device="cpu")
    print(f"loop: 1 process, torch threads = {torch.get_num_threads()}", file=sys.stderr)
    start = time.perf_counter()
    relax_records(records, params, potential)
    return time.perf_counter() - start


def executor(records: list, params, workers: int) -> float:
    """batscreen's local executor: journaled, one single-threaded worker per core."""
    from screen.executors.local import RecordStage, run_record_stage
    from screen.potentials.cards import get_card
    from screen.potentials.registry import PotentialSource
    from screen.records import Record
    from screen.relaxation.stage import relax_records

    stage = RecordStage(
        name="relax",
        function=relax_records,
        params=params,
        potential=PotentialSource(get_card("chgnet-0.3.0"), "cpu"),
    )
    # distinct ids so that repeated structures are all computed
    unique = []
    for i, r in enumerate(records):
        copy = Record.model_validate({**r.model_dump(), "id": f"{r.id}-{i}"})
        unique.append(copy)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()  # includes worker start-up and model loading
        run_record_stage(stage, unique, Path(tmp), workers=workers, shard_size=50)
        return time.perf_counter() - start


def _measure(mode: str, repeat: int, workers: int) -> float:
    """Run one measurement in a fresh interpreter; returns its wall time (s)."""
    env = dict(os.environ)
    if mode == "loop-1thread":
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [
        sys.executable,
        __file__,
        "--child",
        mode,
        "--repeat-set",
        str(repeat),
        "--workers",
        str(workers),
    ]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _child(mode: str, repeat: int, workers: int) -> None:
    import torch

    from screen.workflow.spec import RelaxParams

    if mode == "loop-1thread":
        torch.set_num_threads(1)
    records = candidates(repeat)
    params = RelaxParams()
    seconds = (
        executor(records, params, workers) if mode == "executor" else baseline(records, params)
    )
    print(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat-set", type=int, default=1)
    parser.add_argument("--child", choices=["loop", "loop-1thread", "executor"])
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.repeat_set, args.workers)
        return

    n = len(candidates(args.repeat_set))
    print(f"{n} structures, CHGNet 0.3.0, {platform.machine()}, {os.cpu_count()} CPUs")
    times = {
        "baseline ASE loop (default threads)": _measure("loop", args.repeat_set, 1),
        "ASE loop, 1 thread": _measure("loop-1thread", args.repeat_set, 1),
        f"executor, {args.workers} workers x 1 thread": _measure(
            "executor", args.repeat_set, args.workers
        ),
    }
    base = next(iter(times.values()))
    for label, seconds in times.items():
        print(
            f"{label:<38} {seconds:7.1f} s  {60 * n / seconds:6.1f} structures/min  "
            f"{base / seconds:5.2f}x"
        )


if __name__ == "__main__":
    main()
