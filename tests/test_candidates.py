"""Generation: prototype substitution, ion exchange, user structures, Materials Project cache."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from pymatgen.core import Composition, Structure

from screen.candidates.filters import prefilter
from screen.candidates.generate import generate
from screen.records import Record
from screen.workflow.spec import ChemicalSpace, GenerateParams, PrefilterParams
from tests.conftest import na_space

space = na_space


def by_formula(records):
    return {r.formula: r for r in records}


def test_generation_enumerates_role_choices():
    records = generate(space(), GenerateParams())
    # O3: 4 cations x {O, S} (its allowed chalcogens); perovskite: 4 cations x {O, Cl}
    assert len(records) == 4 * 2 + 4 * 2
    formulas = Counter(r.formula for r in records)
    assert formulas["NaFeO2"] == 1 and formulas["NaFeS2"] == 1 and formulas["NaZnCl3"] == 1
    for r in records:
        sub = r.provenance["recipe"]["substitution"]
        comp = r.initial_structure().composition
        assert set(map(str, comp.elements)) == set(sub.values())
        assert r.provenance["working_ion"] == "Na"
        assert comp.reduced_formula == r.formula


def test_olivine_na_substitution_replaces_li():
    sp = space(prototypes=["olivine-AMTO4"], framework_cations=["Fe"], anions=["PO4"])
    (record,) = generate(sp, GenerateParams())
    structure = record.initial_structure()
    assert structure.composition.reduced_formula == "NaFePO4"
    assert "Li" not in structure.composition
    assert record.status["generate"].state == "ok"
    (checked,) = prefilter([record], sp, PrefilterParams())
    assert checked.value("oxidation_states") == {"Na": 1.0, "Fe": 2.0, "P": 5.0, "O": -2.0}
    # Na+ is bigger than Li+: the radius-ratio rule expands the cell
    li_volume = 291.4  # LiFePO4, Streltsov et al. 1993 (10.332 x 6.010 x 4.692 Å)
    assert structure.volume > 1.05 * li_volume


def test_substitution_likelihood_filters_unlikely_swaps():
    sp = space(prototypes=["olivine-AMTO4"], framework_cations=["Fe", "Mo"], anions=["PO4"])
    out = by_formula(generate(sp, GenerateParams(substitution_threshold=0.01)))
    assert out["NaFePO4"].status["generate"].state == "ok"
    assert out["NaFePO4"].provenance["substitution_likelihood"] == pytest.approx(0.42, abs=0.05)
    unlikely = out["NaMoPO4"]  # Mo2+ for Fe2+
    assert unlikely.status["generate"].reason == "unlikely-substitution"
    assert unlikely.provenance["substitution_likelihood"] < 0.01


def test_polyanion_centres_fill_polyanion_roles():
    sp = space(prototypes=["olivine-AMTO4"], framework_cations=["Fe", "Mn"], anions=["PO4", "SiO4"])
    formulas = {r.formula for r in generate(sp, GenerateParams(substitution_threshold=0))}
    assert formulas == {"NaFePO4", "NaMnPO4", "NaFeSiO4", "NaMnSiO4"}


def test_generation_is_deterministic_bit_for_bit():
    sp = space(prototypes=["layered-o3-AMX2", "layered-p2-AMX2"], framework_cations=["Mn", "Ni"])
    a = [r.to_json() for r in generate(sp, GenerateParams())]
    b = [r.to_json() for r in generate(sp, GenerateParams())]
    assert a == b


def test_partial_occupancy_prototype_gives_distinct_orderings():
    sp = space(prototypes=["layered-p2-AMX2"], framework_cations=["Mn"], anions=["O"])
    records = [r for r in generate(sp, GenerateParams(max_orderings=3)) if r.active]
    assert 1 <= len(records) <= 3
    assert len({r.id for r in records}) == len(records)
    for r in records:
        s = r.initial_structure()
        assert s.is_ordered
        assert s.composition.reduced_formula == "Na2Mn3O6"  # Na(2/3)MnO2
    from pymatgen.analysis.structure_matcher import StructureMatcher

    structures = [r.initial_structure() for r in records]
    assert all(
        not StructureMatcher().fit(a, b)
        for i, a in enumerate(structures)
        for b in structures[i + 1 :]
    )


def test_mg_ion_exchange_leaves_one_vacancy_per_mg(tmp_path):
    source = Structure.from_spacegroup(  # NaCl-type NaF, two conventional cells: Na8F8
        "Fm-3m",
        [[4.63, 0, 0], [0, 4.63, 0], [0, 0, 4.63]],
        ["Na", "F"],
        [[0, 0, 0], [0.5, 0.5, 0.5]],
    ) * (2, 1, 1)
    source.to(filename=str(tmp_path / "NaF.cif"))
    sp = ChemicalSpace(
        working_ions=["Mg"],
        anions=["F"],
        structures=[tmp_path / "NaF.cif"],
        critical_policy="report-only",
    )
    params = GenerateParams(
        generators=["ion-exchange"], max_orderings=3, ion_exchange={"sources": ["structures"]}
    )
    records = [r for r in generate(sp, params) if r.active]
    assert len(records) == 3
    for r in records:
        comp = r.initial_structure().composition
        na_sites = comp["F"]  # every F had one Na partner
        assert comp["Mg"] * 2 == comp["F"]  # charge balanced: Mg2+ F-
        assert na_sites - comp["Mg"] == comp["Mg"]  # one vacancy per Mg
        assert "Na" not in comp
        assert r.provenance["recipe"]["exchange"] == {"Na": "Mg"}
        assert r.provenance["vacancies_per_working_ion"] == 1
    from pymatgen.analysis.structure_matcher import StructureMatcher

    structures = [r.initial_structure() for r in records]
    assert all(
        not StructureMatcher().fit(a, b)
        for i, a in enumerate(structures)
        for b in structures[i + 1 :]
    )


def test_duplicates_from_two_generators_keep_both_provenances():
    # Li -> Na ion exchange of olivine LiFePO4 is the same crystal as Na substituted into it
    sp = space(
        prototypes=["olivine-AMTO4"],
        framework_cations=["Fe"],
        anions=["PO4"],
        critical_policy="report-only",
    )
    params = GenerateParams(generators=["prototype-substitution", "ion-exchange"])
    records = [r for r in generate(sp, params) if r.active]
    assert Counter(r.formula for r in records)["NaFePO4"] == 2
    out = [r for r in prefilter(records, sp, PrefilterParams()) if r.formula == "NaFePO4"]
    kept = [r for r in out if r.status["prefilter"].state == "ok"]
    gone = [r for r in out if r.status["prefilter"].reason == "duplicate"]
    assert len(kept) == len(gone) == 1
    generators = {kept[0].provenance["recipe"]["generator"]} | {
        d["recipe"]["generator"] for d in kept[0].provenance["duplicates"]
    }
    assert generators == {"prototype-substitution", "ion-exchange"}
    assert kept[0].id in gone[0].status["prefilter"].detail


def test_user_structure_folder(tmp_path, nacl):
    folder = tmp_path / "mine"
    folder.mkdir()
    nacl.to(filename=str(folder / "a.cif"))
    kcl = nacl.copy()
    kcl.replace_species({"Na": "K"})
    kcl.to(filename=str(folder / "POSCAR"))
    sp = ChemicalSpace(working_ions=["Na", "K"], anions=["Cl"], structures=[folder])
    records = generate(sp, GenerateParams(generators=["user-structures"]))
    assert sorted(r.formula for r in records) == ["KCl", "NaCl"]
    assert {r.provenance["working_ion"] for r in records} == {"Na", "K"}


def test_materials_project_generator_reads_its_cache(tmp_path, nacl, monkeypatch):
    cache = tmp_path / "mp.json"
    cache.write_text(
        json.dumps([{"material_id": "mp-22862", "formula": "NaCl", "structure": nacl.as_dict()}])
    )
    monkeypatch.delenv("MP_API_KEY", raising=False)
    sp = ChemicalSpace(working_ions=["Na"], anions=["Cl"])
    params = GenerateParams(
        generators=["materials-project"], materials_project={"chemsys": ["Na-Cl"], "cache": cache}
    )
    (record,) = generate(sp, params)
    assert record.provenance["recipe"] == {
        "generator": "materials-project",
        "material_id": "mp-22862",
    }
    assert record.formula == "NaCl"


def test_materials_project_without_cache_or_key_says_how(tmp_path, monkeypatch):
    from screen.candidates.generators.materials_project import MaterialsProjectUnavailable

    monkeypatch.delenv("MP_API_KEY", raising=False)
    sp = ChemicalSpace(working_ions=["Na"], anions=["Cl"])
    params = GenerateParams(
        generators=["materials-project"],
        materials_project={"chemsys": ["Na-Cl"], "cache": tmp_path / "absent.json"},
    )
    with pytest.raises(MaterialsProjectUnavailable, match="MP_API_KEY is not set"):
        generate(sp, params)
    assert not (tmp_path / "absent.json").exists()


def test_max_candidates_samples_with_seed():
    def active(seed):
        return [
            r.id for r in generate(space(max_candidates=5, seed=seed), GenerateParams()) if r.active
        ]

    a, b, c = active(1), active(1), active(2)
    assert len(a) == 5 and a == b != c


def test_aflow_prototypes_put_a_working_ion_on_a_cation_role():
    sp = space(prototypes=["layered-o3-AMX2"], framework_cations=["Fe"], anions=["O"])
    records = generate(sp, GenerateParams(aflow_prototypes=True))
    aflow = [r for r in records if r.provenance["recipe"]["prototype"].startswith("aflow:")]
    assert aflow
    for r in aflow:
        assert r.provenance["working_ion"] == "Na"
        assert "Na" in r.initial_structure().composition


def test_records_are_valid_and_round_trip():
    for record in generate(space(), GenerateParams()):
        assert Record.from_json(record.to_json()) == record
        assert (
            Composition(record.formula)
            == record.initial_structure().composition.reduced_composition
        )


def test_known_mg_and_zn_spinels_survive_the_likelihood_and_the_filter_still_cuts():
    """The space of the issue report: 46 of 58 were dropped, the known spinels among them."""
    from pymatgen.core import Composition

    from screen.workflow.spec import ChemicalSpace

    sp = ChemicalSpace(
        working_ions=["Mg", "Zn"],
        framework_cations=["Fe", "Cr", "Mo", "Ca", "Sn", "Zr", "Mn", "V", "Ti"],
        anions=["O", "S", "Se"],
        prototypes=["spinel-AM2X4", "chevrel-AMo6X8"],
        critical_policy="report-only",
    )
    records = generate(sp, GenerateParams())
    by_composition = {Composition(r.formula).reduced_formula: r for r in records}
    for formula in ("ZnFe2O4", "MgFe2O4", "MgCr2O4", "ZnCr2O4"):
        record = by_composition[Composition(formula).reduced_formula]
        assert record.status["generate"].state == "ok", formula
        assert record.provenance["substitution_likelihood"] > 0.05
        assert record.provenance["substitution_nearest_member"] in {"MgAl2O4", "ZnCr2S4"}
    unlikely = [r for r in records if r.status["generate"].reason == "unlikely-substitution"]
    assert unlikely, "a threshold that keeps everything is not a filter"
    assert all("nearest known member" in r.status["generate"].detail for r in unlikely)


def test_mixed_valence_roles_are_coupled_in_order_of_oxidation_state():
    from screen.candidates.likelihood import coupling, population

    assert population(3.5) == ((3, 0.5), (4, 0.5))
    assert population(2.0) == ((2, 1.0),)
    # Mn3.5 compared with itself: matched state to state, so the role scores 1
    assert coupling(population(3.5), population(3.5)) == [(3, 3, 0.5), (4, 4, 0.5)]
    # Mn3+ (MgMn2O4) against Mn3.5 (LiMn2O4): half stays Mn3+, half is Mn3+ for Mn4+
    assert coupling(population(3.0), population(3.5)) == [(3, 3, 0.5), (3, 4, 0.5)]
    pieces = coupling(population(2 + 1 / 3), population(2.0))
    assert sum(w for *_, w in pieces) == pytest.approx(1.0)
