"""Summarize a campaign directory: which stages are done, how far the relax stage got."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from screen.stage_table import STAGE_NAMES
from screen.store.campaign import Campaign
from screen.store.journal import Journal


@dataclass
class StageSummary:
    """State of one stage in a campaign directory."""

    stage: str
    state: str  # done | partial | not started
    records: int  # records in the output (done) or finished so far (partial)
    planned: int | None = None  # records planned (partial per-record stage)
    passed: int | None = None


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
        if campaign.has_output(stage):
            records = campaign.read_output(stage)
            reached = [r for r in records if stage in r.status]
            passed = sum(1 for r in reached if r.status[stage].state == "ok")
            stages.append(StageSummary(stage, "done", len(reached), passed=passed))
            continue
        plan = campaign.stage_dir(stage) / "plan.json"
        if plan.is_file():
            shards = json.loads(plan.read_text())["shards"]
            planned = sum(len(s) for s in shards)
            finished = 0
            for k in range(len(shards)):
                sealed = campaign.stage_dir(stage) / f"shard-{k:04d}.jsonl"
                if sealed.is_file():
                    finished += len(shards[k])
                else:
                    finished += len(
                        Journal(campaign.stage_dir(stage) / f"shard-{k:04d}.journal.jsonl").load()
                    )
            stages.append(StageSummary(stage, "partial", finished, planned=planned))
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
