"""Suggested solid-state routes (screen.deliverables.precursors)."""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction
from pathlib import Path

import pytest
from pymatgen.core import Composition

from screen.deliverables.precursors import (
    PRECURSOR_METHOD,
    PrecursorSuggestion,
    load_precursor_table,
    precursor_candidates,
    suggest_precursors,
    target_families,
)

EXAMPLES = [
    "NaFeO2",
    "NaCrS2",
    "NaZnCl3",
    "NaSnBr3",
    "Na3PS4",
    "Na6PS5Cl",
    "MgAl2O4",
    "ZnCr2O4",
    "NaCaBr3",
    "Na2ZrCl6",
]
MORE = ["NaFeS2", "NaMnO2", "Na3V2(PO4)3", "Na2Fe2(SO4)3", "BiOCl", "Na0.67MnO2", "LiCoO2"]
GASES = {"CO2", "H2O", "NH3", "O2", "N2"}
REQUIRED_ELEMENTS = (
    "Na K Mg Ca Zn Fe Cr Ti V Mn Co Ni Cu Al Sn Zr Mo Si P S Se Y In Ga Ge Nb W Bi Sb Ba Sr "
    "La B Cl Br I O F N"
).split()

_TERM = re.compile(r"^(?:(\d+(?:\.\d+)?) )?(\S+)$")


def parse_side(side: str) -> list[tuple[Fraction, str]]:
    terms = []
    for term in side.split(" + "):
        match = _TERM.match(term.strip())
        assert match, f"cannot read term {term!r}"
        coeff = Fraction(match[1]) if match[1] else Fraction(1)
        terms.append((coeff, match[2]))
    return terms


def side_total(terms: list[tuple[Fraction, str]]) -> dict[str, float]:
    total: dict[str, float] = {}
    for coeff, formula in terms:
        for el, amount in Composition(formula).get_el_amt_dict().items():
            total[el] = total.get(el, 0.0) + float(coeff) * amount
    return total


def assert_conserved(s: PrecursorSuggestion) -> None:
    left, right = s.equation.split(" -> ")
    lhs, rhs = side_total(parse_side(left)), side_total(parse_side(right))
    assert set(lhs) == set(rhs), s.equation
    for el in lhs:
        assert lhs[el] == pytest.approx(rhs[el], abs=1e-8), (el, s.equation)


def routes(formula: str, **kwargs: object) -> list[PrecursorSuggestion]:
    found = suggest_precursors(formula, **kwargs)  # type: ignore[arg-type]
    assert found, f"no route for {formula}"
    return found


@pytest.mark.parametrize("formula", EXAMPLES + MORE)
def test_routes_balance_and_are_consistent(formula: str) -> None:
    target = Composition(formula)
    for s in routes(formula):
        assert_conserved(s)
        left, right = s.equation.split(" -> ")
        reactants = [f for _, f in parse_side(left)]
        products = [f for _, f in parse_side(right)]
        # the target is a product, the precursors are the reactants (plus O2/N2 taken up)
        assert Composition(products[0]).reduced_composition == target.reduced_composition
        assert tuple(f for f in reactants if f not in {"O2", "N2"}) == s.precursors
        assert tuple(products[1:]) == s.byproducts
        assert set(s.byproducts) <= GASES
        # every element of the target comes from a precursor (or O2/N2 gas)
        supplied = {str(el) for f in reactants for el in Composition(f).elements}
        assert {str(el) for el in target.elements} <= supplied
        assert s.as_text() == f"suggestion: {s.equation} ({s.atmosphere})"


def test_nafeo2_carbonate_route_first() -> None:
    best = routes("NaFeO2")[0]
    assert best.equation == "Na2CO3 + Fe2O3 -> 2 NaFeO2 + CO2"
    assert best.precursors == ("Na2CO3", "Fe2O3")
    assert best.byproducts == ("CO2",)
    assert best.atmosphere == "air"
    assert best.as_text() == "suggestion: Na2CO3 + Fe2O3 -> 2 NaFeO2 + CO2 (air)"


