"""Candidate generation and deduplication at scale (>= 10,000 candidates).

    .venv/bin/python benchmarks/generate.py

The space is a realistic Na-ion cathode search: Na on every cathode prototype of the
curated library (layered O3/P2, perovskite, olivine, spinel, alluaudite, Chevrel,
antifluorite) and on pymatgen's ionic binary and ternary AFLOW prototypes, 24 framework
cations, oxide, nitride,
chalcogenide, halide and polyanion anions, plus Li/K -> Na ion exchange of the prototype
references. The substitution-likelihood filter is off (threshold 0), so every
enumerated candidate is built. The space grows with the number of framework cations
(first 1, 5, 11, 24 of the list: about 1k to 12k candidates); for each, generation is
timed as in a campaign (one process, the generate stage), then deduplication of all its
candidates, for batscreen's grouped merge (formula, then space group, then
StructureMatcher) and for pymatgen's StructureMatcher.group_structures on the same
records (the obvious baseline). The growth of the dedup time from the smallest to the
largest space is printed next to linear and quadratic growth. Splitting by space group
(symprec 0.1 Å) can keep apart two near-duplicates whose detected symmetry differs; the
duplicate counts of both methods are printed side by side.
"""

from __future__ import annotations

import argparse
import time

SPACE = {
    "working_ions": ["Na"],
    "role": "cathode",
    "framework_cations": [
        "Ti",
        "V",
        "Cr",
        "Mn",
        "Fe",
        "Co",
        "Ni",
        "Cu",
        "Zn",
        "Mg",
        "Al",
        "Ca",
        "Sn",
        "Zr",
        "Nb",
        "Mo",
        "W",
        "Ga",
        "In",
        "Sc",
        "Y",
        "Sb",
        "Bi",
        "Ge",
    ],
    "anions": ["O", "S", "Se", "N", "F", "Cl", "PO4", "SO4", "SiO4", "BO3"],
    "max_atoms": 80,
    "max_candidates": 1_000_000,
    "critical_policy": "report-only",
}


def _space(n_cations: int) -> tuple[object, object]:
    from screen.workflow.params import GenerateParams
    from screen.workflow.space import ChemicalSpace

    space = ChemicalSpace(**{**SPACE, "framework_cations": SPACE["framework_cations"][:n_cations]})
    params = GenerateParams(
        generators=["prototype-substitution", "ion-exchange"],
        aflow_prototypes=True,
        substitution_threshold=0.0,
    )
    return space, params


def generate_all(n_cations: int) -> tuple[list, float]:
    """Every candidate of the space with the first ``n_cations`` cations, timed."""
    import screen

    space, params = _space(n_cations)
    start = time.perf_counter()
    records = screen.generate(space, params)  # type: ignore[arg-type]
    return records, time.perf_counter() - start


def time_dedup(records: list) -> tuple[float, float, int, int]:
    """(batscreen grouped merge s, pymatgen group_structures s, duplicates each)."""
    from pymatgen.analysis.structure_matcher import StructureMatcher

    from screen.candidates.filters import merge_duplicates
    from screen.workflow.params import PrefilterParams

    subset = [r.copy_for_stage() for r in records if r.status["generate"].state == "ok"]
    for r in subset:
        r.mark("prefilter", "ok")
    start = time.perf_counter()
    merged = merge_duplicates(subset, PrefilterParams())
    ours = time.perf_counter() - start
    structures = [r.initial_structure() for r in subset]
    start = time.perf_counter()
    groups = StructureMatcher().group_structures(structures)
    theirs = time.perf_counter() - start
    return ours, theirs, merged, len(subset) - len(groups)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cations", type=int, nargs="+", default=[1, 5, 11, 24])
    args = parser.parse_args()
    generate_all(1)  # imports and caches of the prototype library
    print(
        f"{'cations':>7} {'candidates':>10} {'gen (s)':>8} {'gen/s':>6} {'dedup (s)':>9}"
        f" {'dedup/s':>8} {'pymatgen (s)':>12} {'ratio':>6} {'dups':>5} {'pmg dups':>8}"
    )
    rows = []
    for n in args.cations:
        records, seconds = generate_all(n)
        ours, theirs, dups, pmg_dups = time_dedup(records)
        rows.append((len(records), ours))
        print(
            f"{n:>7} {len(records):>10} {seconds:>8.1f} {len(records) / seconds:>6.0f}"
            f" {ours:>9.1f} {len(records) / ours:>8.0f} {theirs:>12.1f}"
            f" {theirs / ours:>5.1f}x {dups:>5} {pmg_dups:>8}"
        )
    (n0, t0), (n1, t1) = rows[0], rows[-1]
    growth = n1 / n0
    print(
        f"deduplication time grows {t1 / t0:.1f}x for {growth:.1f}x more candidates "
        f"(linear {growth:.1f}x, quadratic {growth**2:.0f}x)"
    )


if __name__ == "__main__":
    main()
