"""Stage functions for executor tests (importable by spawned worker processes)."""

from __future__ import annotations

import os

from screen.records import Record


def crash_or_pass(
    records: list[Record], params: object, potential: object, on_result=None, **options
) -> list[Record]:
    """Kill the worker process for records marked 'crash'; pass the others."""
    out = []
    for record in records:
        if record.provenance.get("crash"):
            os._exit(3)  # like a segfault or the OOM killer: no exception, no cleanup
        copy = record.copy_for_stage()
        copy.mark("relax", "ok")
        copy.set_property("relax_steps", os.getpid(), unit="", method="worker pid")
        out.append(copy)
        if on_result is not None:
            on_result(copy)
    return out


CALLS: list[str] = []


def counting_pass(
    records: list[Record], params: object, potential: object, on_result=None, **options
) -> list[Record]:
    """crash_or_pass that remembers which records it was given (in-process use)."""
    CALLS.extend(r.id for r in records)
    return crash_or_pass(records, params, potential, on_result=on_result)
