"""The relax stage: relax each record's structure; one failure never affects the others."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from screen.records import Record, structure_dict
from screen.relaxation.ase_relax import RelaxationExploded, relax_atoms

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.potentials.base import Potential
    from screen.workflow.spec import RelaxParams

log = logging.getLogger(__name__)
STAGE = "relax"


def spacegroup_symbol(structure: Structure, symprec: float = 0.1) -> str:
    """International space-group symbol, or '?' when spglib cannot tell."""
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    try:
        return str(SpacegroupAnalyzer(structure, symprec=symprec).get_space_group_symbol())
    except Exception:  # spglib fails on some distorted cells
        return "?"


def _set_wall_time(record: Record, started: float, potential: Potential) -> None:
    record.set_property(
        "relax_wall_time",
        time.perf_counter() - started,
        unit="s",
        method=f"wall-clock time of this relaxation on {potential.device}",
    )


def relax_record(record: Record, params: RelaxParams, potential: Potential) -> Record:
    """Relax one record (a new record is returned; the input is untouched)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    out = record.copy_for_stage()
    initial = out.initial_structure()
    model = potential.identity
    method = (
        f"{params.optimizer} + "
        f"{'FrechetCellFilter' if params.cell_filter == 'frechet' else 'fixed cell'} (ASE), "
        f"fmax {params.fmax} eV/Å, smax {params.smax_gpa} GPa, max {params.max_steps} steps"
    )
    started = time.perf_counter()
    try:
        outcome = relax_atoms(AseAtomsAdaptor.get_atoms(initial), potential, params)
    except RelaxationExploded as exc:
        out.mark(STAGE, "failed", "relax-exploded", str(exc))
        _set_wall_time(out, started, potential)
        return out
    except Exception as exc:  # a bad structure or a model error: keep the others going
        log.warning("relaxation of %s failed: %s", record.id, exc)
        out.mark(STAGE, "failed", "relax-error", f"{type(exc).__name__}: {exc}")
        _set_wall_time(out, started, potential)
        return out

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
    _set_wall_time(out, started, potential)
    sym_method = "spglib via pymatgen SpacegroupAnalyzer, symprec 0.1 Å"
    out.set_property("spacegroup_initial", spacegroup_symbol(initial), unit="", method=sym_method)
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


def relax_records(records: list[Record], params: RelaxParams, potential: Potential) -> list[Record]:
    """Relax every record; returns new records with a ``relax`` status each."""
    return [relax_record(r, params, potential) for r in records]
