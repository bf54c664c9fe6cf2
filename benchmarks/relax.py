"""Relaxation throughput: ASE one structure at a time vs batscreen's batched engine.

    .venv/bin/python benchmarks/relax.py                       # CHGNet, CPU, 32 structures
    .venv/bin/python benchmarks/relax.py --quick               # 8 structures
    .venv/bin/python benchmarks/relax.py --device cuda --potential random-mace-medium \
        --repeat 16 --batch-atoms 8000 --skip-ase-bfgs          # on a GPU

Structures: 32 rattled (0.05 Å) and strained (2 %) cells of 20-32 atoms from the curated
prototypes (layered O3, olivine, spinel, perovskite, antiperovskite, Na3PS4-type,
rock salt, antifluorite), volumes from the radius-ratio rule. Same potential, same
convergence (fmax 0.05 eV/Å, smax 0.2 GPa, 500 steps) for every method:

  (a) ASE FIRE + FrechetCellFilter, one structure at a time   (the usual baseline)
  (b) ASE BFGS + FrechetCellFilter, one structure at a time
  (c) batscreen engine, BFGS  (d) batscreen engine, FIRE (with --engine-fire)

Printed per method: structures/hour, steps per structure, time inside the potential and
the overhead factor (wall time / potential time), and the speed-up over (a). On a GPU
also microseconds per atom per step. One thread for torch and BLAS on CPU (the layout
batscreen uses per worker).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

CASES = [
    ("layered-o3-AMX2", (3, 2, 1), "M", ["Fe", "Cr", "Ti", "V"], {"A": "Na", "X": "O"}),
    ("olivine-AMTO4", (1, 1, 1), "M", ["Fe", "Mn", "Co", "Ni"], {"A": "Na", "T": "P"}),
    ("spinel-AM2X4", (2, 1, 1), "M", ["Cr", "Fe", "V", "Mn"], {"A": "Mg", "X": "O"}),
    ("perovskite-AMX3", (2, 2, 1), "M", ["Fe", "Mg", "Zn", "Ni"], {"A": "Na", "X": "F"}),
    ("antiperovskite-A3XY", (2, 2, 1), "Y", ["Cl", "Br", "I", "F"], {"A": "Na", "X": "O"}),
    ("na3ps4-tetragonal-A3TX4", (1, 1, 2), "X", ["S", "Se", "S", "Se"], {"A": "Na", "T": "P"}),
    ("antifluorite-A2X", (2, 2, 2), "X", ["O", "S", "Se", "O"], {"A": "Na"}),
]


def structures(repeat: int, quick: bool) -> list:
    import numpy as np
    from ase.build import bulk
    from pymatgen.io.ase import AseAtomsAdaptor

    from screen.candidates.generators.common import scale_to_predicted_volume
    from screen.candidates.prototypes import curated_structure

    rng = np.random.default_rng(0)
    out = []
    for name, cells, role, choices, fixed in CASES:
        proto = curated_structure(name)
        for element in choices:
            s = scale_to_predicted_volume(
                proto.substituted({**fixed, role: element}), proto.structure
            )
            out.append(AseAtomsAdaptor.get_atoms(s * cells))
    for formula, a in (("NaCl", 5.64), ("NaBr", 5.97), ("KCl", 6.29), ("MgO", 4.21)):
        out.append(bulk(formula, "rocksalt", a=a, cubic=True) * (2, 2, 1))  # 32 atoms
    cells = []
    for atoms in out[: 8 if quick else len(out)] * repeat:
        atoms = atoms.copy()
        strain = np.eye(3) + 0.02 * rng.standard_normal((3, 3))
        atoms.set_cell(atoms.cell.array @ strain, scale_atoms=True)
        atoms.positions += 0.05 * rng.standard_normal(atoms.positions.shape)
        cells.append(atoms)
    return cells


class Timed:
    """Wraps a potential and adds up the time spent in evaluate()."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.card, self.device, self.dtype = inner.card, inner.device, inner.dtype
        self.seconds = 0.0
        self.calls = 0

    @property
    def identity(self):
        return self.inner.identity

    def evaluate(self, systems):
        start = time.perf_counter()
        result = self.inner.evaluate(systems)
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return result


