"""A campaign directory: identity, resolved workflow, per-stage record shards, journals.

Layout::

    campaign.json               name, fingerprint, identity (what the workflow fixes)
    workflow.yaml               the resolved workflow (every default filled in)
    provenance.json             runs, versions, potential identity, host, device, times
    stages/<stage>/records.jsonl   the full population after the stage (atomic)
    stages/<stage>/plan.json       shards of a per-record stage
    stages/<stage>/shard-NNNN.journal.jsonl / shard-NNNN.jsonl
    references/                    hull references, journals of the extra relaxations
    md/                            MD trajectories
    candidates.csv/.xlsx/.json, report.html, results.parquet, funnel.json/.txt, cifs/

Stage folders are named by stage (format 2). A campaign made with numbered folders
(``stages/3-relax``, format 1) is migrated when it is opened: each folder is renamed to
its stage's name, nothing else changes. A directory that holds another campaign (a
different fingerprint) is refused, and a new campaign directory appears only complete
(created under a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from screen.records import Record, canonical_json
from screen.store.atomic import atomic_write_text
from screen.store.journal import read_shard, write_shard
from screen.workflow.spec import Workflow

CAMPAIGN_FILE = "campaign.json"
FORMAT_VERSION = 2  # 2: stage folders named by stage (1: numbered, stages/3-relax)
_NUMBERED = re.compile(r"^[0-9]+-([a-z][a-z0-9_-]*)$")


class CampaignDirectoryError(RuntimeError):
    """The output directory cannot hold this campaign."""


def fingerprint(workflow: Workflow) -> str:
    """sha256 of the workflow's identity (everything but execution settings)."""
    return hashlib.sha256(canonical_json(workflow.identity()).encode()).hexdigest()


def _stored_fingerprint(root: Path) -> str | None:
    """Fingerprint of the campaign's workflow.yaml read by this version (None: unreadable).

    A field added in a newer version takes its default here, so a campaign started before
    the field existed keeps its identity when the workflow leaves the field at its default.
    """
    try:
        data = yaml.safe_load((root / "workflow.yaml").read_text())
        return fingerprint(Workflow.model_validate(data))
    except Exception:  # moved structure files, an older format: not the same campaign
        return None


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else key)
        return out
    return [] if a == b else [prefix or "(root)"]


