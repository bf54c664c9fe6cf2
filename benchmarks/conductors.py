"""Fast against slow ionic conductors: does the conductivity ranking separate them?

    .venv/bin/python benchmarks/conductors.py [--only NAME ...] [--out results.json]
    .venv/bin/python benchmarks/conductors.py --from results.json [--tier2 N --out r2.json]

Data: benchmarks/data/conductors.yaml (26 Li, Na, Mg and Zn conductors with measured
room-temperature conductivity and/or activation energy, a class fast / slow / intermediate,
references, and whether the coordinates are refined or approximate; contested claims
are marked). Each structure is built from its space group and sites; a partially occupied
mobile-ion sublattice is filled greedily (farthest-point, deterministic) to an ordered
approximant whose record says the sublattice was disordered (as the generators do).

Per material, through the product's own code: relaxation with the bundled CHGNet (the
relax stage's settings, variable cell, one batch), then the estimate stage with only the
bvse and carriers estimators (electrolyte role): tier 0, the BVSE percolation barrier Em;
tier 1, the effective activation energy Ea = Em (carriers given) or Em + Ef/2 (Frenkel
pair relaxed with CHGNet). The tier-1 estimate runs with torch and BLAS on one thread;
its cost per candidate is the BVSE time plus the wall time of that candidate's defect
relaxations, also scaled to 50 atoms.

Tier 2 (``--tier2 N``): the md stage's NEB (screen/transport/stage.py: neb_barriers) of
the shortest vacancy hops for the N best by tier 1, bands batched in flight up to 1500
atoms per potential call; the combined ranking uses Em(NEB) + Ef/2 where tier 2 ran and
tier 1 elsewhere.

Printed, for each tier: the AUC of fast against slow (the probability that a fast
material ranks ahead of a slow one; ties count one half; a material the tier cannot
treat ranks last), the Spearman correlation with the experimental Ea, and the cost.
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import yaml

DATA = Path(__file__).with_name("data") / "conductors.yaml"
TIERS = {
    "bvse": ("bvse_barrier", "tier 0: BVSE barrier Em"),
    "tier1": ("effective_activation_energy", "tier 1: Em (+ Ef/2 for Frenkel pairs)"),
    "neb": ("neb_barrier", "tier 2 NEB Em alone (best N only)"),
    "tier2": ("neb_activation_energy", "tier 2: NEB Em (+ Ef/2), best N only"),
    "combined": ("combined", "combined: tier 2 where run, else tier 1"),
}


def load(path: Path = DATA) -> list[dict[str, Any]]:
    """The materials of the data file."""
    return yaml.safe_load(path.read_text())["materials"]


def build(entry: dict[str, Any]):
    """The structure of one entry (partial occupancies kept)."""
    from pymatgen.core import Lattice, Structure

    spec = entry["structure"]
    lat = spec["lattice"]
    lattice = Lattice.from_parameters(
        lat["a"], lat["b"], lat["c"], lat["alpha"], lat["beta"], lat["gamma"]
    )
    return Structure.from_spacegroup(
        spec["spacegroup"],
        lattice,
        [site["species"] for site in spec["sites"]],
        [site["coords"] for site in spec["sites"]],
        tol=0.01,
    )


def ordered(structure, ion: str):
    """An ordered approximant: each partially occupied orbit filled farthest-point first.

    Sites of one occupancy value form a group that gets round(occupancy x sites) ions; the
    first is the group's first site, each next one the site farthest from those chosen.
    """
    from pymatgen.core import Structure

    if structure.is_ordered:
        return structure, False
    species, coords, groups = [], [], {}
    for site in structure:
        if site.is_ordered:
            species.append(site.specie)
            coords.append(site.frac_coords)
            continue
        (element, occupancy), *others = site.species.items()
        if others or element.symbol != ion:
            raise ValueError(f"only the mobile ion may be partially occupied: {site}")
        groups.setdefault(round(occupancy, 4), []).append(site.frac_coords)
    lattice = structure.lattice
    for occupancy, fracs in groups.items():
        fracs = np.array(fracs)
        count = round(occupancy * len(fracs))
        chosen = [0]
        while len(chosen) < count:
            gaps = lattice.get_all_distances(fracs, fracs[chosen]).min(axis=1)
            gaps[chosen] = -1.0
            chosen.append(int(np.argmax(gaps)))
        species += [ion] * count
        coords += [fracs[k] for k in chosen]
    return Structure(lattice, species, coords), True


def auc(scores: dict[str, float], classes: dict[str, str]) -> float:
    """P(a fast material scores lower than a slow one); ties and missing count as stated."""
    fast = [scores.get(n, math.inf) for n, c in classes.items() if c == "fast"]
    slow = [scores.get(n, math.inf) for n, c in classes.items() if c == "slow"]
    if not fast or not slow:
        return math.nan
    wins = sum(1.0 if f < s else 0.5 if f == s else 0.0 for f in fast for s in slow)
    return wins / (len(fast) * len(slow))


def spearman(scores: dict[str, float], ea: dict[str, float]) -> tuple[float, int]:
    """Spearman rho of the scores against the experimental Ea (materials with both)."""
    from scipy.stats import spearmanr

    names = [n for n in ea if n in scores and math.isfinite(scores[n])]
    if len(names) < 3:
        return math.nan, len(names)
    rho = spearmanr([scores[n] for n in names], [ea[n] for n in names]).statistic
    return float(rho), len(names)


def run(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Relax and estimate every entry; one row of results per entry."""
    import torch
    from threadpoolctl import threadpool_limits

    from screen.estimators.stage import estimate_records
    from screen.potentials.registry import load_potential
    from screen.records import record_from_structure
    from screen.relaxation.stage import relax_records
    from screen.transport.bvse import bvse_landscape
    from screen.workflow.spec import ChemicalSpace, EstimateParams, RelaxParams

    potential = load_potential("chgnet-0.3.0")
    records, rows = [], {}
    for entry in entries:
        structure, disordered = ordered(build(entry), entry["ion"])
        reduced = structure.get_primitive_structure() if not disordered else structure
        record = record_from_structure(reduced, {"generator": "benchmark", "name": entry["name"]})
        record.set_working_ion(entry["ion"])
        if disordered:
            record.provenance["disordered_species"] = [entry["ion"]]
        records.append(record)
        rows[record.id] = {"name": entry["name"], "atoms": len(reduced), "ordered": disordered}
    t0 = time.perf_counter()
    relaxed = relax_records(records, RelaxParams(), potential)
    relax_s = time.perf_counter() - t0
    print(f"relaxed {len(records)} structures in {relax_s:.0f} s (CHGNet, 2 threads)", flush=True)
    params = EstimateParams.model_validate(
        {"hull": False, "electrode": False, "capacity": False, "window": False}
    )
    space = ChemicalSpace(
        working_ions=["Li", "Na", "Mg", "Zn"],
        anions=["O", "S", "Se", "Cl", "I", "N"],
        role="electrolyte",
        critical_policy="report-only",
    )
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1):
            for record in relaxed:  # BVSE alone, timed per candidate
                row = rows[record.id]
                row["relax_converged"] = record.value("relax_converged")
                if not record.active:
                    continue
                t = time.perf_counter()
                try:
                    bvse_landscape(record.current_structure(), str(record.working_ion))
                except Exception as exc:
                    row["bvse_error"] = str(exc)
                row["bvse_s"] = time.perf_counter() - t
            t = time.perf_counter()
            done = estimate_records([r for r in relaxed if r.active], space, params, potential,
                                    RelaxParams()).records  # fmt: skip
            estimate_s = time.perf_counter() - t
    finally:
        torch.set_num_threads(torch_threads)
    print(f"estimated (bvse + carriers) in {estimate_s:.0f} s, one thread", flush=True)
    for record in done:
        row = rows[record.id]
        for name in ("bvse_barrier", "bvse_dimensionality", "carrier_kind",
                     "carrier_formation_energy", "effective_activation_energy"):  # fmt: skip
            row[name] = record.value(name)
        carriers = record.provenance.get("carriers", {})
        row["frenkel_pairs"] = carriers.get("frenkel_pairs", [])
        row["survey"] = carriers.get("survey", {})
        row["flags"] = record.value("estimate_flags")
        row["defect_s"] = sum(p.get("wall_time_s", 0.0) for p in row["frenkel_pairs"])
        row["tier1_s"] = row.get("bvse_s", 0.0) + row["defect_s"]
        row["ion"] = record.working_ion
        row["relaxed_structure"] = record.relaxed_structure
    return list(rows.values())