def load(name: str, device: str, dtype: str | None):
    from screen.potentials.cards import ModelCard
    from screen.potentials.registry import load_potential

    if name.startswith("random-mace-"):
        import tempfile

        from screen.testing import build_random_mace

        size = name.removeprefix("random-mace-")
        path = build_random_mace(tempfile.mktemp(suffix=".model"), size)
        card = ModelCard.for_file(
            path, backend="mace", energy_convention="toy", default_dtype=dtype or "float32"
        )
        return load_potential(card, device=device, dtype=dtype or "float32")
    return load_potential(name, device=device, dtype=dtype)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--potential", default="chgnet-0.3.0")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--repeat", type=int, default=1, help="copies of the structure set")
    parser.add_argument("--batch-atoms", type=int, default=None, help="engine batch limit")
    parser.add_argument("--quick", action="store_true", help="8 structures")
    parser.add_argument("--skip-ase-bfgs", action="store_true")
    parser.add_argument("--skip-ase", action="store_true")
    parser.add_argument("--engine-fire", action="store_true", help="also (d) engine FIRE")
    args = parser.parse_args()

    import torch
    from threadpoolctl import threadpool_limits

    from screen.relaxation.ase_relax import relax_atoms
    from screen.relaxation.engine import EngineStats, relax_many
    from screen.workflow.params import RelaxParams

    if args.device == "cpu":
        torch.set_num_threads(1)
    threadpool_limits(1)
    cells = structures(args.repeat, args.quick)
    n_atoms = sum(len(c) for c in cells)
    potential = Timed(load(args.potential, args.device, args.dtype))
    where = (
        torch.cuda.get_device_name(0)
        if args.device.startswith("cuda")
        else platform.processor() or platform.machine()
    )
    sizes = [len(c) for c in cells]
    print(
        f"{len(cells)} structures ({min(sizes)}-{max(sizes)} atoms, {n_atoms} in all), "
        f"{args.potential} on {args.device} ({where}), python {sys.version.split()[0]}, "
        f"torch {torch.__version__}"
    )
    rows = []

    def report(label: str, wall: float, steps: list[int], model: float, atom_steps: int) -> None:
        rows.append((label, wall))
        per_hour = 3600 * len(cells) / wall
        us = 1e6 * wall / atom_steps if atom_steps else float("nan")
        print(
            f"{label:<34} {wall:8.1f} s {per_hour:9.0f}/h  steps {sum(steps) / len(steps):6.1f}"
            f"  model {model:8.1f} s  overhead x{wall / model:5.3f}  {us:7.1f} us/atom/step"
            f"  speed-up x{rows[0][1] / wall:5.2f}"
        )

    for optimizer in ("FIRE", "BFGS"):
        if args.skip_ase or (optimizer == "BFGS" and args.skip_ase_bfgs):
            continue
        params = RelaxParams(optimizer=optimizer)
        potential.seconds = 0.0
        start = time.perf_counter()
        outs = [relax_atoms(c, potential, params) for c in cells]
        wall = time.perf_counter() - start
        steps = [o.steps + 1 for o in outs]  # evaluations = steps + 1
        atom_steps = sum(len(c) * s for c, s in zip(cells, steps, strict=True))
        report(f"(a/b) ASE {optimizer} one at a time", wall, steps, potential.seconds, atom_steps)
    for optimizer in ("BFGS", "FIRE") if args.engine_fire else ("BFGS",):
        params = RelaxParams(optimizer=optimizer)
        stats = EngineStats()
        potential.seconds = 0.0
        start = time.perf_counter()
        outs = relax_many(cells, potential, params, max_batch_atoms=args.batch_atoms, stats=stats)
        wall = time.perf_counter() - start
        steps = [o.steps + 1 if not isinstance(o, BaseException) else 0 for o in outs]
        atom_steps = sum(len(c) * s for c, s in zip(cells, steps, strict=True))
        failed = sum(isinstance(o, BaseException) for o in outs)
        unconverged = sum(not o.converged for o in outs if not isinstance(o, BaseException))
        report(
            f"(c/d) engine {optimizer} (batch {stats.max_batch})",
            wall,
            steps,
            potential.seconds,
            atom_steps,
        )
        if failed or unconverged:
            print(f"      {failed} failed, {unconverged} not converged")


if __name__ == "__main__":
    main()
