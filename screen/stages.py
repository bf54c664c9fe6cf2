"""The pipeline stages from Python: the stage table's functions on structures or records.

Each function takes pymatgen Structures or records (or a mix) and returns new records;
inputs are never modified. Parameters default to the workflow-file defaults. Work runs
in this process (no campaign directory, nothing journaled); ``screen.run`` runs a whole
campaign. The per-record stages (relax, md) run every record given. Parameters may also
be given as a dict of the model's fields; a wrong type is a TypeError naming the function
and the argument, raised before any potential is loaded (screen/api_checks.py).

``working_ion=`` gives the structures (and records without one) their mobile ion; an
ion-dependent estimate (capacity, voltage, window, BVSE, MD) of a record without one is
an error that says so, never a silent skip.

    >>> import screen
    >>> from pymatgen.core import Structure
    >>> records = screen.relax([structure], potential="chgnet-0.3.0")   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screen.api_checks import (
    check_int,
    check_params,
    check_path,
    check_potential,
    check_space,
    check_str,
    check_working_ion,
)
from screen.context import InProcessRunner, StageContext
from screen.ions import WORKING_IONS, WorkingIonError
from screen.records import Record, as_records
from screen.workflow.params import Stages
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
DEFAULT_POTENTIAL = "chgnet-0.3.0"


def _potential(potential: Potential | str | None) -> Any:
    if isinstance(potential, str):
        from screen.potentials.registry import load_potential

        return load_potential(potential)
    return potential


def _run(
    name: str,
    records: list[Record],
    params: Any,
    *,
    space: ChemicalSpace | None = None,
    potential: Potential | str | None = None,
    potential_name: str = "",
    stages: dict[str, Any] | None = None,
    folder: Path | None = None,
    references_dir: Path | None = None,
    max_batch_atoms: int | None = None,
    options: dict[str, Any] | None = None,
) -> list[Record]:
    """Stage ``name`` of the stage table on ``records``, in this process."""
    from screen.stage_table import run_stage, stage

    step = stage(name)
    model = _potential(potential)
    context = StageContext(
        stages=Stages(**{name: params, **(stages or {})}),
        potential=model,
        runner=InProcessRunner(model, max_batch_atoms=max_batch_atoms),
        space=space,
        folder=folder,
        references_dir=references_dir,
        potential_name=potential_name or getattr(getattr(model, "card", None), "name", ""),
    )
    if step.per_record and step.record_function is not None:  # every record given
        params = step.params_of(context.stages)
        given = [r for r in records if r.active]
        done = {
            r.id: r
            for r in context.runner.map(
                step.record_function, given, params, stage=name, options=options
            )
        }
        return [done.get(r.id, r) for r in records]
    return run_stage(step, records, context).records


def _require_working_ion(records: list[Record], what: str) -> None:
    missing = sorted({r.formula for r in records if r.working_ion is None})
    if missing:
        raise WorkingIonError(
            f"{what} needs the working ion of every record; none is known for "
            f"{', '.join(missing)}: pass working_ion='Na' (one of {', '.join(WORKING_IONS)}) "
            "with the structures, or records made with one"
        )


def generate(space: ChemicalSpace, params: GenerateParams | None = None) -> list[Record]:
    """Candidates of a chemical space (the generators of ``params``)."""
    space = check_space("screen.generate", space)
    params = check_params("screen.generate", "params", params, GenerateParams)
    return _run("generate", [], params or GenerateParams(), space=space)


def prefilter(
    items: Items,
    space: ChemicalSpace,
    params: PrefilterParams | None = None,
    *,
    working_ion: str | None = None,
) -> list[Record]:
    """Geometry, charge-balance, critical-element and duplicate filters."""
    fn = "screen.prefilter"
    space = check_space(fn, space)
    params = check_params(fn, "params", params, PrefilterParams)
    check_working_ion(fn, working_ion)
    records = as_records(items, working_ion, caller=fn)
    return _run("prefilter", records, params or PrefilterParams(), space=space)


def relax(
    items: Items,
    params: RelaxParams | None = None,
    potential: Potential | str = DEFAULT_POTENTIAL,
    *,
    working_ion: str | None = None,
) -> list[Record]:
    """Relax every structure with ``potential`` (a loaded Potential or a model-card name)."""
    fn = "screen.relax"
    params = check_params(fn, "params", params, RelaxParams)
    check_potential(fn, potential)
    check_working_ion(fn, working_ion)
    records = as_records(items, working_ion, caller=fn)
    return _run("relax", records, params or RelaxParams(), potential=potential)


def estimate(
    items: Items,
    space: ChemicalSpace,
    params: EstimateParams | None = None,
    potential: Potential | str = DEFAULT_POTENTIAL,
    relax_params: RelaxParams | None = None,
    references_dir: Path | None = None,
    *,
    working_ion: str | None = None,
) -> list[Record]:
    """The enabled estimators of ``params`` on relaxed records (screen/estimators/).

    Formation energy, energy above hull and decomposition; the electrolyte window;
    electrode voltage, capacity and volume change; BVSE barriers. ``references_dir``
    caches hull references between calls (default: none kept); the extra relaxations
    (reference phases, charged end members) use ``relax_params``, in this process.
    """
    from screen.estimators.registry import needing_working_ion

    fn = "screen.estimate"
    space = check_space(fn, space)
    params = check_params(fn, "params", params, EstimateParams) or EstimateParams()
    check_potential(fn, potential, optional=True)  # None: estimators that need none
    relax_params = check_params(fn, "relax_params", relax_params, RelaxParams)
    check_path(fn, "references_dir", references_dir)
    check_working_ion(fn, working_ion)
    records = as_records(items, working_ion, caller=fn)
    needing = needing_working_ion(params, space.role)
    if needing:
        _require_working_ion(
            [r for r in records if r.active], f"estimate ({', '.join(needing)} for {space.role}s)"
        )
    extra = {"relax": relax_params} if relax_params is not None else {}
    return _run(
        "estimate",
        records,
        params,
        space=space,
        potential=potential,
        stages=extra,
        references_dir=Path(references_dir) if references_dir is not None else None,
    )


def md(
    items: Items,
    params: MDParams | None = None,
    potential: Potential | str = DEFAULT_POTENTIAL,
    trajectory_dir: str | Path | None = None,
    max_batch_atoms: int | None = 100_000,
    *,
    working_ion: str | None = None,
) -> list[Record]:
    """Batched Langevin MD of every record at every temperature of ``params``.

    Tracer diffusivity per temperature, Arrhenius activation energy, and diffusivity and
    conductivity at 300 K with uncertainties, of the records' working ion. Choose the
    records yourself (a campaign's md stage takes the top K).
    """
    fn = "screen.md"
    params = check_params(fn, "params", params, MDParams)
    check_potential(fn, potential)
    check_path(fn, "trajectory_dir", trajectory_dir)
    check_int(fn, "max_batch_atoms", max_batch_atoms)
    check_working_ion(fn, working_ion)
    records = as_records(items, working_ion, caller=fn)
    _require_working_ion([r for r in records if r.active], "md")
    options = {"trajectory_dir": str(trajectory_dir)} if trajectory_dir else {}
    return _run(
        "md",
        records,
        params or MDParams(top_k=1),
        potential=potential,
        max_batch_atoms=max_batch_atoms,
        options=options,
    )


def rank(items: Items, params: RankParams | None = None) -> list[Record]:
    """Weighted-score ranking with hard constraints, Pareto fronts, uncertainties."""
    params = check_params("screen.rank", "params", params, RankParams)
    return _run("rank", as_records(items, caller="screen.rank"), params or RankParams())


def deliver(
    items: Items,
    out: str | Path,
    params: DeliverParams | None = None,
    potential: str = "",
    *,
    space: ChemicalSpace | None = None,
) -> list[Record]:
    """Write candidates.csv/.xlsx/.json, cifs/ and results.parquet into ``out``.

    Pass every record (also those that left the funnel): results.parquet keeps them all.
    Ranked records get ``confidence_flags`` and, when ``params.precursors``,
    ``precursor_suggestions`` (from precursors free of the elements of ``space``'s
    critical list unless the candidate contains them).
    """
    fn = "screen.deliver"
    check_path(fn, "out", out, optional=False)
    params = check_params(fn, "params", params, DeliverParams)
    check_str(fn, "potential", potential)
    if space is not None:
        space = check_space(fn, space, none_allowed=True)
    return _run(
        "deliver",
        as_records(items, caller=fn),
        params or DeliverParams(),
        space=space,
        potential_name=potential,
        folder=Path(out),
    )
