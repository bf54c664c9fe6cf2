"""File modes that follow the umask, as ``open()`` and ``mkdir()`` would give them.

``tempfile.mkstemp`` and ``mkdtemp`` create 0600 files and 0700 folders whatever the umask,
so a campaign written through them (atomic writes, a directory created complete) would be
private to its owner. Every such file and folder is given the mode the umask allows
(0644 and 0755 under umask 022), so a group member or a synthesis team on the same
cluster can read the deliverables.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask (read from /proc where it can be, without changing it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        pass
    with _LOCK:  # pragma: no cover - not Linux: set and restore
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new regular file under the umask (0644 under 022)."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """Mode of a new directory under the umask (0755 under 022)."""
    return 0o777 & ~current_umask()


def share_fd(fd: int) -> None:
    """Give an open file (from mkstemp) the mode the umask allows."""
    os.fchmod(fd, file_mode())


def share_dir(path: Path) -> None:
    """Give a folder (from mkdtemp) the mode the umask allows."""
    os.chmod(path, dir_mode())
