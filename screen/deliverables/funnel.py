"""The funnel: how many records entered and left each stage, and why they left."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from screen.records import Record

CRITICAL = "critical-element"


@dataclass
class FunnelRow:
    """One stage of the funnel."""

    stage: str
    entered: int = 0
    passed: int = 0
    left: Counter[tuple[str, str]] = field(default_factory=Counter)  # (state, reason) -> n
    #: critical-element exclusions by the list entry (and form) that excluded them
    by_entry: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "stage": self.stage,
            "entered": self.entered,
            "passed": self.passed,
            "left": [
                {"state": state, "reason": reason, "count": n}
                | ({"by_entry": dict(entries)} if (entries := self.entries_of(reason)) else {})
                for (state, reason), n in sorted(self.left.items())
            ],
        }

    def entries_of(self, reason: str) -> list[tuple[str, int]]:
        """The list entries behind ``reason`` with their counts (critical-element only)."""
        return sorted(self.by_entry.items()) if reason == CRITICAL else []


def funnel(records: list[Record], stages: tuple[str, ...]) -> list[FunnelRow]:
    """Count, per stage, the records that reached it, passed it, and left it (by reason)."""
    rows = {stage: FunnelRow(stage) for stage in stages}
    for record in records:
        for stage, status in record.status.items():
            if stage not in rows:
                continue
            row = rows[stage]
            row.entered += 1
            if status.state == "ok":
                row.passed += 1
            else:
                row.left[(status.state, status.reason or "unknown")] += 1
                if status.reason == CRITICAL:
                    for entry in record.provenance.get("critical_excluded_by", []):
                        row.by_entry[entry] += 1
    return [rows[s] for s in stages if rows[s].entered or s == stages[0]]


def format_funnel(rows: list[FunnelRow]) -> str:
    """Plain-text funnel table (also written to funnel.txt)."""
    lines = [f"{'stage':<10} {'entered':>8} {'passed':>8}  left (reason: count)"]
    for row in rows:
        reasons = ", ".join(
            _left_text(row, state, reason, n) for (state, reason), n in sorted(row.left.items())
        )
        lines.append(f"{row.stage:<10} {row.entered:>8} {row.passed:>8}  {reasons or '-'}")
    return "\n".join(lines)


def _left_text(row: FunnelRow, state: str, reason: str, n: int) -> str:
    """'reason (state): n', with the list entries behind a critical-element exclusion."""
    entries = ", ".join(f"{entry}: {k}" for entry, k in row.entries_of(reason))
    return f"{reason} ({state}): {n}" + (f" [{entries}]" if entries else "")
