"""The weights cache: download once (login node), verify, use offline (compute nodes).

Layout: ``<cache>/models/<card name>/<file name>``, where ``<cache>`` is
``$BATSCREEN_CACHE_DIR``, else ``$XDG_CACHE_HOME/batscreen``, else ``~/.cache/batscreen``.
A download goes to ``<file>.part`` and is renamed only after its size and sha256 check
out, so a corrupt or interrupted download never looks like weights. A card without a
pinned sha256 records the hash of its first download in ``<file>.sha256`` (trust on
first use) and every later load is checked against it.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from screen.potentials.cards import PotentialUnavailable
from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from screen.potentials.cards import ModelCard

log = logging.getLogger(__name__)
CHUNK = 1 << 20


class WeightsError(PotentialUnavailable):
    """Weights missing from the cache, or not what the card says they are."""


def cache_root() -> Path:
    """The batscreen cache directory (not created here)."""
    if os.environ.get("BATSCREEN_CACHE_DIR"):
        return Path(os.environ["BATSCREEN_CACHE_DIR"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "batscreen"


def cached_path(card: ModelCard) -> Path:
    """Where a URL-sourced card's weights live in the cache."""
    assert card.source.url, f"{card.name} has no URL"
    name = Path(urllib.request.url2pathname(card.source.url.rsplit("/", 1)[-1])).name
    return cache_root() / "models" / card.name / name


def _lock(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def expected_sha256(card: ModelCard) -> str | None:
    """The card's pinned hash, else the hash recorded at the first download."""
    if card.source.sha256:
        return card.source.sha256
    lock = _lock(cached_path(card))
    return lock.read_text().split()[0] if lock.is_file() else None


def sha256_of(path: Path) -> str:
    """sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def staging_hint(card: ModelCard) -> str:
    """How to put a card's weights into the cache."""
    return (
        f"on a machine with network run `batscreen models fetch {card.name}`, or copy the "
        f"file and run `batscreen models fetch {card.name} --from-file PATH` (the cache is "
        f"{cache_root()}; set BATSCREEN_CACHE_DIR to share one on a cluster filesystem)"
    )


def verified_cached(card: ModelCard) -> Path:
    """The cached weights of a URL-sourced card, checked; WeightsError otherwise."""
    path = cached_path(card)
    if not path.is_file():
        raise WeightsError(f"weights of {card.name!r} are not in the cache: {staging_hint(card)}")
    expected = expected_sha256(card)
    digest = sha256_of(path)
    if expected is None:
        raise WeightsError(f"{path} has no recorded sha256; fetch it again: {staging_hint(card)}")
    if digest != expected:
        raise WeightsError(
            f"{path} has sha256 {digest}, expected {expected}: the file is corrupt or not "
            f"the model of card {card.name!r}; delete it and {staging_hint(card)}"
        )
    return path


def _copy_hashing(
    read: Callable[[int], bytes], dest: Path, total: int | None, progress: Callable | None
) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with dest.open("wb") as out:
        while True:
            block = read(CHUNK)
            if not block:
                break
            out.write(block)
            digest.update(block)
            size += len(block)
            if progress is not None:
                progress(size, total)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), size


def fetch(
    card: ModelCard,
    *,
    from_file: Path | None = None,
    timeout: float = 60.0,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Put a card's weights into the cache (download, or copy ``from_file``), verified.

    Returns the cached path. A file already cached and valid is kept as it is.
    """
    if card.source.kind != "url" or not card.source.url:
        raise WeightsError(f"{card.name} is not downloaded ({card.source.kind} weights)")
    target = cached_path(card)
    with contextlib.suppress(WeightsError):
        return verified_cached(card)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    try:
        if from_file is not None:
            with Path(from_file).open("rb") as fh:
                digest, size = _copy_hashing(
                    fh.read, part, Path(from_file).stat().st_size, progress
                )
        else:
            log.info("downloading %s from %s", card.name, card.source.url)
            with urllib.request.urlopen(card.source.url, timeout=timeout) as response:
                if "text/html" in response.headers.get("Content-Type", ""):
                    raise WeightsError(f"{card.source.url} returned a web page, not weights")
                length = response.headers.get("Content-Length")
                total = int(length) if length else None
                digest, size = _copy_hashing(response.read, part, total, progress)
                if total is not None and size != total:
                    raise WeightsError(
                        f"download of {card.name} stopped at {size} of {total} bytes"
                    )
        expected = card.source.sha256
        if expected and digest != expected:
            raise WeightsError(
                f"{card.name}: sha256 {digest} does not match the card's {expected}; the "
                "file was not kept"
            )
        os.replace(part, target)
        if not expected:
            atomic_write_text(_lock(target), f"{digest}  {target.name}\n")
            log.warning(
                "%s has no sha256 pinned in its card: recorded %s (trust on first use); "
                "later loads are checked against it",
                card.name,
                digest,
            )
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()
        raise
    return target


def remove(card: ModelCard) -> None:
    """Delete a card's cached weights (and recorded hash)."""
    folder = cached_path(card).parent
    shutil.rmtree(folder, ignore_errors=True)
