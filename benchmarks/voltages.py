"""Intercalation voltages against experiment: the electrode estimator on published hosts.

    python benchmarks/voltages.py [--data benchmarks/data/voltage-pairs.yaml]
        [--potential chgnet-0.3.0 ...] [--intermediates 1] [--only NAME ...] [--json OUT]

Each entry of the data file is a published electrode: the discharged structure from
refined (or stated approximate) crystallographic data, the working ions cycled in the
experiment and the measured average voltage, with a published DFT value where one exists.
For every potential that loads here, the benchmark runs the product's own method on it,
nothing tuned per entry:

1. the discharged structure (partial occupancies ordered by Ewald energy) relaxed with the
   engine, all entries in one batch;
2. the estimate stage's electrode estimator: the redox window from
   candidates/redox-couples.yaml, intermediates in equal steps (``--intermediates``), all
   members relaxed in one batch, pymatgen InsertionElectrode for the profile; the metal
   reference relaxed with the same potential (elements only: no hull is needed for a
   voltage);
3. printed per entry: the window (ions per formula) beside the experiment's, the model's
   average voltage with its standard uncertainty, the experiment, the difference, whether
   it lies within 2 sigma, the published DFT value and the model-DFT difference (which
   separates the model's miss from the method's), the steps; then the mean absolute error
   against experiment (all, and over entries whose window matches the experiment's), the
   share within 2 sigma, and the cost per entry on this machine.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from screen.records import Record, record_from_structure  # noqa: E402
from screen.workflow.spec import (  # noqa: E402
    ChemicalSpace,
    EstimateParams,
    RelaxParams,
)

DATA = ROOT / "benchmarks" / "data" / "voltage-pairs.yaml"


def build_structure(entry: dict[str, Any]) -> Any:
    """The discharged structure of an entry, ordered (lowest Ewald energy) and primitive."""
    from pymatgen.core import Lattice, Structure

    from screen.candidates.ordering import lowest_orderings

    spec = entry["structure"]
    lat = spec["lattice"]
    lattice = Lattice.from_parameters(
        lat["a"], lat.get("b", lat["a"]), lat.get("c", lat["a"]),
        lat.get("alpha", 90), lat.get("beta", 90), lat.get("gamma", 90),
    )  # fmt: skip
    species = [site["species"] for site in spec["sites"]]
    coords = [site["xyz"] for site in spec["sites"]]
    structure = Structure.from_spacegroup(spec["space_group"], lattice, species, coords)
    structure.merge_sites(tol=0.01, mode="sum")  # special positions generated twice
    structure = structure.get_primitive_structure()  # order in the smallest cell: fewer
    if not structure.is_ordered:  # arrangements (Chevrel: 2 guests on 12 ring sites)
        structure = lowest_orderings(structure, 1, max_cells=4)[0]
    return structure


class MetalReferences:
    """Elemental references relaxed with the same potential: all a voltage needs."""

    name = "elements-only"
    complete = False

    def __init__(self, potential: Any, folder: Path):
        self.potential, self.folder = potential, folder
        self.convention = potential.card.energy_convention

    def entries(self, systems: list[frozenset[str]]) -> list[Any]:
        """Relaxed elemental phases of every element of ``systems``."""
        from pymatgen.core import Composition

        from screen.context import InProcessRunner
        from screen.relaxation.stage import ExtraRelaxations
        from screen.stability.elements import elemental_references
        from screen.stability.entries import ml_entry

        elements = set().union(*systems)
        extra = ExtraRelaxations(InProcessRunner(self.potential), RelaxParams(), "estimate")
        refs = elemental_references(
            elements, self.potential, RelaxParams(), self.folder / "elements.json", extra
        )
        return [ml_entry(Composition(el), r.energy_per_atom_ev, el) for el, r in refs.items()]

    def describe(self) -> dict[str, str]:
        """What provenance records."""
        return {"provider": self.name}


def run_potential(
    name: str, entries: list[dict[str, Any]], intermediates: int, folder: Path
) -> list[dict[str, Any]]:
    """The electrode estimate of every entry with one potential."""
    from screen.estimators.stage import estimate_records
    from screen.potentials.registry import load_potential
    from screen.relaxation.stage import relax_records

    potential = load_potential(name)
    built, rows = [], []
    for entry in entries:
        try:
            structure = build_structure(entry)
        except Exception as exc:  # one bad entry never stops the others
            rows.append({"name": entry["name"], "error": f"build: {type(exc).__name__}: {exc}"})
            continue
        record = record_from_structure(structure, working_ion=entry["working_ion"])
        built.append((entry, record))
    start = time.perf_counter()
    relaxed = relax_records([r for _, r in built], RelaxParams(), potential)
    relax_s = time.perf_counter() - start
    by_ion: dict[str, list[tuple[dict[str, Any], Record]]] = {}
    for (entry, _), record in zip(built, relaxed, strict=True):
        by_ion.setdefault(entry["working_ion"], []).append((entry, record))
    params = EstimateParams.model_validate({"electrode": {"intermediates": intermediates}})
    estimate_s = 0.0
    for ion, group in by_ion.items():
        space = ChemicalSpace(
            working_ions=[ion], anions=["O"], role="cathode", critical_policy="report-only"
        )
        t0 = time.perf_counter()
        out = estimate_records(
            [r for _, r in group], space, params, potential, RelaxParams(), folder,
            provider=MetalReferences(potential, folder),
        ).records  # fmt: skip
        estimate_s += time.perf_counter() - t0
        for (entry, _), record in zip(group, out, strict=True):
            rows.append(compare(entry, record))
    cost = (relax_s + estimate_s) / max(len(built), 1)
    for row in rows:
        row["potential"] = name
        row["cost_s_per_entry"] = cost
    return rows


def compare(entry: dict[str, Any], record: Record) -> dict[str, Any]:
    """Model against experiment (and published DFT) for one entry."""
    exp = entry["experiment"]
    dft = entry.get("dft") or {}
    row: dict[str, Any] = {
        "name": entry["name"],
        "ion": entry["working_ion"],
        "x_exp": entry["ions_removed_per_formula"],
        "v_exp": exp["average_voltage_v"],
        "v_dft": dft.get("average_voltage_v"),
        "contested": bool(entry.get("contested")),
    }
    prop = record.properties.get("average_voltage")
    if prop is None or not record.active:
        flags = record.value("estimate_flags")
        flags = flags if isinstance(flags, list) else []
        why = record.exit_stage()
        detail = str(why[1].detail) if why else "no voltage"
        row["error"] = ", ".join(str(f) for f in flags) or detail
        return row
    ions = record.properties["ions_removed"]
    formula_units = _formula_units_per_framework(entry)
    row.update(
        v_model=float(prop.value),  # type: ignore[arg-type]
        sigma=prop.uncertainty,
        steps=record.value("voltage_steps"),
        x_model=float(ions.value) * formula_units,  # type: ignore[arg-type]
        couples=record.value("redox_couples"),
        flags=record.value("estimate_flags"),
    )
    # over the experiment's range, counted from the discharged end, where the profile
    # covers it; else over the model's own range (said in the table)
    profile = record.provenance["voltage_profile"]
    steps = [(s["x_charged"], s["x_discharged"], s["voltage_v"]) for s in profile["steps"]]
    top = steps[-1][1]
    low = top - entry["ions_removed_per_formula"] / formula_units
    row["v_model_at_exp_range"] = average_over(steps, max(low, steps[0][0]), top)
    row["range_covered"] = low >= steps[0][0] - 1e-6  # else the model's window is shorter
    row["diff"] = row["v_model_at_exp_range"] - row["v_exp"]
    row["within_2sigma"] = row["sigma"] is not None and abs(row["diff"]) <= 2 * row["sigma"]
    row["window_matches"] = abs(row["x_model"] - row["x_exp"]) < 0.05
    return row


def average_over(steps: list[tuple[float, float, float]], low: float, high: float) -> float:
    """Capacity-weighted voltage of a step profile between x = low and x = high."""
    total = sum(max(0.0, min(b, high) - max(a, low)) * v for a, b, v in steps)
    return total / (high - low)


def _formula_units_per_framework(entry: dict[str, Any]) -> float:
    """Reduced host frameworks per formula unit of the entry's discharged formula."""
    from pymatgen.core import Composition

    ion = entry["working_ion"]
    formula = Composition(entry["discharged_formula"])
    host = Composition({el: n for el, n in formula.get_el_amt_dict().items() if el != ion})
    return float(host.get_reduced_composition_and_factor()[1])


