"""Generation by prototype substitution and the prefilters."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pymatgen.core import Composition

from screen.candidates.critical import CriticalList, assess
from screen.candidates.filters import prefilter
from screen.candidates.generate import generate
from screen.candidates.prototypes import load_prototypes
from screen.records import record_from_structure
from screen.workflow.spec import ChemicalSpace, GenerateParams, PrefilterParams


def space(**kw):
    base = dict(
        working_ions=["Na"],
        framework_cations=["Fe", "Cr", "Zn", "Co"],
        anions=["O", "S", "Cl"],
        prototypes=["layered-o3-AMX2", "perovskite-AMX3"],
    )
    base.update(kw)
    return ChemicalSpace(**base)


def test_prototypes_reproduce_their_reference_compounds():
    for name, proto in load_prototypes().items():
        structure = proto.reference_structure()
        assert (
            structure.composition.reduced_formula
            == Composition(proto.reference_compound).reduced_formula
        ), name
        assert structure.is_ordered


def test_generation_enumerates_role_choices():
    records = generate(space(), GenerateParams())
    # O3: 4 cations x {O, S} (allowed chalcogens); perovskite: 4 cations x {O, Cl}
    assert len(records) == 4 * 2 + 4 * 2
    formulas = Counter(r.formula for r in records)
    assert formulas["NaFeO2"] == 1 and formulas["NaFeS2"] == 1 and formulas["NaZnCl3"] == 1
    for r in records:
        sub = r.provenance["recipe"]["substitution"]
        comp = r.initial_structure().composition
        assert set(map(str, comp.elements)) == set(sub.values())
        assert r.provenance["working_ion"] == "Na"
        assert r.status["generate"].state == "ok"


def test_generation_is_deterministic_and_ids_follow_the_recipe():
    a = generate(space(), GenerateParams())
    b = generate(space(framework_cations=["Co", "Zn", "Cr", "Fe"]), GenerateParams())
    assert [r.id for r in a] == [r.id for r in b]
    assert [r.structure for r in a] == [r.structure for r in b]


def test_volume_scaling_follows_ionic_size():
    records = {r.formula: r for r in generate(space(), GenerateParams())}
    v_oxide = records["NaFeO2"].initial_structure().volume
    v_sulfide = records["NaFeS2"].initial_structure().volume
    assert v_sulfide > 1.2 * v_oxide  # S2- is much larger than O2-


def test_max_candidates_samples_with_seed():
    a = generate(space(max_candidates=5, seed=1), GenerateParams())
    b = generate(space(max_candidates=5, seed=1), GenerateParams())
    c = generate(space(max_candidates=5, seed=2), GenerateParams())
    assert len(a) == 5 and [r.id for r in a] == [r.id for r in b] != [r.id for r in c]


def _reasons(records):
    return {r.formula: (r.status["prefilter"].state, r.status["prefilter"].reason) for r in records}


def test_prefilter_charge_balance_and_strict_critical_policy():
    sp = space(critical_policy="strict")
    out = _reasons(prefilter(generate(sp, GenerateParams()), sp, PrefilterParams()))
    assert out["NaFeO2"] == ("ok", None)  # Fe3+
    assert out["NaZnO2"] == ("filtered", "charge-imbalance")  # Zn is 2+ only
    assert out["NaZnCl3"] == ("ok", None)
    assert out["NaCoO2"] == ("filtered", "critical-element")  # Co is on the CRMA list


def test_fluorspar_maps_fluorine_to_critical():
    sp = space(anions=["F"], critical_policy="strict")
    out = prefilter(generate(sp, GenerateParams()), sp, PrefilterParams())
    zn = next(r for r in out if r.formula == "NaZnF3")
    assert zn.status["prefilter"].reason == "critical-element"
    assert "F: fluorspar" in zn.status["prefilter"].detail


def test_report_only_policy_keeps_and_reports():
    sp = space(critical_policy="report-only")
    records = {
        r.formula: r for r in prefilter(generate(sp, GenerateParams()), sp, PrefilterParams())
    }
    co = records["NaCoO2"]
    assert co.status["prefilter"].state == "ok"
    assert co.value("critical_elements") == ["Co"]
    mass_fraction = Composition("NaCoO2").get_wt_fraction("Co")
    assert co.number("critical_mass_fraction") == pytest.approx(mass_fraction, abs=1e-6)
    assert records["NaFeO2"].value("critical_elements") == []


def test_working_ion_exempt_policy_flags_mg():
    clist = CriticalList.load("eu-crma-2024-critical")
    result = assess(Composition("MgFeSiO4"), clist, "working-ion-exempt", ["Mg"])
    assert "Mg" in result.elements and result.exempt == ["Mg"]
    assert "Mg" not in result.excluded_by
    strict = assess(Composition("MgFe2O4"), clist, "strict", ["Mg"])
    assert strict.excluded_by == ["Mg"]


def test_duplicates_and_geometry(nacl):
    sp = space()
    same = record_from_structure(nacl)
    shifted = nacl.copy()
    shifted.translate_sites(list(range(len(shifted))), [0.1, 0.1, 0.1])
    shifted_record = record_from_structure(shifted)  # same crystal, another origin
    squashed = nacl.copy()
    na = next(i for i, site in enumerate(squashed) if site.specie.symbol == "Na")
    cl = squashed[1 - na].frac_coords
    squashed.replace(na, "Na", cl + np.array([0.02, 0.0, 0.0]))  # Na 0.08 Å from Cl
    too_close = record_from_structure(squashed)
    out = prefilter([same, shifted_record, too_close], sp, PrefilterParams())
    states = sorted(r.status["prefilter"].reason or "ok" for r in out)
    assert states == ["atoms-too-close", "duplicate", "ok"]
    dup = next(r for r in out if r.status["prefilter"].reason == "duplicate")
    assert min(same.id, shifted_record.id) in dup.status["prefilter"].detail


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
