"""Batched Langevin (NVT) molecular dynamics: many systems, one potential call per step.

A *system* is one structure at one temperature; the candidates x temperatures of an MD
stage advance together, and every step evaluates all of them in one
``potential.evaluate`` call (the same batched interface the relaxation engine uses).
The batch is bounded by ``max_batch_atoms``; more systems run in successive batches, and a
batch that runs out of device memory is rerun in halves (as the relaxation engine does).

Integrator: the BAOAB splitting of Langevin dynamics (Leimkuhler & Matthews, Appl. Math.
Res. Express 2013, 34): half kick (B), half drift (A), exact Ornstein-Uhlenbeck velocity
update v <- c v + sqrt((1 - c^2) kT/m) xi with c = exp(-gamma dt) (O), half drift, half
kick. Every system has its own temperature and random stream (seeded from its key, so a
system's trajectory does not depend on which batch it ran in). For a free particle the
scheme's diffusion coefficient is exactly D = (kT dt / 2m) coth(gamma dt / 2), which tends
to Einstein's kT / (m gamma) for gamma dt -> 0 (tests check both).

Units: ASE's (eV, Å, amu; ASE time unit = Å sqrt(amu/eV) = 10.18 fs). Positions are
integrated unwrapped, so displacements need no image bookkeeping; the potential sees the
wrapped copy. A system whose energy or forces become non-finite, or whose instantaneous
temperature exceeds ``EXPLOSION_FACTOR`` x the target, is stopped and reported as failed;
the others go on.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from screen.potentials.base import Potential

log = logging.getLogger(__name__)

EXPLOSION_FACTOR = 5.0  # instantaneous T above this x target: the system has exploded


@dataclass(frozen=True)
class LangevinSettings:
    """Integration settings shared by every system of a run."""

    timestep_fs: float = 2.0
    production_steps: int = 5000
    equilibration_steps: int = 500
    friction_per_fs: float = 0.001  # gamma; 0.001 fs^-1 = 1 ps^-1, weak coupling
    sample_every: int = 10  # steps between stored frames
    seed: int = 0


@dataclass
class MDSystem:
    """One structure to run at one temperature; ``key`` names it (and seeds it)."""

    key: str
    atoms: Atoms
    temperature_K: float


@dataclass
class MDTrajectory:
    """What one system leaves: sampled unwrapped positions and per-frame observables."""

    key: str
    temperature_K: float
    symbols: list[str]
    cell: np.ndarray  # (3, 3) Å
    masses: np.ndarray  # (n,) amu
    timestep_fs: float
    sample_interval_fs: float
    positions: np.ndarray  # (frames, n, 3) Å, unwrapped, production part only
    potential_energy: np.ndarray  # (frames,) eV
    kinetic_temperature: np.ndarray  # (frames,) K
    wall_time_s: float = 0.0
    steps_done: int = 0  # equilibration included
    error: str | None = None

    @property
    def duration_ps(self) -> float:
        """Production time covered by the stored frames."""
        return max(len(self.positions) - 1, 0) * self.sample_interval_fs / 1000.0


@dataclass
class _Running:
    system: MDSystem
    x: np.ndarray  # unwrapped positions (n, 3) Å
    v: np.ndarray  # velocities, Å per ASE time unit
    f: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    m: np.ndarray = field(default_factory=lambda: np.zeros(0))
    kT: float = 0.0
    rng: np.random.Generator = field(default_factory=np.random.default_rng)
    frames: list[np.ndarray] = field(default_factory=list)
    energies: list[float] = field(default_factory=list)
    temperatures: list[float] = field(default_factory=list)
    energy: float = 0.0
    error: str | None = None
    steps_done: int = 0


def _seed(key: str, temperature: float, seed: int) -> int:
    return zlib.crc32(f"{key}|{temperature:.3f}|{seed}".encode())


def kinetic_temperature(v: np.ndarray, m: np.ndarray) -> float:
    """Instantaneous temperature (K) from velocities in ASE units, 3N - 3 degrees."""
    from ase.units import kB

    dof = max(3 * len(m) - 3, 1)
    return float((m[:, None] * v**2).sum() / (dof * kB))


def _start(system: MDSystem, settings: LangevinSettings) -> _Running:
    from ase.units import kB

    atoms = system.atoms
    m = np.asarray(atoms.get_masses(), dtype=float)
    kT = kB * system.temperature_K
    rng = np.random.default_rng(_seed(system.key, system.temperature_K, settings.seed))
    v = rng.standard_normal((len(atoms), 3)) * np.sqrt(kT / m)[:, None]
    if len(atoms) > 1:  # no centre-of-mass drift at the start
        v -= (m[:, None] * v).sum(axis=0) / m.sum()
    return _Running(system, np.array(atoms.get_positions(), dtype=float), v, m=m, kT=kT, rng=rng)


def _wrapped(atoms: Atoms, x: np.ndarray) -> Atoms:
    cell = np.asarray(atoms.cell)
    frac = x @ np.linalg.inv(cell)
    frac -= np.floor(frac)
    atoms.positions = frac @ cell
    return atoms


class _OutOfMemory(Exception):
    """The batch does not fit on the device: run it again in halves."""


def _evaluate(potential: Potential, running: list[_Running]) -> None:
    """Forces and energies of every running system in one batched call.

    Out of memory with several systems raises _OutOfMemory (the caller halves the batch);
    any other error is pinned on the systems that raise it alone, and only they stop.
    """
    from screen.potentials.base import empty_device_cache, is_out_of_memory

    try:
        result = potential.evaluate([_wrapped(r.system.atoms, r.x) for r in running])
    except Exception as exc:
        if is_out_of_memory(exc) and len(running) > 1:
            empty_device_cache()
            raise _OutOfMemory(str(exc)) from exc
        if len(running) == 1:
            running[0].error = f"potential failed: {type(exc).__name__}: {exc}"
            return
        for r in running:
            _evaluate(potential, [r])
        return
    for r, energy, forces in zip(running, result.energy, result.forces, strict=True):
        f = np.asarray(forces, dtype=float)
        if not (np.isfinite(energy) and np.all(np.isfinite(f))):
            r.error = "non-finite energy or forces"
        r.f, r.energy = f, float(energy)


def _sample(r: _Running) -> None:
    r.frames.append(r.x.copy())
    r.energies.append(r.energy)
    r.temperatures.append(kinetic_temperature(r.v, r.m))


def batches_by_atoms(systems: Sequence[MDSystem], max_batch_atoms: int) -> list[list[MDSystem]]:
    """Consecutive groups of systems whose atom counts add up to at most the bound."""
    groups: list[list[MDSystem]] = []
    size = 0
    for system in systems:
        n = len(system.atoms)
        if not groups or size + n > max_batch_atoms:
            groups.append([])
            size = 0
        groups[-1].append(system)
        size += n
    return groups


def run_langevin(
    systems: Sequence[MDSystem],
    potential: Potential,
    settings: LangevinSettings,
    *,
    max_batch_atoms: int = 100_000,
    on_result: Callable[[MDTrajectory], None] | None = None,
) -> list[MDTrajectory]:
    """Integrate every system for the settings' steps; one trajectory per system, in order."""
    out: dict[int, MDTrajectory] = {}
    order = {id(s): k for k, s in enumerate(systems)}
    groups = batches_by_atoms(systems, max_batch_atoms)
    while groups:
        group = groups.pop(0)
        try:
            trajectories = _run_batch(group, potential, settings)
        except _OutOfMemory:
            half = len(group) // 2
            log.warning("MD: out of memory with %d systems; running halves", len(group))
            groups[:0] = [group[:half], group[half:]]
            continue
        for trajectory, system in zip(trajectories, group, strict=True):
            out[order[id(system)]] = trajectory
            if on_result is not None:
                on_result(trajectory)
    return [out[k] for k in range(len(systems))]


