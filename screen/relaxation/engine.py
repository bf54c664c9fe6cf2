"""Batched relaxation: many structures, one potential call per step, in-flight batching.

Each structure keeps its own optimizer state; every step evaluates all structures of the
batch in one ``potential.evaluate`` call. A structure that converges, fails or runs out of
steps leaves the batch at once and a waiting one takes its place, so the device stays
busy. The batch is bounded by a number of atoms (``max_batch_atoms``); an out-of-memory
error halves it (logged) and the step is retried.

Variable cell: the degrees of freedom of a structure are its positions in the reference
frame of its starting cell, u = r F^-T, and c F, where F is the deformation gradient
(cell = cell0 F^T) and c the number of atoms (as in ASE's UnitCellFilter, with the
cell-factor scaling of ASE's cell filters). Generalized forces: f F on u and
-V sigma F^-T / c on c F. Optimizers reproduce ASE's FIRE and BFGS (defaults of ASE 3.23+:
FIRE dt 0.1, maxstep 0.2 Å, dtmax 1.0, Nmin 5, finc 1.1, fdec 0.5, astart 0.1, fa 0.99;
BFGS maxstep 0.2 Å, initial Hessian 70 eV/Å²).

Convergence, as everywhere in batscreen: max |force| <= fmax (eV/Å) AND (variable cell)
max |stress component| <= smax (GPa); the forces on atoms held by an ASE ``FixAtoms``
constraint (pymatgen's ``selective_dynamics`` site property) are not counted and those
atoms keep their reference-frame positions. Explosions (non-finite numbers, energy below
-25 eV/atom, atoms closer than 0.5 Å, volume x2 or /2) fail the structure, not the batch.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from screen.potentials.base import empty_device_cache, is_out_of_memory
from screen.relaxation.ase_relax import (
    EV_PER_A3_IN_GPA,
    RelaxationExploded,
    RelaxOutcome,
    check_sane,
)

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from screen.potentials.base import Potential
    from screen.workflow.params import RelaxParams

log = logging.getLogger(__name__)

# ASE defaults (ase.optimize.FIRE, ase.optimize.BFGS)
FIRE_DT, FIRE_MAXSTEP, FIRE_DTMAX, FIRE_NMIN = 0.1, 0.2, 1.0, 5
FIRE_FINC, FIRE_FDEC, FIRE_ASTART, FIRE_FA = 1.1, 0.5, 0.1, 0.99
BFGS_MAXSTEP, BFGS_ALPHA = 0.2, 70.0


class FIREOptimizer:
    """ASE's FIRE (its defaults) on one array of coordinates and its forces."""

    def __init__(self) -> None:
        self.v: np.ndarray | None = None
        self.dt, self.a, self.n_pos = FIRE_DT, FIRE_ASTART, 0

    def step(self, x: np.ndarray, f: np.ndarray) -> np.ndarray:
        """The next coordinates from the current ones and their forces."""
        if self.v is None:
            self.v = np.zeros_like(x)
        else:
            vf = float(np.vdot(f, self.v))
            if vf > 0.0:
                f_norm = np.sqrt(np.vdot(f, f))
                v_norm = np.sqrt(np.vdot(self.v, self.v))
                self.v = (1.0 - self.a) * self.v + self.a * f / f_norm * v_norm
                if self.n_pos > FIRE_NMIN:
                    self.dt = min(self.dt * FIRE_FINC, FIRE_DTMAX)
                    self.a *= FIRE_FA
                self.n_pos += 1
            else:
                self.v[:] = 0.0
                self.a = FIRE_ASTART
                self.dt *= FIRE_FDEC
                self.n_pos = 0
        self.v += self.dt * f
        dr = self.dt * self.v
        norm = np.sqrt(np.vdot(dr, dr))
        if norm > FIRE_MAXSTEP:
            dr = FIRE_MAXSTEP * dr / norm
        return x + dr


class _BFGS:
    def __init__(self, n: int) -> None:
        self.H = np.eye(n) * BFGS_ALPHA
        self.x0: np.ndarray | None = None
        self.f0: np.ndarray | None = None

    def step(self, x: np.ndarray, f: np.ndarray) -> np.ndarray:
        flat_x, flat_f = x.ravel(), f.ravel()
        if self.x0 is not None and self.f0 is not None:
            dr = flat_x - self.x0
            if np.abs(dr).max() >= 1e-7:
                df = flat_f - self.f0
                a = float(dr @ df)
                dg = self.H @ dr
                b = float(dr @ dg)
                if a != 0.0 and b != 0.0:
                    self.H -= np.outer(df, df) / a + np.outer(dg, dg) / b
        omega, V = np.linalg.eigh(self.H)
        dr = (V @ (flat_f @ V / np.abs(omega))).reshape(-1, 3)
        longest = float(np.sqrt((dr**2).sum(axis=1)).max())
        if longest > BFGS_MAXSTEP:
            dr *= BFGS_MAXSTEP / longest
        self.x0, self.f0 = flat_x.copy(), flat_f.copy()
        return x + dr


