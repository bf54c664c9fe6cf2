"""A potential's weights: where they are, whether they are the card's, the download cache.

Weights come with a model card (screen/potentials/cards.py) from a file, from inside an
installed Python package (CHGNet), or from a URL into the cache: download once (login
node), verify, use offline (compute nodes). Every path is checked against the card's
sha256 before it is loaded or reported (``verified_checkpoint``, ``verified_identity``).

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
import importlib.util
import logging
import os
import shutil
import urllib.request
from collections.abc import Callable
from pathlib import Path

from screen.checksums import file_sha256, file_sha256_cached
from screen.potentials.cards import ModelCard, PotentialUnavailable
from screen.records import ModelIdentity
from screen.store.atomic import atomic_write_text

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
    digest = file_sha256(path)
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


def checkpoint_path(card: ModelCard) -> Path | None:
    """Local path of a card's weights, not yet checked (None for a potential without any)."""
    source = card.source
    if source.kind == "none":
        return None
    if source.kind == "file":
        assert source.path
        return Path(source.path)
    if source.kind == "url":
        return cached_path(card)
    assert source.package and source.path
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise PotentialUnavailable(
            f"model {card.name!r} ships inside the Python package {source.package!r}, which "
            f"is not installed: pip install {source.package}"
        )
    return Path(next(iter(spec.submodule_search_locations))) / source.path


def verified_checkpoint(card: ModelCard) -> Path | None:
    """Weights path after checking its sha256 (card, or recorded at first download)."""
    if card.source.kind == "url":
        return verified_cached(card)
    path = checkpoint_path(card)
    if path is None:
        return None
    if not path.is_file():
        raise PotentialUnavailable(f"weights of {card.name!r} not found at {path}")
    if card.source.sha256:
        digest = file_sha256_cached(path)
        if digest != card.source.sha256:
            raise PotentialUnavailable(
                f"weights {path} of {card.name!r} have sha256 {digest}, the model card "
                f"expects {card.source.sha256}; refusing to load a file that differs"
            )
    return path


def verified_identity(card: ModelCard) -> ModelIdentity:
    """Name, version and weights sha256 of a card (verified before it is reported)."""
    path = verified_checkpoint(card)
    sha = card.source.sha256
    if sha is None and path is not None:
        sha = file_sha256_cached(path)
    return ModelIdentity(name=card.name, version=card.version, sha256=sha)