def utc_now() -> str:
    """Current time, ISO 8601 in UTC."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Campaign:
    """Handle on one campaign directory."""

    def __init__(self, root: Path, meta: dict[str, Any]):
        self.root = Path(root)
        self.meta = meta
        if int(meta.get("format_version", 1)) < FORMAT_VERSION:
            self._migrate()

    def _migrate(self) -> None:
        """Format 1 -> 2: ``stages/<i>-<stage>`` renamed ``stages/<stage>``."""
        stages = self.root / "stages"
        for folder in sorted(stages.iterdir()) if stages.is_dir() else []:
            match = _NUMBERED.match(folder.name)
            if not folder.is_dir() or match is None:
                continue
            target = stages / match.group(1)
            if target.exists():
                raise CampaignDirectoryError(
                    f"{self.root}: both {folder.name} (numbered, older layout) and "
                    f"{target.name} exist under stages/; keep the one to resume from"
                )
            try:
                os.rename(folder, target)
            except FileNotFoundError:  # another process migrated it just now
                if not target.is_dir():
                    raise
        self.meta = {**self.meta, "format_version": FORMAT_VERSION}
        atomic_write_text(self.root / CAMPAIGN_FILE, json.dumps(self.meta, indent=1))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, root: Path, workflow: Workflow) -> Campaign:
        """Open the campaign in ``root`` for ``workflow``, creating it when absent.

        Raises:
            CampaignDirectoryError: root holds a different campaign, or is not empty and
                not a campaign directory, or is a file.
        """
        root = Path(root)
        fp = fingerprint(workflow)
        if root.exists() and not root.is_dir():
            raise CampaignDirectoryError(f"output {root} is a file, not a directory")
        meta_path = root / CAMPAIGN_FILE
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") != fp and _stored_fingerprint(root) == fp:
                # made by an older batscreen whose workflow lacked fields now at their
                # defaults: the same campaign; record the identity in today's form
                meta = {**meta, "fingerprint": fp, "identity": workflow.identity()}
                atomic_write_text(meta_path, json.dumps(meta, indent=1))
            if meta.get("fingerprint") != fp:
                diff = _differences(meta.get("identity", {}), workflow.identity())
                shown = ", ".join(diff[:6]) + (" ..." if len(diff) > 6 else "")
                raise CampaignDirectoryError(
                    f"output directory {root} belongs to campaign {meta.get('name')!r} "
                    f"started from a different workflow (differs in: {shown or 'format'}); "
                    "choose another --out, or delete the directory to start over"
                )
            return cls(root, meta)
        if root.is_dir() and any(root.iterdir()):
            raise CampaignDirectoryError(
                f"output directory {root} is not empty and is not a batscreen campaign "
                f"(no {CAMPAIGN_FILE}); choose an empty or new directory"
            )
        return cls._create(root, workflow, fp)

    @classmethod
    def _create(cls, root: Path, workflow: Workflow, fp: str) -> Campaign:
        meta = {
            "format_version": FORMAT_VERSION,
            "name": workflow.name,
            "fingerprint": fp,
            "created_utc": utc_now(),
            "identity": workflow.identity(),
        }
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
        try:
            (tmp / "workflow.yaml").write_text(
                yaml.safe_dump(workflow.model_dump(mode="json"), sort_keys=False)
            )
            (tmp / CAMPAIGN_FILE).write_text(json.dumps(meta, indent=1))
            if root.is_dir():
                root.rmdir()  # empty (checked by the caller)
            os.replace(tmp, root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(root, meta)

    @classmethod
    def load(cls, root: Path) -> Campaign:
        """Open an existing campaign directory without a workflow (for status/collect)."""
        meta_path = Path(root) / CAMPAIGN_FILE
        if not meta_path.is_file():
            raise CampaignDirectoryError(f"{root} is not a batscreen campaign (no {CAMPAIGN_FILE})")
        return cls(Path(root), json.loads(meta_path.read_text()))

    def workflow(self) -> Workflow:
        """The resolved workflow stored in the campaign."""
        data = yaml.safe_load((self.root / "workflow.yaml").read_text())
        return Workflow.model_validate(data, context={"base_dir": self.root})

    # ------------------------------------------------------------------ stages
    def stage_dir(self, stage: str) -> Path:
        """Directory of a stage's output, shards and journals: ``stages/<stage>``."""
        return self.root / "stages" / stage

    def output_path(self, stage: str) -> Path:
        """The stage's complete output (exists only when the stage finished)."""
        return self.stage_dir(stage) / "records.jsonl"

    def has_output(self, stage: str) -> bool:
        """True when the stage finished in an earlier or this run."""
        return self.output_path(stage).is_file()

    def read_output(self, stage: str) -> list[Record]:
        """Every record after ``stage``."""
        return read_shard(self.output_path(stage))

    def write_output(self, stage: str, records: list[Record]) -> None:
        """Store the stage's complete output atomically (marks the stage done)."""
        write_shard(self.output_path(stage), records)

    # ------------------------------------------------------------------ provenance
    @property
    def provenance_path(self) -> Path:
        """provenance.json of the campaign."""
        return self.root / "provenance.json"

    def read_provenance(self) -> dict[str, Any]:
        """Provenance so far (empty skeleton for a new campaign)."""
        if self.provenance_path.is_file():
            data: dict[str, Any] = json.loads(self.provenance_path.read_text())
            return data
        return {"campaign": self.meta["name"], "fingerprint": self.meta["fingerprint"], "runs": []}

    def write_provenance(self, data: dict[str, Any]) -> None:
        """Replace provenance.json atomically."""
        atomic_write_text(self.provenance_path, json.dumps(data, indent=1, default=str))