def tier2(rows: list[dict[str, Any]], n: int, neb: dict[str, Any]) -> None:
    """NEB vacancy-hop barriers (the md stage's tier 2) for the ``n`` best by tier 1."""
    import torch

    from screen.potentials.registry import load_potential
    from screen.records import Record
    from screen.transport.stage import neb_barriers
    from screen.workflow.params import MDParams

    ranked = sorted((r for r in rows if r.get("effective_activation_energy") is not None),
                    key=lambda r: r["effective_activation_energy"])[:n]  # fmt: skip
    potential = load_potential("chgnet-0.3.0")
    records = []
    for row in ranked:
        record = Record(id=row["name"], formula=row["name"], structure=row["relaxed_structure"])
        record.relaxed_structure = row["relaxed_structure"]
        record.set_working_ion(row["ion"])
        for name in ("carrier_kind", "carrier_formation_energy"):
            if row.get(name) is not None:
                record.set_property(name, row[name], unit="", method="tier 1")
        records.append(record)
    params = MDParams(top_k=n, run_md=False, neb={"enabled": True, **neb})
    t = time.perf_counter()
    neb_barriers(records, params, potential, max_batch_atoms=1500)
    seconds = time.perf_counter() - t
    print(f"tier 2: NEB for {len(records)} candidates in {seconds:.0f} s "
          f"({torch.get_num_threads()} threads, bands batched up to 1500 atoms per call)",
          flush=True)  # fmt: skip
    for row, record in zip(ranked, records, strict=True):
        row["neb"] = record.provenance.get("neb")
        row["neb_barrier"] = record.value("neb_barrier")
        row["neb_activation_energy"] = record.value("neb_activation_energy")
        row["tier2_s"] = seconds / max(len(records), 1)


