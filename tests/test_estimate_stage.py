"""The estimate stage end to end on the toy potential: providers, refusals, isolation."""

from __future__ import annotations

import json

import pytest
from pymatgen.core import Composition, Lattice, Structure
from pymatgen.entries.computed_entries import ComputedEntry

from screen.context import InProcessRunner
from screen.estimators.stage import estimate_records
from screen.records import record_from_structure
from screen.relaxation.stage import ExtraRelaxations
from screen.workflow.spec import ChemicalSpace, EstimateParams, HullParams, RelaxParams


def estimate(records, space, params, potential, relax_params, references_dir=None, **kw):
    """The estimate stage's records (its provenance is checked where it matters)."""
    return estimate_records(
        records, space, params, potential, relax_params, references_dir, **kw
    ).records


class CountingRunner(InProcessRunner):
    """In this process, noting each piece of extra work: (kind/label, records)."""

    def __init__(self, potential):
        super().__init__(potential)
        self.calls = []

    def map(self, function, records, params, *, stage, extra=None, options=None):
        self.calls.append((extra, len(records)))
        return super().map(function, records, params, stage=stage, extra=extra, options=options)


def relaxed_record(structure, energy, working_ion="Na"):
    """A record as the relax stage leaves it (energy given, not computed)."""
    from screen.records import structure_dict

    record = record_from_structure(structure, working_ion=working_ion)
    record.relaxed_structure = structure_dict(structure)
    record.set_property("energy", energy, unit="eV", method="given")
    record.set_property("relax_converged", True, unit="", method="given")
    record.mark("relax", "ok")
    return record


def rocksalt(a, species):
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(a), species, [[0, 0, 0], [0.5, 0.5, 0.5]]
    ).get_primitive_structure()


class ToyReferences:
    """A provider from a list of entries (the interface third parties implement)."""

    name = "toy-file"
    complete = True

    def __init__(self, entries, convention="toy"):
        self._entries = entries
        self.convention = convention

    def entries(self, systems):
        return [
            e
            for e in self._entries
            if any({el.symbol for el in e.composition.elements} <= s for s in systems)
        ]

    def describe(self):
        return {"provider": self.name}


REFS = [
    ComputedEntry("Na", -1.3),
    ComputedEntry("Cl", -1.8),
    ComputedEntry("K", -1.1),
    ComputedEntry("NaCl", -1.3 - 1.8 - 4.0, entry_id="nacl-ref"),
]


def test_electrolyte_gets_hull_and_window_with_units(lj):
    record = relaxed_record(rocksalt(5.64, ["Na", "Cl"]), -1.3 - 1.8 - 3.9)
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="electrolyte")
    params = EstimateParams(hull=HullParams(include_candidates=False))
    (out,) = estimate([record], space, params, lj, RelaxParams(), provider=ToyReferences(REFS))
    assert out.status["estimate"].state == "ok"
    assert out.number("energy_above_hull_per_atom") == pytest.approx(0.05)
    assert out.properties["energy_above_hull_per_atom"].unit == "eV/atom"
    assert out.number("reduction_limit") == 0.0
    assert out.properties["reduction_limit"].unit == "V vs Na/Na+"
    assert out.number("oxidation_limit") == pytest.approx(4.0, abs=1e-3)
    assert "window-of-metastable-phase" in out.value("estimate_flags")
    assert "toy-file" in out.properties["energy_above_hull_per_atom"].method


def test_one_candidate_without_reference_leaves_alone(lj):
    good = relaxed_record(rocksalt(5.64, ["Na", "Cl"]), -7.2)
    orphan = relaxed_record(rocksalt(5.0, ["Na", "Br"]), -6.0)
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl", "Br"], role="electrolyte")
    out = estimate(
        [good, orphan], space, EstimateParams(), lj, RelaxParams(), provider=ToyReferences(REFS)
    )
    by = {r.formula: r for r in out}
    assert by["NaCl"].status["estimate"].state == "ok"
    assert by["NaBr"].status["estimate"].reason == "no-reference"
    assert "Br" in by["NaBr"].status["estimate"].detail


def test_hull_mixing_conventions_is_refused_per_record(lj):
    record = relaxed_record(rocksalt(5.64, ["Na", "Cl"]), -7.2)
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="electrolyte")
    provider = ToyReferences(REFS, convention="mp2020-corrected")
    provider.name = "materials-project"
    (out,) = estimate([record], space, EstimateParams(), lj, RelaxParams(), provider=provider)
    status = out.status["estimate"]
    assert status.reason == "no-hull-references"
    assert "cannot share a hull" in status.detail and "self-consistent" in status.detail


