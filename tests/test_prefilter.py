"""Prefilters: each rejection is counted with its reason; supply-side properties."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Composition, Lattice, Structure

from screen.candidates.critical import CriticalList, assess
from screen.candidates.filters import prefilter
from screen.candidates.generate import generate
from screen.records import record_from_structure
from screen.workflow.spec import ChemicalSpace, GenerateParams, PrefilterParams
from tests.conftest import na_space

space = na_space


def reasons(records):
    return {r.formula: (r.status["prefilter"].state, r.status["prefilter"].reason) for r in records}


def run(sp, **params):
    records = [r for r in generate(sp, GenerateParams(substitution_threshold=0)) if r.active]
    return prefilter(records, sp, PrefilterParams(**params))


def test_charge_balance_and_strict_critical_policy():
    out = reasons(run(space(critical_policy="strict")))
    assert out["NaFeO2"] == ("ok", None)  # Fe3+
    assert out["NaZnO2"] == ("filtered", "charge-imbalance")  # Zn is 2+ only
    assert out["NaZnCl3"] == ("ok", None)
    assert out["NaCoO2"] == ("filtered", "critical-element")  # Co is on the CRMA list


def test_strict_eu2024_removes_the_listed_battery_elements():
    sp = ChemicalSpace(
        working_ions=["Na"],
        framework_cations=["Fe", "Co", "Ni", "Mn", "V", "Mg"],
        anions=["PO4", "SO4"],
        prototypes=["olivine-AMTO4"],
        critical_policy="strict",
    )
    out = reasons(run(sp))
    assert out["NaFeSO4"] == ("filtered", "charge-imbalance") or "NaFeSO4" not in out
    for formula, (_, reason) in out.items():
        elements = {str(e) for e in Composition(formula).elements}
        if elements & {"Co", "Ni", "Mn", "P", "V", "Mg"}:
            assert reason in ("critical-element", "charge-imbalance"), formula
    assert out["NaFePO4"] == ("filtered", "critical-element")  # P: phosphate rock/phosphorus


def test_working_ion_exempt_keeps_mg_flagged():
    sp = ChemicalSpace(
        working_ions=["Mg"],
        framework_cations=["Fe"],
        anions=["SiO4"],
        prototypes=["olivine-AMTO4"],
        critical_policy="working-ion-exempt",
    )
    (record,) = [r for r in run(sp) if r.formula == "MgFeSiO4"]
    # the working ion is exempt (flagged); Si4+ of the silicate is not the silicon metal
    # the list names, so nothing excludes it
    assert record.status["prefilter"].state == "ok"
    assert record.provenance["critical_working_ion"] == ["Mg"]
    silicon = [e for e in record.provenance["critical_entries"] if e["element"] == "Si"]
    assert silicon == [
        {
            "entry": "silicon (metal)",
            "element": "Si",
            "form": "metal",
            "applies": False,
            "why": "Si(+4) is a cation, made from its ores, not from the silicon (metal)",
        }
    ]
    cobalt = ChemicalSpace(
        working_ions=["Mg"],
        framework_cations=["Co"],
        anions=["SiO4"],
        prototypes=["olivine-AMTO4"],
        critical_policy="working-ion-exempt",
    )
    (co,) = [r for r in run(cobalt) if r.formula == "MgCoSiO4"]
    detail = co.status["prefilter"].detail
    assert co.status["prefilter"].reason == "critical-element"
    assert "Co: cobalt [form any]" in detail and "Mg:" not in detail
    sp_s = ChemicalSpace(
        working_ions=["Mg"],
        framework_cations=["Cr"],
        anions=["S"],
        prototypes=["layered-o3-AMX2"],
        critical_policy="working-ion-exempt",
    )
    clist = CriticalList.load("eu-crma-2024-critical")
    result = assess(Composition("MgCr2S4"), clist, "working-ion-exempt", ["Mg"])
    assert result.exempt == ["Mg"] and result.excluded_by == []
    kept = [r for r in run(sp_s) if r.status["prefilter"].state == "ok"]
    assert [r.formula for r in kept] == ["MgCrS2"]
    for r in kept:
        assert r.value("critical_elements") == ["Mg"]
        assert r.provenance["critical_working_ion"] == ["Mg"]


def test_report_only_policy_keeps_and_reports():
    out = {r.formula: r for r in run(space(critical_policy="report-only"))}
    co = out["NaCoO2"]
    assert co.status["prefilter"].state == "ok"
    assert co.value("critical_elements") == ["Co"]
    mass_fraction = Composition("NaCoO2").get_wt_fraction("Co")
    assert co.number("critical_mass_fraction") == pytest.approx(mass_fraction, abs=1e-6)
    assert out["NaFeO2"].value("critical_elements") == []


def test_every_candidate_carries_its_critical_content():
    out = {r.formula: r for r in run(space(critical_policy="strict"))}
    unbalanced = out["NaZnO2"]
    assert unbalanced.status["prefilter"].reason == "charge-imbalance"
    assert unbalanced.value("critical_elements") == []
    assert "hhi_production" in unbalanced.properties
    assert out["NaCoO2"].value("critical_elements") == ["Co"]


def test_supply_properties():
    out = {r.formula: r for r in run(space(critical_policy="report-only"))}
    fe, co = out["NaFeO2"], out["NaCoO2"]
    assert 0 < fe.number("hhi_production") < 10000
    assert co.number("hhi_production") > fe.number("hhi_production")  # Co: DR Congo
    assert co.number("element_cost") > fe.number("element_cost")
    assert fe.properties["element_cost"].unit == "USD/kg"


def test_electronegativity_order():
    from screen.candidates.filters import electronegativity_violation

    assert electronegativity_violation({"Na": 1, "Fe": 3, "O": -2}) is None
    assert "Au" in electronegativity_violation({"Au": 1, "Na": -1})


def test_geometry_density_and_duplicates(nacl):
    sp = space()
    same = record_from_structure(nacl)
    shifted = nacl.copy()
    shifted.translate_sites(list(range(len(shifted))), [0.1, 0.1, 0.1])
    shifted_record = record_from_structure(shifted)  # same crystal, another origin
    squashed = nacl.copy()
    na = next(i for i, site in enumerate(squashed) if site.specie.symbol == "Na")
    squashed.replace(na, "Na", squashed[1 - na].frac_coords + np.array([0.12, 0.0, 0.0]))
    too_close = record_from_structure(squashed)  # Na-Cl ~0.5 Å: above 0.9 Å? no
    airy = nacl.copy()
    airy.scale_lattice(nacl.volume * 30)
    sparse = record_from_structure(airy)
    out = prefilter([same, shifted_record, too_close, sparse], sp, PrefilterParams())
    got = sorted(r.status["prefilter"].reason or "ok" for r in out)
    assert got == ["atoms-too-close", "density", "duplicate", "ok"]


def test_contact_fraction_uses_ionic_radii(nacl):
    squeezed = nacl.copy()
    squeezed.scale_lattice(nacl.volume * 0.4)  # Na-Cl 2.08 Å < 0.75 x (1.16 + 1.67)
    (out,) = prefilter(
        [record_from_structure(squeezed)], space(), PrefilterParams(min_distance_fraction=0.75)
    )
    assert out.status["prefilter"].reason == "atoms-too-close"
    assert "Na-Cl" in out.status["prefilter"].detail or "Cl-Na" in out.status["prefilter"].detail


def test_too_many_atoms(nacl):
    big = record_from_structure(nacl * (3, 3, 3))
    (out,) = prefilter([big], space(max_atoms=40), PrefilterParams())
    assert out.status["prefilter"].reason == "too-many-atoms"


def test_prefilter_does_not_modify_its_input():
    sp = space()
    records = generate(sp, GenerateParams())
    before = [r.to_json() for r in records]
    prefilter(records, sp, PrefilterParams())
    assert [r.to_json() for r in records] == before


def test_grouped_deduplication_only_compares_same_formula_and_symmetry(monkeypatch):
    """StructureMatcher only ever sees records of one formula and one space group."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

    calls = []
    original = StructureMatcher.group_structures

    def recording(self, structures, *args, **kwargs):
        calls.append(structures)
        return original(self, structures, *args, **kwargs)

    monkeypatch.setattr(StructureMatcher, "group_structures", recording)
    sp = space(
        prototypes=["layered-o3-AMX2", "perovskite-AMX3", "layered-p2-AMX2"],
        framework_cations=["Fe", "Cr", "Zn", "Ca", "Sn"],
        critical_policy="report-only",
    )
    run(sp)
    assert calls, "no group was compared"
    for group in calls:
        assert len({s.composition.reduced_formula for s in group}) == 1
        numbers = {SpacegroupAnalyzer(s, symprec=0.1).get_space_group_number() for s in group}
        assert len(numbers) == 1


