"""The generate stage: run the selected generator plugins and cap the result.

Every candidate carries its recipe (generator, prototype or source, substitution,
ordering) and its id is a hash of that recipe, so the same workflow and seed always yield
the same ids and structures. Records a generator already rejected (unlikely
substitution, ordering failed) stay in the funnel with their reason.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

from screen.candidates.generators import load_generator
from screen.candidates.generators.common import STAGE
from screen.context import StageContext, StageResult
from screen.records import Record

if TYPE_CHECKING:  # pragma: no cover
    from screen.workflow.params import GenerateParams
    from screen.workflow.space import ChemicalSpace

log = logging.getLogger(__name__)


def generate(space: ChemicalSpace, params: GenerateParams) -> list[Record]:
    """All candidates of a chemical space; at most ``max_candidates`` stay active."""
    unique: dict[str, Record] = {}
    for name in params.generators:
        produced = load_generator(name).generate(space, params)
        log.info("generator %s: %d candidates", name, len(produced))
        for record in produced:
            unique.setdefault(record.id, record)
    records = sorted(unique.values(), key=lambda r: r.id)
    active = [r for r in records if r.status[STAGE].state == "ok"]
    if len(active) > space.max_candidates:
        keep = {r.id for r in random.Random(space.seed).sample(active, space.max_candidates)}
        log.info("%d candidates, keeping a seeded sample of %d", len(active), len(keep))
        for record in active:
            if record.id not in keep:
                record.mark(
                    STAGE,
                    "filtered",
                    "over-max-candidates",
                    f"seeded sample (seed {space.seed}) of {space.max_candidates}",
                )
    return records


def generate_stage(
    records: list[Record], params: GenerateParams, context: StageContext
) -> StageResult:
    """The generate stage of a run (it takes no records: it makes them)."""
    return StageResult(generate(context.chemical_space(STAGE), params))
