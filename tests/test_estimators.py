"""Formation energy and capacity, checked by hand and against experiment."""

from __future__ import annotations

import pytest
from pymatgen.core import Composition, Lattice, Structure

from screen.context import InProcessRunner
from screen.estimators.capacity import theoretical_capacity_gravimetric
from screen.records import record_from_structure
from screen.relaxation.stage import ExtraRelaxations, relax_records
from screen.stability.elements import elemental_references, reference_atoms, reference_library
from screen.stability.hull import HullBook, MissingReferenceError
from screen.workflow.spec import ChemicalSpace, EstimateParams, RelaxParams

EV_PER_KJ_MOL = 1 / 96.485332


def test_formation_energy_arithmetic():
    from pymatgen.entries.computed_entries import ComputedEntry

    refs = HullBook([ComputedEntry("Na", -1.3), ComputedEntry("Cl", -1.8)], "toy")
    # 2 formula units of NaCl with E = -14.6 eV: (-14.6 - 2(-1.3) - 2(-1.8)) / 4
    nacl = ComputedEntry(Composition("Na2Cl2"), -14.6)
    assert refs.formation_energy_per_atom(nacl) == pytest.approx(-2.1)
    with pytest.raises(MissingReferenceError, match="O"):
        refs.formation_energy_per_atom(ComputedEntry(Composition("Na2O"), -10.0))


@pytest.mark.parametrize(
    ("formula", "ion", "expected"),
    [
        # z F x / (3.6 M) by hand: NaFeO2 M = 110.834 g/mol -> 241.8 mAh/g
        ("NaFeO2", "Na", 96485.33212 / (3.6 * 110.834)),
        ("LiCoO2", "Li", 273.8),  # the textbook 274 mAh/g
        # Chevrel MgMo6S8, z = 2, M = 24.305 + 6 x 95.95 + 8 x 32.06 = 856.5 g/mol
        ("MgMo6S8", "Mg", 2 * 96485.33212 / (3.6 * 856.5)),
    ],
)
def test_theoretical_capacity(formula, ion, expected):
    assert theoretical_capacity_gravimetric(Composition(formula), ion) == pytest.approx(
        expected, rel=2e-3
    )


def test_every_reference_structure_builds():
    for symbol, spec in reference_library()["elements"].items():
        atoms, variable_cell = reference_atoms(symbol)
        assert set(atoms.get_chemical_symbols()) == {symbol}
        assert variable_cell == (spec["kind"] not in ("dimer", "molecule"))


def test_reference_cache_is_reused_and_keyed_by_potential(tmp_path, lj):
    cache = tmp_path / "refs.json"

    def extra(params):
        return ExtraRelaxations(InProcessRunner(lj), params, "estimate")

    first = elemental_references({"Na", "Cl"}, lj, RelaxParams(), cache, extra(RelaxParams()))
    cache_text = cache.read_text()
    again = elemental_references({"Na"}, lj, RelaxParams(), cache, extra(RelaxParams()))
    assert again["Na"] == first["Na"] and cache.read_text() == cache_text
    tight = RelaxParams(fmax=0.01)
    other = elemental_references({"Na"}, lj, tight, cache, extra(tight))
    assert other["Na"].steps >= first["Na"].steps  # different key: recomputed


@pytest.mark.parametrize(
    ("structure", "experimental_kj_per_mol"),
    [
        # standard enthalpies of formation (NIST-JANAF / CRC): NaCl -411.2, NaF -576.6
        (("Fm-3m", 5.64, ["Na", "Cl"]), -411.2),
        (("Fm-3m", 4.63, ["Na", "F"]), -576.6),
    ],
)
def test_chgnet_formation_energies_match_experiment(chgnet, structure, experimental_kj_per_mol):
    group, a, species = structure
    s = Structure.from_spacegroup(
        group, Lattice.cubic(a), species, [[0, 0, 0], [0.5, 0.5, 0.5]]
    ).get_primitive_structure()
    (relaxed,) = relax_records([record_from_structure(s)], RelaxParams(), chgnet)
    from screen.estimators.stage import estimate_records

    space = ChemicalSpace(working_ions=["Na"], anions=[species[1]], role="electrolyte")
    (out,) = estimate_records([relaxed], space, EstimateParams(), chgnet, RelaxParams()).records
    expected = experimental_kj_per_mol * EV_PER_KJ_MOL / 2  # per atom
    assert out.number("formation_energy_per_atom") == pytest.approx(expected, abs=0.15)
    assert out.properties["formation_energy_per_atom"].unit == "eV/atom"
    assert "chgnet-0.3.0" in out.properties["formation_energy_per_atom"].method
    assert "theoretical_capacity_gravimetric" not in out.properties  # electrolyte


def test_missing_reference_filters_with_reason(lj):
    s = Structure(Lattice.cubic(3.1), ["Na", "B"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    (relaxed,) = relax_records(
        [record_from_structure(s)], RelaxParams(max_steps=5, drop_unconverged=False), lj
    )
    from screen.estimators.stage import estimate_records

    space = ChemicalSpace(working_ions=["Na"], anions=["B"])
    (out,) = estimate_records([relaxed], space, EstimateParams(), lj, RelaxParams()).records
    assert out.status["estimate"].reason == "no-reference"
    assert "B" in out.status["estimate"].detail


def test_failed_reference_costs_only_its_compounds(lj, monkeypatch):
    """Br2 built 0.3 Å apart: its relaxation explodes in the engine; NaCl is unaffected."""
    import screen.stability.elements as elements
    from screen.estimators.stage import estimate_records

    original = elements.reference_atoms

    def exploding(symbol):
        atoms, variable_cell = original(symbol)
        if symbol == "Br":
            atoms.positions[1] = atoms.positions[0] + [0.3, 0.0, 0.0]
        return atoms, variable_cell

    monkeypatch.setattr(elements, "reference_atoms", exploding)
    structures = [
        # CsCl-type cells near the toy potential's minimum (pair minimum at R_Na + R_X)
        Structure(Lattice.cubic(3.25), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
        Structure(Lattice.cubic(3.4), ["Na", "Br"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    ]
    relaxed = relax_records(
        [record_from_structure(s) for s in structures],
        RelaxParams(max_steps=5, drop_unconverged=False),
        lj,
    )
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl", "Br"])
    done = estimate_records(relaxed, space, EstimateParams(), lj, RelaxParams()).records
    out = {r.formula: r for r in done}
    assert out["NaCl"].status["estimate"].state == "ok"
    assert out["NaBr"].status["estimate"].reason == "no-reference"
