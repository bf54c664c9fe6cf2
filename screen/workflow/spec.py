"""The workflow file format: frozen pydantic models, exactly what the YAML deserializes into.

Every stage's parameters are one model (screen/workflow/params.py), the chemical space
another (screen/workflow/space.py); the stage functions take them as they are.
``batscreen schema`` exports the JSON schema of :class:`Workflow` (docs/workflow.schema.json).
Units are part of the field names or stated in the field descriptions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from screen.checksums import file_sha256
from screen.ions import WORKING_IONS
from screen.workflow import catalog
from screen.workflow.estimate import (
    BVSEParams,
    CapacityParams,
    ElectrodeParams,
    EstimateParams,
    EstimatorParams,
    HullParams,
    WindowParams,
)
from screen.workflow.params import (
    Bounds,
    DeliverParams,
    Execution,
    GenerateParams,
    MDParams,
    Objective,
    PotentialSpec,
    PrefilterParams,
    RankParams,
    RelaxParams,
    SearchParams,
    Stages,
)
from screen.workflow.space import ChemicalSpace
from screen.workflow.types import ElementSymbol, Frozen

__all__ = [
    "WORKING_IONS",
    "BVSEParams",
    "Bounds",
    "CapacityParams",
    "ChemicalSpace",
    "DeliverParams",
    "ElectrodeParams",
    "ElementSymbol",
    "EstimateParams",
    "EstimatorParams",
    "Execution",
    "GenerateParams",
    "HullParams",
    "MDParams",
    "Objective",
    "PotentialSpec",
    "PrefilterParams",
    "RankParams",
    "RelaxParams",
    "SearchParams",
    "Stages",
    "WindowParams",
    "Workflow",
]

SCHEMA_VERSION = 1  # the only format version so far (Workflow.schema_version)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Workflow(Frozen):
    """A screening campaign: chemical space, potential, stage parameters, execution."""

    schema_version: Literal[1] = 1
    name: str = Field(description="campaign name: letters, digits, '_', '.', '-' (max 64)")
    description: str = ""
    chemical_space: ChemicalSpace
    potential: PotentialSpec = Field(default_factory=PotentialSpec)
    stages: Stages = Field(default_factory=Stages)
    search: SearchParams | None = Field(
        default=None, description="guided search (batscreen search) instead of enumeration"
    )
    execution: Execution = Field(default_factory=Execution)

    @model_validator(mode="before")
    @classmethod
    def _rank_profile(cls, data: Any) -> Any:
        """Fill in the objectives and constraints of ``stages.rank.profile`` for the role."""
        if not isinstance(data, dict):
            return data
        stages = data.get("stages")
        if not isinstance(stages, dict):
            return data
        rank = stages.get("rank")
        if not isinstance(rank, dict) or not rank.get("profile"):
            return data
        from screen.ranking.profiles import ProfileError, merge_profile

        space = data.get("chemical_space")
        role = space.get("role", "cathode") if isinstance(space, dict) else "cathode"
        try:
            merged = merge_profile(rank, str(role))
        except ProfileError:  # reported where it belongs: stages.rank.profile, with the rest
            return data
        return {**data, "stages": {**stages, "rank": merged}}

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("use letters, digits, '_', '.', '-' (max 64, no spaces)")
        return name

    @model_validator(mode="after")
    def _feasible(self) -> Workflow:
        from screen.workflow.feasibility import feasibility_problem

        problem = feasibility_problem(self.chemical_space, self.stages.generate)
        if problem:
            raise ValueError(problem)
        profile = self.stages.rank.profile
        if profile:
            from screen.ranking.profiles import profile_ranking

            profile_ranking(profile, self.chemical_space.role)  # ValueError: role not covered
        estimate = self.stages.estimate
        theirs = estimate.hull.reference_convention()
        hull_used = estimate.hull.enabled or estimate.electrode.enabled or estimate.window.enabled
        if hull_used and theirs is not None:
            from screen.stability.entries import hull_convention

            card = self.potential.card()
            if hull_convention(card.energy_convention) != theirs:
                raise ValueError(
                    f"stages.estimate.hull.references: {estimate.hull.references} entries "
                    f"({theirs}) cannot share a hull with {card.name} energies "
                    f"({card.energy_convention}); use references: self-consistent"
                )
        return self

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same campaign: everything except `execution`.

        User structure files enter by content hash, so moving a file does not change it.
        """
        data = self.model_dump(mode="json", exclude={"execution"})
        data["chemical_space"]["structures"] = [
            file_sha256(Path(p)) if Path(p).is_file() else catalog.folder_sha256(Path(p))
            for p in self.chemical_space.structures
        ]
        if self.potential.file is not None:
            data["potential"]["file"] = file_sha256(self.potential.file)
        return data