def test_structure_lattice_independent_of_input(nacl):
    # a record built from a Structure with a Lattice object is accepted
    s = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    (out,) = prefilter([record_from_structure(s)], space(), PrefilterParams())
    assert out.status["prefilter"].state == "ok"


def test_form_aware_policy_reads_the_forms_the_list_names():
    """Silicon metal is not a silicate, titanium metal not an oxide, graphite not a
    carbonate or cyanide; phosphates and thiophosphates do draw on phosphate rock."""
    from screen.candidates.chemistry import oxidation_states

    clist = CriticalList.load("eu-crma-2024-critical")

    def check(formula, fixed=None, ions=("Na",)):
        composition = Composition(formula)
        oxi = oxidation_states(composition, fixed)
        return assess(composition, clist, "form-aware", list(ions), oxi)

    for formula, fixed in [
        ("Na2FeSiO4", {"Si": 4}),
        ("Na2Ti3O7", None),
        ("NaTiS2", None),
        ("Na2CO3", {"C": 4}),
        ("Na2C2O4", None),
        ("NaCN", None),
    ]:
        result = check(formula, fixed)
        assert result.excluded_by == [] and result.elements == [], formula
        (decision,) = {d.element: d for d in result.decisions}.values()
        assert not decision.applies and "is a cation" in decision.why, formula
    for formula, fixed in [("NaFePO4", {"P": 5}), ("Na3PS4", {"P": 5})]:
        result = check(formula, fixed)
        assert result.excluded_by == ["P"]
        assert {d.entry for d in result.decisions if d.applies} == {"phosphate rock", "phosphorus"}
    silicide = check("Mg2Si", ions=("Mg",))
    assert silicide.excluded_by == ["Mg", "Si"]
    assert "silicon (metal) [form metal]" in silicide.reason()
    assert "C" in check("NaC6").excluded_by  # a graphite intercalation compound
    assert check("Si").excluded_by == ["Si"]
    # strict stays element level
    strict = assess(Composition("Na2FeSiO4"), clist, "strict", ["Na"])
    assert strict.excluded_by == ["Si"] and strict.decisions[0].why == "strict: element level"


