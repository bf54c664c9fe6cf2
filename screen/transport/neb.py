"""Batched nudged elastic band: the images of many bands in one potential call per step.

A *band* is a chain of images between two relaxed end points (a working-ion hop). Every
step evaluates the moving images of all bands in flight in one ``potential.evaluate``
call; a band that converges, fails or runs out of steps leaves at once and a waiting one
takes its place (bounded by ``max_batch_atoms``, as the relaxation engine does). This is
the difference from ASE, whose NEB optimises one band at a time.

Forces (Henkelman & Jonsson, J. Chem. Phys. 113, 9978 (2000); climbing image: Henkelman,
Uberuaga & Jonsson, J. Chem. Phys. 113, 9901 (2000)), as ASE's ``NEB(method=
'improvedtangent', climb=True)``:

- improved tangent tau_i: towards the higher neighbour; at an extremum, both neighbours
  weighted by the larger and smaller energy differences; normalised over the image;
- nudged force: F_i - (F_i . tau_i) tau_i + k (|R_i+1 - R_i| - |R_i - R_i-1|) tau_i;
- climbing image (the highest moving image, from the first step): F_i - 2 (F_i . tau_i)
  tau_i, no spring.

Each band is optimised with the relaxation engine's FIRE (ASE's defaults) on the
concatenated positions of its moving images, so a band here follows the steps ASE's
FIRE takes on ASE's NEB. Converged: max atomic nudged force <= fmax over the band. The
barrier is E(highest image) - E(lower end point) (both ways must be crossed). Positions
are not wrapped (the images stay continuous); the potential sees them under periodic
boundaries.
Units: eV, Å.
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
from screen.relaxation.engine import FIREOptimizer

if TYPE_CHECKING:  # pragma: no cover
    from ase import Atoms

    from screen.potentials.base import Potential

log = logging.getLogger(__name__)
SPRING_EV_PER_A2 = 0.1  # ASE's default k


@dataclass(frozen=True)
class NEBSettings:
    """Band settings shared by every band of a run."""

    fmax: float = 0.05  # eV/Å, on the nudged forces
    max_steps: int = 300
    spring: float = SPRING_EV_PER_A2
    climb: bool = True


@dataclass
class Band:
    """End points (relaxed, with their energies) and the interpolated images between."""

    key: str
    images: list[Atoms]  # initial, moving images..., final (positions continuous)
    initial_energy: float
    final_energy: float


@dataclass
class BandResult:
    """What one band leaves."""

    key: str
    converged: bool
    steps: int
    energies: list[float]  # every image, end points included (eV)
    max_force: float  # eV/Å, nudged, at the last step
    images: list[Atoms] = field(repr=False, default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def barrier(self) -> float:
        """E(highest image) - E(lower end point), eV: the larger of the two directions."""
        return float(max(self.energies) - min(self.energies[0], self.energies[-1]))


def interpolate(initial: Atoms, final: Atoms, n_images: int) -> list[Atoms]:
    """Linear interpolation of ``n_images`` moving images (end points included in the list).

    The final positions are taken as the minimum-image continuation of the initial ones,
    so an ion crossing the cell boundary moves the short way.
    """
    start = initial.positions
    delta = final.positions - start
    frac = np.linalg.solve(initial.cell.array.T, delta.T).T
    frac -= np.round(frac)
    delta = frac @ initial.cell.array
    images = [initial.copy()]
    for k in range(1, n_images + 1):
        image = initial.copy()
        image.positions = start + delta * k / (n_images + 1)
        images.append(image)
    end = initial.copy()
    end.positions = start + delta
    images.append(end)
    return images


def improved_tangents(positions: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """Improved tangents of the moving images: (n_images - 2, atoms, 3), unit norm each."""
    out = []
    for i in range(1, len(positions) - 1):
        forward = positions[i + 1] - positions[i]
        backward = positions[i] - positions[i - 1]
        e_prev, e_here, e_next = energies[i - 1], energies[i], energies[i + 1]
        if e_next > e_here > e_prev:
            tangent = forward
        elif e_next < e_here < e_prev:
            tangent = backward
        else:
            big = max(abs(e_next - e_here), abs(e_prev - e_here))
            small = min(abs(e_next - e_here), abs(e_prev - e_here))
            if e_next > e_prev:
                tangent = forward * big + backward * small
            else:
                tangent = forward * small + backward * big
        norm = np.linalg.norm(tangent)
        out.append(tangent / norm if norm > 0 else tangent)
    return np.array(out)


def nudged_forces(
    positions: np.ndarray, energies: np.ndarray, forces: np.ndarray, settings: NEBSettings
) -> np.ndarray:
    """Nudged (and climbing-image) forces on the moving images (see the module docstring)."""
    tangents = improved_tangents(positions, energies)
    moving = energies[1:-1]
    climber = int(np.argmax(moving)) if settings.climb else -1
    out = np.empty_like(forces)
    for k, (tau, f) in enumerate(zip(tangents, forces, strict=True)):
        i = k + 1
        along = float(np.vdot(f, tau))
        if k == climber:
            out[k] = f - 2.0 * along * tau
            continue
        stretch = np.linalg.norm(positions[i + 1] - positions[i]) - np.linalg.norm(
            positions[i] - positions[i - 1]
        )
        out[k] = f - along * tau + settings.spring * stretch * tau
    return out


@dataclass
class _Running:
    band: Band
    index: int
    optimizer: Any = field(default_factory=FIREOptimizer)
    steps: int = 0
    started: float = 0.0

    @property
    def atoms(self) -> int:
        return sum(len(image) for image in self.band.images[1:-1])

    def positions(self) -> np.ndarray:
        return np.array([image.positions for image in self.band.images])


def run_bands(
    bands: Sequence[Band],
    potential: Potential,
    settings: NEBSettings,
    *,
    max_batch_atoms: int | None = None,
    on_result: Callable[[int, BandResult], None] | None = None,
) -> list[BandResult]:
    """Optimise every band; per band, its result (a failure is that band's alone)."""
    results: list[BandResult | None] = [None] * len(bands)
    pending = deque(_Running(band, k) for k, band in enumerate(bands))
    active: list[_Running] = []
    budget = max_batch_atoms

    def finish(item: _Running, result: BandResult) -> None:
        result.seconds = time.perf_counter() - item.started
        results[item.index] = result
        if on_result is not None:
            on_result(item.index, result)

    while pending or active:
        while pending and (
            not active or (budget is not None and sum(a.atoms for a in active) + pending[0].atoms
                           <= budget)
        ):  # fmt: skip
            item = pending.popleft()
            item.started = time.perf_counter()
            active.append(item)
        systems = [image for item in active for image in item.band.images[1:-1]]
        try:
            evaluation = potential.evaluate(systems)
        except Exception as exc:
            if is_out_of_memory(exc) and len(active) > 1:
                keep = max(1, len(active) // 2)
                budget = max(1, sum(a.atoms for a in active[:keep]))
                log.warning("out of memory with %d bands; batch limit now %d atoms",
                            len(active), budget)  # fmt: skip
                for item in reversed(active[keep:]):
                    pending.appendleft(item)
                active = active[:keep]
                empty_device_cache()
                continue
            if len(active) == 1:
                (item,) = active
                finish(item, _failed(item, f"{type(exc).__name__}: {exc}"))
                active = []
                continue
            for item in active:  # find the band that fails alone; the others go back
                try:
                    potential.evaluate(item.band.images[1:-1])
                except Exception as single:
                    finish(item, _failed(item, f"{type(single).__name__}: {single}"))
                else:
                    pending.appendleft(item)
            active = []
            continue
        still = []
        offset = 0
        for item in active:
            n = len(item.band.images) - 2
            energy = np.asarray(evaluation.energy[offset : offset + n], dtype=float)
            forces = np.array(evaluation.forces[offset : offset + n], dtype=float)
            offset += n
            outcome = _advance(item, energy, forces, settings)
            if outcome is None:
                still.append(item)
            else:
                finish(item, outcome)
        active = still
    return [r if r is not None else BandResult("?", False, 0, [], np.nan, error="not run")
            for r in results]  # fmt: skip


def _failed(item: _Running, why: str) -> BandResult:
    return BandResult(item.band.key, False, item.steps, [], float("nan"), error=why)


def _advance(
    item: _Running, energy: np.ndarray, forces: np.ndarray, settings: NEBSettings
) -> BandResult | None:
    band = item.band
    if not (np.isfinite(energy).all() and np.isfinite(forces).all()):
        return _failed(item, "non-finite energy or forces")
    energies = np.concatenate([[band.initial_energy], energy, [band.final_energy]])
    positions = item.positions()
    nudged = nudged_forces(positions, energies, forces, settings)
    fmax = float(np.linalg.norm(nudged, axis=-1).max())
    converged = fmax <= settings.fmax
    if converged or item.steps >= settings.max_steps:
        return BandResult(
            band.key,
            converged,
            item.steps,
            [float(e) for e in energies],
            fmax,
            images=[image.copy() for image in band.images],
        )
    moved = item.optimizer.step(positions[1:-1].reshape(-1, 3), nudged.reshape(-1, 3))
    moved = moved.reshape(positions[1:-1].shape)
    for image, new in zip(band.images[1:-1], moved, strict=True):
        image.positions = new
    item.steps += 1
    return None


@dataclass
class VacancyHop:
    """End points of one vacancy hop: the ion at ``start`` moves into the vacancy at ``end``."""

    initial: Any  # pymatgen Structure: supercell with the vacancy at ``end``
    final: Any  # the same atoms, the hopping ion now at ``end`` (vacancy at ``start``)
    distance_angstrom: float
    repeats: list[int]

    def describe(self) -> dict[str, Any]:
        """The hop as plain values, for provenance."""
        return {
            "distance_angstrom": round(self.distance_angstrom, 3),
            "repeats": self.repeats,
            "atoms": len(self.initial),
        }


def vacancy_hops(
    structure: Any,
    ion: str,
    *,
    min_length: float,
    max_atoms: int,
    hops: int,
    max_hop: float = 4.5,
) -> list[VacancyHop]:
    """The ``hops`` shortest vacancy hops of the working ion, at most ``max_hop`` Å long.

    The supercell repeats the cell until every height is >= ``min_length`` (fewer repeats
    while it holds more than ``max_atoms``). Its working-ion sites are split into symmetry
    orbits (spglib, 0.1 Å). Hops between sites of one orbit come first (the vacancy at the
    orbit's first site, the nearest ion of each distance class, 0.05 Å, moving into it):
    both end points are the same defect, and the hop is one step of a path through the
    orbit. Where no orbit has such a hop within ``max_hop`` (ordered cells of a disordered
    sublattice, where equivalent sites lie far apart), hops between any two sites are used
    and the barrier counts from the lower end point.
    """
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    from screen.transport.carriers import bounded_repeats

    repeats = bounded_repeats(structure, min_length, max_atoms)
    big = structure * repeats
    ions = sorted(k for k, site in enumerate(big) if site.specie.symbol == ion)
    try:
        orbits = SpacegroupAnalyzer(big, symprec=0.1).get_symmetrized_structure()
        groups = [sorted(set(g) & set(ions)) for g in orbits.equivalent_indices]
    except Exception:  # spglib gives up on some distorted cells: one orbit
        groups = [ions]

    def hops_from(vacancy: int, others: list[int]) -> list[VacancyHop]:
        if not others:
            return []
        distances = big.lattice.get_all_distances(
            [big[vacancy].frac_coords], big.frac_coords[others]
        )[0]
        found: list[VacancyHop] = []
        for k in np.argsort(distances, kind="stable"):
            d = float(distances[k])
            if d > max_hop:
                break
            if any(abs(d - h.distance_angstrom) < 0.05 for h in found):
                continue
            final = big.copy()
            final.replace(others[int(k)], ion, big[vacancy].frac_coords, coords_are_cartesian=False)
            found.append(
                VacancyHop(_without(big, vacancy), _without(final, vacancy), d, list(repeats))
            )
        return found

    within = [h for g in groups if len(g) > 1 for h in hops_from(g[0], g[1:])]
    if not within and len(ions) > 1:
        within = hops_from(ions[0], ions[1:])
    return sorted(within, key=lambda h: h.distance_angstrom)[:hops]


def _without(structure: Any, index: int) -> Any:
    out = structure.copy()
    out.remove_sites([index])
    return out