@dataclass
class _Relaxing:
    """One structure in flight: reference frame, deformation, optimizer state."""

    index: int
    atoms: Atoms
    variable_cell: bool
    optimizer: Any
    cell0: np.ndarray = field(init=False)
    u: np.ndarray = field(init=False)
    F: np.ndarray = field(init=False)
    v0: float = field(init=False)
    fixed: np.ndarray = field(init=False)  # indices of atoms held by an ASE FixAtoms
    steps: int = 0
    started: float | None = None  # when the structure first entered the batch
    last: tuple[float, float, float] = (float("nan"), float("nan"), float("nan"))

    def __post_init__(self) -> None:
        self.cell0 = self.atoms.cell.array.copy()
        self.u = self.atoms.positions.copy()
        self.F = np.eye(3)
        self.v0 = abs(np.linalg.det(self.cell0)) if self.atoms.pbc.all() else 1.0
        held = [c.get_indices() for c in self.atoms.constraints if type(c).__name__ == "FixAtoms"]
        self.fixed = np.unique(np.concatenate(held)).astype(int) if held else np.zeros(0, int)

    @property
    def factor(self) -> float:
        return float(len(self.atoms))

    def current(self) -> Atoms:
        """The structure at the current degrees of freedom."""
        atoms = self.atoms
        atoms.set_cell(self.cell0 @ self.F.T, scale_atoms=False)
        atoms.positions = self.u @ self.F.T
        return atoms

    def dofs(self) -> np.ndarray:
        if not self.variable_cell:
            return self.u
        return np.vstack([self.u, self.factor * self.F])

    def generalized_forces(self, forces: np.ndarray, stress: np.ndarray) -> np.ndarray:
        g_u = forces @ self.F
        g_u[self.fixed] = 0.0
        if not self.variable_cell:
            return g_u
        volume = abs(np.linalg.det(self.atoms.cell.array))
        g_cell = -volume * stress @ np.linalg.inv(self.F).T / self.factor
        return np.vstack([g_u, g_cell])

    def set_dofs(self, x: np.ndarray) -> None:
        n = len(self.atoms)
        held = self.u[self.fixed].copy()
        self.u = x[:n].copy()
        self.u[self.fixed] = held
        if self.variable_cell:
            self.F = x[n:] / self.factor


@dataclass
class EngineStats:
    """Counters of one engine run (for logs and benchmarks)."""

    steps: int = 0  # batched potential calls
    model_seconds: float = 0.0  # time inside potential.evaluate
    wall_seconds: float = 0.0
    max_batch: int = 0
    oom_backoffs: int = 0


