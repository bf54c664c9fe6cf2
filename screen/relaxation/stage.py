"""The relax stage: relax records with the batched engine; one failure never affects others.

``relax_records`` and ``single_point_records`` are per-record functions: the executor
journals each result, on every core. :class:`ExtraRelaxations` is how a later stage
relaxes the structures it needs besides its records (hull references, charged end
members, elemental references), through the same runner: the one relaxation road.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from screen.context import RecordRunner, StageContext, StageResult
from screen.records import Record, structure_dict
from screen.relaxation.ase_relax import RelaxationExploded, RelaxOutcome
from screen.relaxation.engine import relax_many

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.potentials.base import Potential
    from screen.workflow.params import RelaxParams

log = logging.getLogger(__name__)
STAGE = "relax"


def spacegroup_symbol(structure: Structure, symprec: float = 0.1) -> str:
    """International space-group symbol, or '?' when spglib cannot tell."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return str(SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_symbol())
    except Exception:  # spglib fails on some distorted cells
        return "?"


def relax_method(params: RelaxParams) -> str:
    """One sentence saying how a relaxation was done."""
    cell = "variable cell" if params.variable_cell else "fixed cell"
    return (
        f"{params.optimizer} ({cell}, batscreen batched engine), fmax {params.fmax} eV/Å, "
        f"smax {params.smax_gpa} GPa, max {params.max_steps} steps"
    )


def record_outcome(
    record: Record,
    outcome: RelaxOutcome | BaseException,
    params: RelaxParams,
    potential: Potential,
) -> Record:
    """The record after its relaxation (or failure); the input record is not touched."""
    from pymatgen.io.ase import AseAtomsAdaptor

    out = record.copy_for_stage()
    if isinstance(outcome, BaseException):
        if isinstance(outcome, RelaxationExploded):
            out.mark(STAGE, "failed", "relax-exploded", str(outcome))
        else:
            log.warning("relaxation of %s failed: %s", record.id, outcome)
            out.mark(STAGE, "failed", "relax-error", f"{type(outcome).__name__}: {outcome}")
        return out
    model = potential.identity
    method = relax_method(params)
    relaxed = AseAtomsAdaptor.get_structure(outcome.atoms)
    n = len(relaxed)
    out.relaxed_structure = structure_dict(relaxed)
    props = {
        "energy": (outcome.energy_ev, "eV"),
        "energy_per_atom": (outcome.energy_ev / n, "eV/atom"),
        "relax_converged": (outcome.converged, ""),
        "relax_steps": (outcome.steps, ""),
        "relax_max_force": (outcome.max_force_ev_per_a, "eV/Å"),
        "relax_max_stress": (outcome.max_stress_gpa, "GPa"),
        "volume_change_relax": (outcome.volume_change, ""),
    }
    for name, (value, unit) in props.items():
        out.set_property(name, value, unit=unit, method=method, model=model)
    out.set_property(
        "relax_wall_time",
        outcome.seconds,
        unit="s",
        method=f"wall-clock time from entering the batch to leaving it, on {potential.device}",
    )
    sym_method = "spglib via pymatgen SpacegroupAnalyzer, symprec 0.1 Å"
    out.set_property(
        "spacegroup_initial", spacegroup_symbol(out.initial_structure()), unit="", method=sym_method
    )
    out.set_property("spacegroup_relaxed", spacegroup_symbol(relaxed), unit="", method=sym_method)
    if not outcome.converged and params.drop_unconverged:
        out.mark(
            STAGE,
            "filtered",
            "relax-not-converged",
            f"{outcome.steps} steps: max force {outcome.max_force_ev_per_a:.3f} eV/Å, "
            f"max stress {outcome.max_stress_gpa:.3f} GPa",
        )
    else:
        out.mark(STAGE, "ok")
    return out


def relax_records(
    records: list[Record],
    params: RelaxParams,
    potential: Potential,
    *,
    max_batch_atoms: int | None = None,
    on_result: Callable[[Record], None] | None = None,
) -> list[Record]:
    """Relax every record in batches of at most ``max_batch_atoms`` atoms.

    ``on_result`` receives each relaxed record as soon as it is done (the executor
    journals it there). Returns the relaxed records in input order.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    done: dict[int, Record] = {}
    structures = []
    for k, record in enumerate(records):
        try:
            structures.append(AseAtomsAdaptor.get_atoms(record.initial_structure()))
        except Exception as exc:  # an unreadable structure fails alone
            done[k] = record_outcome(record, exc, params, potential)
            if on_result is not None:
                on_result(done[k])
    index = [k for k in range(len(records)) if k not in done]

    def finished(i: int, outcome: RelaxOutcome | BaseException) -> None:
        k = index[i]
        done[k] = record_outcome(records[k], outcome, params, potential)
        if on_result is not None:
            on_result(done[k])

    relax_many(structures, potential, params, max_batch_atoms=max_batch_atoms, on_result=finished)
    return [done[k] for k in range(len(records))]


def relax_stage(records: list[Record], params: RelaxParams, context: StageContext) -> StageResult:
    """The relax stage: every record relaxed through the context's runner."""
    return StageResult(context.runner.map(relax_records, records, params, stage=STAGE))


def single_point_records(
    records: list[Record],
    params: RelaxParams,
    potential: Potential,
    *,
    max_batch_atoms: int | None = None,
    on_result: Callable[[Record], None] | None = None,
) -> list[Record]:
    """Energy of each record's structure as it is (a per-record function).

    ``params`` and ``max_batch_atoms`` are accepted for the runner's calling convention;
    a failure is recorded on its record (stage ``single-point``), never raised.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    out = []
    for record in records:
        done = record.copy_for_stage()
        try:
            atoms = AseAtomsAdaptor.get_atoms(record.initial_structure())
            energy = float(potential.evaluate([atoms]).energy[0])
            if not math.isfinite(energy):
                raise ValueError(f"energy {energy}")
            done.set_property(
                "energy",
                energy,
                unit="eV",
                method=f"single point with {potential.identity.name}, unrelaxed",
                model=potential.identity,
            )
            done.mark("single-point", "ok")
        except Exception as exc:  # this structure is skipped, the others go on
            done.mark(
                "single-point", "failed", "single-point-error", f"{type(exc).__name__}: {exc}"
            )
        out.append(done)
        if on_result is not None:
            on_result(done)
    return out


class ExtraRelaxations:
    """Relaxations and single points a stage needs besides its own records.

    Everything goes through the stage's runner (journaled and parallel in a campaign,
    in this process from Python), each kind of work under its own label.
    """

    def __init__(self, runner: RecordRunner, params: RelaxParams, stage: str):
        self.runner = runner
        self.params = params
        self.stage = stage

    @classmethod
    def of(cls, context: StageContext, stage: str) -> ExtraRelaxations:
        """The extra work of ``stage`` with the relax stage's settings."""
        return cls(context.runner, context.stages.relax, stage)

    def relax(
        self, label: str, records: list[Record], params: RelaxParams | None = None
    ) -> list[Record]:
        """``records`` relaxed (``params`` replaces the relax stage's, e.g. fixed cell)."""
        if not records:
            return []
        return self.runner.map(
            relax_records, records, params or self.params, stage=self.stage, extra=f"relax/{label}"
        )

    def single_points(self, label: str, records: list[Record]) -> list[Record]:
        """Energies of ``records`` as they are."""
        if not records:
            return []
        return self.runner.map(
            single_point_records, records, self.params, stage=self.stage, extra=f"points/{label}"
        )