def test_oxidising_route_is_labelled() -> None:
    oxidising = [s for s in routes("NaFeO2", max_suggestions=10) if "O2 ->" in s.equation]
    assert oxidising, "expected an FeO/Fe3O4 route that takes up O2"
    assert all(s.atmosphere == "air/O2" for s in oxidising)
    reducing = [s for s in routes("NaMnO2", max_suggestions=10) if "O2" in s.byproducts]
    assert reducing and all("releases O2" in s.atmosphere for s in reducing)


def test_nacrs2_sulfide_route_without_oxygen() -> None:
    found = routes("NaCrS2")
    assert found[0].precursors == ("Na2S", "Cr2S3")
    for s in found:
        assert all("O" not in Composition(p) for p in s.precursors), s.equation
        assert s.byproducts == ()
        assert s.atmosphere == "inert atmosphere/sealed tube"


def test_nafes2_needs_elemental_sulfur() -> None:
    assert routes("NaFeS2")[0].equation == "Na2S + 2 FeS + S -> 2 NaFeS2"


def test_nazncl3_from_chlorides() -> None:
    best = routes("NaZnCl3")[0]
    assert best.equation == "NaCl + ZnCl2 -> NaZnCl3"
    assert best.atmosphere == "inert atmosphere/sealed tube"


def test_na3ps4_from_na2s_and_p2s5() -> None:
    best = routes("Na3PS4")[0]
    assert set(best.precursors) - {"S"} == {"Na2S", "P2S5"}
    assert best.equation == "3 Na2S + P2S5 -> 2 Na3PS4"


def test_mixed_anion_argyrodite() -> None:
    assert target_families("Na6PS5Cl") == ("sulfide", "chloride")
    best = routes("Na6PS5Cl")[0]
    assert best.equation == "5 Na2S + 2 NaCl + P2S5 -> 2 Na6PS5Cl"


@pytest.mark.parametrize(
    ("formula", "equation"),
    [
        ("NaSnBr3", "NaBr + SnBr2 -> NaSnBr3"),
        ("MgAl2O4", "MgO + Al2O3 -> MgAl2O4"),
        ("ZnCr2O4", "ZnO + Cr2O3 -> ZnCr2O4"),
        ("NaCaBr3", "NaBr + CaBr2 -> NaCaBr3"),
        ("Na2ZrCl6", "2 NaCl + ZrCl4 -> Na2ZrCl6"),
        ("Na2Fe2(SO4)3", "Na2SO4 + 2 FeSO4 -> Na2Fe2(SO4)3"),
        ("BiOCl", "Bi2O3 + BiCl3 -> 3 BiOCl"),
    ],
)
def test_first_suggestion(formula: str, equation: str) -> None:
    assert routes(formula)[0].equation == equation


def test_polyanion_oxide_uses_ammonium_phosphate() -> None:
    best = routes("Na3V2(PO4)3")[0]
    assert "NH4H2PO4" in best.precursors
    assert {"H2O", "NH3"} <= set(best.byproducts)


def test_target_written_as_reduced_formula() -> None:
    assert routes("Na2Fe2O4")[0].equation == "Na2CO3 + Fe2O3 -> 2 NaFeO2 + CO2"
    assert routes(" Na Fe O2 ")[0].equation == "Na2CO3 + Fe2O3 -> 2 NaFeO2 + CO2"


def test_fractional_target_balances() -> None:
    for s in routes("Na0.67MnO2"):
        assert_conserved(s)
        assert "Na0.67MnO2" in s.equation


