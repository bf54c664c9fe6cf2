"""Redox couples, intercalation members, voltage profiles and their uncertainty (fast)."""

from __future__ import annotations

import random
import textwrap

import pytest
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.entries.computed_entries import ComputedEntry

from screen.deliverables import report
from screen.estimators.couples import (
    RedoxCouples,
    RedoxCouplesError,
    anion_family,
    default_couples_path,
    load_couples,
    redox_window,
)
from screen.estimators.profile import (
    intercalation_members,
    removal_targets,
    supercell_multiplier,
    voltage_profile,
    voltage_sigma,
)

FARADAY = 96485.33212


# --------------------------------------------------------------------------- couples
@pytest.mark.parametrize(
    ("formula", "ion", "ions", "couple"),
    [
        ("NaFeO2", "Na", 0.5, "Fe3+/Fe4+ (oxide) to 3.5+"),  # Yabuuchi 2012: to Na0.5FeO2
        ("NaCrO2", "Na", 0.5, "Cr3+/Cr4+ (oxide) to 3.5+"),  # Komaba 2010
        ("NaFePO4", "Na", 1.0, "Fe2+/Fe3+ (polyanion)"),
        ("Na2FeP2O7", "Na", 1.0, "Fe2+/Fe3+ (polyanion)"),  # only one Fe
        ("Na3V2P3O12", "Na", 2.0, "V3+/V4+ (polyanion)"),  # Na3V2(PO4)3: not to V5+
        ("NaVOPO4", "Na", 1.0, "V4+/V5+ (polyanion)"),  # a vanadyl host starts at V4+
        ("Mg2Mo6S8", "Mg", 2.0, "Mo2+/Mo2.67+ (sulfide)"),  # Chevrel: two Mg
        ("MgMo6S8", "Mg", 1.0, "Mo2+/Mo2.67+ (sulfide)"),
        ("Zn2Mo6S8", "Zn", 2.0, "Mo2+/Mo2.67+ (sulfide)"),
        ("MgTi2S4", "Mg", 1.0, "Ti3+/Ti4+ (sulfide)"),
    ],
)
def test_the_couples_bound_the_charged_state(formula, ion, ions, couple):
    window = redox_window(Composition(formula), ion)
    assert window.ions == pytest.approx(ions)
    assert couple in window.couples_text()
    assert window.fallback == ()


@pytest.mark.parametrize(
    ("formula", "ion"), [("NaCaCl3", "Na"), ("Na3PS4", "Na"), ("NaSnCl3", "Na"), ("MgAl2O4", "Mg")]
)
def test_hosts_without_an_accessible_couple_give_no_ions(formula, ion):
    window = redox_window(Composition(formula), ion)
    assert window.ions == 0 and window.fallback == ()


def test_an_element_not_in_the_file_falls_back_to_its_highest_icsd_state():
    window = redox_window(Composition("NaRuO2"), "Na")  # Ru is not in the file
    assert window.fallback == ("Ru (oxide)",)
    assert window.ions == 1.0  # Ru3+ -> Ru6+ would free 3 electrons; one Na is all there is
    assert "ICSD fallback" in window.couples_text()[0]


def test_a_family_not_listed_for_an_element_falls_back():
    window = redox_window(Composition("NaCrS2"), "Na")  # Cr has oxide couples only
    assert window.fallback == ("Cr (sulfide)",)


@pytest.mark.parametrize(
    ("formula", "family"),
    [
        ("NaFeO2", "oxide"),
        ("NaFePO4", "polyanion"),
        ("Na2Fe2S3O12", "polyanion"),  # sulfate
        ("Na3V2P2O8F3", "polyanion"),  # fluorophosphate
        ("Mo6S8", "sulfide"),
        ("Mo6Se8", "selenide"),
        ("NaFeF3", "halide"),
        ("Li3N", None),
    ],
)
def test_anion_families(formula, family):
    assert anion_family(Composition(formula)) == family


def test_every_bundled_couple_has_a_reference_and_a_practical_range():
    data = load_couples()
    assert data.version >= 1
    couples = [c for families in data.elements.values() for cs in families.values() for c in cs]
    assert len(couples) >= 20
    assert all(len(c.reference) > 20 and c.practical for c in couples)
    fe = data.couples("Fe", "oxide")
    assert fe is not None and [c.reach for c in fe if c.low == 3] == [3.5]  # to ~Na0.5FeO2
    assert data.couples("Zn", "oxide") == []  # inactive everywhere
    assert data.couples("Ru", "oxide") is None  # not in the file


