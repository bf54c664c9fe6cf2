"""A campaign directory: identity, resolved workflow, per-stage record shards, journals.

Layout::

    campaign.json               name, fingerprint, identity (what the workflow fixes)
    workflow.yaml               the resolved workflow (every default filled in)
    provenance.json             runs, versions, potential identity, host, device, times
    .lock                          held by the run or collect writing the campaign
    stages/<stage>/records.jsonl   the full population after the stage (atomic)
    stages/<stage>/manifest.json   its record count, ids, sha256s and input (checked on reuse)
    stages/<stage>/damaged/        files found damaged, moved aside (never read)
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

The identity in campaign.json is the one the campaign was created with: a workflow, or a
stored workflow.yaml, that gives another value to one of its fields is refused, naming
the fields (fields a newer batscreen added, at their defaults, do not count). A damaged
campaign.json is rebuilt from provenance.json when workflow.yaml agrees with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from screen.records import Record, canonical_json
from screen.store import manifest
from screen.store.atomic import atomic_write_text
from screen.store.errors import CampaignError
from screen.store.permissions import share_dir
from screen.workflow.spec import Workflow

log = logging.getLogger(__name__)

CAMPAIGN_FILE = "campaign.json"
FORMAT_VERSION = 2  # 2: stage folders named by stage (1: numbered, stages/3-relax)
_NUMBERED = re.compile(r"^[0-9]+-([a-z][a-z0-9_-]*)$")


class CampaignDirectoryError(CampaignError):
    """The output directory cannot hold this campaign."""


def fingerprint(workflow: Workflow) -> str:
    """sha256 of the workflow's identity (everything but execution settings)."""
    return hashlib.sha256(canonical_json(workflow.identity()).encode()).hexdigest()


