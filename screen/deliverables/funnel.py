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
                | (
                    {"by_entry": dict(sorted(self.by_entry.items()))}
                    if self._broken(reason)
                    else {}
                )
                for (state, reason), n in sorted(self.left.items())
            ],
        }

    def _broken(self, reason: str) -> bool:
        return reason == CRITICAL and bool(self.by_entry)


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
            f"{reason} ({state}): {n}"
            + (
                " [" + ", ".join(f"{e}: {k}" for e, k in sorted(row.by_entry.items())) + "]"
                if reason == CRITICAL and row.by_entry
                else ""
            )
            for (state, reason), n in sorted(row.left.items())
        )
        lines.append(f"{row.stage:<10} {row.entered:>8} {row.passed:>8}  {reasons or '-'}")
    return "\n".join(lines)
