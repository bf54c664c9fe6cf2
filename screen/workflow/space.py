"""The chemical space of a campaign: working ions, role, elements, prototypes, policy."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from screen.ions import WORKING_IONS
from screen.workflow import catalog
from screen.workflow.types import (
    AnionToken,
    ElementSymbol,
    Frozen,
    StructureSource,
    known,
    unique,
)


class ChemicalSpace(Frozen):
    """Which materials to consider."""

    working_ions: list[ElementSymbol] = Field(
        min_length=1,
        description=f"working ion(s); allowed: {', '.join(WORKING_IONS)}",
    )
    role: Literal["cathode", "anode", "electrolyte"] = Field(
        default="cathode", description="what the candidates are screened for"
    )
    framework_cations: list[ElementSymbol] = Field(
        default_factory=list, description="cations allowed on framework (non-working-ion) sites"
    )
    anions: list[AnionToken] = Field(
        min_length=1,
        description="allowed anions: elements (O, S, Se, F, Cl, Br, I, N) and polyanions "
        "(PO4, SiO4, SO4, BO3, ...; their centre occupies a prototype's polyanion sites)",
    )
    prototypes: list[str] = Field(
        default_factory=list,
        description="prototype names from candidates/prototypes/ (empty: every prototype "
        "meant for the role)",
    )
    structures: list[StructureSource] = Field(
        default_factory=list,
        description="user structure files or folders of them (CIF, POSCAR, pymatgen JSON, "
        "extended XYZ), relative to the workflow file; they enter the funnel as they are "
        "and serve as ion-exchange sources",
    )
    max_atoms: int = Field(default=40, gt=0, le=1000, description="largest cell (atoms)")
    max_candidates: int = Field(default=500, gt=0, description="cap on generated candidates")
    seed: int = Field(default=0, ge=0, description="random seed of the generator")
    critical_list: str = Field(
        default="eu-crma-2024-critical",
        validate_default=True,
        description="critical-raw-material list (a file in candidates/critical/)",
    )
    critical_policy: Literal["strict", "form-aware", "working-ion-exempt", "report-only"] = Field(
        default="form-aware",
        description="form-aware: an entry excludes where the candidate draws on the form it "
        "names (silicon metal, not silicates; candidates/critical/README.md); strict: "
        "every listed element excludes; working-ion-exempt: form-aware, and the working "
        "ion may be listed (flagged); report-only: keep everything, report the content",
    )

    @field_validator("working_ions")
    @classmethod
    def _known_working_ion(cls, ions: list[str]) -> list[str]:
        bad = [i for i in ions if i not in WORKING_IONS]
        if bad:
            raise ValueError(
                f"{', '.join(bad)} cannot be a working ion; allowed: {', '.join(WORKING_IONS)}"
            )
        return unique(ions, "working ion")

    @field_validator("framework_cations", "anions")
    @classmethod
    def _no_repeats(cls, values: list[str]) -> list[str]:
        return unique(values, "entry")

    @field_validator("prototypes")
    @classmethod
    def _known_prototypes(cls, names: list[str]) -> list[str]:
        return known(names, catalog.prototype_names(), "prototype")

    @field_validator("critical_list")
    @classmethod
    def _known_list(cls, name: str) -> str:
        known = catalog.critical_list_names()
        if name not in known:
            raise ValueError(f"unknown critical list {name!r}; available: {', '.join(known)}")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> ChemicalSpace:
        if self.critical_policy in ("strict", "form-aware"):
            listed = catalog.critical_elements(self.critical_list, self.critical_policy)
            clash = [i for i in self.working_ions if i in listed]
            if clash:
                raise ValueError(
                    f"working ion {', '.join(clash)} is on critical list {self.critical_list!r} "
                    f"and critical_policy {self.critical_policy!r} excludes it; use "
                    "'working-ion-exempt' (flagged) or 'report-only'"
                )
        mismatched = [
            p for p in self.prototypes if self.role not in catalog.prototype_applications(p)
        ]
        if mismatched:
            raise ValueError(
                f"prototype(s) {', '.join(mismatched)} are not meant for role {self.role!r} "
                "(see 'applications' in candidates/prototypes/)"
            )
        overlap = set(self.working_ions) & set(self.anions)
        if overlap:
            raise ValueError(f"{', '.join(sorted(overlap))} given as working ion and as anion")
        return self
