"""Tier 1 carriers: BVSE sites, Frenkel pairs, the effective activation energy, the batch."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from screen.transport.bvse import bvse_landscape
from screen.transport.carriers import (
    BY_CHARGING,
    FRENKEL,
    INTRINSIC_PARTIAL,
    INTRINSIC_VACANT,
    effective_activation_energy,
    formula_for,
    frenkel_cells,
    interstitial_positions,
    recombined,
    survey_sites,
)
from screen.workflow.spec import ChemicalSpace, EstimateParams, RelaxParams
from tests.test_estimate_stage import CountingRunner, estimate, o3_nafeo2, relaxed_record


def spinel():
    """MgAl2O4 (Fd-3m, origin 1 as pymatgen builds it; u = 0.3874, a = 8.083 Å)."""
    return Structure.from_spacegroup(
        227, Lattice.cubic(8.083), ["Mg", "Al", "O"], [[0, 0, 0], [0.625] * 3, [0.3874] * 3]
    )


def rocksalt_nacl(a=5.64):
    return Structure.from_spacegroup(
        225, Lattice.cubic(a), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def test_empty_sites_lower_in_energy_are_not_equivalent_sites():
    # the framework-only BVSE puts the empty octahedral 16c sites of spinel below the
    # occupied tetrahedral 8a ones: energy cannot tell equivalence, symmetry does
    structure = spinel()
    survey = survey_sites(bvse_landscape(structure, "Mg"), structure, "Mg")
    assert len(survey.occupied) == 8
    assert survey.vacant and min(s.energy_eV for s in survey.vacant) < min(
        s.energy_eV for s in survey.occupied
    )
    assert survey.equivalent_vacant == []
    assert survey.framework_spacegroup == "Fd-3m"


def test_a_vacancy_in_an_ordered_cell_is_a_vacant_equivalent_site():
    structure = rocksalt_nacl()
    structure.remove_sites([0])  # Na3Cl4 cell: one Na site empty
    landscape = bvse_landscape(structure, "Na", oxidation_states={"Na": 1, "Cl": -1})
    survey = survey_sites(landscape, structure, "Na")
    assert len(survey.occupied) == 3
    assert len(survey.equivalent_vacant) == 1
    site = survey.equivalent_vacant[0].frac
    assert structure.lattice.get_all_distances([site], [[0, 0, 0]])[0, 0] < 0.5  # where Na was


def test_frenkel_pair_moves_the_farthest_ion_onto_a_clear_position():
    structure = rocksalt_nacl()
    landscape = bvse_landscape(structure, "Na")
    positions = interstitial_positions(landscape, structure, "Na")
    assert positions, "rock salt has tetrahedral interstitial positions"
    energies = [e for _, e in positions]
    assert energies == sorted(energies)
    (cell,) = frenkel_cells(structure, "Na", positions, min_length=7.0, max_atoms=100, trials=3)
    # tetrahedral positions are all equivalent: one symmetry-distinct pair
    assert cell.repeats == [2, 2, 2]
    assert cell.structure.composition == cell.perfect.composition
    assert len(cell.structure) == 64
    na = np.array([s.frac_coords for s in cell.structure if s.specie.symbol == "Na"])
    gaps = cell.structure.lattice.get_all_distances(na[-1:], na[:-1])[0]
    assert gaps.min() >= 1.5  # the interstitial (appended last) has room
    assert cell.separation_angstrom > 7.0  # the farthest Na of the 2x2x2 cell


def test_recombination_is_seen_through_translation_and_permutation():
    perfect = rocksalt_nacl() * (2, 2, 2)
    moved = perfect.copy()
    moved.translate_sites(list(range(len(moved))), [0.1, 0.0, 0.0])  # shifted sublattice
    permuted = Structure(moved.lattice, list(reversed(moved.species)), moved.frac_coords[::-1])
    assert recombined(permuted, perfect)
    (cell,) = frenkel_cells(
        rocksalt_nacl(),
        "Na",
        interstitial_positions(bvse_landscape(rocksalt_nacl(), "Na"), rocksalt_nacl(), "Na"),
        min_length=7.0,
        max_atoms=100,
        trials=1,
    )
    assert not recombined(cell.structure, cell.perfect)


def test_effective_activation_energy_formula():
    assert effective_activation_energy(0.3, 1.2, FRENKEL) == pytest.approx(0.9)
    for kind in (INTRINSIC_PARTIAL, INTRINSIC_VACANT, BY_CHARGING):
        assert effective_activation_energy(0.3, 0.0, kind) == pytest.approx(0.3)
        assert formula_for(kind).startswith("Ea = Em ")
    assert "Ef/2" in formula_for(FRENKEL)


def test_engine_holds_atoms_fixed_by_selective_dynamics(lj):
    from pymatgen.io.ase import AseAtomsAdaptor

    from screen.relaxation.engine import relax_many

    structure = rocksalt_nacl(5.0) * (2, 1, 1)
    structure.perturb(0.2, min_distance=0.1)
    structure.add_site_property("selective_dynamics", [[k != 0] * 3 for k in range(len(structure))])
    atoms = AseAtomsAdaptor.get_atoms(structure)
    start = atoms.positions.copy()
    (outcome,) = relax_many([atoms], lj, RelaxParams(variable_cell=False, max_steps=50))
    assert np.allclose(outcome.atoms.positions[0], start[0])
    assert not np.allclose(outcome.atoms.positions[1:], start[1:])


# ---------------------------------------------------------------- the estimate stage


def carrier_params(**carriers):
    return EstimateParams.model_validate(
        {"hull": False, "electrode": False, "capacity": False, "window": False,
         "carriers": {"max_steps": 20, **carriers}}
    )  # fmt: skip


ELECTROLYTE = ChemicalSpace(
    working_ions=["Na"], anions=["O", "Cl"], role="electrolyte", critical_policy="report-only"
)


def test_frenkel_pairs_of_all_candidates_relax_in_one_batch(lj):
    from screen.relaxation.stage import ExtraRelaxations

    records = [
        relaxed_record(rocksalt_nacl(), -20.0),
        relaxed_record(rocksalt_nacl(5.7), -20.5),
    ]
    runner = CountingRunner(lj)
    out = estimate(
        records, ELECTROLYTE, carrier_params(), lj, RelaxParams(),
        extra=ExtraRelaxations(runner, RelaxParams(), "estimate"),
    )  # fmt: skip
    assert [n for kind, n in runner.calls if kind == "relax/defects"] == [2]
    for record in out:
        assert record.value("carrier_kind") == FRENKEL
        pairs = record.provenance["carriers"]["frenkel_pairs"]
        assert len(pairs) == 1 and pairs[0]["atoms"] == 64
        if record.value("carrier_formation_energy") is not None:
            em = record.number("bvse_barrier")
            ef = record.number("carrier_formation_energy")
            assert record.number("effective_activation_energy") == pytest.approx(em + ef / 2)
            assert "Ea = Em + Ef/2" in record.properties["effective_activation_energy"].method


def test_a_failed_defect_relaxation_keeps_the_bvse_values(lj, monkeypatch):
    from screen.relaxation import stage

    def exploding(records, params, potential, **kw):
        out = []
        for record in records:
            done = record.copy_for_stage()
            done.mark("relax", "failed", "relax-exploded", "atoms closer than 0.5 Å")
            out.append(done)
            if kw.get("on_result"):
                kw["on_result"](done)
        return out

    monkeypatch.setattr(stage, "relax_records", exploding)
    (out,) = estimate([relaxed_record(rocksalt_nacl(), -20.0)], ELECTROLYTE, carrier_params(),
                      lj, RelaxParams())  # fmt: skip
    assert out.active
    assert out.number("bvse_barrier") > 0
    assert out.value("carrier_kind") == FRENKEL
    assert "effective_activation_energy" not in out.properties
    flags = out.value("estimate_flags")
    assert any(f.startswith("carrier-defect-failed: failed: atoms closer") for f in flags)
    assert any(f.startswith("carriers-unknown") for f in flags)


def test_a_partially_occupied_sublattice_has_intrinsic_carriers(lj):
    from screen.relaxation.stage import ExtraRelaxations

    record = relaxed_record(rocksalt_nacl(), -20.0)
    record.provenance["disordered_species"] = ["Na"]
    runner = CountingRunner(lj)
    (out,) = estimate([record], ELECTROLYTE, carrier_params(), lj, RelaxParams(),
                      extra=ExtraRelaxations(runner, RelaxParams(), "estimate"))  # fmt: skip
    assert out.value("carrier_kind") == INTRINSIC_PARTIAL
    assert out.number("carrier_formation_energy") == 0.0
    assert out.number("effective_activation_energy") == pytest.approx(out.number("bvse_barrier"))
    assert not [kind for kind, _ in runner.calls if kind and "defects" in kind]


def test_a_cathode_makes_its_vacancies_by_charging(lj):
    from tests.test_estimate_stage import O3_REFS, ToyReferences

    space = ChemicalSpace(working_ions=["Na"], anions=["O"], role="cathode")
    params = EstimateParams.model_validate({"carriers": {"max_steps": 20}})
    (out,) = estimate([relaxed_record(o3_nafeo2(), -30.0)], space, params, lj, RelaxParams(),
                      provider=ToyReferences(O3_REFS))  # fmt: skip
    assert out.value("carrier_kind") == BY_CHARGING
    assert "Fe3+/Fe4+" in out.properties["carrier_kind"].method
    assert out.number("effective_activation_energy") == pytest.approx(out.number("bvse_barrier"))


def test_bad_carrier_neb_and_md_defect_settings_are_refused_with_the_field():
    from screen.workflow.load import WorkflowError, validate_data
    from tests.conftest import small_workflow

    for key, value, field in (
        ("stages.estimate.carriers.trials", 0, "trials"),
        ("stages.estimate.carriers.min_cell_length_angstrom", 1.0, "min_cell_length_angstrom"),
        ("stages.md.neb.images", 0, "images"),
        ("stages.md.carrier_defect", "antisite", "carrier_defect"),
    ):
        with pytest.raises(WorkflowError) as info:
            validate_data(small_workflow(**{key: value}))
        assert field in str(info.value), str(info.value)
