from __future__ import annotations

import json

import pytest

from screen.records import Record, as_records, record_from_structure, record_id


def test_record_id_is_deterministic_and_order_independent():
    a = record_id({"generator": "x", "substitution": {"A": "Na", "M": "Fe"}})
    b = record_id({"substitution": {"M": "Fe", "A": "Na"}, "generator": "x"})
    c = record_id({"generator": "x", "substitution": {"A": "Na", "M": "Cr"}})
    assert a == b != c
    assert a.startswith("bs-") and len(a) == 15


def test_json_round_trip_keeps_structure_exact(nacl):
    nacl.perturb(0.0123456789)
    record = record_from_structure(nacl)
    record.set_property("energy", -7.123456789012345, unit="eV", method="test")
    back = Record.from_json(record.to_json())
    assert back == record
    assert (back.initial_structure().frac_coords == nacl.frac_coords).all()
    assert (back.initial_structure().lattice.matrix == nacl.lattice.matrix).all()


def test_mark_requires_reason_for_non_ok(nacl):
    record = record_from_structure(nacl)
    with pytest.raises(ValueError, match="needs a reason"):
        record.mark("prefilter", "filtered")
    record.mark("prefilter", "filtered", "duplicate", "same as bs-1")
    assert not record.active
    stage, status = record.exit_stage()
    assert (stage, status.reason) == ("prefilter", "duplicate")


def test_as_records_accepts_structures_and_records(nacl):
    record = record_from_structure(nacl)
    out = as_records([nacl, record])
    assert out[0].id == out[1].id == record.id  # same structure -> same id
    assert out[0].formula == "NaCl"


def test_number_rejects_non_numeric(nacl):
    record = record_from_structure(nacl)
    record.set_property("relax_converged", True, unit="", method="t")
    with pytest.raises(TypeError):
        record.number("relax_converged")
    with pytest.raises(KeyError):
        record.number("missing")
    assert json.loads(record.to_json())["properties"]["relax_converged"]["value"] is True


def test_working_ion_is_checked_against_the_one_ion_table(nacl):
    from pydantic import ValidationError

    from screen.ions import ION_CHARGE, WORKING_IONS, vs_metal

    assert WORKING_IONS[:3] == ("Na", "Mg", "Zn") and set(WORKING_IONS) == set(ION_CHARGE)
    assert vs_metal("Na") == "V vs Na/Na+" and vs_metal("Mg") == "V vs Mg/Mg2+"
    record = record_from_structure(nacl, working_ion="Na")
    assert record.working_ion == "Na"
    assert Record.from_json(record.to_json()).working_ion == "Na"
    with pytest.raises(ValidationError, match="'Fe' is not a supported working ion; allowed: Na"):
        record_from_structure(nacl, working_ion="Fe")
    bad = json.loads(record.to_json())
    bad["provenance"]["working_ion"] = "na"
    with pytest.raises(ValidationError, match=r"provenance\.working_ion"):
        Record.model_validate(bad)


def test_working_ion_in_structure_is_the_guard_of_ion_estimates(nacl):
    na = record_from_structure(nacl, working_ion="Na")
    assert na.working_ion_in_structure() == "Na"
    mg = record_from_structure(nacl, working_ion="Mg")  # made for Mg, holds none
    assert mg.working_ion == "Mg" and mg.working_ion_in_structure() is None
    assert record_from_structure(nacl).working_ion_in_structure() is None
    charged = nacl.copy()
    charged.remove_species(["Na"])
    na.relaxed_structure = charged.as_dict()
    assert na.working_ion_in_structure() is None  # the current (relaxed) structure counts


def test_as_records_gives_structures_their_working_ion(nacl):
    from screen.ions import WorkingIonError

    (record,) = as_records([nacl], working_ion="Na")
    assert record.working_ion == "Na"
    (again,) = as_records([record_from_structure(nacl)], working_ion="Na")
    assert again.working_ion == "Na"
    with pytest.raises(WorkingIonError, match="made for Na, not working_ion='Mg'"):
        as_records([record], working_ion="Mg")
    with pytest.raises(WorkingIonError, match="working_ion=: 'Q' is not a supported"):
        as_records([nacl], working_ion="Q")
