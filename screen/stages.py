"""The pipeline stages as plain functions: (records, typed parameters) -> records.

These are the same functions the campaign runner and (later) SLURM array tasks call.
Each accepts pymatgen Structures or records (or a mix) and returns new records; inputs
are never modified. Parameters default to the workflow-file defaults.

    >>> import screen
    >>> from pymatgen.core import Structure
    >>> records = screen.relax([structure], potential="chgnet-0.3.0")   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.records import Record, as_records
from screen.workflow.spec import (
    ChemicalSpace,
    DeliverParams,
    EstimateParams,
    GenerateParams,
    MDParams,
    PrefilterParams,
    RankParams,
    RelaxParams,
)

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.potentials.base import Potential

Items = Sequence["Record | Structure"]


def _potential(potential: Potential | str) -> Potential:
    if isinstance(potential, str):
        from screen.potentials.registry import load_potential

        return load_potential(potential)
    return potential


def generate(space: ChemicalSpace, params: GenerateParams | None = None) -> list[Record]:
    """Candidates of a chemical space (prototype substitution + user structure files)."""
    from screen.candidates.generate import generate as _generate

    return _generate(space, params or GenerateParams())


def prefilter(
    items: Items, space: ChemicalSpace, params: PrefilterParams | None = None
) -> list[Record]:
    """Geometry, charge-balance, critical-element and duplicate filters."""
    from screen.candidates.filters import prefilter as _prefilter

    return _prefilter(as_records(items), space, params or PrefilterParams())


def relax(
    items: Items, params: RelaxParams | None = None, potential: Potential | str = "chgnet-0.3.0"
) -> list[Record]:
    """Relax every structure with ``potential`` (a loaded Potential or a model-card name)."""
    from screen.relaxation.stage import relax_records

    return relax_records(as_records(items), params or RelaxParams(), _potential(potential))


def estimate(
    items: Items,
    space: ChemicalSpace,
    params: EstimateParams | None = None,
    potential: Potential | str = "chgnet-0.3.0",
    relax_params: RelaxParams | None = None,
    references_dir: Path | None = None,
    *,
    relax: Callable[[list[Record]], list[Record]] | None = None,
    single_points: Callable[[list[Record]], list[Record]] | None = None,
    info: dict[str, Any] | None = None,
) -> list[Record]:
    """Stability and electrode/electrolyte estimates of relaxed records.

    Formation energy, energy above hull and decomposition; the electrolyte window;
    electrode voltage, capacity and volume change.

    ``references_dir`` caches hull references between calls (default: none kept);
    ``relax`` relaxes the extra structures (reference phases, charged end members),
    by default with the engine in this process.
    """
    from screen.estimators.stage import estimate as _estimate

    return _estimate(
        as_records(items),
        space,
        params or EstimateParams(),
        _potential(potential),
        relax_params or RelaxParams(),
        references_dir,
        relax=relax,
        single_points=single_points,
        info=info,
    )


def md(
    items: Items,
    params: MDParams | None = None,
    potential: Potential | str = "chgnet-0.3.0",
    trajectory_dir: str | Path | None = None,
    max_batch_atoms: int | None = 100_000,
) -> list[Record]:
    """Batched Langevin MD of every record at every temperature of ``params``.

    Tracer diffusivity per temperature, Arrhenius activation energy, and diffusivity and
    conductivity at 300 K with uncertainties. Records need ``provenance['working_ion']``
    (set by the generators). Choose the records yourself (the pipeline takes the top K).
    """
    from screen.transport.stage import md_records

    return md_records(
        as_records(items),
        params or MDParams(top_k=1),
        _potential(potential),
        max_batch_atoms=max_batch_atoms,
        trajectory_dir=str(trajectory_dir) if trajectory_dir else None,
    )


def rank(items: Items, params: RankParams | None = None) -> list[Record]:
    """Weighted-score ranking with hard constraints."""
    from screen.ranking.score import rank as _rank

    return _rank(as_records(items), params or RankParams())


def deliver(
    items: Items,
    out: str | Path,
    params: DeliverParams | None = None,
    potential: str = "",
    *,
    avoid_elements: frozenset[str] | set[str] = frozenset(),
) -> list[Record]:
    """Write candidates.csv/.xlsx/.json, cifs/ and results.parquet into ``out``.

    Pass every record (also those that left the funnel): results.parquet keeps them all.
    Ranked records get ``confidence_flags`` and, when ``params.precursors``,
    ``precursor_suggestions`` (from precursors free of ``avoid_elements`` unless the
    candidate contains them).
    """
    from screen.deliverables.confidence import confidence_flags
    from screen.deliverables.export import write_deliverables

    params = params or DeliverParams()
    records = [r.copy_for_stage() for r in as_records(items)]
    for record in records:
        if not record.active:
            continue
        if "rank" in record.properties:
            flags, how = confidence_flags(record)
            record.set_property("confidence_flags", flags, unit="", method=how)
            if params.precursors:
                _precursors(record, avoid_elements)
        record.mark("deliver", "ok")
    write_deliverables(
        Path(out), records, potential=potential, cif=params.cif, symprec=params.symprec
    )
    return records


def _precursors(record: Record, avoid: frozenset[str] | set[str]) -> None:
    from screen.deliverables.precursors import PRECURSOR_METHOD, suggest_precursors

    # carbon is listed for coking coal and natural graphite; the C of a carbonate leaves as
    # CO2 and draws on neither, so carbonates stay allowed
    avoid = set(avoid) - {"C"}
    try:
        suggestions = [s.as_text() for s in suggest_precursors(record.formula, avoid=avoid)]
    except ValueError as exc:  # a formula the balancer cannot read: say so, keep the record
        suggestions, method = [], f"no suggestion: {exc}"
    else:
        method = PRECURSOR_METHOD if suggestions else PRECURSOR_METHOD + " (none balanced)"
    record.set_property("precursor_suggestions", suggestions, unit="", method=method)