def test_a_bad_couples_file_names_the_file_and_the_field(tmp_path):
    bad = tmp_path / "couples.yaml"
    bad.write_text(
        textwrap.dedent(
            """
            version: 1
            elements:
              Fe:
                oxide:
                  - couple: [3, 4]
                    practical_high: 5
                    reference: a reference that is long enough
                    practical: to Fe5+
            """
        )
    )
    with pytest.raises(RedoxCouplesError) as info:
        RedoxCouples.read(bad)
    assert str(bad) in str(info.value) and "elements.Fe.oxide.0" in str(info.value)
    bad.write_text("version: 1\nelements: {Fe: {nitride: []}}\n")
    with pytest.raises(RedoxCouplesError, match="nitride"):
        RedoxCouples.read(bad)
    assert RedoxCouples.read(default_couples_path()).source.endswith("redox-couples.yaml")
    assert load_couples().source == "candidates/redox-couples.yaml (version 1)"  # no local path


def test_a_user_couples_file_replaces_the_bundled_one(tmp_path):
    mine = tmp_path / "couples.yaml"
    mine.write_text(
        "version: 2\nelements:\n  Fe:\n    oxide:\n      - couple: [3, 4]\n"
        "        reference: a reference that is long enough\n        practical: all of it\n"
    )
    window = redox_window(Composition("NaFeO2"), "Na", RedoxCouples.read(mine))
    assert window.ions == 1.0 and window.source == str(mine)


# --------------------------------------------------------------------------- members
def o3_nafeo2() -> Structure:
    """O3 NaFeO2, R-3m (a 3.025, c 16.09 Å, z(O) 0.2325: Takeda et al. 1994), primitive."""
    return Structure.from_spacegroup(
        "R-3m",
        Lattice.hexagonal(3.025, 16.09),
        ["Na", "Fe", "O"],
        [[0, 0, 0], [0, 0, 0.5], [0, 0, 0.2325]],
    ).get_primitive_structure()


def test_members_step_evenly_to_the_window_in_the_smallest_supercells():
    assert removal_targets(0.5, 1) == [0.25, 0.5]
    assert supercell_multiplier(0.25, 4, 64) == 4 and supercell_multiplier(0.5, 4, 64) == 2
    members = intercalation_members(o3_nafeo2(), "Na", 0.5, 1, 64)
    assert [m.removed for m in members] == [0.25, 0.5]
    assert [m.multiplier for m in members] == [4, 2]
    assert [m.structure.composition.reduced_formula for m in members] == [
        "Na3(FeO2)4",
        "Na(FeO2)2",
    ]
    assert all(m.structure.is_ordered for m in members)


def test_a_removal_the_largest_supercell_cannot_hold_is_rounded():
    members = intercalation_members(o3_nafeo2(), "Na", 0.5, 1, 8)  # at most 2 cells
    assert [(m.removed, m.target) for m in members] == [(0.5, 0.5)]  # 0.25 rounds to 0.5


# --------------------------------------------------------------------------- profile
def entry(formula: str, energy: float) -> ComputedEntry:
    return ComputedEntry(Composition(formula), energy, entry_id=formula)


def two_step_entries(e_mid: float) -> list[ComputedEntry]:
    """Mo6S8 / MgMo6S8 / Mg2Mo6S8 with step energies of 2.4 eV (1.2 V) and 2.0 eV."""
    mg = -1.5
    return [
        entry("Mo6S8", -100.0),
        entry("MgMo6S8", e_mid),
        entry("Mg2Mo6S8", -100.0 + 2 * mg - 4.4),
    ], entry("Mg", mg)


def test_a_two_step_profile_by_hand():
    members, metal = two_step_entries(-100.0 - 1.5 - 2.4)
    profile = voltage_profile(members, metal, "Mg")
    # V = -(E(Mg_x2) - E(Mg_x1) - dx E(Mg)) / (z dx): 2.4 / 2 and 2.0 / 2
    assert profile.voltages == pytest.approx([1.2, 1.0])
    assert profile.average_voltage_v == pytest.approx(1.1)
    assert profile.stable == ("Mo3S4", "Mg(Mo3S4)2", "MgMo3S4")  # reduced formulas
    assert profile.intermediates == ["Mg(Mo3S4)2"]
    q = 2 * FARADAY * 2 / (3.6 * Composition("Mg2Mo6S8").weight)
    assert profile.capacity_gravimetric_mah_g == pytest.approx(q)
    assert [s.capacity_to_mah_g for s in profile.steps] == pytest.approx([q / 2, q])
    assert profile.specific_energy_wh_kg == pytest.approx(1.1 * q)
    # x per formula of the reduced framework (Mo3S4), as in the MP battery explorer
    assert [(s.x_charged, s.x_discharged) for s in profile.steps] == [(0, 0.5), (0.5, 1)]


