"""Stage manifests: what a finished stage wrote, checked before it is reused.

``stages/<stage>/manifest.json`` holds the record count and ids of the stage's output,
the sha256 and size of ``records.jsonl`` and of every other file the stage delivered
(candidates.csv, cifs/... for deliver), and the sha256 of the output it was made from
(the stage before it). It is written atomically before the output is renamed into
place, so an output in place always has the manifest it was written with; a kill
between the two leaves a manifest without its output, which is a stage not finished.

A mismatch (a truncated, edited, garbled or deleted file, or an output made from
another input than the one there now) is never reused: the caller moves the damaged
file aside (``stages/<stage>/damaged/``) and reruns the stage, which takes every record
its sealed shards and journals hold and recomputes only what they lack.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from screen.checksums import file_sha256
from screen.records import Record
from screen.store.atomic import atomic_write_text, fsync_dir
from screen.store.permissions import share_fd

MANIFEST = "manifest.json"
OUTPUT = "records.jsonl"
FORMAT = "batscreen-stage-manifest"


@dataclass
class Checked:
    """The outcome of checking a stage's output against its manifest."""

    records: list[Record] | None = None  # the output, when it may be reused
    sha256: str = ""  # of records.jsonl (what the next stage's input_sha256 names)
    problem: str = ""  # why it may not be reused ('' : fine, or never finished)
    damaged: list[Path] = field(default_factory=list)  # files to move aside
    adopted: bool = False  # an output written before manifests existed

    @property
    def reusable(self) -> bool:
        """The output is there and verified."""
        return self.records is not None


def file_entry(path: Path) -> dict[str, Any]:
    """sha256 and size of one file."""
    return {"sha256": file_sha256(path), "bytes": path.stat().st_size}


def write_output(
    stage_dir: Path,
    root: Path,
    stage: str,
    records: Iterable[Record],
    *,
    input_sha256: str,
    files: Iterable[Path] = (),
) -> str:
    """Write ``records.jsonl`` and its manifest; returns the output's sha256.

    ``files``: other files the stage wrote (paths under ``root``), listed with their
    sha256 so a later run notices one that changed or went missing.
    """
    stage_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{OUTPUT}.", suffix=".tmp", dir=stage_dir)
    digest = hashlib.sha256()
    ids: list[str] = []
    reached = passed = 0
    try:
        share_fd(fd)
        with os.fdopen(fd, "wb") as fh:
            for record in records:
                line = (record.to_json() + "\n").encode()
                digest.update(line)
                fh.write(line)
                ids.append(record.id)
                if stage in record.status:
                    reached += 1
                    passed += record.status[stage].state == "ok"
            fh.flush()
            os.fsync(fh.fileno())
            size = fh.tell()
        entries = {OUTPUT: {"sha256": digest.hexdigest(), "bytes": size}}
        for path in sorted(Path(p) for p in files):
            entries[path.relative_to(root).as_posix()] = file_entry(path)
        manifest = {
            "format": FORMAT,
            "version": 1,
            "stage": stage,
            "written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "records": len(ids),
            "reached": reached,  # records the stage took (status reads these, not records)
            "passed": passed,
            "ids": ids,
            "input_sha256": input_sha256,
            "files": entries,
        }
        atomic_write_text(stage_dir / MANIFEST, json.dumps(manifest))
        os.replace(tmp, stage_dir / OUTPUT)
        fsync_dir(stage_dir)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return digest.hexdigest()