def fmt(x: Any, digits: int = 2) -> str:
    """A number for the table, '-' for none."""
    return "-" if x is None else f"{x:.{digits}f}"


def report(rows: list[dict[str, Any]]) -> None:
    """The table and the summary figures, per potential."""
    for potential in sorted({r["potential"] for r in rows}):
        mine = [r for r in rows if r["potential"] == potential]
        print(f"\n## {potential}\n")
        print("| entry | ion | x exp | x model | V exp | V model ± sigma (full window) "
              "| V model over the exp. range | diff | in 2 sigma | V DFT (published) "
              "| model - DFT | steps (V) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in mine:
            if "error" in r:
                cells = f"| {r['name']} | {r.get('ion', '')} | {fmt(r.get('x_exp'))} | - "
                print(cells + f"| {fmt(r.get('v_exp'))} | no voltage: {r['error']} | | | | | | |")
                continue
            dft_diff = r["v_model"] - r["v_dft"] if r["v_dft"] is not None else None  # full
            steps = ", ".join(f"{v:.2f}" for v in r["steps"] or [])
            print(
                f"| {r['name']}{' (contested)' if r['contested'] else ''} | {r['ion']} "
                f"| {fmt(r['x_exp'])} | {fmt(r['x_model'])} | {fmt(r['v_exp'])} "
                f"| {fmt(r['v_model'])} ± {fmt(r['sigma'])} "
                f"| {fmt(r['v_model_at_exp_range'])}"
                f"{'' if r['range_covered'] else ' (model range shorter)'} "
                f"| {r['diff']:+.2f} "
                f"| {'yes' if r['within_2sigma'] else 'NO'} | {fmt(r['v_dft'])} "
                f"| {'-' if dft_diff is None else f'{dft_diff:+.2f}'} | {steps} |"
            )
        done = [r for r in mine if "error" not in r]
        if not done:
            continue
        mae = sum(abs(r["diff"]) for r in done) / len(done)
        matched = [r for r in done if r["window_matches"]]
        uncontested = [r for r in done if not r["contested"]]
        inside = sum(r["within_2sigma"] for r in done)
        with_dft = [r for r in done if r["v_dft"] is not None]
        print(f"\nvoltages: {len(done)} of {len(mine)} entries "
              f"({len(mine) - len(done)} without a voltage)")  # fmt: skip
        print(f"MAE vs experiment: {mae:.3f} V over {len(done)}")
        if matched:
            m = sum(abs(r["diff"]) for r in matched) / len(matched)
            print(f"MAE vs experiment, window as in the experiment: {m:.3f} V over {len(matched)}")
        if uncontested:
            m = sum(abs(r["diff"]) for r in uncontested) / len(uncontested)
            print(f"MAE vs experiment, uncontested entries: {m:.3f} V over {len(uncontested)}")
        if with_dft:
            m = sum(abs(r["v_model"] - r["v_dft"]) for r in with_dft) / len(with_dft)
            d = sum(abs(r["v_dft"] - r["v_exp"]) for r in with_dft) / len(with_dft)
            print(f"MAE model vs published DFT: {m:.3f} V; published DFT vs experiment: "
                  f"{d:.3f} V (over the {len(with_dft)} entries with a DFT value)")  # fmt: skip
        print(f"within 2 sigma of experiment: {inside} of {len(done)}")
        print(f"cost: {mine[0]['cost_s_per_entry']:.1f} s per entry (relax + electrode "
              f"estimate with its members) on {platform.processor() or platform.machine()}, "
              "CPU")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--potential", action="append", default=None)
    parser.add_argument("--intermediates", type=int, default=1)
    parser.add_argument("--only", action="append", default=None, help="entry names")
    parser.add_argument("--json", type=Path, default=None, help="write the rows here")
    parser.add_argument("--work", type=Path, default=Path("/tmp/batscreen-voltages"))
    args = parser.parse_args()
    data = yaml.safe_load(args.data.read_text())
    entries = data["entries"] if isinstance(data, dict) else data
    if args.only:
        entries = [e for e in entries if e["name"] in args.only]
    rows: list[dict[str, Any]] = []
    for name in args.potential or ["chgnet-0.3.0"]:
        folder = args.work / name.replace(":", "_")
        folder.mkdir(parents=True, exist_ok=True)
        try:
            rows += run_potential(name, entries, args.intermediates, folder)
        except Exception as exc:  # a potential that cannot load here is reported, not fatal
            print(f"{name}: not run here ({type(exc).__name__}: {exc})")
    report(rows)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
