"""Estimators as plugins: registered by entry point, their own workflow section, declared
properties, a shared context built once, and the estimate stage as a loop over them."""

from __future__ import annotations

import pytest

import screen
from screen.estimators.base import Estimate, UndeclaredProperty
from screen.estimators.registry import enabled_estimators
from screen.ions import WorkingIonError
from screen.workflow.spec import ChemicalSpace, EstimateParams
from tests.fake_package import clear_plugin_caches, install

PLUGIN = """
from typing import ClassVar

from pydantic import Field

from screen.estimators.base import new_estimate
from screen.properties import PropertyDefinition
from screen.workflow.estimate import EstimatorParams


class CellParams(EstimatorParams):
    enabled: bool = False
    factor: float = Field(default=1.0, gt=0)


class CellEstimator:
    name: ClassVar[str] = "cell-volume"
    params_model: ClassVar[type] = CellParams
    needs: ClassVar[frozenset] = frozenset()
    roles: ClassVar[frozenset | None] = None
    order: ClassVar[int] = 100
    properties: ClassVar[tuple] = (
        PropertyDefinition("scaled_volume", "Å3", "cell volume x factor", rankable=True, csv=True),
    )

    def __init__(self, params):
        self.params = params

    def estimate(self, record, context):
        out = new_estimate(self)
        volume = record.current_structure().volume * self.params.factor
        out.set("scaled_volume", volume, unit="Å3", method=f"volume x {self.params.factor}")
        if self.params.factor > 10:
            out.set("not_declared", 1.0, unit="", method="a bug")
        return out
"""


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    """A package installed beside batscreen, registering one estimator by entry point."""
    entry_points = {"screen.estimators": {"cell-volume": "cellplugin:CellEstimator"}}
    monkeypatch.syspath_prepend(str(install(tmp_path, "cellplugin", PLUGIN, entry_points)))
    clear_plugin_caches()
    yield
    monkeypatch.undo()
    clear_plugin_caches()


def _record(lj, nacl):
    (relaxed,) = screen.relax([nacl], potential=lj, working_ion="Na")
    return relaxed


def test_built_in_estimators_run_in_stage_order():
    names = [e.name for e in enabled_estimators(EstimateParams())]
    assert names == ["hull", "electrode", "capacity", "window", "bvse", "carriers", "density"]
    off = EstimateParams.model_validate(
        {"hull": False, "bvse": {"enabled": False}, "carriers": False, "density": False}
    )
    assert [e.name for e in enabled_estimators(off)] == ["electrode", "capacity", "window"]


def test_older_flat_workflow_keys_read_into_the_sections():
    old = EstimateParams.model_validate(
        {
            "formation_energy": False,
            "voltage": False,
            "electrochemical_window": True,
            "capacity": True,
            "max_formation_energy_per_atom_ev": 0.5,
            "hull": {"polymorphs_per_formula": 1},
        }
    )
    assert not old.hull.enabled and old.hull.polymorphs_per_formula == 1
    assert old.hull.max_formation_energy_per_atom_ev == 0.5
    assert not old.electrode.enabled and old.window.enabled and old.capacity.enabled
    assert old == EstimateParams(
        hull={
            "enabled": False,
            "polymorphs_per_formula": 1,
            "max_formation_energy_per_atom_ev": 0.5,
        },
        electrode=False,
    )
    with pytest.raises(
        ValueError, match=r"formation_energy \(older form\) and hull\.enabled disagree"
    ):
        EstimateParams.model_validate({"formation_energy": False, "hull": {"enabled": True}})


def test_an_unknown_estimator_section_names_the_registered_ones():
    from screen.workflow.load import WorkflowError, validate_data
    from tests.conftest import small_workflow

    data = small_workflow()
    data["stages"]["estimate"]["bulk_modulus"] = {"enabled": True}
    with pytest.raises(WorkflowError) as info:
        validate_data(data)
    text = str(info.value)
    assert "stages.estimate" in text and "'bulk_modulus'" in text
    assert "hull, electrode, capacity, window, bvse, carriers, density" in text


def test_an_estimator_writes_only_what_it_declares():
    out = Estimate("toy", frozenset({"a"}))
    out.set("a", 1.0, unit="", method="m")
    with pytest.raises(UndeclaredProperty, match="'b', which it does not declare"):
        out.set("b", 1.0, unit="", method="m")


def test_python_api_needs_a_working_ion_for_ion_estimates(lj, nacl):
    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="electrolyte")
    params = EstimateParams(hull=False, window=False)
    (relaxed,) = screen.relax([nacl], potential=lj)
    with pytest.raises(WorkingIonError, match="pass working_ion='Na'") as info:
        screen.estimate([relaxed], space, params, potential=lj)
    assert "bvse" in str(info.value) and "carriers" in str(info.value)
    assert "NaCl" in str(info.value)
    (out,) = screen.estimate([relaxed], space, params, potential=lj, working_ion="Na")
    assert out.working_ion == "Na" and out.number("bvse_dimensionality") == 3
    with pytest.raises(WorkingIonError, match="md needs the working ion"):
        screen.md([relaxed], potential=lj)
    none_needed = EstimateParams(bvse=False, carriers=False, window=False)  # hull: no ion
    (hull_only,) = screen.estimate([relaxed], space, none_needed, potential=lj)
    assert hull_only.status["estimate"].state == "ok"


def test_a_third_party_estimator_registers_by_entry_point(third_party, lj, nacl, tmp_path):
    from screen.properties import csv_columns, rankable
    from screen.workflow.load import WorkflowError, validate_data
    from tests.conftest import small_workflow

    assert "scaled_volume" in rankable()
    columns = csv_columns()  # after the built-in estimators' columns, before MD's
    assert columns.index("scaled_volume") == columns.index("ionic_packing_fraction") + 1
    default = EstimateParams()
    assert default.section("cell-volume").enabled is False  # its own default: off
    params = EstimateParams.model_validate({"cell-volume": {"enabled": True, "factor": 2.0}})
    assert params.model_dump(mode="json")["cell-volume"] == {"enabled": True, "factor": 2.0}
    data = small_workflow()
    data["stages"]["estimate"]["cell-volume"] = {"factor": -1}
    with pytest.raises(WorkflowError, match="cell-volume: factor: Input should be greater"):
        validate_data(data)

    space = ChemicalSpace(working_ions=["Na"], anions=["Cl"], role="electrolyte")
    record = _record(lj, nacl)
    params = params.model_copy(update={"hull": params.hull.model_copy(update={"enabled": False})})
    (out,) = screen.estimate([record], space, params, potential=lj)
    assert out.number("scaled_volume") == pytest.approx(2 * record.current_structure().volume)
    assert out.properties["scaled_volume"].unit == "Å3"
    buggy = EstimateParams.model_validate(
        {"hull": False, "cell-volume": {"enabled": True, "factor": 20.0}}
    )
    (bad,) = screen.estimate([record], space, buggy, potential=lj)
    assert bad.status["estimate"].reason == "estimate-error"
    assert "does not declare" in bad.status["estimate"].detail
