"""What a stage runs with, and what it gives back.

Every stage is a function ``run(records, params, context) -> StageResult`` (the table of
stages is screen/stage_table.py). The :class:`StageContext` carries what is shared by
the stages of one run: the chemical space, every stage's parameters, the potential, the
campaign folder, and the :class:`RecordRunner` that does per-record work. A campaign
gives a runner that journals every record and uses every core (screen/executors/
campaign.py); the Python API and the guided search run in this process
(:class:`InProcessRunner`).

Per-record work goes through ``runner.map``: the relax and md stages' own records, and
every extra relaxation or single point a stage needs (hull references, charged end
members, elemental references; screen.relaxation.stage.ExtraRelaxations). That is the
one relaxation road: journaled and parallel in a campaign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from screen.records import Record

if TYPE_CHECKING:  # pragma: no cover
    from screen.workflow.spec import ChemicalSpace, Stages

#: ``function(records, params, potential, *, on_result=None, max_batch_atoms=None, **options)``
RecordFunction = Callable[..., list[Record]]
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class StageResult:
    """A stage's records and what provenance should record about this run of it."""

    records: list[Record]
    info: dict[str, Any] = field(default_factory=dict)


class RecordRunner(Protocol):
    """Maps a per-record function over records (journaled in a campaign)."""

    def map(
        self,
        function: RecordFunction,
        records: list[Record],
        params: Any,
        *,
        stage: str,
        extra: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> list[Record]:
        """``function`` applied to every record, results in input order.

        ``stage``: the stage doing the work. ``extra``: None for the stage's own records
        (a per-record stage: sharded, a SLURM array task per shard), else
        ``"<kind>/<label>"`` for extra work of the stage (``relax/hull-refs``), kept apart.
        """
        ...


class InProcessRunner:
    """Per-record work in this process, not journaled (Python API, guided search)."""

    def __init__(
        self,
        potential: Any,
        max_batch_atoms: int | None = None,
        progress: ProgressCallback | None = None,
    ):
        self.potential = potential
        self.max_batch_atoms = max_batch_atoms
        self.progress = progress

    def map(
        self,
        function: RecordFunction,
        records: list[Record],
        params: Any,
        *,
        stage: str,
        extra: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> list[Record]:
        """``function`` applied to ``records`` here, in one call (it batches them)."""
        label = extra.rpartition("/")[2] if extra else stage
        done = 0

        def finished(record: Record) -> None:
            nonlocal done
            done += 1
            if self.progress:
                self.progress(label, done, len(records))

        return function(
            records,
            params,
            self.potential,
            on_result=finished,
            max_batch_atoms=self.max_batch_atoms,
            **(options or {}),
        )


@dataclass
class StageContext:
    """What the stages of one run share."""

    stages: Stages
    potential: Any  # a Potential (loaded, or deferred until something needs it)
    runner: RecordRunner
    space: ChemicalSpace | None = None
    folder: Path | None = None  # campaign directory: md trajectories, deliverables
    references_dir: Path | None = None  # hull reference caches (None: a temporary folder)
    potential_name: str = ""  # the model card's name, for the deliverables
    progress: ProgressCallback | None = None

    def chemical_space(self, stage: str) -> ChemicalSpace:
        """The chemical space, which ``stage`` cannot do without."""
        if self.space is None:
            raise ValueError(f"stage {stage} needs the chemical space (space=ChemicalSpace(...))")
        return self.space

    def report(self, stage: str, done: int, total: int) -> None:
        """Progress of a stage (records done of total)."""
        if self.progress:
            self.progress(stage, done, total)
