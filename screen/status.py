"""Summarize a campaign directory: which stages are done, how far the relax stage got."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screen.stage_table import STAGE_NAMES
from screen.store.campaign import Campaign
from screen.store.journal import Journal
from screen.store.manifest import verified_counts


@dataclass
class StageSummary:
    """State of one stage in a campaign directory."""

    stage: str
    state: str  # done | partial | not started
    records: int  # records in the output (done) or finished so far (partial)
    planned: int | None = None  # records planned (partial per-record stage)
    passed: int | None = None
    problem: str = ""  # a damaged output: what is wrong (the next run reruns the stage)


def _partial(stage: str, stage_dir: Path) -> StageSummary:
    """A per-record stage under way: records sealed or journaled so far (read only)."""
    try:
        shards = json.loads((stage_dir / "plan.json").read_text())["shards"]
    except (ValueError, KeyError, TypeError) as exc:
        return StageSummary(
            stage, "damaged", 0, problem=f"{stage_dir / 'plan.json'} is damaged ({exc})"
        )
    finished = 0
    for k, shard in enumerate(shards):
        sealed = stage_dir / f"shard-{k:04d}.jsonl"
        journal = Journal(stage_dir / f"shard-{k:04d}.journal.jsonl")
        if sealed.is_file():
            finished += len(shard)
        else:
            finished += len(set(journal.load(repair=False)) & set(shard))
    return StageSummary(stage, "partial", finished, planned=sum(len(s) for s in shards))


#: the files and folders the deliver stage writes, in the order status lists them
DELIVERABLES = (
    "report.html",
    "candidates.csv",
    "candidates.xlsx",
    "candidates.json",
    "results.parquet",
    "cifs",
)


def summarize(root: Path) -> dict[str, Any]:
    """Everything `batscreen status` prints, as data."""
    campaign = Campaign.load(Path(root))
    stages = []
    for stage in STAGE_NAMES:
        counts, problem = verified_counts(campaign.stage_dir(stage), campaign.root)
        if counts is not None:  # checked by sha256 against the manifest, not parsed
            stages.append(StageSummary(stage, "done", counts["reached"], passed=counts["passed"]))
            continue
        if problem:
            stages.append(StageSummary(stage, "damaged", 0, problem=problem))
            continue
        checked = campaign.check_output(stage)  # an older manifest, or none
        if checked.records is not None:
            reached = [r for r in checked.records if stage in r.status]
            passed = sum(1 for r in reached if r.status[stage].state == "ok")
            stages.append(StageSummary(stage, "done", len(reached), passed=passed))
            del checked, reached  # one stage's records in memory at a time, not two
            continue
        stage_dir = campaign.stage_dir(stage)
        if checked.problem:
            stages.append(StageSummary(stage, "damaged", 0, problem=checked.problem))
        elif (stage_dir / "plan.json").is_file():
            stages.append(_partial(stage, stage_dir))
        else:
            stages.append(StageSummary(stage, "not started", 0))
    provenance = campaign.read_provenance()
    runs = provenance.get("runs", [])
    return {
        "root": str(campaign.root),
        "name": campaign.meta.get("name"),
        "created_utc": campaign.meta.get("created_utc"),
        "fingerprint": campaign.meta.get("fingerprint"),
        "stages": stages,
        "last_run": runs[-1] if runs else None,
        "runs": len(runs),
        "potential": provenance.get("potential"),
        "deliverables": sorted(
            p.name for p in (campaign.root / n for n in DELIVERABLES) if p.exists()
        ),
    }