def _run_batch(
    group: list[MDSystem], potential: Potential, settings: LangevinSettings
) -> list[MDTrajectory]:
    from ase.units import fs

    t0 = time.perf_counter()
    dt = settings.timestep_fs * fs
    c = float(np.exp(-settings.friction_per_fs * settings.timestep_fs))
    running = [_start(s, settings) for s in group]
    _evaluate(potential, running)
    total = settings.equilibration_steps + settings.production_steps
    for step in range(total + 1):
        live = [r for r in running if r.error is None]
        if step >= settings.equilibration_steps:
            k = step - settings.equilibration_steps
            if k % settings.sample_every == 0:
                for r in live:
                    _sample(r)
        if step == total or not live:
            break
        for r in live:  # B A O A
            r.v += 0.5 * dt * r.f / r.m[:, None]
            r.x += 0.5 * dt * r.v
            noise = r.rng.standard_normal(r.v.shape) * np.sqrt((1.0 - c * c) * r.kT / r.m)[:, None]
            r.v = c * r.v + noise
            r.x += 0.5 * dt * r.v
        _evaluate(potential, live)
        for r in live:  # B
            if r.error is None:
                r.v += 0.5 * dt * r.f / r.m[:, None]
                r.steps_done = step + 1
                hot = kinetic_temperature(r.v, r.m)
                if hot > EXPLOSION_FACTOR * r.system.temperature_K:
                    r.error = (
                        f"exploded: instantaneous temperature {hot:.0f} K at step {step + 1} "
                        f"(target {r.system.temperature_K:.0f} K)"
                    )
    wall = time.perf_counter() - t0
    result = []
    for r in running:
        atoms = r.system.atoms
        n = len(atoms)
        trajectory = MDTrajectory(
            key=r.system.key,
            temperature_K=r.system.temperature_K,
            symbols=list(atoms.get_chemical_symbols()),
            cell=np.array(atoms.cell, dtype=float),
            masses=r.m,
            timestep_fs=settings.timestep_fs,
            sample_interval_fs=settings.timestep_fs * settings.sample_every,
            positions=np.array(r.frames) if r.frames else np.zeros((0, n, 3)),
            potential_energy=np.array(r.energies),
            kinetic_temperature=np.array(r.temperatures),
            wall_time_s=wall,
            steps_done=r.steps_done,
            error=r.error,
        )
        result.append(trajectory)
        if r.error:
            log.warning(
                "MD of %s at %.0f K stopped: %s", r.system.key, r.system.temperature_K, r.error
            )
    return result


def write_trajectory(
    trajectory: MDTrajectory, path: str, info: dict[str, str] | None = None
) -> None:
    """The production frames as an ASE trajectory (unwrapped positions, energies).

    ``info`` (text values) goes into every frame's ``atoms.info``, e.g. the carrier defect.
    """
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io.trajectory import Trajectory

    with Trajectory(path, "w") as handle:
        for k, positions in enumerate(trajectory.positions):
            atoms = Atoms(trajectory.symbols, positions=positions, cell=trajectory.cell, pbc=True)
            atoms.info.update(
                time_fs=k * trajectory.sample_interval_fs,
                temperature_target_K=trajectory.temperature_K,
                temperature_kinetic_K=float(trajectory.kinetic_temperature[k]),
                **(info or {}),
            )
            atoms.calc = SinglePointCalculator(atoms, energy=float(trajectory.potential_energy[k]))
            handle.write(atoms)