def relax_many(
    structures: Sequence[Atoms],
    potential: Potential,
    params: RelaxParams,
    *,
    max_batch_atoms: int | None = None,
    max_batch_pairs: float | None = None,
    on_result: Callable[[int, RelaxOutcome | BaseException], None] | None = None,
    stats: EngineStats | None = None,
) -> list[RelaxOutcome | BaseException]:
    """Relax every structure; returns, per input, a RelaxOutcome or the exception.

    ``max_batch_atoms`` bounds the atoms evaluated per call (None: one structure at a
    time) and ``max_batch_pairs`` the estimated neighbour pairs within the potential's
    cutoff (default: 60 per atom of the atom budget), the two things a model's memory
    grows with; ``on_result(index, outcome)`` is called as soon as a structure finishes.
    """
    stats = stats if stats is not None else EngineStats()
    began = time.perf_counter()
    results: list[RelaxOutcome | BaseException | None] = [None] * len(structures)
    pending: deque[_Relaxing] = deque()
    for i, atoms in enumerate(structures):
        atoms = atoms.copy()
        atoms.calc = None
        variable = params.variable_cell and bool(atoms.pbc.all())
        n_dof = len(atoms) + (3 if variable else 0)
        optimizer = FIREOptimizer() if params.optimizer == "FIRE" else _BFGS(3 * n_dof)
        pending.append(_Relaxing(i, atoms, variable, optimizer))
    budget = max_batch_atoms
    cutoff = float(getattr(potential.card, "cutoff_angstrom", 0.0) or 6.0)
    pair_budget = (
        max_batch_pairs
        if max_batch_pairs is not None
        else (60.0 * budget if budget is not None else None)
    )
    pairs = {item.index: estimated_pairs(item.atoms, cutoff) for item in pending}
    active: list[_Relaxing] = []

    def fits(item: _Relaxing) -> bool:
        if not active:
            return True
        if budget is None or _atoms(active) + len(item.atoms) > budget:
            return False
        used = sum(pairs[a.index] for a in active)
        return pair_budget is None or used + pairs[item.index] <= pair_budget

    def finish(item: _Relaxing, outcome: RelaxOutcome | BaseException) -> None:
        results[item.index] = outcome
        if on_result is not None:
            on_result(item.index, outcome)

    while pending or active:
        while pending and fits(pending[0]):
            item = pending.popleft()
            if item.started is None:
                item.started = time.perf_counter()
            active.append(item)
        stats.max_batch = max(stats.max_batch, len(active))
        systems = [item.current() for item in active]
        t0 = time.perf_counter()
        try:
            evaluation = potential.evaluate(systems)
        except Exception as exc:
            if is_out_of_memory(exc) and len(active) > 1:
                keep = max(1, len(active) // 2)
                budget = max(1, _atoms(active[:keep]))
                if pair_budget is not None:
                    pair_budget = max(1.0, sum(pairs[a.index] for a in active[:keep]))
                stats.oom_backoffs += 1
                log.warning(
                    "out of memory with %d structures; batch limit now %d atoms",
                    len(active),
                    budget,
                )
                for item in reversed(active[keep:]):
                    pending.appendleft(item)
                active = active[:keep]
                empty_device_cache()
                continue
            failed = _isolate(active, systems, potential, exc, finish)
            active = [item for item in active if item not in failed]
            if not active:
                continue
            systems = [item.current() for item in active]
            evaluation = potential.evaluate(systems)
        stats.model_seconds += time.perf_counter() - t0
        stats.steps += 1
        still: list[_Relaxing] = []
        for k, item in enumerate(active):
            outcome = _advance(
                item,
                float(evaluation.energy[k]),
                np.asarray(evaluation.forces[k], dtype=float),
                np.asarray(evaluation.stress[k], dtype=float),
                params,
            )
            if outcome is None:
                still.append(item)
            else:
                finish(item, outcome)
        active = still
    stats.wall_seconds += time.perf_counter() - began
    return [r if r is not None else RuntimeError("not relaxed") for r in results]


def _atoms(items: Sequence[_Relaxing]) -> int:
    return sum(len(item.atoms) for item in items)


def estimated_pairs(atoms: Atoms, cutoff: float) -> float:
    """Neighbour pairs within ``cutoff`` expected from the density: N (N/V) 4/3 pi rc^3."""
    n = len(atoms)
    volume = abs(np.linalg.det(atoms.cell.array)) if atoms.pbc.all() else 0.0
    if volume <= 0:
        return float(n * n)
    return n * (n / volume) * 4.0 / 3.0 * np.pi * cutoff**3


def _isolate(
    active: list[_Relaxing],
    systems: list[Atoms],
    potential: Potential,
    exc: BaseException,
    finish: Callable[[_Relaxing, RelaxOutcome | BaseException], None],
) -> list[_Relaxing]:
    """The batch call failed: find the structures that fail alone and finish them."""
    if len(active) == 1:
        finish(active[0], exc)
        return active
    failed = []
    for item, atoms in zip(active, systems, strict=True):
        try:
            potential.evaluate([atoms])
        except Exception as single:
            finish(item, single)
            failed.append(item)
    if not failed:  # only fails together: give up on all rather than loop
        for item in active:
            finish(item, exc)
        return list(active)
    return failed


def _advance(
    item: _Relaxing, energy: float, forces: np.ndarray, stress: np.ndarray, params: RelaxParams
) -> RelaxOutcome | BaseException | None:
    """Check and step one structure; a finished structure returns its outcome."""
    atoms = item.atoms
    try:
        check_sane(atoms, energy, forces, item.v0)
    except RelaxationExploded as exc:
        return exc
    free = np.delete(forces, item.fixed, axis=0) if len(item.fixed) else forces
    fmax = float(np.linalg.norm(free, axis=1).max()) if len(free) else 0.0
    smax = float(np.abs(stress).max() * EV_PER_A3_IN_GPA) if atoms.pbc.all() else 0.0
    item.last = (energy, fmax, smax)
    converged = fmax <= params.fmax and (not item.variable_cell or smax <= params.smax_gpa)
    if converged or item.steps >= params.max_steps:
        final = atoms.copy()
        return RelaxOutcome(
            atoms=final,
            energy_ev=energy,
            converged=converged,
            steps=item.steps,
            max_force_ev_per_a=fmax,
            max_stress_gpa=smax,
            volume_initial_a3=item.v0,
            volume_final_a3=final.get_volume() if final.pbc.all() else item.v0,
            seconds=time.perf_counter() - (item.started or time.perf_counter()),
        )
    x = item.dofs()
    g = item.generalized_forces(forces, stress)
    item.set_dofs(item.optimizer.step(x, g))
    item.steps += 1
    return None
