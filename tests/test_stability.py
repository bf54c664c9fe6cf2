"""Hull, conventions, reference providers, electrochemical window, electrode arithmetic.

Fast tests on hand-made entries (energies chosen so every number can be checked by hand)
and on the toy Lennard-Jones potential; real-physics checks are in test_stability_chgnet.py.
"""

from __future__ import annotations

import json

import pytest
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.entries.computed_entries import ComputedEntry

from screen.estimators.electrode import electrode_result
from screen.stability.entries import (
    ConventionError,
    DroppedEntryError,
    apply_convention,
    check_mixable,
    ml_entry,
    mp_run_parameters,
)
from screen.stability.hull import HullBook, MissingReferenceError
from screen.stability.phases import nominal_anion_charge, prototype_phases, subsystems
from screen.stability.providers import (
    FileReferences,
    MaterialsProjectReferences,
    ReferenceUnavailable,
)
from screen.stability.window import stability_window

# toy energies (eV per formula unit): elements, and compounds with formation energies
MU = {"Na": -1.3, "Cl": -1.8, "P": -5.4, "S": -4.1}
EF = {"NaCl": -4.0, "Na2S": -3.6, "Na3P": -1.5, "P2S5": -2.0}


def toy(formula: str, ef: float = 0.0, entry_id: str | None = None) -> ComputedEntry:
    comp = Composition(formula)
    energy = sum(n * MU[str(el)] for el, n in comp.items()) + ef
    return ComputedEntry(comp, energy, entry_id=entry_id or formula, data={"label": formula})


def references() -> list[ComputedEntry]:
    elements = [toy(el) for el in MU]
    return elements + [toy(f, ef) for f, ef in EF.items()]


# --------------------------------------------------------------------------- hull
def test_energy_above_hull_and_decomposition_by_hand():
    book = HullBook(references(), "toy")
    # NaCl polymorph 0.1 eV per formula unit above rock salt: 0.05 eV/atom above the hull
    result = book.assess(toy("NaCl", -3.9, "polymorph"))
    assert result.energy_above_hull_per_atom == pytest.approx(0.05)
    assert result.formation_energy_per_atom == pytest.approx(-1.95)
    assert [(p.formula, p.atom_fraction) for p in result.decomposition] == [("NaCl", 1.0)]
    assert not result.stable


def test_stable_candidate_reports_distance_below_the_hull():
    # Na3PS4 vs Na2S + P2S5: 4 Na2S... use the exact tie line 3/2 Na2S + 1/2 P2S5 -> Na3PS4
    # (hull energy of that mixture: 1.5 * -3.6 + 0.5 * -2.0 = -6.4 eV per 8 atoms)
    book = HullBook(references(), "toy")
    result = book.assess(toy("Na3PS4", -9.0, "cand"))
    assert result.stable
    assert result.energy_above_hull_per_atom == 0.0
    assert result.hull_distance_per_atom == pytest.approx((-9.0 + 6.4) / 8)
    assert {p.formula for p in result.decomposition} == {"Na2S", "P2S5"}


def test_candidates_in_the_hull_compete_with_each_other():
    first, second = toy("NaCl", -4.2, "a"), toy("NaCl", -4.1, "b")
    book = HullBook(references(), "toy", extra=[first, second])
    assert book.assess(first).stable
    assert book.assess(second).energy_above_hull_per_atom == pytest.approx(0.05)


def test_missing_element_reference_is_named():
    book = HullBook([toy("Na"), toy("NaCl", -4.0)], "toy")
    with pytest.raises(MissingReferenceError, match="Cl"):
        book.assess(toy("NaCl", -4.1, "cand"))


def test_diagrams_are_built_once_per_chemical_system():
    book = HullBook(references(), "toy")
    book.assess(toy("NaCl", -3.9, "x"))
    book.assess(toy("NaCl", -3.8, "y"))
    assert list(book._diagrams) == [frozenset({"Na", "Cl"})]


# --------------------------------------------------------------------------- window
def test_window_of_a_sulfide_reduced_by_sodium():
    """Na3PS4 with toy energies: limits from the reaction energies, by hand.

    Reduction: Na3PS4 + 5 Na -> P + 4 Na2S is the first step below the window:
    its reaction energy dE = 4(-3.6) - (-9.0) = -5.4 eV for 5 Na; V_red = -dE/5 = 1.08 V.
    Oxidation: Na3PS4 -> 1/2 P2S5 + 3/2 S + 3 Na: dE = 1/2(-2.0) - (-9.0) = 8.0 eV for
    3 Na released, V_ox = 8.0/3 = 2.667 V.
    """
    book = HullBook(references(), "toy")
    window = stability_window(toy("Na3PS4", -9.0, "cand"), book, "Na", 1)
    assert window.reduction_limit_v == pytest.approx(1.08)
    assert window.oxidation_limit_v == pytest.approx(8.0 / 3)
    assert {p.formula for p in window.reduction_products} == {"Na2S", "P"}
    assert {p.formula for p in window.oxidation_products} == {"P2S5", "S"}
    assert window.stabilised_by_ev_per_atom == 0.0


