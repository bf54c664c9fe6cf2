"""The md stage: batched ML molecular dynamics for the best K candidates.

The stage picks the K (``select_top_k``) and hands only them to ``md_records`` through
the run's runner (journaled, resumable in a campaign); the others pass through unchanged. Every
chosen candidate runs at every temperature of the workflow, all systems of a call in
one batched Langevin run (one potential call per step). Per temperature: tracer
diffusivity with its standard error and trust flags; over the trusted temperatures: an
Arrhenius fit and the 300 K diffusivity and Nernst-Einstein conductivity with propagated
uncertainties. Trajectories go to ``<trajectory_dir>/<record id>/<T>K.traj`` (ASE format).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from screen.context import StageContext, StageResult
from screen.ions import ion_charge
from screen.properties import MD_PROPERTIES
from screen.records import Record

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.potentials.base import Potential
    from screen.transport.diffusion import DiffusionAtTemperature
    from screen.transport.md import MDTrajectory
    from screen.workflow.params import MDParams, RankParams

log = logging.getLogger(__name__)
STAGE = "md"
ROOM_TEMPERATURE_K = 300.0


def md_stage(records: list[Record], params: MDParams, context: StageContext) -> StageResult:
    """The md stage of a run: MD for the top K (journaled), the rest pass through."""
    chosen = set(select_top_k(records, params, context.stages.rank))
    rest = [r.copy_for_stage() for r in records if r.id not in chosen]
    for record in rest:
        record.mark(STAGE, "ok")
    context.report(STAGE, 0, len(chosen))
    if not chosen:
        return StageResult(rest)
    options = {"trajectory_dir": str(context.folder / "md")} if context.folder else {}
    done = context.runner.map(
        md_records, [r for r in records if r.id in chosen], params, stage=STAGE, options=options
    )
    return StageResult(done + rest)


def md_records_at_most(params: MDParams, n: int) -> int:
    """At most how many of ``n`` records the md stage takes (its SLURM array's size)."""
    return min(params.top_k, n)


def select_top_k(records: list[Record], params: MDParams, rank_params: RankParams) -> list[str]:
    """Ids of the K records MD should run for, best first.

    'rank-score': the rank stage's objectives and constraints that exist before MD;
    a property name: that property, lowest first for barriers and energies (the rank
    stage's direction when the property is one of its objectives).
    """
    from screen.ranking.score import rank
    from screen.workflow.params import Objective, RankParams

    if params.top_k == 0 or not records:
        return []
    if params.select_by == "rank-score":
        objectives = {n: o for n, o in rank_params.objectives.items() if n not in MD_PROPERTIES}
        constraints = {n: b for n, b in rank_params.constraints.items() if n not in MD_PROPERTIES}
        if not objectives:
            objectives = {"bvse_barrier": Objective(direction="minimize")}
    else:
        given = rank_params.objectives.get(params.select_by)
        direction = given.direction if given else "minimize"
        objectives, constraints = {params.select_by: Objective(direction=direction)}, {}
    preview = rank(records, RankParams(objectives=objectives, constraints=constraints))
    ranked = sorted((r for r in preview if r.active), key=lambda r: r.number("rank"))
    return [r.id for r in ranked[: params.top_k]]


def supercell_for_md(structure: Structure, min_length: float) -> tuple[Structure, list[int]]:
    """The structure repeated until every cell height (face distance) is >= ``min_length``."""
    from screen.transport.carriers import repeats_for

    scale = repeats_for(structure, min_length)
    return structure * scale, scale


def md_records(
    records: list[Record],
    params: MDParams,
    potential: Potential,
    *,
    on_result: Callable[[Record], None] | None = None,
    max_batch_atoms: int | None = None,
    trajectory_dir: str | None = None,
) -> list[Record]:
    """Run MD for every record at every temperature; returns new records (md status set)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    from screen.transport.carriers import md_carrier_defect
    from screen.transport.md import LangevinSettings, MDSystem, run_langevin

    settings = LangevinSettings(
        timestep_fs=params.timestep_fs,
        production_steps=max(1, round(params.duration_ps * 1000 / params.timestep_fs)),
        equilibration_steps=round(params.equilibration_ps * 1000 / params.timestep_fs),
        friction_per_fs=params.friction_per_ps / 1000.0,
        sample_every=max(1, round(params.sample_interval_fs / params.timestep_fs)),
        seed=params.seed,
    )
    out = {r.id: r.copy_for_stage() for r in records}
    systems: list[MDSystem] = []
    cells: dict[str, list[int]] = {}
    defects: dict[str, dict[str, object]] = {}
    pending: dict[str, list[MDTrajectory]] = {}

    def report(record: Record) -> None:
        if on_result is not None:
            on_result(record)

    def finish(record: Record, trajectories: list[MDTrajectory]) -> None:
        try:
            defect = defects.get(record.id, {"kind": "none"})
            _analyse(
                record, trajectories, params, potential, cells[record.id], trajectory_dir, defect
            )
            record.mark(STAGE, "ok")
        except Exception as exc:  # one record's failure never stops the others
            log.warning("md analysis failed for %s: %s", record.id, exc)
            record.mark(STAGE, "failed", "md-error", f"{type(exc).__name__}: {exc}")
        report(record)

    def skip(record: Record, why: str) -> None:
        """No MD for this one; it keeps its other estimates and stays in the funnel."""
        record.set_property("md_flags", [why], unit="", method="why MD did not run")
        record.mark(STAGE, "ok")
        report(record)

    if params.neb.enabled:
        neb_barriers([r for r in out.values() if r.working_ion_in_structure()], params, potential,
                     max_batch_atoms=max_batch_atoms)  # fmt: skip
    if not params.run_md:
        for record in out.values():
            record.mark(STAGE, "ok")
            report(record)
        return [out[r.id] for r in records]
    for record in out.values():
        if not record.working_ion_in_structure():
            skip(record, f"md-skipped: no working ion ({record.working_ion}) in {record.formula}")
            continue
        structure = record.current_structure()
        supercell, scale = supercell_for_md(structure, params.min_cell_length_angstrom)
        if len(supercell) > params.max_atoms:
            skip(
                record,
                f"md-skipped: supercell {scale} has {len(supercell)} atoms > max_atoms "
                f"{params.max_atoms}",
            )
            continue
        if params.carrier_defect != "none":
            try:
                supercell, defect = md_carrier_defect(
                    supercell, str(record.working_ion), params.carrier_defect,
                    record.value("carrier_kind"),  # type: ignore[arg-type]
                )  # fmt: skip
            except Exception as exc:  # no defect, no run: this record says why
                skip(record, f"md-skipped: carrier defect not inserted: {exc}")
                continue
            defects[record.id] = defect
        cells[record.id] = scale
        pending[record.id] = []
        atoms = AseAtomsAdaptor.get_atoms(supercell)
        systems += [MDSystem(record.id, atoms.copy(), float(t)) for t in params.temperatures_K]

    n_temps = len(params.temperatures_K)

    def collect(trajectory: MDTrajectory) -> None:
        pending[trajectory.key].append(trajectory)
        if len(pending[trajectory.key]) == n_temps:
            finish(out[trajectory.key], sorted(pending.pop(trajectory.key), key=_temperature))

    run_langevin(
        systems,
        potential,
        settings,
        max_batch_atoms=max_batch_atoms or 1,  # None (CPU): one system at a time
        on_result=collect,
    )
    return [out[r.id] for r in records]


def neb_barriers(
    records: list[Record], params: MDParams, potential: Potential, *,
    max_batch_atoms: int | None = None,
) -> None:  # fmt: skip
    """Tier 2: NEB vacancy-hop barriers of every record, set on the records in place.

    End points of every hop of every record relax in one engine batch (fixed cell), then
    every band runs in one batched NEB (screen/transport/neb.py). A record whose hops all
    fail keeps its other values and says why in ``md_flags``.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from screen.relaxation.engine import relax_many
    from screen.transport.carriers import effective_activation_energy, formula_for
    from screen.transport.neb import Band, NEBSettings, interpolate, run_bands, vacancy_hops
    from screen.workflow.params import RelaxParams

    settings = params.neb
    hops: dict[str, list] = {}
    unbuilt: set[str] = set()  # records whose hops could not be built (flagged already)
    for record in records:
        try:
            hops[record.id] = vacancy_hops(
                record.current_structure(), str(record.working_ion),
                min_length=settings.min_cell_length_angstrom, max_atoms=settings.max_atoms,
                hops=settings.hops, max_hop=settings.max_hop_angstrom,
            )  # fmt: skip
        except Exception as exc:  # this record gets no barrier, the others go on
            hops[record.id] = []
            unbuilt.add(record.id)
            _neb_flag(record, f"neb-failed: {type(exc).__name__}: {exc}")
    ends = [AseAtomsAdaptor.get_atoms(s) for hs in hops.values() for h in hs
            for s in (h.initial, h.final)]  # fmt: skip
    relax = RelaxParams(variable_cell=False, fmax=min(0.05, settings.fmax), max_steps=500)
    relaxed = relax_many(ends, potential, relax, max_batch_atoms=max_batch_atoms)
    bands = []
    problems: dict[str, str] = {}  # band key -> why it has no band
    pairs = iter(relaxed)
    for rid, hs in hops.items():
        for n in range(len(hs)):
            start, end = next(pairs), next(pairs)
            failed = [e for e in (start, end) if isinstance(e, BaseException)]
            if failed:
                problems[f"{rid}/{n}"] = f"end point failed: {failed[0]}"
                continue
            assert not isinstance(start, BaseException) and not isinstance(end, BaseException)
            bands.append(
                Band(f"{rid}/{n}", interpolate(start.atoms, end.atoms, settings.images),
                     start.energy_ev, end.energy_ev)
            )  # fmt: skip
    neb = NEBSettings(fmax=settings.fmax, max_steps=settings.max_steps,
                      spring=settings.spring_ev_per_a2, climb=settings.climb)  # fmt: skip
    results = {r.key: r for r in run_bands(bands, potential, neb, max_batch_atoms=max_batch_atoms)}
    method = (
        f"climbing-image NEB (improved tangent, k {settings.spring_ev_per_a2} eV/Å², "
        f"{settings.images} moving images, FIRE, fmax {settings.fmax} eV/Å; batscreen batched "
        f"bands) of vacancy hops, end points relaxed at fixed cell; lowest converged hop"
    )
    by_id = {r.id: r for r in records}
    for rid, hs in hops.items():
        record = by_id[rid]
        found = []
        for n, hop in enumerate(hs):
            row = hop.describe()
            problem = problems.get(f"{rid}/{n}")
            result = results.get(f"{rid}/{n}")
            if problem or result is None:
                row["outcome"] = problem or "no band"
            elif result.error:
                row["outcome"] = f"failed: {result.error}"
            else:
                row.update(barrier_eV=round(result.barrier, 4), steps=result.steps,
                           converged=result.converged, max_force=round(result.max_force, 4),
                           energies_eV=[round(e - result.energies[0], 4) for e in result.energies],
                           seconds=round(result.seconds, 2))  # fmt: skip
                row["outcome"] = "converged" if result.converged else "no converged band"
            found.append(row)
        record.provenance["neb"] = {"hops": found, "method": method}
        good = [h for h in found if h.get("converged")]
        if not hs:
            if rid not in unbuilt:
                _neb_flag(record, f"neb-no-hop: no {record.working_ion} hop within "
                                  f"{settings.max_hop_angstrom} Å")  # fmt: skip
            continue
        if not good:
            _neb_flag(record, "neb-no-converged-band: " + "; ".join(h["outcome"] for h in found))
            continue
        best = min(good, key=lambda h: h["barrier_eV"])
        model = potential.identity
        hop_method = f"{method}: {best['distance_angstrom']} Å hop"
        record.set_property("neb_barrier", best["barrier_eV"], unit="eV", method=hop_method,
                            model=model)  # fmt: skip
        kind, ef = record.value("carrier_kind"), record.value("carrier_formation_energy")
        if isinstance(kind, str) and isinstance(ef, int | float):
            record.set_property(
                "neb_activation_energy",
                effective_activation_energy(best["barrier_eV"], float(ef), kind),
                unit="eV",
                method=f"{formula_for(kind)}; Em = neb_barrier, Ef = carrier_formation_energy",
                model=model,
            )  # fmt: skip


def _neb_flag(record: Record, text: str) -> None:
    flags = record.value("md_flags")
    record.set_property(
        "md_flags",
        [*(flags if isinstance(flags, list) else []), text],
        unit="",
        method="why an MD or NEB result is missing or not trusted",
    )


def _temperature(trajectory: MDTrajectory) -> float:
    return trajectory.temperature_K


def _analyse(
    record: Record,
    trajectories: list[MDTrajectory],
    params: MDParams,
    potential: Potential,
    scale: list[int],
    trajectory_dir: str | None,
    defect: dict[str, object] | None = None,
) -> None:
    from screen.transport.diffusion import TrustCriteria, tracer_diffusion
    from screen.transport.md import write_trajectory

    ion = str(record.working_ion)
    defect = defect or {"kind": "none"}
    criteria = TrustCriteria(params.min_hops, params.max_framework_rms_angstrom)
    results = [tracer_diffusion(t, ion, criteria) for t in trajectories]
    paths = []
    if trajectory_dir:
        folder = Path(trajectory_dir) / record.id
        folder.mkdir(parents=True, exist_ok=True)
        for trajectory in trajectories:
            path = folder / f"{trajectory.temperature_K:.0f}K.traj"
            write_trajectory(trajectory, str(path), {"carrier_defect": json.dumps(defect)})
            paths.append(str(path))
    n_atoms = len(trajectories[0].symbols)
    method = (
        f"NVT Langevin MD (BAOAB, batscreen batched engine), {params.timestep_fs} fs step, "
        f"friction {params.friction_per_ps}/ps, {params.equilibration_ps} ps equilibration + "
        f"{params.duration_ps} ps production, {scale[0]}x{scale[1]}x{scale[2]} supercell "
        f"({n_atoms} atoms); tracer D from the drift-corrected MSD (pymatgen-analysis-diffusion)"
    )
    if defect["kind"] != "none":
        method += f"; carrier defect inserted: {defect['kind']} ({defect.get('compensation')})"
    record.provenance["md"] = {
        "supercell": scale,
        "atoms": n_atoms,
        "carrier_defect": defect,
        "trajectories": paths,
        "per_temperature": [r.as_dict() for r in results],
        "wall_time_s": sum(t.wall_time_s for t in trajectories) / max(len(trajectories), 1),
        "errors": {f"{t.temperature_K:.0f}": t.error for t in trajectories if t.error},
    }
    model = potential.identity
    record.set_property(
        "md_diffusivity",
        {f"{r.temperature_K:.0f}": r.diffusivity_cm2_s for r in results},
        unit="cm2/s",
        method=method + "; keys: temperature in K",
        model=model,
    )
    record.set_property(
        "md_diffusivity_std",
        {f"{r.temperature_K:.0f}": r.diffusivity_std_cm2_s for r in results},
        unit="cm2/s",
        method="standard error of the MSD slope (pymatgen-analysis-diffusion)",
    )
    earlier = record.value("md_flags")  # the NEB's, when it ran first
    flags = [*(earlier if isinstance(earlier, list) else [])]
    flags += [f"{r.temperature_K:.0f}K:{flag}" for r in results for flag in r.flags]
    trusted = [r for r in results if r.trusted and r.diffusivity_cm2_s > 0]
    if len(trusted) < 2:
        flags.append(f"md-no-arrhenius: {len(trusted)} trusted temperature(s), need 2")
    else:
        _arrhenius(record, trusted, method, model)
    record.set_property(
        "md_flags",
        flags,
        unit="",
        method="per temperature: md-too-few-hops, md-framework-mobile (melting, amorphisation "
        "or decomposition), md-too-short, md-failed; flagged temperatures are not used",
    )


def _arrhenius(
    record: Record, trusted: list[DiffusionAtTemperature], method: str, model: object
) -> None:
    from screen.transport.diffusion import fit_arrhenius, nernst_einstein_conductivity

    fit = fit_arrhenius(
        [r.temperature_K for r in trusted],
        [r.diffusivity_cm2_s for r in trusted],
        [r.diffusivity_std_cm2_s for r in trusted],
    )
    temps = ", ".join(f"{r.temperature_K:.0f}" for r in trusted)
    fit_method = f"{method}; weighted Arrhenius fit of ln D over {temps} K"
    ea_std = fit.activation_energy_std_eV
    record.set_property(
        "md_activation_energy",
        fit.activation_energy_eV,
        unit="eV",
        method=fit_method,
        uncertainty=None if math.isnan(ea_std) else ea_std,
        model=model,  # type: ignore[arg-type]
    )
    d300, ln_std = fit.diffusivity(ROOM_TEMPERATURE_K)
    ion = str(record.working_ion)
    structure = record.current_structure()
    sigma = nernst_einstein_conductivity(
        d300,
        int(structure.composition[ion]),
        structure.volume,
        ion_charge(ion),
        ROOM_TEMPERATURE_K,
    )
    extrapolated = f"{fit_method}, extrapolated to 300 K"
    record.set_property(
        "diffusivity_300K",
        d300,
        unit="cm2/s",
        method=extrapolated,
        uncertainty=d300 * ln_std,
        model=model,  # type: ignore[arg-type]
    )
    record.set_property(
        "conductivity_300K",
        sigma,
        unit="mS/cm",
        method=f"{extrapolated}; Nernst-Einstein, z = {ion_charge(ion)}, Haven ratio 1",
        uncertainty=sigma * ln_std,
        model=model,  # type: ignore[arg-type]
    )
    record.set_property(
        "log10_conductivity_300K",
        math.log10(sigma),
        unit="log10(mS/cm)",
        method="log10 of conductivity_300K; uncertainty propagated from the Arrhenius fit",
        uncertainty=ln_std / math.log(10),
        model=model,  # type: ignore[arg-type]
    )
