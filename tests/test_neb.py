"""Batched NEB: agreement with ASE's NEB, batching, failures (toy potentials)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import add_adsorbate, fcc100
from ase.calculators.emt import EMT
from ase.mep import NEB
from ase.optimize import BFGS, FIRE

from screen.potentials.base import Evaluation
from screen.transport.neb import Band, NEBSettings, interpolate, run_bands


class EMTPotential:
    """ASE's EMT as a batched potential; counts its calls and can refuse a system."""

    def __init__(self):
        self.calls = 0
        self.refuse = None  # a predicate on Atoms: raise for those

    def evaluate(self, systems):
        self.calls += 1
        energy, forces = [], []
        for atoms in systems:
            if self.refuse is not None and self.refuse(atoms):
                raise ValueError("cannot handle this image")
            a = atoms.copy()
            a.calc = EMT()
            energy.append(a.get_potential_energy())
            forces.append(a.get_forces())
        return Evaluation(np.array(energy), forces, np.zeros((len(systems), 3, 3)))


def adatom_hop(shift=0.5):
    """Au on Al(100) (ASE's NEB tutorial, fully periodic): relaxed end points of a hop."""
    slab = fcc100("Al", size=(2, 2, 3), vacuum=6.0, periodic=True)
    add_adsorbate(slab, "Au", 1.7, "hollow")
    slab.center(axis=2, vacuum=4.0)
    slab.pbc = True
    ends = []
    for dx in (0.0, shift):
        atoms = slab.copy()
        atoms[-1].x += slab.get_cell()[0, 0] * dx
        atoms.calc = EMT()
        BFGS(atoms, logfile=None).run(fmax=0.01)
        ends.append(atoms)
    return ends


def band_of(key, initial, final, n=3):
    energies = []
    for atoms in (initial, final):
        a = atoms.copy()
        a.calc = EMT()
        energies.append(a.get_potential_energy())
    return Band(key, interpolate(initial, final, n), energies[0], energies[1])


def test_a_band_follows_ase_neb_with_climbing_image_and_fire():
    initial, final = adatom_hop()
    images = [initial.copy()] + [initial.copy() for _ in range(3)] + [final.copy()]
    for image in images:
        image.calc = EMT()
    neb = NEB(images, climb=True, method="improvedtangent", k=0.1)
    neb.interpolate()
    opt = FIRE(neb, logfile=None)
    opt.run(fmax=0.05, steps=300)
    theirs = [image.get_potential_energy() for image in images]

    (ours,) = run_bands([band_of("hop", initial, final)], EMTPotential(), NEBSettings())
    assert ours.converged and ours.error is None
    assert ours.steps == pytest.approx(opt.nsteps, abs=2)
    assert ours.barrier == pytest.approx(max(theirs) - theirs[0], abs=2e-3)
    np.testing.assert_allclose(ours.energies, theirs, atol=3e-3)
    for mine, ase_image in zip(ours.images, images, strict=True):
        np.testing.assert_allclose(mine.positions, ase_image.positions, atol=2e-2)


def test_bands_run_together_as_they_would_alone_and_a_failure_stays_alone():
    initial, final = adatom_hop()
    _, half = adatom_hop(0.25)
    alone = [run_bands([band_of(k, initial, f)], EMTPotential(), NEBSettings())[0]
             for k, f in (("a", final), ("b", half))]  # fmt: skip
    potential = EMTPotential()
    together = run_bands(
        [band_of("a", initial, final), band_of("b", initial, half)], potential, NEBSettings(),
        max_batch_atoms=1000,
    )  # fmt: skip
    for one, both in zip(alone, together, strict=True):
        assert both.converged and both.steps == one.steps
        assert both.barrier == pytest.approx(one.barrier, abs=1e-9)
    assert potential.calls == max(r.steps for r in together) + 1  # one call per step
    broken = EMTPotential()
    broken.refuse = lambda atoms: atoms.info.get("poisoned", False)
    poisoned = band_of("a", initial, final)
    poisoned.images[2].info["poisoned"] = True
    out = run_bands([poisoned, band_of("b", initial, half)], broken, NEBSettings(),
                    max_batch_atoms=1000)  # fmt: skip
    assert out[0].error and "cannot handle" in out[0].error
    assert out[1].converged and out[1].barrier == pytest.approx(alone[1].barrier, abs=1e-9)


def test_md_stage_runs_neb_vacancy_hops_for_its_records(lj):
    """Tier 2 through the md stage: hops of each record, barriers set, one band per hop."""
    from pymatgen.core import Lattice, Structure

    from screen.records import record_from_structure
    from screen.transport.stage import md_records
    from screen.workflow.params import MDParams

    nacl = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"],
                                     [[0, 0, 0], [0.5, 0.5, 0.5]])  # fmt: skip
    record = record_from_structure(nacl, working_ion="Na")
    record.set_property("carrier_kind", "Frenkel pair", unit="", method="given")
    record.set_property("carrier_formation_energy", 1.0, unit="eV", method="given")
    params = MDParams(top_k=1, run_md=False,
                      neb={"enabled": True, "hops": 2, "images": 3, "max_steps": 200,
                           "max_hop_angstrom": 6.0})  # fmt: skip
    (out,) = md_records([record], params, lj)
    assert out.status["md"].state == "ok"
    hops = out.provenance["neb"]["hops"]
    assert [h["distance_angstrom"] for h in hops] == pytest.approx([3.988, 5.64], abs=1e-3)
    assert all(h["atoms"] == 63 for h in hops)
    if any(h.get("converged") for h in hops):
        barrier = out.number("neb_barrier")
        assert barrier == min(h["barrier_eV"] for h in hops if h.get("converged"))
        assert out.number("neb_activation_energy") == pytest.approx(barrier + 0.5)
    else:
        assert any(f.startswith("neb-no-converged-band") for f in out.value("md_flags"))
    assert "md_diffusivity" not in out.properties
