"""One writer at a time: a lock file created with ``O_CREAT | O_EXCL``, safe on NFS.

The lock file holds the host, the process id, the start time and the command of its
holder. ``O_EXCL`` creation is atomic on local filesystems and on NFS v3 and later, so
two processes never both hold it, on one node or on two. A lock is stale when its holder
is gone: on the same host, when no process has its pid (or the pid now belongs to a
process started later); on another host, when the lock's heartbeat (its modification
time, refreshed while held) is older than ``stale_after_s``. A stale lock is broken by
renaming it away first (one process wins the rename), then taking the lock anew.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from screen.store.errors import CampaignError
from screen.store.permissions import file_mode

HEARTBEAT_S = 60.0
STALE_AFTER_S = 15 * 60.0  # another host's lock: no heartbeat for this long


class LockHeld(CampaignError):
    """Another process holds the lock; the message names it and what to do."""

    def __init__(self, path: Path, holder: dict[str, Any], what: str):
        self.path = path
        self.holder = holder
        who = (
            f"{holder.get('command') or 'batscreen'} (pid {holder.get('pid')} on "
            f"{holder.get('host')}, since {holder.get('started_utc')})"
            if holder
            else "another process (its lock file is being written)"
        )
        super().__init__(
            f"{what} is in use by {who}: lock {path}. Wait for it to finish (batscreen "
            f"status shows progress); if that process is gone and its host cannot say so "
            f"(another node), the lock counts as stale {STALE_AFTER_S / 60:.0f} min after "
            "its last heartbeat, or delete the lock file by hand"
        )


def _process_start(pid: int) -> float | None:
    """Start time of a local process in clock ticks since boot (None: not known)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return float(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int, start_ticks: float | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    if start_ticks is not None:
        now = _process_start(pid)
        if now is not None and now != start_ticks:
            return False  # the pid was reused by a later process
    return True


def read_holder(path: Path) -> dict[str, Any]:
    """What the lock file says about its holder ({} when unreadable or being written)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_stale(path: Path, holder: dict[str, Any], stale_after_s: float = STALE_AFTER_S) -> bool:
    """True when the lock's holder is gone (see the module docstring)."""
    try:
        age = time.time() - Path(path).stat().st_mtime
    except FileNotFoundError:
        return True
    if not holder:  # written this instant, or damaged: stale only when old
        return age > stale_after_s
    if holder.get("host") == socket.gethostname():
        return not _alive(int(holder.get("pid", -1)), holder.get("start_ticks"))
    return age > stale_after_s


class FileLock:
    """An exclusive lock on ``path`` (see the module docstring); use as a context manager."""

    def __init__(self, path: Path, what: str, *, stale_after_s: float = STALE_AFTER_S):
        self.path = Path(path)
        self.what = what
        self.stale_after_s = stale_after_s
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    def _holder(self) -> dict[str, Any]:
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "start_ticks": _process_start(os.getpid()),
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["batscreen", *sys.argv[1:3]]) if sys.argv else "batscreen",
        }

    def acquire(self) -> None:
        """Take the lock or raise LockHeld; breaks a stale lock once."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, file_mode())
            except FileExistsError:
                holder = read_holder(self.path)
                if not is_stale(self.path, holder, self.stale_after_s):
                    raise LockHeld(self.path, holder, self.what) from None
                self._break_stale()
                continue
            with os.fdopen(fd, "w") as fh:
                json.dump(self._holder(), fh)
                fh.flush()
                os.fsync(fh.fileno())
            self._beat = threading.Thread(target=self._heartbeat, daemon=True)
            self._beat.start()
            return
        raise LockHeld(self.path, read_holder(self.path), self.what)

    def _break_stale(self) -> None:
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}-{time.time_ns()}")
        with contextlib.suppress(FileNotFoundError):  # another process broke it first
            os.rename(self.path, aside)
            aside.unlink()

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def release(self) -> None:
        """Give the lock back (only if this process still holds it)."""
        self._stop.set()
        holder = read_holder(self.path)
        if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def campaign_lock(root: Path) -> Iterator[FileLock]:
    """The whole campaign, for a run or a collect: ``<root>/.lock``."""
    with FileLock(Path(root) / ".lock", f"campaign {root}") as lock:
        yield lock


@contextlib.contextmanager
def shard_lock(stage_dir: Path, index: int) -> Iterator[FileLock]:
    """One shard of a per-record stage, for a SLURM array task."""
    path = Path(stage_dir) / f"shard-{index:04d}.lock"
    with FileLock(path, f"shard {index} of {stage_dir}") as lock:
        yield lock


def held_elsewhere(paths: list[Path]) -> tuple[Path, dict[str, Any]] | None:
    """The first of ``paths`` that is a lock held (not stale) by another process."""
    for path in paths:
        holder = read_holder(path)
        if not path.exists() or is_stale(path, holder):
            continue
        if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            continue
        return path, holder
    return None


def refuse_if_tasks_run(root: Path) -> None:
    """Raise LockHeld when a SLURM task holds a shard of this campaign (before a run)."""
    held = held_elsewhere(sorted(Path(root).glob("stages/*/shard-*.lock")))
    if held is not None:
        raise LockHeld(held[0], held[1], f"a shard of campaign {root}")


def refuse_if_run_holds(root: Path) -> None:
    """Raise LockHeld when a run or collect holds the campaign (before a SLURM task)."""
    held = held_elsewhere([Path(root) / ".lock"])
    if held is not None:
        raise LockHeld(held[0], held[1], f"campaign {root}")