def _differences(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += _differences(a.get(key), b.get(key), f"{prefix}.{key}" if prefix else key)
        return out
    return [] if a == b else [prefix or "(root)"]


_MISSING = object()


def _at(data: Any, path: str) -> Any:
    for key in path.split(".") if path != "(root)" else []:
        if not isinstance(data, dict) or key not in data:
            return _MISSING
        data = data[key]
    return data


def edited_fields(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Fields of ``stored`` that ``current`` gives another value, as 'path: old -> new'.

    A field only one side has is not an edit: a field added in a newer version (absent
    from an older campaign's identity, at its default now) or one a newer version
    dropped.
    """
    out = []
    for path in _differences(stored, current):
        old, new = _at(stored, path), _at(current, path)
        if old is _MISSING or new is _MISSING:
            continue
        out.append(f"{path}: {_short(old)} -> {_short(new)}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _shown(fields: list[str]) -> str:
    return "; ".join(fields[:6]) + (f"; ... ({len(fields)} fields)" if len(fields) > 6 else "")


def _workflow_text(workflow: Workflow) -> str:
    return yaml.safe_dump(workflow.model_dump(mode="json"), sort_keys=False)


def _leftover(path: Path) -> bool:
    """A file a creation killed before campaign.json left behind (the folder counts empty)."""
    return path.name == "workflow.yaml" or (path.name.startswith(".") and path.suffix == ".tmp")


def _check_directory(root: Path) -> None:
    """Refuse an --out that cannot hold a campaign, saying why."""
    if root.is_symlink() and not root.exists():
        raise CampaignDirectoryError(
            f"output {root} is a link to {os.readlink(root)}, which "
            "does not exist; create it or give another --out"
        )
    if root.exists() and not root.is_dir():
        raise CampaignDirectoryError(f"output {root} is a file, not a directory")


def _read_meta(root: Path) -> dict[str, Any]:
    """campaign.json, or rebuilt from provenance.json when damaged and it can be."""
    path = root / CAMPAIGN_FILE
    try:
        meta = json.loads(path.read_text())
        if isinstance(meta, dict) and "fingerprint" in meta:
            return meta
        problem = "not a campaign record"
    except (ValueError, UnicodeDecodeError) as exc:
        problem = f"not JSON: {exc}"
    except OSError as exc:
        raise CampaignDirectoryError(f"cannot read {path}: {exc.strerror or exc}") from None
    meta = _meta_from_provenance(root)
    if meta is None:
        raise CampaignDirectoryError(
            f"{path} is damaged ({problem}) and cannot be rebuilt from provenance.json; "
            f"the records in {root / 'stages'} stay as they are, but this directory cannot "
            "be resumed: start the campaign again with another --out"
        )
    log.warning("%s is damaged (%s); rebuilt from provenance.json and workflow.yaml", path, problem)
    atomic_write_text(path, json.dumps(meta, indent=1))
    return meta


def _meta_from_provenance(root: Path) -> dict[str, Any] | None:
    """campaign.json's content from provenance.json, when workflow.yaml agrees with it."""
    try:
        provenance = json.loads((root / "provenance.json").read_text())
        data = yaml.safe_load((root / "workflow.yaml").read_text())
        workflow = Workflow.model_validate(data, context={"base_dir": root})
    except Exception:  # either one unreadable: nothing to rebuild from
        return None
    if fingerprint(workflow) != provenance.get("fingerprint"):
        return None
    runs = provenance.get("runs") or [{}]
    return {
        "format_version": FORMAT_VERSION,
        "name": workflow.name,
        "fingerprint": provenance["fingerprint"],
        "created_utc": runs[0].get("started_utc", utc_now()),
        "identity": workflow.identity(),
        "rebuilt_utc": utc_now(),
    }


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

        The workflow must have the identity stored when the campaign was created
        (campaign.json); a newer batscreen's added fields at their defaults count as the
        same identity. A stored workflow.yaml edited by hand or damaged is put back from
        ``workflow`` (the edited one kept beside it).

        Raises:
            CampaignDirectoryError: root holds a different campaign, or is not empty and
                not a campaign directory, or is a file, or its campaign.json is damaged.
        """
        root = Path(root)
        fp = fingerprint(workflow)
        _check_directory(root)
        if (root / CAMPAIGN_FILE).exists():
            meta = _read_meta(root)
            identity = workflow.identity()
            if meta.get("fingerprint") != fp:
                edits = edited_fields(meta.get("identity", {}), identity)
                if edits or not meta.get("identity"):
                    raise CampaignDirectoryError(
                        f"output directory {root} belongs to campaign {meta.get('name')!r}, "
                        f"started from a different workflow (campaign -> this workflow: "
                        f"{_shown(edits) or 'format'}). To screen with these settings, "
                        "start a new campaign with another --out; to go on with this one, "
                        "run it with the workflow it was started from (kept in "
                        f"{root / 'workflow.yaml'})"
                    )
                # made by an older batscreen whose workflow lacked fields now at their
                # defaults: the same campaign; record the identity in today's form
                meta = {
                    **meta,
                    "fingerprint": fp,
                    "identity": identity,
                    "first_fingerprint": meta.get("first_fingerprint", meta.get("fingerprint")),
                    "identity_upgraded_utc": utc_now(),
                }
                atomic_write_text(root / CAMPAIGN_FILE, json.dumps(meta, indent=1))
            campaign = cls(root, meta)
            campaign._restore_workflow(workflow)
            return campaign
        if root.is_dir() and any(not _leftover(p) for p in root.iterdir()):
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
            "stage_manifests": True,  # every finished stage has one: a missing one is damage
        }
        if root.is_dir():  # empty (checked by the caller): maybe a link or a mount point
            atomic_write_text(root / "workflow.yaml", _workflow_text(workflow))
            atomic_write_text(root / CAMPAIGN_FILE, json.dumps(meta, indent=1))  # last: done
            return cls(root, meta)
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
        try:
            share_dir(tmp)
            (tmp / "workflow.yaml").write_text(_workflow_text(workflow))
            (tmp / CAMPAIGN_FILE).write_text(json.dumps(meta, indent=1))
            os.replace(tmp, root)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise CampaignDirectoryError(
                f"cannot create the campaign directory {root}: {exc.strerror or exc} "
                "(a mount point or a link to one cannot be replaced: give a new folder "
                "inside it as --out)"
            ) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(root, meta)

    @classmethod
    def load(cls, root: Path) -> Campaign:
        """Open an existing campaign directory without a workflow (status, collect, task)."""
        root = Path(root)
        if not root.exists():
            raise CampaignDirectoryError(
                f"{root} does not exist; give the campaign directory (the --out of batscreen "
                "run or submit)"
            )
        if not root.is_dir():
            raise CampaignDirectoryError(f"{root} is a file, not a campaign directory")
        if not (root / CAMPAIGN_FILE).exists():
            raise CampaignDirectoryError(
                f"{root} is not a batscreen campaign (no {CAMPAIGN_FILE}); give the campaign "
                "directory (the --out of batscreen run or submit)"
            )
        return cls(root, _read_meta(root))

    def workflow(self) -> Workflow:
        """The resolved workflow stored in the campaign, checked against its identity.

        Raises:
            CampaignDirectoryError: workflow.yaml is damaged or was edited after the
                campaign started (the message lists the fields and the ways on).
        """
        path = self.root / "workflow.yaml"
        try:
            data = yaml.safe_load(path.read_text())
            workflow = Workflow.model_validate(data, context={"base_dir": self.root})
        except FileNotFoundError:
            raise CampaignDirectoryError(
                f"{path} is missing; put it back with batscreen run <the workflow file it "
                f"was started from> --out {self.root}"
            ) from None
        except Exception as exc:
            raise CampaignDirectoryError(
                f"{path} is damaged or unreadable ({type(exc).__name__}: "
                f"{str(exc).splitlines()[0] if str(exc) else ''}); put it back with "
                f"batscreen run <the workflow file it was started from> --out {self.root}"
            ) from None
        if fingerprint(workflow) != self.meta.get("fingerprint"):
            edits = edited_fields(self.meta.get("identity", {}), workflow.identity())
            if edits:
                raise CampaignDirectoryError(
                    f"{path} was edited after campaign {self.meta.get('name')!r} started "
                    f"(campaign -> file: {_shown(edits)}). A campaign's identity is fixed, "
                    "so its results never go out under other parameters. To screen with "
                    "the new settings, copy the file elsewhere and start a new campaign "
                    "(batscreen run FILE --out NEW_DIR); to go on with this campaign, put "
                    f"the original back (batscreen run ORIGINAL_FILE --out {self.root} "
                    "restores it); to redo one stage with the campaign's own settings, "
                    f"delete {self.root / 'stages'}/<stage> and rerun"
                )
        return workflow

    def _restore_workflow(self, workflow: Workflow) -> None:
        """Put workflow.yaml back from ``workflow`` (same identity) if edited or damaged."""
        path = self.root / "workflow.yaml"
        try:
            self.workflow()
            return
        except CampaignDirectoryError as exc:
            problem = str(exc).split(" (")[0]
        kept = None
        if path.exists():
            kept = path.with_name(f"workflow.yaml.edited-{utc_now().replace(':', '')}")
            os.replace(path, kept)
        atomic_write_text(path, _workflow_text(workflow))
        log.warning(
            "%s; put back from the workflow given%s",
            problem,
            f" (the file found is kept as {kept.name})" if kept else "",
        )

    # ------------------------------------------------------------------ stages
    def stage_dir(self, stage: str) -> Path:
        """Directory of a stage's output, shards and journals: ``stages/<stage>``."""
        return self.root / "stages" / stage

    def output_path(self, stage: str) -> Path:
        """The stage's complete output (exists only when the stage finished)."""
        return self.stage_dir(stage) / manifest.OUTPUT

    def check_output(self, stage: str, input_sha256: str | None = None) -> manifest.Checked:
        """The stage's output checked against its manifest (screen/store/manifest.py).

        An output written before manifests existed is adopted: given one now, when the
        input it was made from is known (a run; status only reads).
        """
        checked = manifest.check_output(
            self.stage_dir(stage),
            self.root,
            input_sha256=input_sha256,
            require_manifest=bool(self.meta.get("stage_manifests")),
        )
        if checked.adopted and checked.records is not None and input_sha256 is not None:
            manifest.write_output(
                self.stage_dir(stage),
                self.root,
                stage,
                checked.records,
                input_sha256=input_sha256 or "",
            )
            checked.sha256 = manifest.file_entry(self.output_path(stage))["sha256"]
        return checked

    def set_aside(self, stage: str, checked: manifest.Checked) -> list[Path]:
        """Move a stage's damaged files into ``stages/<stage>/damaged/``."""
        return manifest.set_aside(checked.damaged, self.stage_dir(stage))

    def has_output(self, stage: str) -> bool:
        """True when the stage finished and its output matches its manifest."""
        return self.check_output(stage).reusable

    def read_output(self, stage: str) -> list[Record]:
        """Every record after ``stage``, verified.

        Raises:
            CampaignDirectoryError: the stage has not finished, or its output is damaged
                (the message names the file; rerunning the campaign repairs it).
        """
        checked = self.check_output(stage)
        if checked.records is None:
            raise CampaignDirectoryError(
                f"stage {stage} of {self.root}: "
                + (checked.problem or "not finished")
                + f"; batscreen run <workflow> --out {self.root} reruns it from what its "
                "shards and journals hold"
            )
        return checked.records

    def write_output(
        self,
        stage: str,
        records: list[Record],
        *,
        input_sha256: str = "",
        files: Iterable[Path] = (),
    ) -> str:
        """Store the stage's complete output and its manifest (marks the stage done).

        ``files``: other files the stage wrote under the campaign directory.
        Returns the output's sha256.
        """
        return manifest.write_output(
            self.stage_dir(stage),
            self.root,
            stage,
            records,
            input_sha256=input_sha256,
            files=files,
        )

    # ------------------------------------------------------------------ provenance
    @property
    def provenance_path(self) -> Path:
        """provenance.json of the campaign."""
        return self.root / "provenance.json"

    def read_provenance(self) -> dict[str, Any]:
        """Provenance so far (empty skeleton for a new campaign)."""
        if self.provenance_path.is_file():
            try:
                data: dict[str, Any] = json.loads(self.provenance_path.read_text())
                if isinstance(data, dict) and isinstance(data.get("runs"), list):
                    return data
                problem = "not a provenance record"
            except (ValueError, UnicodeDecodeError) as exc:
                problem = f"not JSON: {exc}"
            kept = self.provenance_path.with_name(
                f"provenance.json.damaged-{utc_now().replace(':', '')}"
            )
            os.replace(self.provenance_path, kept)
            log.warning(
                "%s is damaged (%s); kept as %s, and a new one starts with this run",
                self.provenance_path,
                problem,
                kept.name,
            )
        return {"campaign": self.meta["name"], "fingerprint": self.meta["fingerprint"], "runs": []}

    def write_provenance(self, data: dict[str, Any]) -> None:
        """Replace provenance.json atomically."""
        atomic_write_text(self.provenance_path, json.dumps(data, indent=1, default=str))
