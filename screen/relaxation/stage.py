"""The relax stage: relax records with the batched engine; one failure never affects others."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

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
