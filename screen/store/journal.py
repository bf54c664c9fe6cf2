"""Per-record journals and record shards (JSON lines).

A journal is appended one record per line, flushed and fsynced, so a killed run loses at
most the record being written. A torn last line (the process died mid-write) is dropped
and cut off before new lines are appended. Records are keyed by id: a record journaled
twice counts once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from screen.records import Record
from screen.store.atomic import atomic_open

log = logging.getLogger(__name__)


def write_shard(path: Path, records: Iterable[Record]) -> None:
    """Write records as JSON lines, atomically."""
    with atomic_open(path, "w") as fh:
        for record in records:
            fh.write(record.to_json() + "\n")


def read_shard(path: Path) -> list[Record]:
    """Read a complete shard written by :func:`write_shard`."""
    with path.open() as fh:
        return [Record.from_json(line) for line in fh if line.strip()]


class Journal:
    """Append-only record journal for one shard of a per-record stage."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self, *, repair: bool = True) -> dict[str, Record]:
        """Records journaled so far, by id.

        A torn last line (no newline: the writer died mid-write) is cut off. A damaged
        line inside (a garbled copy) is skipped with a warning naming the file and line,
        and the records after it are kept; the journal is rewritten without it.
        ``repair=False`` only reads (status: a running writer may be appending).
        """
        if not self.path.exists():
            return {}
        done: dict[str, Record] = {}
        good: list[bytes] = []
        bad: list[int] = []
        torn = False
        complete = 0  # bytes of whole lines
        with self.path.open("rb") as fh:
            for number, raw in enumerate(fh, 1):
                if not raw.endswith(b"\n"):
                    torn = True  # the process died here
                    break
                complete += len(raw)
                if not raw.strip():
                    continue
                try:
                    record = Record.from_json(raw.decode())
                except (ValueError, UnicodeDecodeError):
                    bad.append(number)
                    continue
                done[record.id] = record
                good.append(raw)
        if not repair or not (torn or bad):
            return done
        if bad:
            log.warning(
                "journal %s: line(s) %s damaged, skipped (their records are recomputed)",
                self.path,
                ", ".join(map(str, bad)),
            )
            with atomic_open(self.path, "wb") as out:
                out.writelines(good)
        else:
            log.warning("journal %s: dropping a torn last entry", self.path)
            with self.path.open("r+b") as fh:
                fh.truncate(complete)
                os.fsync(fh.fileno())
        return done

    def append(self, record: Record) -> None:
        """Append one record durably."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(record.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