def read_manifest(stage_dir: Path) -> dict[str, Any] | None:
    """The stage's manifest (None: absent). Raises ValueError naming a damaged one."""
    path = stage_dir / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is damaged (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or "files" not in data:
        raise ValueError(f"{path} is damaged (not a stage manifest)")
    return data


def verified_counts(stage_dir: Path, root: Path) -> tuple[dict[str, int] | None, str]:
    """Record counts of a finished stage from its manifest, its files checked, not parsed.

    For status of a large campaign: (records, reached, passed) with every file's sha256
    checked; (None, '') when the manifest lacks the counts (older) or the stage never
    finished; (None, problem) when something is damaged.
    """
    try:
        manifest = read_manifest(stage_dir)
    except ValueError as exc:
        return None, str(exc)
    out = stage_dir / OUTPUT
    if manifest is None or "reached" not in manifest or not out.is_file():
        return None, ""
    for name, entry in manifest["files"].items():
        path = stage_dir / OUTPUT if name == OUTPUT else root / name
        if not path.is_file():
            return None, f"{path} is missing"
        if file_sha256(path) != entry.get("sha256"):
            return None, f"{path} does not match its manifest"
    return {k: int(manifest[k]) for k in ("records", "reached", "passed")}, ""


def _read_records(path: Path) -> tuple[list[Record] | None, str]:
    records: list[Record] = []
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                records.append(Record.from_json(raw.decode()))
            except (ValueError, UnicodeDecodeError):
                return None, f"line {number} is not a record"
    return records, ""


def check_output(
    stage_dir: Path, root: Path, *, input_sha256: str | None, require_manifest: bool = True
) -> Checked:
    """Check ``stages/<stage>`` against its manifest (see the module docstring).

    ``input_sha256``: sha256 of the output of the stage before, as used now (None: do not
    check the chain, e.g. for status). ``require_manifest=False``: a campaign begun before
    manifests existed, whose outputs without one are adopted.
    """
    out = stage_dir / OUTPUT
    try:
        manifest = read_manifest(stage_dir)
    except ValueError as exc:
        if not out.is_file():
            return Checked()
        return Checked(problem=str(exc), damaged=[stage_dir / MANIFEST, out])
    if not out.is_file():
        if manifest is None:
            return Checked()  # never finished
        return Checked(
            problem=f"{out} is missing (its manifest lists {manifest['records']} records)"
        )
    if manifest is None and require_manifest:
        return Checked(problem=f"{stage_dir / MANIFEST} is missing", damaged=[])
    if manifest is None:  # written before manifests: readable is all that can be checked
        records, problem = _read_records(out)
        if records is None:
            return Checked(problem=f"{out}: {problem}", damaged=[out])
        return Checked(records=records, sha256=file_sha256(out), adopted=True)
    problems = []
    entries: dict[str, dict[str, Any]] = manifest["files"]
    expected = entries.get(OUTPUT, {})
    actual = file_sha256(out)
    size = out.stat().st_size
    if actual != expected.get("sha256"):
        problems.append(
            f"{out} does not match its manifest ({size} bytes, the manifest "
            f"{expected.get('bytes')}; sha256 differs)"
        )
    damaged = [out] if problems else []
    for name, entry in entries.items():
        if name == OUTPUT:
            continue
        path = root / name
        if not path.is_file():
            problems.append(f"{path} is missing")
        elif file_sha256(path) != entry.get("sha256"):
            problems.append(f"{path} was changed after the stage wrote it")
    made_from = manifest.get("input_sha256")
    if not problems and None not in (input_sha256, made_from) and made_from != input_sha256:
        problems.append(
            f"{out} was made from another output of the stage before it than the one "
            "there now (that stage was rerun)"
        )
    if problems:
        return Checked(problem="; ".join(problems), damaged=damaged)
    records, problem = _read_records(out)
    if records is None or [r.id for r in records] != manifest["ids"]:
        return Checked(problem=f"{out}: {problem or 'ids differ from its manifest'}", damaged=[out])
    return Checked(records=records, sha256=actual)


def set_aside(paths: Iterable[Path], stage_dir: Path) -> list[Path]:
    """Move damaged files into ``stages/<stage>/damaged/`` (kept for a look, never read)."""
    moved = []
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    for path in paths:
        if not path.exists():
            continue
        target = stage_dir / "damaged" / f"{path.name}.{stamp}-{os.getpid()}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)
        moved.append(target)
    return moved