def test_window_of_a_halide_stable_against_the_metal():
    book = HullBook(references(), "toy")
    window = stability_window(toy("NaCl", -4.0, "cand"), book, "Na", 1)
    assert window.reduction_limit_v == 0.0
    assert window.reduction_products == []
    assert window.oxidation_limit_v == pytest.approx(4.0, abs=1e-3)  # NaCl -> Na + 1/2 Cl2
    assert [p.formula for p in window.oxidation_products] == ["Cl2"]


def test_window_of_a_metastable_candidate_is_flagged():
    book = HullBook(references(), "toy")
    window = stability_window(toy("NaCl", -3.9, "cand"), book, "Na", 1)
    assert window.stabilised_by_ev_per_atom == pytest.approx(0.05)


def test_divalent_ion_halves_the_voltage():
    mu = {"Mg": -1.5, "Cl": -1.8}
    entries = [
        ComputedEntry("Mg", mu["Mg"]),
        ComputedEntry("Cl", mu["Cl"]),
    ]
    book = HullBook(entries, "toy")
    cand = ComputedEntry("MgCl2", mu["Mg"] + 2 * mu["Cl"] - 6.0, entry_id="c")
    window = stability_window(cand, book, "Mg", 2)
    assert window.oxidation_limit_v == pytest.approx(3.0, abs=1e-3)  # 6 eV / 2 electrons


# --------------------------------------------------------------------------- conventions
def test_mp_run_parameters_follow_mp_hubbard_rules():
    fe_oxide = mp_run_parameters(Composition("NaFePO4"))
    assert fe_oxide["run_type"] == "GGA+U" and fe_oxide["hubbards"] == {"Fe": 5.3}
    assert mp_run_parameters(Composition("FeS2"))["run_type"] == "GGA"  # sulfide: no U
    assert mp_run_parameters(Composition("NaCl"))["run_type"] == "GGA"
    assert mp_run_parameters(Composition("CrF3"))["hubbards"] == {"Cr": 3.7}


def test_mp2020_corrections_for_raw_vasp_models_only():
    structure = Structure(
        Lattice.cubic(4.3), ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )  # rock-salt-like FeO, one formula unit
    raw = [ml_entry(structure, -15.0, "feo")]
    corrected = apply_convention(raw, "raw-vasp")
    assert len(corrected) == 1
    # MP2020: oxide correction (-0.687 eV/O) and the Fe U correction (-2.256 eV/Fe)
    assert corrected[0].energy == pytest.approx(-15.0 - 0.687 - 2.256, abs=0.01)
    assert apply_convention(raw, "mp2020-corrected")[0].energy == -15.0  # CHGNet: as is


def test_a_dropped_entry_is_an_error_not_a_lost_candidate():
    bare = ComputedEntry("FeO", -15.0, entry_id="no-parameters")
    with pytest.raises(DroppedEntryError, match="no-parameters"):
        apply_convention([bare], "raw-vasp")


def test_incompatible_conventions_are_refused():
    check_mixable("raw-vasp", "mp2020-corrected", "materials-project")
    check_mixable("mp2020-corrected", "mp2020-corrected", "materials-project")
    with pytest.raises(ConventionError, match="OMat24"):
        check_mixable("omat24", "mp2020-corrected", "materials-project")
    with pytest.raises(ConventionError, match="self-consistent"):
        check_mixable("toy", "mp2020-corrected", "file")


# --------------------------------------------------------------------------- electrodes
def test_electrode_numbers_by_hand():
    discharged = Structure(
        Lattice.cubic(5.0),
        ["Na", "Fe", "O", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75]],
    )
    charged = Structure(
        Lattice.cubic(4.9),
        ["Fe", "O", "O"],
        [[0.5, 0.5, 0.5], [0.25, 0.25, 0.25], [0.75, 0.75, 0.75]],
    )
    # E(NaFeO2) - E(FeO2) - E(Na) = -3.0 eV -> 3.0 V
    result = electrode_result(discharged, -30.0, charged, -25.7, -1.3, "Na")
    assert result.average_voltage_v == pytest.approx(3.0)
    q = 96485.33212 / (3.6 * Composition("NaFeO2").weight)
    assert result.capacity_gravimetric_mah_g == pytest.approx(q)
    assert result.specific_energy_wh_kg == pytest.approx(3.0 * q)
    assert result.capacity_volumetric_mah_cm3 == pytest.approx(q * discharged.density)
    assert result.volume_change_percent == pytest.approx(100 * (4.9**3 - 125) / 125)