def test_an_intermediate_above_the_hull_along_x_is_no_step():
    members, metal = two_step_entries(-100.0 - 1.5 - 2.0)  # 0.2 eV above the tie line
    profile = voltage_profile(members, metal, "Mg")
    assert profile.voltages == pytest.approx([1.1])
    assert profile.intermediates == []
    assert profile.unstable["Mg(Mo3S4)2"] == pytest.approx(0.2 / 15)


def test_voltage_uncertainty_propagates_the_stated_error_model():
    """Monte Carlo through the real profile code under the docstring's assumption.

    Errors: framework atoms one shared error (cancels); the working ions in the host one
    systematic error per ion, the metal another; the redox centres one error per electron
    in the reduced state and another in the oxidised state; each with sigma per atom.
    """
    sigma, rng = 0.05, random.Random(7)
    for ion, z, host, charged, discharged, x in (
        ("Na", 1, "FeO2", "Na2Fe4O8", "Na3Fe4O8", 1),  # a step of 0.25 Na per FeO2
        ("Mg", 2, "Mo6S8", "Mo6S8", "Mg2Mo6S8", 2),
    ):
        voltages = []
        for _ in range(4000):
            frame, ion_host, metal_err, red, ox = (rng.gauss(0, sigma) for _ in range(5))
            n_c = Composition(charged).num_atoms
            n_d = Composition(discharged).num_atoms
            e_charged = -5.0 * n_c + frame * n_c
            # the discharged member: x more ions (in the host), z x electrons on reduced centres
            e_discharged = -5.0 * n_d - 3.0 * x + frame * n_c + ion_host * x + (red - ox) * z * x
            metal = entry(ion, -2.0 + metal_err)
            profile = voltage_profile(
                [entry(charged, e_charged), entry(discharged, e_discharged)], metal, ion
            )
            voltages.append(profile.average_voltage_v)
        mean = sum(voltages) / len(voltages)
        std = (sum((v - mean) ** 2 for v in voltages) / (len(voltages) - 1)) ** 0.5
        assert std == pytest.approx(voltage_sigma(sigma, z), rel=0.06), host
    assert voltage_sigma(0.079, 1) == pytest.approx(0.158)


# --------------------------------------------------------------------------- report
def test_the_card_plots_the_profile():
    from screen.records import Record

    record = Record(id="x", formula="NaFeO2", structure=o3_nafeo2().as_dict())
    assert report.profile_data(record) is None
    record.provenance["voltage_profile"] = {
        "framework": "FeO2",
        "working_ion": "Na",
        "unit": "V vs Na/Na+",
        "uncertainty_v": 0.16,
        "steps": [
            {"x_charged": 0.5, "x_discharged": 0.75, "voltage_v": 3.3},
            {"x_charged": 0.75, "x_discharged": 1.0, "voltage_v": 2.7},
        ],
    }
    record.set_property("average_voltage", 3.0, unit="V vs Na/Na+", method="profile")
    data = report.profile_data(record)
    assert data is not None and data.steps == [(0.5, 0.75, 3.3), (0.75, 1.0, 2.7)]
    svg = report.plots.voltage_profile_plot(data)
    assert "<svg" in svg and "NaxFeO2" in svg


def test_the_workflow_checks_the_couples_file_and_the_intermediates(tmp_path):
    from pydantic import ValidationError

    from screen.workflow.estimate import EstimateParams

    bad = tmp_path / "mine.yaml"
    bad.write_text("version: 1\nelements: {Xx: {oxide: []}}\n")
    with pytest.raises(ValidationError) as info:
        EstimateParams.model_validate(
            {"electrode": {"redox_couples": "mine.yaml"}}, context={"base_dir": str(tmp_path)}
        )
    assert "mine.yaml" in str(info.value) and "Xx" in str(info.value)
    with pytest.raises(ValidationError, match=r"redox_couples file .*missing\.yaml"):
        EstimateParams.model_validate(
            {"electrode": {"redox_couples": "missing.yaml"}}, context={"base_dir": str(tmp_path)}
        )
    with pytest.raises(ValidationError, match="intermediates"):
        EstimateParams.model_validate({"electrode": {"intermediates": -1}})
    assert EstimateParams().electrode.intermediates == 1
