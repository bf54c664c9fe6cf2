"""Energy above hull for a campaign of 1,000 candidates across 20 chemical systems.

    .venv/bin/python benchmarks/hull.py [--candidates 1000] [--baseline 100]

The hull code's cost does not depend on where energies come from, so the energies are
synthetic and seeded: elements at fixed chemical potentials, every phase the prototype
library builds for the binary and ternary subsystems (screen/stability/phases.py) at a
random formation energy of -0.5 to -2.5 eV/atom, and 50 candidates per Na-M-X system
drawn from its ternary compositions at -0.05 to +0.3 eV/atom from the hull.

Timed, in one process:
- batscreen's HullBook: one PhaseDiagram per chemical system, built on first use and
  reused for every candidate (the estimate stage's path), with and without the
  candidates joining the hull (include_candidates);
- the obvious baseline: a PhaseDiagram built from the references for every candidate
  (on --baseline candidates, per-candidate time extrapolated).
The ratio of the per-candidate times is printed.
"""

from __future__ import annotations

import argparse
import random
import time

METALS = ["Fe", "Cr", "Ti", "Zr", "Sn", "Mo", "Zn", "Ca", "Cu", "Mn"]
ANIONS = ["O", "S"]


def build(n_candidates: int, seed: int = 0):
    from pymatgen.core import Composition
    from pymatgen.entries.computed_entries import ComputedEntry

    from screen.stability.phases import prototype_phases, subsystems

    rng = random.Random(seed)
    systems = [frozenset({"Na", m, x}) for m in METALS for x in ANIONS]
    mu = {el: -rng.uniform(1.0, 9.0) for s in systems for el in s}
    refs = [ComputedEntry(Composition(el), mu[el], entry_id=f"{el}-ref") for el in sorted(mu)]
    formulas: dict[frozenset[str], list[Composition]] = {}
    seen = set()
    t0 = time.perf_counter()
    for sub in sorted({sub for s in systems for sub in subsystems(s)}):
        for phase in prototype_phases(sub):
            comp = phase.structure.composition.reduced_composition
            if comp.reduced_formula in seen:
                continue
            seen.add(comp.reduced_formula)
            ef = -rng.uniform(0.5, 2.5)
            energy = sum(n * mu[str(el)] for el, n in comp.items()) + ef * comp.num_atoms
            refs.append(ComputedEntry(comp, energy, entry_id=f"ref-{len(refs)}"))
            if len(sub) == 3:
                formulas.setdefault(frozenset(sub), []).append(comp)
    built = time.perf_counter() - t0
    per_system = n_candidates // len(systems)
    candidates = []
    from screen.stability.hull import HullBook

    exact = HullBook(refs, "synthetic")
    for system in systems:
        options = formulas.get(system) or [Composition({el: 1 for el in system})]
        for _ in range(per_system):
            comp = rng.choice(options)
            pd = exact.diagram(system)
            hull = pd.get_hull_energy_per_atom(comp)
            offset = rng.uniform(-0.05, 0.3)
            candidates.append(
                ComputedEntry(
                    comp, (hull + offset) * comp.num_atoms, entry_id=f"cand-{len(candidates)}"
                )
            )
    return systems, refs, candidates, built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", type=int, default=1000)
    parser.add_argument("--baseline", type=int, default=100)
    args = parser.parse_args()

    from pymatgen.analysis.phase_diagram import PhaseDiagram

    from screen.stability.hull import HullBook

    systems, refs, candidates, built = build(args.candidates)
    print(
        f"{len(candidates)} candidates in {len(systems)} chemical systems; {len(refs)} "
        f"reference entries (phase enumeration {built:.1f} s, not timed below)"
    )

    t0 = time.perf_counter()
    book = HullBook(refs, "synthetic")
    cached = [book.assess(c) for c in candidates]
    t_cached = time.perf_counter() - t0

    t0 = time.perf_counter()
    book_with = HullBook(refs, "synthetic", extra=candidates)
    with_candidates = [book_with.assess(c) for c in candidates]
    t_with = time.perf_counter() - t0

    sample = candidates[:: max(1, len(candidates) // args.baseline)][: args.baseline]
    t0 = time.perf_counter()
    for entry in sample:
        elements = {el.symbol for el in entry.composition.elements}
        pool = [e for e in refs if {el.symbol for el in e.composition.elements} <= elements]
        pd = PhaseDiagram(pool)
        pd.get_decomp_and_e_above_hull(entry, allow_negative=True)
    t_base = (time.perf_counter() - t0) / len(sample)

    per_cached = t_cached / len(candidates)
    stable = sum(a.stable for a in cached)
    print(
        f"HullBook (cached per system):      {t_cached:7.2f} s  "
        f"{per_cached * 1e3:7.2f} ms/candidate"
    )
    print(
        f"HullBook + candidates in the hull: {t_with:7.2f} s  "
        f"{t_with / len(candidates) * 1e3:7.2f} ms/candidate"
    )
    print(
        f"baseline, one PhaseDiagram per candidate ({len(sample)} timed): "
        f"{t_base * 1e3:7.2f} ms/candidate"
    )
    print(f"speed-up of the cache over the baseline: {t_base / per_cached:.1f}x")
    print(
        f"{stable} of {len(candidates)} candidates on the reference hull; "
        f"{sum(a.stable for a in with_candidates)} with candidates competing"
    )


if __name__ == "__main__":
    main()
