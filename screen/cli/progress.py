"""Per-stage progress bars for the CLI (counts, rate, elapsed, ETA)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Records per second (or seconds per record when slower than one per second)."""

    def render(self, task: Task) -> Text:
        """Render the rate of one task."""
        speed = task.finished_speed or task.speed
        if not speed:
            return Text("-", style="progress.data.speed")
        text = f"{speed:.2f} rec/s" if speed >= 1 else f"{1 / speed:.1f} s/rec"
        return Text(text, style="progress.data.speed")


class StageProgress:
    """A context manager whose ``update(stage, done, total)`` drives one bar per stage."""

    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> StageProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._progress.__exit__(*exc)

    def update(self, stage: str, done: int, total: int) -> None:
        """Progress callback for screen.run."""
        if stage not in self._tasks:
            self._tasks[stage] = self._progress.add_task(stage, total=total or None)
        self._progress.update(self._tasks[stage], completed=done, total=total or None)
