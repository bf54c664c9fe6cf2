"""MD throughput: batscreen's batched Langevin engine vs ASE's Langevin, one system at a time.

    .venv/bin/python benchmarks/md.py                         # CHGNet, CPU, 6 systems
    .venv/bin/python benchmarks/md.py --device cuda --copies 16 --steps 200   # on a GPU

Systems: candidates x temperatures as an md stage runs them: Na3PS4 (tetragonal, 1x1x2,
32 atoms), NaCl (rock salt, 2x1x1 conventional, 16 atoms) and MgAl2O4 (spinel, primitive,
14 atoms) at 800 and 1000 K, repeated ``--copies`` times (``--small``: unit cells).
The same potential, time step (2 fs) and friction (1/ps) for both:

  (a) ASE ``Langevin`` with the potential as an ASE calculator, one system after another
  (b) batscreen ``run_langevin``: every system in one batch, one potential call per step

Printed: atom-steps per second of each and the ratio (b)/(a). On CPU batching does not pay
(benchmarks/relax_workers.py, docs/relaxation.md), so expect a ratio near 1 there; the
batched engine is for GPUs.
One thread for torch and BLAS on CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def systems(copies: int, small: bool) -> list:
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.ase import AseAtomsAdaptor

    from screen.candidates.prototypes import curated_structure
    from screen.transport.md import MDSystem

    na3ps4 = curated_structure("na3ps4-tetragonal-A3TX4").structure
    nacl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    spinel = Structure.from_spacegroup(
        227, Lattice.cubic(8.083), ["Mg", "Al", "O"], [[0, 0, 0], [0.625] * 3, [0.3874] * 3]
    ).get_primitive_structure()
    cells = [na3ps4, nacl, spinel] if small else [na3ps4 * (1, 1, 2), nacl * (2, 1, 1), spinel]
    out = []
    for copy in range(copies):
        for k, structure in enumerate(cells):
            for temperature in (800.0, 1000.0):
                atoms = AseAtomsAdaptor.get_atoms(structure)
                out.append(MDSystem(f"c{copy}-s{k}", atoms, temperature))
    return out


def run_ase(batch: list, potential, steps: int, dt_fs: float, friction_per_fs: float) -> float:
    import warnings

    import numpy as np
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.units import fs

    from screen.potentials.base import make_calculator

    warnings.filterwarnings("ignore", category=DeprecationWarning)  # ASE's own API churn
    warnings.filterwarnings("ignore", category=FutureWarning)
    start = time.perf_counter()
    for system in batch:
        atoms = system.atoms.copy()
        atoms.calc = make_calculator(potential)
        MaxwellBoltzmannDistribution(
            atoms, temperature_K=system.temperature_K, rng=np.random.default_rng(0)
        )
        dyn = Langevin(
            atoms, dt_fs * fs, temperature_K=system.temperature_K, friction=friction_per_fs / fs
        )
        dyn.run(steps)
    return time.perf_counter() - start


def run_engine(batch: list, potential, steps: int, dt_fs: float, friction_per_fs: float) -> float:
    from screen.transport.md import LangevinSettings, run_langevin

    settings = LangevinSettings(
        timestep_fs=dt_fs,
        production_steps=steps,
        equilibration_steps=0,
        friction_per_fs=friction_per_fs,
        sample_every=10,
    )
    start = time.perf_counter()
    out = run_langevin(batch, potential, settings, max_batch_atoms=10**6)
    elapsed = time.perf_counter() - start
    failed = [t.key for t in out if t.error]
    if failed:
        print("engine: failed systems", failed)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--potential", default="chgnet-0.3.0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--small", action="store_true", help="unit cells (8-16 atoms)")
    args = parser.parse_args()

    import torch

    from screen.potentials.registry import load_potential

    if args.device == "cpu":
        torch.set_num_threads(1)
    potential = load_potential(args.potential, device=args.device)
    batch = systems(args.copies, args.small)
    atoms = sum(len(s.atoms) for s in batch)
    print(
        f"{len(batch)} systems, {atoms} atoms, {args.steps} steps of 2 fs, {args.potential} on "
        f"{args.device} ({platform.processor() or platform.machine()}, torch {torch.__version__})"
    )
    run_engine(batch[:1], potential, 3, 2.0, 0.001)  # warm-up (model load, first graph)
    t_ase = run_ase(batch, potential, args.steps, 2.0, 0.001)
    t_eng = run_engine(batch, potential, args.steps, 2.0, 0.001)
    work = atoms * args.steps
    print(f"(a) ASE Langevin, one at a time : {t_ase:8.1f} s  {work / t_ase:10.1f} atom-steps/s")
    print(f"(b) batscreen batched Langevin  : {t_eng:8.1f} s  {work / t_eng:10.1f} atom-steps/s")
    print(f"ratio (b)/(a): {t_ase / t_eng:.2f}x")


if __name__ == "__main__":
    main()