def test_avoid_excludes_precursors_with_avoided_elements() -> None:
    # Co-free target: no Co precursor, ever
    for formula in EXAMPLES:
        for s in suggest_precursors(formula, avoid={"Co"}, max_suggestions=10):
            assert all("Co" not in Composition(p) for p in s.precursors)
    # C on the list (coking coal / graphite on the EU lists): no carbonates
    no_c = routes("NaFeO2", avoid={"C"}, max_suggestions=10)
    assert all("C" not in Composition(p) for s in no_c for p in s.precursors)
    assert no_c[0].equation == "2 NaOH + Fe2O3 -> 2 NaFeO2 + H2O"
    # a target that contains the avoided element may still use it
    with_co = routes("LiCoO2", avoid={"Co"})
    assert any("Co" in Composition(p) for p in with_co[0].precursors)
    assert routes("NaFeO2", avoid={"Na", "Fe"})[0].precursors == ("Na2CO3", "Fe2O3")


def test_unbalanceable_or_unknown_returns_empty() -> None:
    assert suggest_precursors("NaZnCl4") == []  # Zn(III): no listed chloride balances it
    assert suggest_precursors("NaTcO2") == []  # no precursor data for Tc
    assert suggest_precursors("NaSn") == []  # intermetallic, Na is not listed as a metal
    assert suggest_precursors("NaFeO2", avoid={"C", "H"}) == []  # no Na source left


@pytest.mark.parametrize("bad", ["garbage", "NaFeO2!", "", "   ", "12", "Xx2O", "NaFe0O2"])
def test_unparsable_formula_raises(bad: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        suggest_precursors(bad)


def test_max_suggestions_respected() -> None:
    assert len(suggest_precursors("NaFeO2", max_suggestions=1)) == 1
    assert len(suggest_precursors("NaFeO2", max_suggestions=2)) == 2
    many = suggest_precursors("NaFeO2", max_suggestions=50)
    assert 3 < len(many) <= 50
    assert suggest_precursors("NaFeO2", max_suggestions=0) == []
    with pytest.raises(ValueError):
        suggest_precursors("NaFeO2", max_suggestions=-1)
    # a shorter list is the head of a longer one
    assert suggest_precursors("NaFeO2", max_suggestions=2) == many[:2]


def test_deterministic() -> None:
    first = [s.as_text() for f in EXAMPLES for s in suggest_precursors(f)]
    second = [s.as_text() for f in EXAMPLES for s in suggest_precursors(f, avoid=[])]
    assert first == second
    # the result is a fresh list each time; the suggestions are frozen
    a, b = suggest_precursors("NaFeO2"), suggest_precursors("NaFeO2")
    assert a == b and a is not b
    with pytest.raises(dataclasses.FrozenInstanceError):
        a[0].equation = "x"  # type: ignore[misc]


def test_data_file_is_well_formed_and_covers_required_elements() -> None:
    table = load_precursor_table()
    missing = [el for el in REQUIRED_ELEMENTS if el not in table]
    assert not missing
    anion = {
        "oxide": "O",
        "sulfate": "S",
        "sulfide": "S",
        "selenide": "Se",
        "nitride": "N",
        "fluoride": "F",
        "chloride": "Cl",
        "bromide": "Br",
        "iodide": "I",
    }
    for symbol, entry in table.items():
        for family, formulas in entry.items():
            if family == "elemental":
                continue
            for formula in formulas:
                elements = {str(el) for el in Composition(formula).elements}
                assert symbol in elements and anion[family] in elements, (symbol, formula)
    assert table["Na"]["oxide"][0] == "Na2CO3"
    assert table["Fe"]["iodide"] == ["FeI2"]
    assert table["Zn"]["chloride"] == ["ZnCl2"]


def test_malformed_data_file_raises(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("elements:\n  Na:\n    oxide: [Fe2O3]\n")
    with pytest.raises(ValueError, match="lacks Na"):
        load_precursor_table(bad)


def test_candidates_and_method() -> None:
    cands = precursor_candidates("Na6PS5Cl")
    assert cands["Na"] == ["Na2S", "NaCl"]
    assert "S" in cands["S"] and "NaCl" in cands["Cl"]
    assert "not validated experimentally" in PRECURSOR_METHOD
    assert "pymatgen Reaction" in PRECURSOR_METHOD
