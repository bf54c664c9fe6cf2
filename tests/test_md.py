"""The batched Langevin engine and the diffusion analysis, on toy potentials with known D."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.units import fs, kB

from screen.transport.diffusion import (
    TrustCriteria,
    fit_arrhenius,
    nernst_einstein_conductivity,
    tracer_diffusion,
)
from screen.transport.md import LangevinSettings, MDSystem, run_langevin, write_trajectory
from tests.toy_dynamics import TetheredPotential, lattice_gas


def baoab_free_diffusivity(temperature: float, mass_amu: float, gamma_per_fs: float, dt_fs: float):
    """Exact D (cm^2/s) of a free particle under BAOAB: (kT dt / 2m) coth(gamma dt / 2)."""
    kt_over_m = kB * temperature / mass_amu  # (Å / ASE time)^2
    dt = dt_fs * fs
    d_ase = kt_over_m * dt / 2 / math.tanh(gamma_per_fs * dt_fs / 2)  # Å^2 / ASE time
    return d_ase * fs * 1e-1  # per ASE time -> per fs (x fs); Å^2/fs -> cm^2/s (x 0.1)


def _run(systems, potential, **kw):
    settings = LangevinSettings(**{"timestep_fs": 2.0, "production_steps": 4000,
                                   "equilibration_steps": 200, "friction_per_fs": 0.02,
                                   "sample_every": 10, **kw})  # fmt: skip
    return run_langevin(systems, potential, settings, max_batch_atoms=10_000)


def test_free_ions_in_a_tethered_framework_diffuse_with_the_exact_langevin_d():
    atoms = lattice_gas("free")
    potential = TetheredPotential({"free": atoms.positions.copy()}, tethered={"Cl"})
    (traj,) = _run([MDSystem("free", atoms, 1000.0)], potential)
    assert traj.error is None and traj.duration_ps == pytest.approx(8.0)
    # thermostat: mean kinetic temperature at the target
    assert traj.kinetic_temperature.mean() == pytest.approx(1000.0, rel=0.03)
    result = tracer_diffusion(traj, "Na")
    exact = baoab_free_diffusivity(1000.0, 22.98977, 0.02, 2.0)
    assert math.isclose(exact, kB * 1000 / 22.98977 / (0.02 / fs) * fs * 0.1, rel_tol=0.01)
    assert result.diffusivity_cm2_s == pytest.approx(exact, rel=0.12)
    # the error bar is the statistical one (He et al. 2018), and it covers the deviation
    assert 0.04 * exact < result.diffusivity_std_cm2_s < 0.1 * exact
    assert abs(result.diffusivity_cm2_s - exact) < 2 * result.diffusivity_std_cm2_s
    assert result.trusted and result.effective_hops > 100
    # framework: displacement between two thermal snapshots of an Einstein solid, sqrt(6kT/k)
    assert result.framework_rms_angstrom == pytest.approx(math.sqrt(6 * kB * 1000 / 2.0), rel=0.15)


def test_an_einstein_crystal_does_not_diffuse_and_is_flagged():
    atoms = lattice_gas("solid")
    k = 2.0
    potential = TetheredPotential({"solid": atoms.positions.copy()}, {"Na", "Cl"}, k)
    (traj,) = _run([MDSystem("solid", atoms, 600.0)], potential, production_steps=1500)
    # equipartition: <|u|^2> = 3 kT / k per atom; displacement between two frames: twice that
    u = traj.positions - traj.positions[0]
    msd = float((u[len(u) // 2 :] ** 2).sum(axis=-1).mean())
    assert msd == pytest.approx(2 * 3 * kB * 600 / k, rel=0.2)
    result = tracer_diffusion(traj, "Na")
    assert "md-too-few-hops" in result.flags and not result.trusted


def test_a_mobile_framework_is_flagged_as_melting():
    atoms = lattice_gas("melt")
    potential = TetheredPotential({"melt": atoms.positions.copy()}, tethered=set())
    (traj,) = _run([MDSystem("melt", atoms, 1000.0)], potential, production_steps=1500)
    result = tracer_diffusion(traj, "Na", TrustCriteria(max_framework_rms_angstrom=1.0))
    assert "md-framework-mobile" in result.flags


def test_batching_does_not_change_a_trajectory_and_a_failure_stays_alone():
    systems = [MDSystem(k, lattice_gas(k, 2), t) for k, t in (("a", 600.0), ("b", 900.0))]
    sites = {s.key: s.atoms.positions.copy() for s in systems}
    settings = LangevinSettings(production_steps=200, equilibration_steps=0, sample_every=10)
    together = run_langevin(systems, TetheredPotential(sites, {"Cl"}), settings)
    alone = run_langevin([MDSystem("b", lattice_gas("b", 2), 900.0)],
                         TetheredPotential(sites, {"Cl"}), settings)  # fmt: skip
    np.testing.assert_allclose(together[1].positions, alone[0].positions, atol=1e-10)
    poisoned = TetheredPotential(sites, {"Cl"})
    poisoned.poisoned = {"a"}
    systems = [MDSystem(k, lattice_gas(k, 2), t) for k, t in (("a", 600.0), ("b", 900.0))]
    bad, good = run_langevin(systems, poisoned, settings)
    assert bad.error and "non-finite" in bad.error
    assert good.error is None and len(good.positions) == 21
    np.testing.assert_allclose(good.positions, alone[0].positions, atol=1e-10)


def test_batched_run_makes_one_potential_call_per_step():
    systems = [MDSystem(k, lattice_gas(k, 2), 600.0) for k in "abc"]
    potential = TetheredPotential({s.key: s.atoms.positions.copy() for s in systems}, {"Cl"})
    run_langevin(systems, potential, LangevinSettings(production_steps=50, equilibration_steps=10))
    assert potential.calls == 1 + 60


def test_trajectory_file_round_trip(tmp_path):
    from ase.io import read

    atoms = lattice_gas("t", 2)
    potential = TetheredPotential({"t": atoms.positions.copy()}, {"Cl"})
    settings = LangevinSettings(production_steps=100, equilibration_steps=0, sample_every=20)
    (traj,) = run_langevin([MDSystem("t", atoms, 800.0)], potential, settings)
    write_trajectory(traj, str(tmp_path / "800K.traj"))
    frames = read(str(tmp_path / "800K.traj"), index=":")
    assert len(frames) == 6
    np.testing.assert_allclose(frames[-1].positions, traj.positions[-1])
    assert frames[-1].info["time_fs"] == pytest.approx(200.0)


def test_arrhenius_fit_recovers_ea_and_matches_pymatgen_with_equal_weights():
    from pymatgen.analysis.diffusion.analyzer import fit_arrhenius as pmg_fit

    rng = np.random.default_rng(1)
    temps = np.array([600.0, 800.0, 1000.0, 1200.0])
    d = 1e-3 * np.exp(-0.30 / (8.617333262e-5 * temps)) * np.exp(rng.normal(0, 0.05, 4))
    fit = fit_arrhenius(temps, d)
    ea, _, s_ea = pmg_fit(temps, d)
    assert fit.activation_energy_eV == pytest.approx(ea, rel=1e-9)
    assert fit.activation_energy_std_eV == pytest.approx(s_ea, rel=1e-6)
    assert fit.activation_energy_eV == pytest.approx(0.30, abs=0.03)
    # with error bars: exact data give Ea exactly, and the 300 K error grows with distance
    exact = 1e-3 * np.exp(-0.30 / (8.617333262e-5 * temps))
    weighted = fit_arrhenius(temps, exact, 0.1 * exact)
    assert weighted.activation_energy_eV == pytest.approx(0.30, abs=1e-9)
    d300, ln_std300 = weighted.diffusivity(300.0)
    _, ln_std900 = weighted.diffusivity(900.0)
    assert d300 == pytest.approx(1e-3 * math.exp(-0.30 / (8.617333262e-5 * 300)), rel=1e-6)
    assert ln_std300 > 3 * ln_std900 > 0
    with pytest.raises(ValueError, match="2 distinct temperatures"):
        fit_arrhenius([600.0], [1e-6])


def test_nernst_einstein_matches_pymatgen_and_scales_with_z_squared():
    from pymatgen.analysis.diffusion.analyzer import get_conversion_factor
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])  # fmt: skip
    sigma = nernst_einstein_conductivity(1e-6, 4, nacl.volume, 1, 300.0)
    assert sigma == pytest.approx(get_conversion_factor(nacl, "Na", 300.0) * 1e-6, rel=1e-6)
    assert nernst_einstein_conductivity(1e-6, 4, nacl.volume, 2, 300.0) == pytest.approx(4 * sigma)


def test_out_of_memory_halves_the_batch_and_a_raising_system_fails_alone():
    def fresh():
        return [MDSystem(k, lattice_gas(k, 2), 700.0) for k in "abcd"]

    sites = {s.key: s.atoms.positions.copy() for s in fresh()}
    settings = LangevinSettings(production_steps=40, equilibration_steps=0, sample_every=10)
    reference = run_langevin(fresh(), TetheredPotential(sites, {"Cl"}), settings)
    small_device = TetheredPotential(sites, {"Cl"})
    small_device.max_systems = 1
    halved = run_langevin(fresh(), small_device, settings)
    for a, b in zip(reference, halved, strict=True):
        assert b.error is None
        np.testing.assert_allclose(a.positions, b.positions, atol=1e-10)
    broken = TetheredPotential(sites, {"Cl"})
    broken.raising = {"c"}
    out = run_langevin(fresh(), broken, settings)
    assert [t.error is None for t in out] == [True, True, False, True]
    assert "cannot handle" in out[2].error
    np.testing.assert_allclose(out[3].positions, reference[3].positions, atol=1e-10)


def test_a_candidate_md_cannot_run_keeps_its_place_with_a_reason():
    from pymatgen.core import Lattice, Structure

    from screen.records import record_from_structure
    from screen.transport.stage import md_records, supercell_for_md
    from screen.workflow.params import MDParams

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])  # fmt: skip
    big, scale = supercell_for_md(nacl, 10.0)
    assert scale == [2, 2, 2] and len(big) == 64
    tilted, scale = supercell_for_md(nacl.get_primitive_structure(), 10.0)
    assert min(tilted.lattice.abc) >= 10.0 or scale == [3, 3, 3]  # heights, not lengths
    other = nacl.copy()
    other.scale_lattice(nacl.volume * 1.05)  # another structure: another id
    records = [record_from_structure(nacl, working_ion="Na"),
               record_from_structure(other, working_ion="Mg")]  # fmt: skip
    out = md_records(records, MDParams(top_k=2, max_atoms=20), potential=None)
    for record in out:
        assert record.status["md"].state == "ok" and "md_diffusivity" not in record.properties
    assert "max_atoms 20" in out[0].value("md_flags")[0]
    assert "no working ion (Mg)" in out[1].value("md_flags")[0]


@pytest.mark.parametrize(
    ("how", "kind", "atoms"),
    [("vacancy", None, 63), ("frenkel", None, 64), ("interstitial", None, 65),
     ("tier1", "Frenkel pair", 64), ("tier1", "intrinsic: partially occupied sublattice", 64)],
)  # fmt: skip
def test_md_inserts_the_carrier_defect_and_records_it(lj, tmp_path, how, kind, atoms):
    from pymatgen.core import Lattice, Structure

    from screen.records import record_from_structure
    from screen.transport.stage import md_records
    from screen.workflow.params import MDParams

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])  # fmt: skip
    record = record_from_structure(nacl, working_ion="Na")
    if kind:
        record.set_property("carrier_kind", kind, unit="", method="given")
    params = MDParams(top_k=1, temperatures_K=[300.0, 400.0], duration_ps=0.04,
                      equilibration_ps=0.0, sample_interval_fs=4.0, carrier_defect=how)  # fmt: skip
    (out,) = md_records([record], params, lj, trajectory_dir=str(tmp_path))
    assert out.status["md"].state == "ok", out.status["md"]
    md = out.provenance["md"]
    assert md["atoms"] == atoms
    defect = md["carrier_defect"]
    if atoms == 64 and how == "tier1" and kind.startswith("intrinsic"):
        assert defect["kind"] == "none" and "intrinsic" in defect["why"]
    else:
        assert defect["kind"] == ("frenkel" if how == "tier1" else how)
        assert defect["compensation"]
        assert "carrier defect inserted" in out.properties["md_diffusivity"].method
    import json

    from ase.io import read

    frame = read(md["trajectories"][0], index=0)
    assert json.loads(frame.info["carrier_defect"]) == defect  # the trajectory says too
