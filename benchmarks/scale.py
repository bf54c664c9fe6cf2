"""Scale: a synthetic campaign of 10,000 and 100,000 records through the finishing stages.

    .venv/bin/python benchmarks/scale.py                     # --sizes 10000 100000
    .venv/bin/python benchmarks/scale.py --quick             # 1000 and 10000
    .venv/bin/python benchmarks/scale.py --sizes 10000 --profile rank   # cProfile one stage

No potential runs: the records are built directly as the relax and estimate stages leave
them (seeded): a 4-atom rocksalt-like NaMXX' cell or a 5-atom perovskite NaMX3 cell with
the cation and the anion of every X site substituted and the lattice constant varied
(so formulas vary: a few thousand distinct ones), a relaxed structure, the ~45
properties of the relax and estimate stages with realistic units, uncertainties and
method texts, and provenance (recipe, voltage profile, charged end member). About 20% of
the records leave at the prefilter (critical elements) and 2% fail to relax, as in a real
funnel. The campaign directory holds every stage's records.jsonl up to ``md``, as a run
would leave it.

Each stage then runs in a fresh subprocess on the stored campaign, so wall time and peak
memory are per stage:

- store: ``Campaign.read_output`` and ``write_output`` of the md stage's records.jsonl;
- rank: the rank stage (screen/stage_table.py ``run_stage``) with the workflow's
  ranking: the quickstart's, i.e. the stationary profile (5 objectives, 2 with
  uncertainties: Monte Carlo with 512 draws; constraint E_hull <= 0.1 eV/atom);
- deliver: the deliver stage (confidence flags, precursor routes, candidates.csv/.xlsx/
  .json, cifs/ and results.parquet);
- report: funnel.json/.txt and report.html (``write_campaign_report``);
- status: ``screen.status.summarize`` of the directory (what ``batscreen status`` prints).

Time is the stage's own work (loading the records it is given and storing its output are
shown apart); peak memory is the subprocess's peak resident set size
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``, so it includes the interpreter, the
imports and the records the stage holds in memory), with the size after the imports shown
as the baseline. The growth exponent of a stage is log(t2/t1)/log(n2/n1) between the two
sizes; above 1.3 it is flagged super-linear. Goals at the largest size: under 4 GB peak
per stage and a report.html under 5 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

STAGES = ("store", "rank", "deliver", "report", "status")
SUPER_LINEAR = 1.3
GOAL_PEAK_GB = 4.0
GOAL_REPORT_MB = 5.0
MARK = "SCALE-RESULT "

# --------------------------------------------------------------------------- records

GOOD_CATIONS = ["Fe", "Cr", "Zn", "Ca", "Sn", "Zr", "Mo"]
CRITICAL_CATIONS = ["Mn", "Co", "Ni", "V", "Ti"]  # strict policy: left at the prefilter
ANIONS = ["O", "S", "Cl", "Br"]
POTENTIAL = "chgnet-0.3.0"
MODEL = {"name": POTENTIAL, "version": "0.3.0", "sha256": "d14ab7c0f093efe64b60a7bc" + "0" * 40}

RELAX = (
    "BFGS (variable cell, batscreen batched engine), fmax 0.05 eV/Å, smax 0.2 GPa, max 500 steps"
)
HULL = (
    "hull of the candidate's chemical system; pymatgen PhaseDiagram of the self-consistent "
    "references (every phase the prototype library builds for the subsystems, relaxed with "
    "chgnet-0.3.0) and the candidate; uncertainty sqrt(pi/2) x the potential's hull MAE"
)
ELECTRODE = (
    "pymatgen InsertionElectrode over the discharged {f} and 2 member(s) with Na removed "
    "(equal steps to the redox window: {m}2+ to {m}4+; lowest-Ewald orderings), all relaxed "
    "with chgnet-0.3.0; Na metal energy from the hull references (Na (bcc) self-consistent); "
    "z = 1"
)
BVSE = (
    "BVSE (softBV parameters, Chen, Wong & Adams 2019), grid 0.20 Å, Morse to anions + "
    "screened Coulomb to framework cations, 26-neighbour percolation over periodic grid"
)
CRITICAL = "eu-crma-2024-critical (mapping v2), policy strict"
SUPPLY = "USGS 2023 production and reserves by country, mass-weighted per element"

#: the relax stage's properties: name -> (unit, method, model)
RELAX_PROPERTIES = {
    "energy": ("eV", RELAX, True),
    "energy_per_atom": ("eV/atom", RELAX, True),
    "relax_converged": ("", RELAX, True),
    "relax_max_force": ("eV/Å", RELAX, True),
    "relax_max_stress": ("GPa", RELAX, True),
    "relax_steps": ("", RELAX, True),
    "relax_wall_time": ("s", "wall time of the relaxation (batched)", False),
    "volume_change_relax": ("", RELAX, True),
    "spacegroup_initial": ("", "spglib 2.x via pymatgen SpacegroupAnalyzer, symprec 0.1", False),
    "spacegroup_relaxed": ("", "spglib 2.x via pymatgen SpacegroupAnalyzer, symprec 0.1", False),
}


def _structure(kind: str, cation: str, anions: list[str], a: float, strain: float) -> Any:
    from pymatgen.core import Lattice, Structure

    lattice = Lattice.tetragonal(a, a * (1.0 + strain))
    if kind == "perovskite-AMX3":
        coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
        return Structure(lattice, ["Na", cation, *anions[:3]], coords)
    coords = [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Structure(lattice, ["Na", cation, *anions[:2]], coords)


def _unit_hash(*parts: Any) -> float:
    """A deterministic number in [0, 1) of a formula or element (same input, same value)."""
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def build_records(n: int, seed: int = 0) -> list[Any]:
    """``n`` records as the md stage leaves them (see the module doc)."""
    import numpy as np

    from screen.records import ModelIdentity, Record, record_id, structure_dict

    rng = np.random.default_rng(seed)
    model = ModelIdentity(**MODEL)
    out = []
    for i in range(n):
        kind = "perovskite-AMX3" if rng.random() < 0.5 else "rocksalt-NaMX2"
        critical = rng.random() < 0.2
        cation = str(rng.choice(CRITICAL_CATIONS if critical else GOOD_CATIONS))
        anions = [str(x) for x in rng.choice(ANIONS, size=3)]
        a = float(rng.uniform(3.6, 5.4))
        strain = float(rng.uniform(-0.04, 0.04))
        structure = _structure(kind, cation, anions, a, strain)
        sites = {"M": cation, "X1": anions[0], "X2": anions[1]}
        if kind == "perovskite-AMX3":
            sites["X3"] = anions[2]
        recipe = {
            "generator": "prototype-substitution",
            "prototype": kind,
            "substitution": {"A": "Na", **sites},
            "variant": {"a": round(a, 6), "strain": round(strain, 6), "index": i},
        }
        formula = structure.composition.reduced_formula
        record = Record(
            id=record_id(recipe),
            formula=formula,
            structure=structure_dict(structure),
            provenance={
                "recipe": recipe,
                "working_ion": "Na",
                "prototype_reference": "KMgF3" if kind == "perovskite-AMX3" else "NaCl",
                "prototype_source": "curated",
                "substitution_likelihood": float(rng.uniform(0, 0.01)),
                "substitution_nearest_member": "NaFeO2",
                "critical_entries": [cation] if critical else [],
                "fixed_oxidation_states": {},
            },
        )
        record.mark("generate", "ok")
        if critical:
            record.provenance["critical_excluded_by"] = [f"{cation} (metal)"]
            record.mark("prefilter", "filtered", "critical-element", cation)
            out.append(record)
            continue
        record.mark("prefilter", "ok")
        if rng.random() < 0.025:
            record.mark("relax", "failed", "relax-exploded", "energy below -20 eV/atom")
            out.append(record)
            continue
        relaxed = structure.copy()
        relaxed.scale_lattice(structure.volume * float(rng.uniform(0.9, 1.1)))
        record.relaxed_structure = structure_dict(relaxed)
        _relax_properties(record, rng, model, len(structure))
        record.mark("relax", "ok")
        _estimate_properties(record, rng, model, cation, relaxed)
        record.mark("estimate", "ok")
        record.mark("md", "ok")
        out.append(record)
    return out


def _relax_properties(record: Any, rng: Any, model: Any, atoms: int) -> None:
    energy_per_atom = float(rng.uniform(-7.0, -3.0))
    values = {
        "energy": energy_per_atom * atoms,
        "energy_per_atom": energy_per_atom,
        "relax_converged": bool(rng.random() < 0.97),
        "relax_max_force": float(rng.uniform(0.001, 0.05)),
        "relax_max_stress": float(rng.uniform(0.0, 0.2)),
        "relax_steps": int(rng.integers(5, 300)),
        "relax_wall_time": float(rng.uniform(0.5, 30)),
        "volume_change_relax": float(rng.uniform(-0.1, 0.1)),
        "spacegroup_initial": "P4/mmm",
        "spacegroup_relaxed": "P4/mmm",
    }
    for name, (unit, method, has_model) in RELAX_PROPERTIES.items():
        record.set_property(
            name, values[name], unit=unit, method=method, model=model if has_model else None
        )


def _estimate_properties(record: Any, rng: Any, model: Any, cation: str, relaxed: Any) -> None:
    f = record.formula
    electrode = ELECTRODE.format(f=f, m=cation)
    ehull = float(rng.exponential(0.09))
    voltage = float(rng.uniform(1.0, 4.2))
    capacity = float(rng.uniform(60, 250))
    cost = 2.0 + 40.0 * _unit_hash("cost", f)  # composition properties: one value per formula
    hhi = 800.0 + 4000.0 * _unit_hash("hhi", f)
    has_redox = rng.random() < 0.9
    m = model

    def put(name: str, value: Any, unit: str, method: str, u: float | None = None, **kw: Any):
        record.set_property(name, value, unit=unit, method=method, uncertainty=u, **kw)

    put("formation_energy_per_atom", float(rng.uniform(-3, 0)), "eV/atom", HULL, model=m)
    put("energy_above_hull_per_atom", ehull, "eV/atom", HULL, 0.079, model=m)
    put("hull_distance_per_atom", ehull, "eV/atom", HULL, 0.079, model=m)
    put(
        "decomposition",
        [f"{cation}{record.formula[-1]} (aflow:AB_cF8_225_a_b) self-consistent: 0.5", "NaX: 0.5"],
        "atom fraction",
        "phases at the candidate's composition on the hull (competing phases when on it)",
    )
    put("estimate_flags", ["hull-from-incomplete-references"], "", "flags of the estimate stage")
    put("density", float(relaxed.density), "g/cm3", "mass / volume of the relaxed cell", model=m)
    put("ionic_packing_fraction", float(rng.uniform(0.4, 0.9)), "", "ionic radii / volume")
    put("element_cost", cost, "USD/kg", "mass-weighted pure-element price (costdb 2013)")
    put("hhi_production", hhi, "", SUPPLY)
    put("hhi_reserve", hhi * 1.1, "", SUPPLY)
    put("critical_elements", [], "", CRITICAL)
    put("critical_materials", [], "", CRITICAL)
    put("critical_mass_fraction", 0.0, "", CRITICAL)
    put("theoretical_capacity_gravimetric", capacity, "mAh/g", "every Na extracted, z F / 3.6 M")
    put("oxidation_states", {"Na": 1.0, cation: 2.0}, "e", "pymatgen oxi_state_guesses, first")
    barrier = float(rng.uniform(0.2, 2.5))
    for name in ("bvse_barrier", "bvse_barrier_3d", "effective_activation_energy"):
        put(name, barrier, "eV", BVSE)
    put("bvse_dimensionality", int(rng.integers(1, 4)), "", BVSE + "; network dimension")
    put("carrier_kind", "vacancies made by charging", "", "up to 1 Na per cell leave on charge")
    put("carrier_formation_energy", 0.0, "eV", "no defect needed: Na leaves on charge")
    if not has_redox:  # no specific energy: leaves at rank (missing objective)
        return
    put("average_voltage", voltage, "V vs Na/Na+", electrode, 0.158, model=m)
    put("voltage_max", voltage + 0.3, "V vs Na/Na+", electrode, model=m)
    put("voltage_min", voltage - 0.3, "V vs Na/Na+", electrode, model=m)
    put("voltage_steps", [voltage + 0.3, voltage - 0.3], "V vs Na/Na+", electrode, model=m)
    put("capacity_gravimetric", capacity, "mAh/g", "z F dx / (3.6 M); " + electrode)
    put("capacity_volumetric", capacity * float(relaxed.density), "mAh/cm3", electrode)
    put("capacity_to_steps", [capacity / 2, capacity], "mAh/g", electrode)
    put("specific_energy", voltage * capacity, "Wh/kg", electrode, 19.1, model=m)
    put("charged_formula", f.replace("Na", "", 1) or f, "", electrode)
    put("ions_removed", 1.0, f"Na per {f}", electrode)
    put("stable_intermediates", [], "", electrode)
    put("energy_above_hull_charged", float(rng.exponential(0.2)), "eV/atom", electrode, 0.079)
    put("volume_change_on_charge", float(rng.uniform(0, 25)), "%", electrode)
    put("volume_change_abs", float(rng.uniform(0, 25)), "%", electrode)
    put("redox_couples", [f"{cation}2+ to {cation}4+"], "", "redox-couples.yaml (version 1)")
    record.provenance["voltage_profile"] = {
        "framework": f,
        "working_ion": "Na",
        "unit": "V vs Na/Na+",
        "uncertainty_v": 0.158,
        "steps": [
            {"x_charged": 0.0, "x_discharged": 0.5, "voltage_v": voltage + 0.3},
            {"x_charged": 0.5, "x_discharged": 1.0, "voltage_v": voltage - 0.3},
        ],
    }
    record.provenance["charged_end_member"] = {
        "formula": f,
        "record_id": record.id + "-charged",
        "structure": record.relaxed_structure,
    }


def _stage_view(record: Any, stage: str) -> Any:
    """The record as the stored output of an earlier stage (no later statuses or results)."""
    from screen.records import Record

    order = ("generate", "prefilter", "relax", "estimate", "md")
    keep = order[: order.index(stage) + 1]
    status = {k: v for k, v in record.status.items() if k in keep}
    if stage in ("generate", "prefilter") or not record.relaxed_structure:
        return Record.model_construct(
            id=record.id,
            formula=record.formula,
            structure=record.structure,
            relaxed_structure=None,
            provenance={
                k: v
                for k, v in record.provenance.items()
                if k not in ("voltage_profile", "charged_end_member")
            },
            properties={},
            status=status,
        )
    if stage == "relax":
        props = {k: v for k, v in record.properties.items() if k in RELAX_PROPERTIES}
        return record.model_copy(update={"properties": props, "status": status})
    return record


# --------------------------------------------------------------------------- the campaign


def workflow() -> Any:
    """The quickstart workflow, renamed, on the toy potential (nothing is relaxed here)."""
    import yaml

    from screen.workflow.load import validate_data

    data = yaml.safe_load((REPO / "workflows" / "quickstart.yaml").read_text())
    data["name"] = "scale"
    data["potential"] = {"name": "lennard-jones-toy", "device": "cpu"}
    return validate_data(data)


def rss_mb() -> float:
    """Peak resident set size of this process so far, MB (ru_maxrss is in kB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Timer:
    """Wall time of named parts; ``wrap`` times every call of a module's function."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {}
        self.peaks: dict[str, float] = {}

    def wrap(self, module: Any, name: str, label: str | None = None) -> None:
        original = getattr(module, name)
        label = label or name

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                result = original(*args, **kwargs)
            finally:
                self.add(label, time.perf_counter() - start)
            return self._timed_pieces(label, result) if inspect.isgenerator(result) else result

        setattr(module, name, timed)

    def add(self, label: str, seconds: float) -> None:
        self.parts[label] = self.parts.get(label, 0.0) + seconds
        if label not in self.peaks:  # the process's peak when the part first finished
            self.peaks[label] = rss_mb()

    def _timed_pieces(self, label: str, pieces: Iterator[Any]) -> Iterator[Any]:
        """A generator's items, the time to make each counted under ``label``."""
        while True:
            start = time.perf_counter()
            try:
                item = next(pieces)
            except StopIteration:
                self.add(label, time.perf_counter() - start)
                return
            self.add(label, time.perf_counter() - start)
            yield item

    def run(self, label: str, function: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return function()
        finally:
            self.add(label, time.perf_counter() - start)


def generate(root: Path, n: int, seed: int) -> dict[str, Any]:
    """Build the records and store every stage's output up to md (not a measured stage)."""
    from screen.store.campaign import Campaign, utc_now

    baseline = rss_mb()
    shutil.rmtree(root, ignore_errors=True)
    campaign = Campaign.open(root, workflow())
    start = time.perf_counter()
    records = build_records(n, seed)
    built = time.perf_counter() - start
    records.sort(key=lambda r: r.id)  # as the runner stores them
    start = time.perf_counter()
    stored = {}
    for stage in ("generate", "prefilter", "relax", "estimate", "md"):
        t0 = time.perf_counter()
        # every stage stores the whole population, also the records that left before it
        view: Iterator[Any] = (_stage_view(r, stage) for r in records)
        campaign.write_output(stage, view)  # type: ignore[arg-type]
        stored[stage] = time.perf_counter() - t0
    written = time.perf_counter() - start
    campaign.write_provenance(
        {
            "campaign": "scale",
            "fingerprint": campaign.meta["fingerprint"],
            "workflow": workflow().model_dump(mode="json"),
            "potential": {**MODEL, "backend": "chgnet", "dtype": "float32"},
            "runs": [
                {
                    "started_utc": utc_now(),
                    "ended_utc": utc_now(),
                    "status": "completed",
                    "host": "benchmark",
                    "device": "cpu",
                    "stages_run": ["generate", "prefilter", "relax", "estimate", "md"],
                }
            ],
        }
    )
    md = campaign.output_path("md")
    return {
        "stage": "generate",
        "n": n,
        "seconds": built,
        "parts": {"build records": built, "store 5 stages": written, **stored},
        "baseline_mb": baseline,
        "peak_mb": rss_mb(),
        "bytes_per_record": md.stat().st_size / max(1, n),
        "md_jsonl_mb": md.stat().st_size / 2**20,
        "active": sum(r.active for r in records),
    }


def _context(campaign: Any, wf: Any) -> Any:
    from screen.context import InProcessRunner, StageContext

    return StageContext(
        stages=wf.stages,
        potential=None,
        runner=InProcessRunner(None),
        space=wf.chemical_space,
        folder=campaign.root,
        references_dir=campaign.root / "references",
        potential_name=POTENTIAL,
    )


def run_stage_child(name: str, root: Path) -> dict[str, Any]:
    """One stage on the stored campaign; what the parent prints."""
    import matplotlib  # noqa: F401  (imports before the baseline: they are no stage's cost)
    import pyarrow.parquet  # noqa: F401
    from pymatgen.io.cif import CifWriter  # noqa: F401

    import screen.deliverables.export as export
    import screen.deliverables.report as report
    import screen.deliverables.spreadsheet as spreadsheet
    import screen.deliverables.stage as deliver
    import screen.ranking.score as score
    from screen.deliverables.stage import write_campaign_report, write_funnel
    from screen.stage_table import STAGE_NAMES, run_stage, stage
    from screen.status import summarize
    from screen.store.campaign import Campaign

    campaign = Campaign.load(root)
    wf = campaign.workflow()
    timer = Timer()
    baseline = rss_mb()
    result: dict[str, Any] = {"stage": name}
    if name == "store":
        records = timer.run("read_output", lambda: campaign.read_output("md"))
        timer.run("write_output", lambda: campaign.write_output("md", records))
        result["seconds"] = timer.parts["read_output"] + timer.parts["write_output"]
    elif name == "rank":
        for part in ("_score", "non_dominated_sort", "front_probability"):
            timer.wrap(score, part)
        records = timer.run("load", lambda: campaign.read_output("md"))
        context = _context(campaign, wf)
        out = timer.run("stage", lambda: run_stage(stage("rank"), records, context))
        del records
        timer.run(
            "store", lambda: campaign.write_output("rank", sorted(out.records, key=lambda r: r.id))
        )
        result["seconds"] = timer.parts["stage"]
        result["ranked"] = sum(1 for r in out.records if r.active)
    elif name == "deliver":
        timer.wrap(deliver, "_precursors", "precursors")
        timer.wrap(deliver, "confidence_flags")
        for part in ("write_cifs", "candidates_csv", "write_results_parquet"):
            timer.wrap(export, part)
        json_writer = "candidates_json_chunks"  # written in pieces (else in one string)
        timer.wrap(export, json_writer if hasattr(export, json_writer) else "candidates_json")
        timer.wrap(spreadsheet, "candidates_xlsx")
        records = timer.run("load", lambda: campaign.read_output("rank"))
        context = _context(campaign, wf)
        out = timer.run("stage", lambda: run_stage(stage("deliver"), records, context))
        del records
        try:  # the deliver stage's manifest lists its files, as the runner writes it
            from screen.deliverables.files import delivered_files

            files = delivered_files(root)
        except ImportError:
            files = []
        ordered = sorted(out.records, key=lambda r: r.id)
        timer.run("store", lambda: campaign.write_output("deliver", ordered, files=files))
        result["seconds"] = timer.parts["stage"]
        result["cifs"] = len(list((root / "cifs").iterdir()))
        result["files_mb"] = {
            f: (root / f).stat().st_size / 2**20
            for f in ("candidates.csv", "candidates.xlsx", "candidates.json", "results.parquet")
        }
    elif name == "report":
        for part in (
            "_top_table",
            "_funnel_section",
            "_pareto_section",
            "_distributions_section",
            "_cards_section",
        ):
            timer.wrap(report, part)
        records = timer.run("load", lambda: campaign.read_output("deliver"))

        def write() -> None:
            rows = write_funnel(root, records, STAGE_NAMES)
            write_campaign_report(root, wf, records, rows)

        timer.run("stage", write)
        result["seconds"] = timer.parts["stage"]
        result["report_mb"] = (root / "report.html").stat().st_size / 2**20
    elif name == "status":
        info = timer.run("stage", lambda: summarize(root))
        result["seconds"] = timer.parts["stage"]
        result["stages_done"] = sum(s.state == "done" for s in info["stages"])
    else:
        raise ValueError(f"unknown stage {name!r}; stages: {', '.join(STAGES)}")
    result.update(
        parts=timer.parts, peak_after_mb=timer.peaks, baseline_mb=baseline, peak_mb=rss_mb()
    )
    return result


# --------------------------------------------------------------------------- the parent


def child(args: list[str], profile: Path | None = None, limit_gb: float = 0) -> dict[str, Any]:
    """Run this file as a fresh process; its last result line, parsed.

    ``limit_gb``: address-space limit of the process (a MemoryError there, not the
    machine's out-of-memory killer picking some other process); 0: none.
    """
    command = [sys.executable]
    if profile is not None:
        command += ["-m", "cProfile", "-o", str(profile)]
    command += [__file__, *args]

    def limit() -> None:
        if limit_gb:
            size = int(limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (size, size))

    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, preexec_fn=limit)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    line = [x for x in done.stdout.splitlines() if x.startswith(MARK)][-1]
    result: dict[str, Any] = json.loads(line[len(MARK) :])
    return result


def _exponent(t1: float, t2: float, n1: int, n2: int) -> float:
    if t1 <= 0 or t2 <= 0 or n1 == n2:
        return float("nan")
    return math.log(t2 / t1) / math.log(n2 / n1)


def _fmt_time(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def print_size(result: dict[str, Any]) -> None:
    parts = ", ".join(f"{k} {_fmt_time(v)}" for k, v in result.get("parts", {}).items())
    extra = {
        k: v
        for k, v in result.items()
        if k not in ("stage", "seconds", "parts", "baseline_mb", "peak_mb", "n", "peak_after_mb")
    }
    print(
        f"  {result['stage']:<9} {_fmt_time(result['seconds']):>9}  peak "
        f"{result['peak_mb']:7.0f} MB (after imports {result['baseline_mb']:.0f} MB)",
        flush=True,
    )
    print(f"            {parts}", flush=True)
    peaks = result.get("peak_after_mb") or {}
    if peaks:
        text = ", ".join(f"{k} {v:.0f}" for k, v in peaks.items())
        print(f"            peak MB after: {text}", flush=True)
    if extra:
        print(f"            {json.dumps(extra, default=lambda x: round(x, 2))}", flush=True)


def summary(results: dict[int, dict[str, dict[str, Any]]]) -> list[str]:
    """The table of every stage at every size, growth exponents and goal checks."""
    sizes = sorted(results)
    lines = []
    head = f"{'stage':<9}" + "".join(f" {f'{n:,} time':>13} {'peak':>8}" for n in sizes)
    head += "  exponent"
    lines.append(head)
    for stage in ("generate", *STAGES):
        if not any(stage in results[n] for n in sizes):
            continue
        row = f"{stage:<9}"
        for n in sizes:
            r = results[n].get(stage, {"error": "not run"})
            if "error" in r:
                row += f" {'failed' if r['error'] != 'not run' else '-':>13} {'':>8}"
            else:
                row += f" {_fmt_time(r['seconds']):>13} {r['peak_mb'] / 1024:6.2f}GB"
        measured = all("seconds" in results[n].get(stage, {}) for n in (sizes[0], sizes[-1]))
        if len(sizes) >= 2 and measured:
            n1, n2 = sizes[0], sizes[-1]
            e = _exponent(results[n1][stage]["seconds"], results[n2][stage]["seconds"], n1, n2)
            flag = "  SUPER-LINEAR" if e > SUPER_LINEAR and stage != "generate" else ""
            row += f"  {e:8.2f}{flag}"
        lines.append(row)
    largest = results[sizes[-1]]
    over = [s for s in STAGES if largest.get(s, {}).get("peak_mb", 0) > GOAL_PEAK_GB * 1024]
    failed = [s for s in STAGES if "error" in largest.get(s, {})]
    text = f"over {GOAL_PEAK_GB:g} GB: {', '.join(over)}" if over else f"under {GOAL_PEAK_GB:g} GB"
    text += f"; failed: {', '.join(failed)}" if failed else ""
    lines.append(f"peak memory at {sizes[-1]:,}: {text}")
    if "report_mb" in largest.get("report", {}):
        mb = largest["report"]["report_mb"]
        ok = "under" if mb < GOAL_REPORT_MB else "OVER"
        sizes_text = ", ".join(
            f"{results[n]['report']['report_mb']:.2f} MB"
            for n in sizes
            if "report_mb" in results[n].get("report", {})
        )
        lines.append(f"report.html: {sizes_text} ({ok} {GOAL_REPORT_MB:g} MB)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--quick", action="store_true", help="sizes 1000 and 10000")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--dir", type=Path, default=None, help="campaign folders (default: tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the campaign folders")
    parser.add_argument("--reuse", action="store_true", help="reuse a generated campaign")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", choices=STAGES, help="cProfile this stage (top 25 printed)")
    parser.add_argument("--json", type=Path, help="write every result here")
    parser.add_argument(
        "--limit-gb", type=float, default=16.0, help="address-space limit per stage (0: none)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:  # one measured process
        if args.child == "generate":
            result = generate(args.root, args.n, args.seed)
        else:
            result = run_stage_child(args.child, args.root)
        print(MARK + json.dumps(result), flush=True)
        return 0

    sizes = [1_000, 10_000] if args.quick else sorted(args.sizes)
    base = args.dir or Path(tempfile.mkdtemp(prefix="batscreen-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} CPUs; campaigns under {base}", flush=True)
    results: dict[int, dict[str, dict[str, Any]]] = {}
    if args.reuse and args.json and args.json.is_file():  # measure some stages again
        results = {int(k): v for k, v in json.loads(args.json.read_text()).items()}

    def save() -> None:
        if args.json:
            args.json.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))

    try:
        for n in sizes:
            root = base / f"scale-{n}"
            print(f"{n:,} records", flush=True)
            results.setdefault(n, {})
            if not (args.reuse and (root / "stages" / "md" / "records.jsonl").is_file()):
                gen = child(
                    ["--child", "generate", "--root", str(root), "--n", str(n)],
                    limit_gb=args.limit_gb,
                )
                results[n]["generate"] = gen
                print_size(gen)
                save()
            for stage in args.stages:
                profile = base / f"{stage}-{n}.prof" if stage == args.profile else None
                try:
                    result = child(["--child", stage, "--root", str(root)], profile, args.limit_gb)
                except RuntimeError as exc:  # e.g. a MemoryError under --limit-gb: say so, go on
                    error = str(exc).strip().splitlines()[-1]
                    print(f"  {stage:<9} FAILED: {error}", flush=True)
                    results[n][stage] = {"stage": stage, "error": error}
                    save()
                    continue
                results[n][stage] = result
                print_size(result)
                save()
                if profile is not None:
                    import pstats

                    pstats.Stats(str(profile)).sort_stats("cumulative").print_stats(25)
            if not args.keep and not args.reuse:
                shutil.rmtree(root, ignore_errors=True)
    finally:
        if not args.keep and not args.reuse and args.dir is None:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print("\n".join(summary(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
