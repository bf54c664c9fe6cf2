"""Per-record journals and record shards (JSON lines).

A journal is appended one record per line, flushed and fsynced, so a killed run loses at
most the record being written. A torn last line (the process died mid-write) is dropped
and cut off before new lines are appended. Records are keyed by id: a record journaled
twice counts once.
"""

from __future__ import annotations

import json
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

    def load(self) -> dict[str, Record]:
        """Records journaled so far, by id; repairs a torn last line."""
        if not self.path.exists():
            return {}
        done: dict[str, Record] = {}
        good_bytes = 0
        with self.path.open("rb") as fh:
            for raw in fh:
                if not raw.endswith(b"\n"):
                    break  # torn write: the process died here
                try:
                    record = Record.from_json(raw.decode())
                except (ValueError, json.JSONDecodeError):
                    break
                done[record.id] = record
                good_bytes += len(raw)
        if good_bytes < self.path.stat().st_size:
            log.warning("journal %s: dropping a torn last entry", self.path)
            with self.path.open("r+b") as fh:
                fh.truncate(good_bytes)
                os.fsync(fh.fileno())
        return done

    def append(self, record: Record) -> None:
        """Append one record durably."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(record.to_json() + "\n")
            fh.flush()
            os.fsync(fh.fileno())