def test_electrode_numbers_with_a_charged_supercell():
    cell = Lattice.cubic(4.0)
    discharged = Structure(cell, ["Mg", "Mo", "S"], [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5]])
    charged = Structure(
        Lattice.cubic(4.0).matrix * [[2], [1], [1]],
        ["Mo", "S", "Mo", "S"],
        [[0.25, 0.5, 0], [0.25, 0, 0.5], [0.75, 0.5, 0], [0.75, 0, 0.5]],
    )
    # per discharged cell: E_ch = -20/2; V = -(-16 - (-10) - (-2)) / 2 = 2.0 V (z = 2)
    result = electrode_result(discharged, -16.0, charged, -20.0, -2.0, "Mg")
    assert result.ions_removed == 1
    assert result.average_voltage_v == pytest.approx(2.0)


# --------------------------------------------------------------------------- phases
def test_prototype_phases_build_the_classic_binaries():
    nacl = {p.prototype for p in prototype_phases(("Cl", "Na"))}
    assert "aflow:AB_cF8_225_a_b" in nacl  # rock salt
    na_o = {p.structure.composition.reduced_formula for p in prototype_phases(("Na", "O"))}
    assert na_o == {"Na2O"}  # anions keep their nominal charge: no peroxide
    fe_o = {p.structure.composition.reduced_formula for p in prototype_phases(("Fe", "O"))}
    assert {"FeO", "Fe2O3", "Fe3O4"} <= fe_o


def test_no_phases_between_two_anions():
    assert prototype_phases(("Cl", "O")) == []
    assert nominal_anion_charge("Fe") is None and nominal_anion_charge("S") == -2


def test_subsystems():
    assert subsystems(frozenset({"Na", "Fe", "O"})) == [
        ("Fe", "Na"),
        ("Fe", "O"),
        ("Na", "O"),
        ("Fe", "Na", "O"),
    ]


# --------------------------------------------------------------------------- providers
def test_file_references_round_trip(tmp_path):
    from monty.json import MontyEncoder

    path = tmp_path / "entries.json"
    path.write_text(json.dumps(references(), cls=MontyEncoder))
    provider = FileReferences(path, "mp2020-corrected")
    got = provider.entries([frozenset({"Na", "Cl"})])
    assert sorted(e.composition.reduced_formula for e in got) == ["Cl2", "Na", "NaCl"]
    assert provider.describe()["sha256"]


def test_file_references_errors_name_the_file(tmp_path):
    with pytest.raises(ReferenceUnavailable, match=r"missing\.json"):
        FileReferences(tmp_path / "missing.json", "mp2020-corrected").entries([])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"formula": "NaCl"}]))
    with pytest.raises(ReferenceUnavailable, match=r"bad\.json.*ComputedStructureEntry"):
        FileReferences(bad, "mp2020-corrected").entries([])


def test_materials_project_cache_needs_no_key(tmp_path, monkeypatch):
    from monty.json import MontyEncoder

    monkeypatch.delenv("MP_API_KEY", raising=False)
    (tmp_path / "Cl-Na.json").write_text(
        json.dumps(
            [e for e in references() if set(map(str, e.composition.elements)) <= {"Na", "Cl"}],
            cls=MontyEncoder,
        )
    )
    provider = MaterialsProjectReferences(tmp_path)
    assert len(provider.entries([frozenset({"Na", "Cl"})])) == 3
    assert provider.fetched == []


def test_materials_project_without_key_names_the_alternatives(tmp_path, monkeypatch):
    monkeypatch.delenv("MP_API_KEY", raising=False)
    provider = MaterialsProjectReferences(tmp_path)
    with pytest.raises(ReferenceUnavailable) as err:
        provider.entries([frozenset({"Na", "S"})])
    text = str(err.value)
    assert "MP_API_KEY" in text and "Na-S" in text
    assert "self-consistent" in text and "entries_file" in text


def test_materials_project_query_failure_is_explained(tmp_path, monkeypatch):
    import sys
    import types

    class Rester:
        def __init__(self, key):
            pass

        def __enter__(self):
            raise RuntimeError("REST query returned with error status code 401: invalid api key")

        def __exit__(self, *exc):
            return False

    client = types.ModuleType("mp_api.client")
    client.MPRester = Rester
    monkeypatch.setitem(sys.modules, "mp_api", types.ModuleType("mp_api"))
    monkeypatch.setitem(sys.modules, "mp_api.client", client)
    monkeypatch.setenv("MP_API_KEY", "expired")
    with pytest.raises(ReferenceUnavailable, match=r"401.*expired or invalid.*self-consistent"):
        MaterialsProjectReferences(tmp_path).entries([frozenset({"Na", "S"})])
    assert not list(tmp_path.iterdir())  # nothing cached from a failed query


def test_composition_entries_carry_run_parameters():
    entry = ml_entry(Composition("O"), -4.9, "O-ref")
    assert entry.parameters["run_type"] == "GGA"
    assert apply_convention([entry], "raw-vasp")[0].energy == pytest.approx(-4.9)
