"""BVSE percolation barriers of ~50-atom cells: seconds per cell, one thread.

    .venv/bin/python benchmarks/bvse.py [--repeats 3] [--resolution 0.2] [--no-bvlain]

Cells (40-64 atoms): tetragonal Na3PS4 2x2x1 (Na), MgAl2O4 spinel conventional (Mg),
olivine LiFePO4 1x2x1 (Li), layered O3 NaFeO2 4x4x1 (Na, a non-orthogonal cell), rock-salt
NaCl 2x2x2 conventional (Na). Timed, in one process, with BLAS/OpenMP limited to one
thread (threadpoolctl), best of --repeats, each call from the structure to the barriers
(oxidation states by BVAnalyzer included):
- batscreen: ``screen.transport.bvse.bvse_barriers`` (cutoff 8 Å, 26-neighbour percolation);
- if importable, bvlain (MIT; not a batscreen dependency): ``Lain().read_structure``,
  ``bvse_distribution(resolution=...)`` (its defaults: r_cut 10 Å, k 100 neighbours, ASE
  covalent radii) and ``percolation_barriers(encut=5.0)`` (26-neighbour percolation on a
  2x2x2 tiling of a grid that repeats its end points).
"""

from __future__ import annotations

import argparse
import importlib
import math
import time
import warnings

NUMERIC_MODULES = ["numpy", "scipy.ndimage", "scipy.spatial", "scipy.special", "pymatgen.core"]


def cells():
    from pymatgen.core import Lattice, Structure

    from screen.candidates.prototypes import load_prototypes

    library = load_prototypes()
    spinel = Structure.from_spacegroup(
        227, Lattice.cubic(8.083), ["Mg", "Al", "O"], [[0, 0, 0], [0.625] * 3, [0.3874] * 3]
    )
    nacl = Structure.from_spacegroup(
        225, Lattice.cubic(5.640), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    return [
        (
            "Na3PS4 2x2x1",
            library["na3ps4-tetragonal-A3TX4"].reference_structure() * (2, 2, 1),
            "Na",
        ),
        ("MgAl2O4 conv", spinel, "Mg"),
        ("LiFePO4 1x2x1", library["olivine-AMTO4"].reference_structure() * (1, 2, 1), "Li"),
        ("NaFeO2 O3 4x4x1", library["layered-o3-AMX2"].reference_structure() * (4, 4, 1), "Na"),
        ("NaCl 2x2x2", nacl * (2, 2, 2), "Na"),
    ]


def best_of(repeats: int, call):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - t0)
    return min(times), result


def run_ours(structure, ion: str, resolution: float):
    from screen.transport.bvse import bvse_barriers

    r = bvse_barriers(structure, ion, resolution=resolution)
    return (r.barrier_1d_eV, r.barrier_2d_eV, r.barrier_3d_eV), r.grid_shape


def run_bvlain(structure, ion: str, charge: int, resolution: float):
    from bvlain import Lain

    calc = Lain(verbose=False)
    calc.read_structure(structure)
    calc.bvse_distribution(mobile_ion=f"{ion}{charge}+", resolution=resolution)
    found = calc.percolation_barriers(encut=5.0)
    return tuple(float(found[k]) for k in ("E_1D", "E_2D", "E_3D"))


def fmt(barriers) -> str:
    return "/".join("inf" if math.isinf(b) else f"{b:.3f}" for b in barriers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--resolution", type=float, default=0.2)
    parser.add_argument("--no-bvlain", action="store_true")
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from screen.ions import ION_CHARGE

    warnings.filterwarnings("ignore")
    have_bvlain = False
    if not args.no_bvlain:
        try:
            import bvlain  # noqa: F401

            have_bvlain = True
        except ImportError:
            print("bvlain not importable: timing batscreen only")
    for module in NUMERIC_MODULES:  # BLAS/OpenMP must be loaded for the limit to reach them
        importlib.import_module(module)
    threadpool_limits(1)
    run_ours(cells()[-1][1], "Na", args.resolution)  # imports and caches outside the timing

    print(f"one thread, best of {args.repeats}, grid {args.resolution} Å; barriers 1D/2D/3D eV")
    header = f"{'cell':16s} {'atoms':>5s} {'grid':>12s} {'ours s':>7s} {'ours barriers':>20s}"
    if have_bvlain:
        header += f" {'bvlain s':>8s} {'speed-up':>8s} {'bvlain barriers':>20s}"
    print(header)
    total_ours = total_bvlain = 0.0
    for name, structure, ion in cells():
        seconds, (barriers, shape) = best_of(
            args.repeats, lambda s=structure, i=ion: run_ours(s, i, args.resolution)
        )
        total_ours += seconds
        grid = "x".join(str(n) for n in shape)
        line = f"{name:16s} {len(structure):5d} {grid:>12s} {seconds:7.3f} {fmt(barriers):>20s}"
        if have_bvlain:
            theirs_s, theirs = best_of(
                args.repeats,
                lambda s=structure, i=ion: run_bvlain(s, i, ION_CHARGE[i], args.resolution),
            )
            total_bvlain += theirs_s
            line += f" {theirs_s:8.2f} {theirs_s / seconds:7.1f}x {fmt(theirs):>20s}"
        print(line, flush=True)
    summary = f"total: ours {total_ours:.2f} s"
    if have_bvlain:
        summary += f", bvlain {total_bvlain:.2f} s ({total_bvlain / total_ours:.1f}x)"
    print(summary)


if __name__ == "__main__":
    main()
