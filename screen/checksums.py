"""sha256 of files: weights, entries files and structure files are identified by content."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256_cached(path: Path) -> str:
    """file_sha256, computed once per (path, modification time) in this process."""
    path = Path(path)
    return _cached(str(path), path.stat().st_mtime_ns)


@functools.cache
def _cached(path: str, mtime_ns: int) -> str:
    return file_sha256(Path(path))
