"""The density estimator (added by following docs/dev/estimator.md; copy this test)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError
from pymatgen.core import Lattice, Structure

import screen
from screen.estimators.density import ionic_packing_fraction, shannon_radius
from screen.workflow.spec import ChemicalSpace, EstimateParams


def rocksalt(a, species):
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), species, [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def test_packing_fraction_and_density_of_rock_salt_by_hand():
    """NaCl, a = 5.64 Å: 4 (4/3) pi (1.02^3 + 1.81^3) / a^3 with Shannon's CN-6 radii."""
    nacl = rocksalt(5.64, ["Na", "Cl"])
    fraction, notes = ionic_packing_fraction(nacl, {"Na": 1, "Cl": -1})
    assert fraction == pytest.approx(4 * 4 / 3 * math.pi * (1.02**3 + 1.81**3) / 5.64**3)
    assert fraction == pytest.approx(0.653, abs=1e-3) and notes == []
    # X-ray density 4 M / (N_A a^3) (pymatgen's atomic masses); measured 2.165 g/cm3 (CRC)
    assert float(nacl.density) == pytest.approx(4 * 58.443 / (6.02214076e23 * 5.64e-8**3), rel=1e-5)


def test_shannon_radii_choose_coordination_spin_and_mixed_valence():
    assert shannon_radius("Fe", 3, 6) == (0.645, "")  # high spin, not the 0.55 low spin
    assert shannon_radius("Zn", 2, 4) == (0.60, "")
    radius, note = shannon_radius("Mo", 3.5, 6)  # halfway between Mo3+ 0.69 and Mo4+ 0.65
    assert radius == pytest.approx(0.67) and "between +3 and +4" in note
    radius, note = shannon_radius("P", 5, 6)
    assert radius == pytest.approx(0.38) and note == ""
    radius, note = shannon_radius("P", 5, 3)  # no CN 3: the nearest tabulated, CN 4
    assert radius == pytest.approx(0.17) and "CN 4" in note
    assert "atomic radius" in shannon_radius("Ne", 0, 6)[1]


def test_density_section_of_the_workflow():
    assert EstimateParams().section("density").enabled
    assert not EstimateParams.model_validate({"density": False}).section("density").enabled
    with pytest.raises(ValidationError, match="density: coordination: Input should be less"):
        EstimateParams.model_validate({"density": {"coordination": 13}})


def test_density_through_the_estimate_stage(lj, nacl):
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="electrolyte")
    only = EstimateParams(hull=False, window=False, bvse=False, carriers=False)  # no ion
    (relaxed,) = screen.relax([nacl], potential=lj)
    (out,) = screen.estimate([relaxed], space, only, potential=lj)
    structure = out.current_structure()
    assert out.number("density") == pytest.approx(float(structure.density))
    assert out.properties["density"].unit == "g/cm3"
    assert out.properties["density"].model.name == "lennard-jones-toy"
    expected, _ = ionic_packing_fraction(structure, {"Na": 1, "Cl": -1})
    assert out.number("ionic_packing_fraction") == pytest.approx(expected)
    assert "Cl-1, Na+1" in out.properties["ionic_packing_fraction"].method


def test_no_oxidation_states_means_a_flag_not_a_number(lj):
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="electrolyte")
    only = EstimateParams(hull=False, window=False, bvse=False, carriers=False)
    unbalanced = rocksalt(5.0, ["Na", "F"])
    unbalanced.append("F", [0.25, 0.25, 0.25])  # NaF2: F is only ever -1
    (out,) = screen.estimate([unbalanced], space, only, potential=lj)
    assert out.status["estimate"].state == "ok" and "density" in out.properties
    assert "ionic_packing_fraction" not in out.properties
    assert "no-packing-fraction: no charge-balanced oxidation states" in out.value("estimate_flags")
