"""The runner of per-record work in a campaign directory: journaled, sharded, on every core.

A per-record stage's own records (relax, md) go to ``stages/<stage>/``, planned in
shards; a SLURM array task runs one shard (``only_shard``), a collect may not compute
them (``frozen``). Extra work of a stage (hull references, charged end members,
elemental references, single points) goes to ``references/<kind>/<label>-<digest>``,
named by the set of records, so a resumed campaign finds its journals again; it always
computes and never belongs to a shard.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from screen.context import ProgressCallback, RecordFunction
from screen.executors.local import RecordStage, resolve_workers, run_record_stage
from screen.potentials.registry import PotentialSource
from screen.records import Record
from screen.store.campaign import Campaign


class CampaignRunner:
    """Maps per-record functions over records, journaled in the campaign directory."""

    def __init__(
        self,
        campaign: Campaign,
        source: PotentialSource,
        *,
        workers: int | str,
        shard_size: int,
        max_batch_atoms: int | None,
        potential: Any = None,
        injected: bool = False,
        progress: ProgressCallback | None = None,
        frozen: frozenset[str] = frozenset(),
        only_shard: int | None = None,
        should_stop: Any = None,
    ):
        """A runner for ``campaign``.

        ``potential`` runs in this process when ``injected`` (tests, notebooks) or with
        one worker (a deferred potential then loads its weights only when needed).
        """
        self.campaign = campaign
        self.source = source
        self.workers = workers
        self.shard_size = shard_size
        self.max_batch_atoms = max_batch_atoms
        self.potential = potential
        self.injected = injected
        self.progress = progress
        self.frozen = frozen  # per-record stages whose shards must all be done (collect)
        self.only_shard = only_shard  # a SLURM array task does one shard of each main map
        self.should_stop = should_stop  # walltime warning: start no new record

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
        """``function`` over ``records`` on the executor (see the module docstring)."""
        main = extra is None
        if main:
            name, folder = stage, self.campaign.stage_dir(stage)
        else:
            kind, _, name = str(extra).partition("/")
            folder = self._extra_dir(kind, name, records)
        workers = resolve_workers(self.workers, self.source.device, len(records))
        # an injected potential, or one worker: run in this process (a deferred potential
        # loads its weights only if something is left to do)
        in_process = self.potential if (self.injected or workers == 1) else None
        record_stage = RecordStage(
            name=name,
            function=function,
            params=params,
            potential=self.source,
            options=(("max_batch_atoms", self.max_batch_atoms), *(options or {}).items()),
        )
        return run_record_stage(
            record_stage,
            records,
            folder,
            workers=workers,
            shard_size=self.shard_size,
            potential=in_process,
            progress=self.progress,
            compute=not (main and stage in self.frozen),
            only_shard=self.only_shard if main else None,
            should_stop=self.should_stop if main else None,
        )

    def _extra_dir(self, kind: str, label: str, records: list[Record]) -> Path:
        """references/<kind>/<label>-<digest of the record ids>: same set, same folder."""
        digest = hashlib.sha256("\n".join(sorted(r.id for r in records)).encode()).hexdigest()
        return self.campaign.root / "references" / kind / f"{label}-{digest[:12]}"
