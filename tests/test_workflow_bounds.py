"""Every numeric workflow field has physical bounds, checked at validate.

A value outside them (NaN, infinities, negative temperatures, a zero force tolerance, ...)
is a problem of ``batscreen validate`` naming the field, never a failure later in a stage.
The model walk below keeps it so: a new int/float field without a bound fails here.
"""

from __future__ import annotations

import math
import types
import typing
from typing import Annotated, Any, Literal

import annotated_types
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.types import AllowInfNan

from screen.workflow.load import validate_workflow
from screen.workflow.spec import Workflow
from tests.conftest import quickstart_data, write_workflow

NAN, INF = math.nan, math.inf

#: (key path, value) -> the problem's key starts with the key path
OUT_OF_BOUNDS = [
    ("stages.md.temperatures_K", [NAN]),
    ("stages.md.temperatures_K", [600.0, -5.0]),
    ("stages.md.temperatures_K", [1e6]),
    ("stages.md.temperatures_K", [INF]),
    ("stages.md.timestep_fs", INF),
    ("stages.md.timestep_fs", 0),
    ("stages.md.duration_ps", NAN),
    ("stages.md.friction_per_ps", -1.0),
    ("stages.md.seed", -1),
    ("stages.md.neb.spring_ev_per_a2", 0),
    ("stages.md.neb.fmax", NAN),
    ("stages.relax.fmax", 0),
    ("stages.relax.fmax", NAN),
    ("stages.relax.smax_gpa", INF),
    ("stages.relax.max_steps", 0),
    ("stages.generate.substitution_threshold", 1.5),  # a probability (ratio) in [0, 1]
    ("stages.generate.max_orderings", 0),
    ("stages.prefilter.min_distance_angstrom", 0),
    ("stages.prefilter.density_g_cm3", [0.5, INF]),
    ("stages.prefilter.density_g_cm3", [NAN, 10.0]),
    ("stages.prefilter.ltol", INF),
    ("stages.estimate.hull.max_formation_energy_per_atom_ev", NAN),
    ("stages.estimate.hull.min_formation_energy_per_atom_ev", -INF),
    ("stages.estimate.bvse.resolution_angstrom", 0),
    ("stages.estimate.carriers.fmax", NAN),
    ("stages.estimate.electrode.intermediates", -1),
    ("stages.rank.seed", -1),
    ("stages.rank.uncertainty_samples", -1),
    ("stages.rank.constraints.energy_above_hull_per_atom.max", NAN),
    ("stages.rank.objectives.element_cost.weight", INF),
    ("stages.deliver.symprec", 0),
    ("stages.deliver.report_cards", -1),
    ("execution.shard_size", 0),
    ("execution.workers", 0),
    ("execution.max_batch_atoms", 0),
    ("chemical_space.max_atoms", 0),
    ("search.budget", 0),
    ("search.seed", -3),
]


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    *path, last = key.split(".")
    for part in path:
        if not isinstance(data.get(part), dict):  # absent, or a section given as true/false
            data[part] = {}
        data = data[part]
    data[last] = value


@pytest.mark.parametrize(
    ("key", "value"), OUT_OF_BOUNDS, ids=[f"{k}={v}" for k, v in OUT_OF_BOUNDS]
)
def test_out_of_bounds_value_is_a_problem_naming_the_field(tmp_path, key, value):
    data = quickstart_data()
    if key.startswith("search."):
        data["search"] = {"budget": 4}
    if key.startswith("stages.rank.objectives."):
        data["stages"]["rank"]["objectives"] = {"element_cost": {"direction": "minimize"}}
    _set(data, key, value)
    problems = validate_workflow(write_workflow(tmp_path / "wf.yaml", data))
    assert problems, f"{key}={value!r} passed validate"
    assert any(p.key.startswith(key) for p in problems), [str(p) for p in problems]
    assert any(key in str(p) for p in problems)


def test_md_temperature_nan_names_the_item(tmp_path):
    data = quickstart_data()
    data["stages"]["md"] = {"temperatures_K": [600.0, NAN]}
    (problem,) = validate_workflow(write_workflow(tmp_path / "wf.yaml", data))
    assert problem.key == "stages.md.temperatures_K.1"
    assert "finite" in problem.message