def test_cathode_without_redox_gets_a_reason_not_a_voltage(lj):
    cell = Structure(Lattice.cubic(3.3), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    record = relaxed_record(cell, -7.0)
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="cathode")
    (out,) = estimate(
        [record], space, EstimateParams(), lj, RelaxParams(), provider=ToyReferences(REFS)
    )
    assert out.status["estimate"].state == "ok"
    assert "average_voltage" not in out.properties
    assert "no-voltage: no-redox-capacity" in out.value("estimate_flags")


def test_self_consistent_references_are_cached_per_subsystem(lj, tmp_path):
    """The toy potential builds, screens, relaxes and caches the Na-Cl references."""
    record = relaxed_record(rocksalt(5.64, ["Na", "Cl"]), -7.2)
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="electrolyte")
    params = EstimateParams(  # carrier defects are relaxed anew each call: not the point here
        hull=HullParams(polymorphs_per_formula=1, max_reference_atoms=8), carriers=False
    )
    runner = CountingRunner(lj)
    extra = ExtraRelaxations(runner, RelaxParams(), "estimate")

    result = estimate_records([record], space, params, lj, RelaxParams(), tmp_path, extra=extra)
    (out,) = result.records
    assert out.status["estimate"].state == "ok", out.status["estimate"]
    assert "hull-from-incomplete-references" in out.value("estimate_flags")
    folder = tmp_path / "self-consistent" / "lennard-jones-toy"
    cached = json.loads((folder / "Cl-Na.json").read_text())
    assert cached["phases"] and all("NaCl" in p["label"] for p in cached["phases"])
    assert (folder / "elements.json").is_file()
    # every structure through the one road: Na (bcc, with its cell), Cl2 (in a box, fixed
    # cell), the single points of the built Na-Cl phases, one NaCl polymorph relaxed
    kinds = [extra for extra, _ in runner.calls]
    assert kinds == [
        "relax/elements",
        "relax/elements-in-box",
        "points/ref-points",
        "relax/hull-refs",
    ]
    assert dict(runner.calls)["relax/elements"] == 1 and dict(runner.calls)["relax/hull-refs"] == 1
    assert result.info["hull_references"]["provider"] == "self-consistent"
    runner.calls.clear()
    estimate_records([record], space, params, lj, RelaxParams(), tmp_path, extra=extra)
    assert runner.calls == []  # second call: everything from the cache


def test_hull_file_parameter_is_checked(tmp_path):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="entries_file"):
        HullParams(references="file")
    with pytest.raises(ValidationError, match="does not exist"):
        HullParams(references="file", entries_file=tmp_path / "nope.json")
    assert Composition("NaCl")  # keep pymatgen import used


def test_unphysical_candidate_does_not_sink_the_hull(lj):
    fair = relaxed_record(rocksalt(5.64, ["Na", "Cl"]), -1.3 - 1.8 - 3.9)
    hole = relaxed_record(rocksalt(5.0, ["Na", "Cl"]), -1.3 - 1.8 - 14.0)  # -7 eV/atom
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="electrolyte")
    out = estimate(
        [fair, hole], space, EstimateParams(), lj, RelaxParams(), provider=ToyReferences(REFS)
    )
    by = {r.id: r for r in out}
    assert by[hole.id].status["estimate"].reason == "unphysical-energy"
    assert by[fair.id].number("energy_above_hull_per_atom") == pytest.approx(0.05)


def test_raw_vasp_models_get_mp2020_corrections_before_the_hull(lj):
    """A MACE-MP-like (raw VASP) potential against MP-corrected references: the candidate's
    energy is corrected (oxide -0.687 eV/O, Fe U -2.256 eV/Fe) before its hull distance."""
    import copy

    raw_model = copy.copy(lj)
    raw_model.card = lj.card.model_copy(update={"energy_convention": "raw-vasp"})
    feo = rocksalt(4.33, ["Fe", "O"])
    refs = [
        ComputedEntry("Fe", -8.3),
        ComputedEntry("O", -4.9),
        ComputedEntry("FeO", -8.3 - 4.9 - 2.8, entry_id="mp-feo"),  # MP-corrected
    ]
    record = relaxed_record(feo, -12.5, working_ion="Na")
    space = ChemicalSpace(working_ions=["Na"], anions=["O"], role="electrolyte")
    provider = ToyReferences(refs, convention="mp2020-corrected")
    provider.name = "materials-project"
    (out,) = estimate(
        [record], space, EstimateParams(), raw_model, RelaxParams(), provider=provider
    )
    corrected = -12.5 - 0.687 - 2.256
    expected = (corrected - (-8.3 - 4.9 - 2.8)) / 2
    assert out.number("energy_above_hull_per_atom") == pytest.approx(expected, abs=0.005)
    assert "MP2020 corrections applied" in out.properties["energy_above_hull_per_atom"].method