def test_form_aware_prefilter_keeps_silicates_and_names_the_entry_it_excludes_by():
    sp = ChemicalSpace(
        working_ions=["Na"],
        framework_cations=["Fe", "Co"],
        anions=["PO4", "SiO4"],
        prototypes=["olivine-AMTO4"],
    )
    assert sp.critical_policy == "form-aware"
    out = {r.formula: r for r in run(sp)}
    silicate = out["NaFeSiO4"]  # Na+ Fe3+ Si4+: Si is a cation, not silicon metal
    assert silicate.status["prefilter"].state == "ok"
    assert silicate.value("critical_materials") == []
    phosphate = out["NaFePO4"]
    assert phosphate.status["prefilter"].reason == "critical-element"
    detail = phosphate.status["prefilter"].detail
    assert "P: phosphate rock [form any]" in detail and "policy form-aware" in detail
    assert phosphate.value("critical_materials") == ["phosphate rock", "phosphorus"]
    entries = phosphate.provenance["critical_entries"]
    assert {e["entry"] for e in entries if e["applies"]} == {"phosphate rock", "phosphorus"}


def test_a_critical_list_entry_with_an_unknown_form_is_refused(tmp_path):
    import yaml

    from screen.candidates.critical import CriticalListError
    from screen.resources import resource_dir

    src = resource_dir("candidates") / "critical" / "eu-crma-2024-critical.yaml"
    data = yaml.safe_load(src.read_text())
    for material in data["materials"]:
        if material["name"] == "silicon":
            material["form"] = "ingot"
    path = tmp_path / "list.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(
        CriticalListError,
        match=r"list.yaml: entry 'silicon': form 'ingot'.*allowed: any, metal, elemental-carbon",
    ):
        CriticalList.read(path)
    for material in data["materials"]:
        if material["name"] == "silicon":
            material["form"] = "metal"
            material.pop("form_reason")
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(CriticalListError, match="needs 'form_reason'"):
        CriticalList.read(path)


def test_the_funnel_counts_critical_exclusions_by_list_entry_and_form():
    from screen.deliverables.funnel import format_funnel, funnel

    sp = ChemicalSpace(
        working_ions=["Na"],
        framework_cations=["Fe", "Co", "Ni"],
        anions=["PO4", "SiO4"],
        prototypes=["olivine-AMTO4"],
    )
    (row,) = funnel(run(sp), ("prefilter",))
    (critical,) = [item for item in row.as_dict()["left"] if item["reason"] == "critical-element"]
    by_entry = critical["by_entry"]
    assert by_entry["cobalt [any]"] >= 1 and by_entry["phosphate rock [any]"] >= 1
    assert not any("silicon" in entry for entry in by_entry)  # silicates are not Si metal
    assert "cobalt [any]:" in format_funnel([row])