def test_values_at_the_edges_of_the_bounds_validate(tmp_path):
    data = quickstart_data()
    data["stages"]["md"] = {"temperatures_K": [1.0, 5000.0], "seed": 2**32 - 1}
    data["stages"]["generate"] = {"substitution_threshold": 1.0}
    data["stages"]["prefilter"]["density_g_cm3"] = [0.0, 100.0]
    assert validate_workflow(write_workflow(tmp_path / "wf.yaml", data)) == []


# --------------------------------------------------------------------------- the model walk
#: numeric fields without a Field bound, and why (keep this short)
UNBOUNDED = {
    # int | 'auto': a Field bound cannot apply to the 'auto' branch; field validators
    # refuse values below 1
    "Execution.workers": "field validator: >= 1 or 'auto'",
    "Execution.max_batch_atoms": "field validator: >= 1 or 'auto'",
    # a rank or search constraint, in the unit of whichever property it constrains
    "Bounds.min": "any finite value (allow_inf_nan=False)",
    "Bounds.max": "any finite value (allow_inf_nan=False)",
}

_BOUNDS = (annotated_types.Gt, annotated_types.Ge, annotated_types.Lt, annotated_types.Le)


def _metadata_of(annotated: Any) -> list[Any]:
    out: list[Any] = []
    for item in annotated.__metadata__:
        out += item.metadata if isinstance(item, FieldInfo) else [item]
    return out


def _numeric(annotation: Any, metadata: list[Any], where: str, found: list, models: set) -> None:
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base = typing.get_args(annotation)[0]
        _numeric(base, metadata + _metadata_of(annotation), where, found, models)
    elif annotation in (int, float):
        found.append((where, annotation, metadata))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        _walk_model(annotation, found, models)
    elif origin is Literal:
        return
    else:  # X | None keeps the field's bounds; list, tuple and dict items have their own
        union = origin in (typing.Union, types.UnionType)
        for arg in typing.get_args(annotation):
            _numeric(
                arg, metadata if union else [], where if union else f"{where}[]", found, models
            )


def _walk_model(model: type[BaseModel], found: list, models: set) -> None:
    if model in models:
        return
    models.add(model)
    for name, field in model.model_fields.items():
        _numeric(field.annotation, list(field.metadata), f"{model.__name__}.{name}", found, models)


def numeric_fields() -> tuple[list[tuple[str, Any, list[Any]]], set[type[BaseModel]]]:
    """(Model.field, int or float, its constraints) of every model reachable from Workflow."""
    found: list[tuple[str, Any, list[Any]]] = []
    models: set[type[BaseModel]] = set()
    _walk_model(Workflow, found, models)
    return found, models


def test_the_walk_sees_every_model_and_list_items():
    found, models = numeric_fields()
    names = {m.__name__ for m in models}
    assert {"MDParams", "NEBParams", "HullParams", "CarrierParams", "Execution", "Bounds"} <= names
    assert "MDParams.temperatures_K[]" in {where for where, _, _ in found}
    assert len(found) > 50


def test_every_numeric_field_has_a_bound():
    found, _ = numeric_fields()
    unbounded = [
        where
        for where, _, metadata in found
        if where not in UNBOUNDED and not any(isinstance(m, _BOUNDS) for m in metadata)
    ]
    assert unbounded == [], f"give these fields Field(gt=/ge=/le=/lt=) bounds: {unbounded}"
    stale = set(UNBOUNDED) - {where for where, _, _ in found}
    assert not stale, f"exemptions for fields that no longer exist: {stale}"


def test_every_float_field_refuses_nan_and_infinity():
    found, _ = numeric_fields()
    open_ended = [
        where
        for where, kind, metadata in found
        if kind is float
        and not any(isinstance(m, AllowInfNan) and not m.allow_inf_nan for m in metadata)
    ]
    assert open_ended == [], f"give these float fields allow_inf_nan=False: {open_ended}"