def test_an_entry_the_corrections_refuse_costs_only_its_record(lj, monkeypatch):
    import copy

    import screen.stability.entries as entries

    raw_model = copy.copy(lj)
    raw_model.card = lj.card.model_copy(update={"energy_convention": "raw-vasp"})
    original = entries.apply_convention

    def refuse_br(batch, convention):
        if any("Br" in e.composition for e in batch):
            raise entries.DroppedEntryError("MP2020 corrections dropped 1 of 1 entries: x")
        return original(batch, convention)

    monkeypatch.setattr(entries, "apply_convention", refuse_br)
    refs = [*REFS, ComputedEntry("Br", -1.5)]
    good = relaxed_record(rocksalt(5.64, ["Na", "Cl"]), -7.2)
    bad = relaxed_record(rocksalt(5.9, ["Na", "Br"]), -6.5)
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl", "Br"], role="electrolyte")
    provider = ToyReferences(refs, convention="mp2020-corrected")
    out = {
        r.formula: r
        for r in estimate(
            [good, bad], space, EstimateParams(), raw_model, RelaxParams(), provider=provider
        )
    }
    assert out["NaBr"].status["estimate"].reason == "energy-correction-dropped"
    assert out["NaCl"].status["estimate"].state == "ok"


def test_every_candidate_gets_a_bvse_barrier_or_a_reason(lj):
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl", "N"], role="electrolyte")
    params = EstimateParams(hull=False, window=False)
    nacl = relaxed_record(rocksalt(5.64, ["Na", "Cl"]), -6.0)
    na3n = relaxed_record(  # Na+ - N3- has no softBV parameters: flagged, not failed
        Structure.from_spacegroup(
            "Pm-3m", Lattice.cubic(3.8), ["N", "Na"], [[0, 0, 0], [0.5, 0, 0]]
        ),
        -10.0,
    )
    out = {r.formula: r for r in estimate([nacl, na3n], space, params, lj, RelaxParams())}
    rock = out["NaCl"]
    assert rock.status["estimate"].state == "ok"
    assert 0.5 < rock.number("bvse_barrier") < 1.2  # rock salt: a poor Na conductor
    assert rock.number("bvse_dimensionality") == 3
    assert "softBV" in rock.properties["bvse_barrier"].method
    anti = out["Na3N"]
    assert anti.status["estimate"].state == "ok" and "bvse_barrier" not in anti.properties
    assert any("bvse-unavailable" in f and "N" in f for f in anti.value("estimate_flags"))


def o3_nafeo2():
    return Structure.from_spacegroup(
        "R-3m", Lattice.hexagonal(3.025, 16.09), ["Na", "Fe", "O"],
        [[0, 0, 0], [0, 0, 0.5], [0, 0, 0.2325]],
    ).get_primitive_structure()  # fmt: skip


O3_REFS = [ComputedEntry("Na", -1.3), ComputedEntry("Fe", -8.0), ComputedEntry("O", -4.9)]


def test_every_member_of_every_cathode_relaxes_in_one_batch(lj):
    records = [relaxed_record(o3_nafeo2(), -30.0), relaxed_record(o3_nafeo2() * (1, 1, 2), -60.0)]
    space = ChemicalSpace(working_ions=["Na"], anions=["O"], role="cathode")
    runner = CountingRunner(lj)
    out = estimate(
        records, space, EstimateParams(), lj, RelaxParams(), provider=ToyReferences(
            O3_REFS
        ), extra=ExtraRelaxations(runner, RelaxParams(), "estimate"),
    )  # fmt: skip
    charged = [n for kind, n in runner.calls if kind == "relax/charged"]
    assert charged == [4]  # two members (Na0.75FeO2, Na0.5FeO2) of each, one batch
    for record in out:
        profile = record.provenance["voltage_profile"]
        assert profile["redox_window"]["couples"] == ["Fe3+/Fe4+ (oxide) to 3.5+"]
        assert len(profile["members"]) == 2
        assert record.value("charged_formula") == "Na(FeO2)2"


def test_a_profile_that_fails_costs_only_the_voltage(lj, monkeypatch):
    import screen.estimators.profile as profile

    def broken(*args, **kwargs):
        raise ValueError("no hull along x")

    monkeypatch.setattr(profile, "voltage_profile", broken)
    space = ChemicalSpace(working_ions=["Na"], anions=["O"], role="cathode")
    (out,) = estimate(
        [relaxed_record(o3_nafeo2(), -30.0)], space, EstimateParams(), lj,
        RelaxParams(), provider=ToyReferences(O3_REFS),
    )  # fmt: skip
    assert out.active
    assert "no-voltage: profile-failed" in out.value("estimate_flags")
    assert "no hull along x" in out.value("voltage_note")
    assert "average_voltage" not in out.properties
    assert "formation_energy_per_atom" in out.properties