def report(rows: list[dict[str, Any]], entries: list[dict[str, Any]]) -> None:
    """The per-material table and, per tier, AUC, Spearman and cost."""
    by_name = {e["name"]: e for e in entries}
    classes = {r["name"]: by_name[r["name"]]["class"] for r in rows}
    ea = {n: e["ea_eV"] for n, e in by_name.items() if e.get("ea_eV") is not None}

    def num(value: Any) -> str:
        return "-" if value is None else f"{value:.2f}"

    print(f"\n{'material':22s} {'ion':3s} {'class':12s} {'atoms':>5s} {'Em':>5s} "
          f"{'carriers':34s} {'Ef':>5s} {'Ea_eff':>6s} {'Em NEB':>6s} {'Ea exp':>6s} "
          f"{'s':>5s}")  # fmt: skip
    for r in rows:
        e = by_name[r["name"]]
        mark = "*" if e.get("contested") else " "
        print(
            f"{r['name'][:21]:21s}{mark} {e['ion']:3s} {e['class']:12s} {r['atoms']:5d} "
            f"{num(r.get('bvse_barrier')):>5s} {str(r.get('carrier_kind') or '-')[:34]:34s} "
            f"{num(r.get('carrier_formation_energy')):>5s} "
            f"{num(r.get('effective_activation_energy')):>6s} {num(r.get('neb_barrier')):>6s} "
            f"{num(e.get('ea_eV')):>6s} "
            f"{r.get('tier1_s', 0.0):5.1f}"
        )
    print("(* contested)")
    n_fast = sum(c == "fast" for c in classes.values())
    n_slow = sum(c == "slow" for c in classes.values())
    print(f"\n{n_fast} fast, {n_slow} slow, {len(rows) - n_fast - n_slow} intermediate; "
          f"{len(ea)} with a measured Ea")  # fmt: skip
    for row in rows:
        row["combined"] = (
            row.get("neb_activation_energy")
            if row.get("neb_activation_energy") is not None
            else row.get("effective_activation_energy")
        )
    for prop, label in TIERS.values():
        scores = {r["name"]: r[prop] for r in rows if r.get(prop) is not None}
        rho, n = spearman(scores, ea)
        print(f"{label:40s} AUC {auc(scores, classes):.3f}  Spearman vs Ea {rho:+.2f} "
              f"(n={n})  treated {len(scores)}/{len(rows)}")  # fmt: skip
        uncontested = {n: c for n, c in classes.items() if not by_name[n].get("contested")}
        print(f"{'':40s} AUC without contested {auc(scores, uncontested):.3f}")
    costs = [(r["tier1_s"], r["atoms"], r) for r in rows if "tier1_s" in r]
    if costs:
        per50 = [s * 50 / max(max((p["atoms"] for p in r["frenkel_pairs"]), default=a), 1)
                 for s, a, r in costs]  # fmt: skip
        median = np.median([c[0] for c in costs])
        print(f"tier 1 cost per candidate (one thread): median {median:.1f} s, max "
              f"{max(c[0] for c in costs):.1f} s; per 50 defect-cell atoms median "
              f"{np.median(per50):.1f} s")  # fmt: skip
    neb = [r["tier2_s"] for r in rows if "tier2_s" in r]
    if neb:
        print(f"tier 2 cost per candidate (2 threads, batched): {np.mean(neb):.1f} s "
              f"over {len(neb)} candidates")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="names of the entries to run")
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    parser.add_argument("--from", dest="source", type=Path, help="re-analyse saved rows")
    parser.add_argument("--tier2", type=int, default=0, help="NEB for the N best by tier 1")
    parser.add_argument("--neb-images", type=int, default=3)
    parser.add_argument("--neb-hops", type=int, default=1)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    entries = load()
    if args.source:
        rows = json.loads(args.source.read_text())
    else:
        chosen = [e for e in entries if not args.only or e["name"] in args.only]
        rows = run(chosen)
    if args.tier2:
        tier2(rows, args.tier2, {"images": args.neb_images, "hops": args.neb_hops})
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1, default=str))
    report(rows, entries)


if __name__ == "__main__":
    main()
