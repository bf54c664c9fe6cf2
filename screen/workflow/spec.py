"""The workflow file format: frozen pydantic models, exactly what the YAML deserializes into.

Every stage's parameters are one model here; the stage functions take them as they are.
``batscreen schema`` exports the JSON schema of :class:`Workflow` (docs/workflow.schema.json).
Units are part of the field names or stated in the field descriptions.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from screen.workflow import catalog

SCHEMA_VERSION = 1  # the only format version so far (Workflow.schema_version)

#: working ions the toolkit supports; the first three are the project's targets
WORKING_IONS = ("Na", "Mg", "Zn", "K", "Ca", "Al", "Li")


def _check_element(symbol: str) -> str:
    if symbol not in catalog.ELEMENT_SYMBOLS:
        hint = ""
        fixed = symbol.strip().capitalize()
        if fixed in catalog.ELEMENT_SYMBOLS:
            hint = f" (did you mean {fixed!r}?)"
        raise ValueError(f"{symbol!r} is not an element symbol{hint}")
    return symbol


ElementSymbol = Annotated[str, AfterValidator(_check_element)]


def _readable_structure(path: Path, info: ValidationInfo) -> Path:
    base = Path((info.context or {}).get("base_dir", "."))
    full = path if path.is_absolute() else base / path
    catalog.check_structure_file(full)  # raises ValueError naming the file
    return full.resolve()


StructureFile = Annotated[Path, AfterValidator(_readable_structure)]


def _unique(values: list[str], what: str) -> list[str]:
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise ValueError(f"{what} listed twice: {', '.join(sorted(set(seen)))}")
    return values


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChemicalSpace(_Frozen):
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
    anions: list[ElementSymbol] = Field(min_length=1, description="allowed anions")
    prototypes: list[str] = Field(
        default_factory=list,
        description="prototype names from candidates/prototypes/ (empty: every prototype "
        "meant for the role)",
    )
    structures: list[StructureFile] = Field(
        default_factory=list,
        description="user structure files (CIF, POSCAR, pymatgen JSON), relative to the "
        "workflow file; they enter the funnel as they are",
    )
    max_atoms: int = Field(default=40, gt=0, le=1000, description="largest cell (atoms)")
    max_candidates: int = Field(default=500, gt=0, description="cap on generated candidates")
    seed: int = Field(default=0, ge=0, description="random seed of the generator")
    critical_list: str = Field(
        default="eu-crma-2024-critical",
        validate_default=True,
        description="critical-raw-material list (a file in candidates/critical/)",
    )
    critical_policy: Literal["strict", "working-ion-exempt", "report-only"] = Field(
        default="working-ion-exempt",
        description="strict: exclude every listed element; working-ion-exempt: the working "
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
        return _unique(ions, "working ion")

    @field_validator("framework_cations", "anions")
    @classmethod
    def _no_repeats(cls, values: list[str]) -> list[str]:
        return _unique(values, "element")

    @field_validator("prototypes")
    @classmethod
    def _known_prototypes(cls, names: list[str]) -> list[str]:
        known = catalog.prototype_names()
        bad = [n for n in names if n not in known]
        if bad:
            raise ValueError(
                f"unknown prototype(s) {', '.join(bad)}; available: {', '.join(sorted(known))}"
            )
        return _unique(names, "prototype")

    @field_validator("critical_list")
    @classmethod
    def _known_list(cls, name: str) -> str:
        known = catalog.critical_list_names()
        if name not in known:
            raise ValueError(f"unknown critical list {name!r}; available: {', '.join(known)}")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> ChemicalSpace:
        if self.critical_policy == "strict":
            listed = catalog.critical_elements(self.critical_list)
            clash = [i for i in self.working_ions if i in listed]
            if clash:
                raise ValueError(
                    f"working ion {', '.join(clash)} is on critical list {self.critical_list!r} "
                    "and critical_policy 'strict' excludes it; use 'working-ion-exempt' "
                    "(flagged) or 'report-only'"
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


class PotentialSpec(_Frozen):
    """Which machine-learned interatomic potential to use, and where."""

    name: str = Field(
        default="chgnet-0.3.0",
        validate_default=True,
        description="model card name from models/ (batscreen models list)",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: cuda when available, else cpu"
    )
    dtype: Literal["float32", "float64"] | None = Field(
        default=None, description="floating-point precision; default: the model card's"
    )

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        known = catalog.model_card_names()
        if name not in known:
            raise ValueError(f"no model card named {name!r}; registered: {', '.join(known)}")
        return name


class GenerateParams(_Frozen):
    """Prototype substitution parameters."""

    scale_volume: bool = Field(
        default=True,
        description="rescale each substituted prototype with pymatgen's ionic-radius "
        "volume predictor before relaxation",
    )


class PrefilterParams(_Frozen):
    """Cheap filters before any potential is evaluated."""

    charge_balance: bool = Field(
        default=True, description="drop compositions without a charge-balanced oxidation state"
    )
    critical_elements: bool = Field(
        default=True, description="apply chemical_space.critical_policy"
    )
    duplicates: bool = Field(default=True, description="drop structure duplicates")
    min_distance_angstrom: float = Field(
        default=0.9, gt=0, le=3, description="drop cells with two atoms closer than this (Å)"
    )
    ltol: float = Field(default=0.2, gt=0, description="StructureMatcher fractional length tol")
    stol: float = Field(default=0.3, gt=0, description="StructureMatcher site tolerance")
    angle_tol: float = Field(default=5.0, gt=0, description="StructureMatcher angle tol (deg)")


class RelaxParams(_Frozen):
    """Relaxation with the potential (ASE optimizer + cell filter)."""

    optimizer: Literal["FIRE", "BFGS"] = "FIRE"
    cell_filter: Literal["frechet", "none"] = Field(
        default="frechet", description="frechet: variable cell (FrechetCellFilter); none: fixed"
    )
    fmax: float = Field(default=0.05, gt=0, le=1.0, description="force tolerance (eV/Å)")
    smax_gpa: float = Field(
        default=0.2, gt=0, le=10.0, description="stress tolerance, max |component| (GPa)"
    )
    max_steps: int = Field(default=500, gt=0, le=100_000)
    drop_unconverged: bool = Field(
        default=True, description="filter records whose relaxation did not converge"
    )


class EstimateParams(_Frozen):
    """Property estimators run after relaxation."""

    formation_energy: bool = Field(
        default=True,
        description="formation energy per atom against elemental references relaxed with "
        "the same potential",
    )
    capacity: bool = Field(
        default=True, description="theoretical capacity if every working ion is extracted"
    )
    max_formation_energy_per_atom_ev: float = Field(
        default=1.0,
        description="records above this formation energy (eV/atom) are marked unphysical",
    )
    min_formation_energy_per_atom_ev: float = Field(
        default=-5.0,
        description="records below this formation energy (eV/atom) are marked unphysical "
        "(no known compound is below about -4.5 eV/atom)",
    )


class Objective(_Frozen):
    """One ranking objective."""

    weight: float = Field(default=1.0, ge=0)
    direction: Literal["minimize", "maximize"]


class Bounds(_Frozen):
    """A hard constraint on a property: records outside leave the funnel at rank."""

    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min is None and self.max is None:
            raise ValueError("a constraint needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        return self


def _default_objectives() -> dict[str, Objective]:
    return {
        "formation_energy_per_atom": Objective(weight=1.0, direction="minimize"),
        "theoretical_capacity_gravimetric": Objective(weight=0.5, direction="maximize"),
    }


class RankParams(_Frozen):
    """Weighted-score ranking (min-max normalised objectives, weights sum-normalised)."""

    objectives: dict[str, Objective] = Field(default_factory=_default_objectives)
    constraints: dict[str, Bounds] = Field(default_factory=dict)
    top_n: int | None = Field(default=None, gt=0, description="keep only the best N")

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, objectives: dict[str, Objective]) -> dict[str, Objective]:
        if not objectives:
            raise ValueError("at least one objective is needed")
        _known_rankable(list(objectives))
        if sum(o.weight for o in objectives.values()) <= 0:
            raise ValueError("objective weights sum to zero")
        return objectives

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, constraints: dict[str, Bounds]) -> dict[str, Bounds]:
        _known_rankable(list(constraints))
        return constraints


def _known_rankable(names: list[str]) -> None:
    bad = [n for n in names if n not in catalog.RANKABLE_PROPERTIES]
    if bad:
        raise ValueError(
            f"unknown property {', '.join(bad)}; rankable: "
            + ", ".join(sorted(catalog.RANKABLE_PROPERTIES))
        )


class DeliverParams(_Frozen):
    """What the campaign directory receives at the end."""

    cif: bool = Field(default=True, description="one symmetrized CIF per ranked candidate")
    symprec: float = Field(default=0.1, gt=0, description="symmetry tolerance for CIFs (Å)")


class Stages(_Frozen):
    """Parameters of every stage, in funnel order."""

    generate: GenerateParams = Field(default_factory=GenerateParams)
    prefilter: PrefilterParams = Field(default_factory=PrefilterParams)
    relax: RelaxParams = Field(default_factory=RelaxParams)
    estimate: EstimateParams = Field(default_factory=EstimateParams)
    rank: RankParams = Field(default_factory=RankParams)
    deliver: DeliverParams = Field(default_factory=DeliverParams)


class Execution(_Frozen):
    """How a campaign runs on this machine; not part of the campaign's identity."""

    workers: int | Literal["auto"] = Field(
        default="auto",
        description="parallel relaxation workers on CPU (auto: one per core, each "
        "single-threaded); on a GPU a single worker is used",
    )
    shard_size: int = Field(
        default=50, gt=0, description="records per shard of a per-record stage (journaled)"
    )

    @field_validator("workers")
    @classmethod
    def _positive(cls, workers: int | str) -> int | str:
        if isinstance(workers, int) and workers < 1:
            raise ValueError("workers must be >= 1 or 'auto'")
        return workers


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Workflow(_Frozen):
    """A screening campaign: chemical space, potential, stage parameters, execution."""

    schema_version: Literal[1] = 1
    name: str = Field(description="campaign name: letters, digits, '_', '.', '-' (max 64)")
    description: str = ""
    chemical_space: ChemicalSpace
    potential: PotentialSpec = Field(default_factory=PotentialSpec)
    stages: Stages = Field(default_factory=Stages)
    execution: Execution = Field(default_factory=Execution)

    @field_validator("name")
    @classmethod
    def _slug(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("use letters, digits, '_', '.', '-' (max 64, no spaces)")
        return name

    def identity(self) -> dict[str, Any]:
        """What makes two runs the same campaign: everything except `execution`.

        User structure files enter by content hash, so moving a file does not change it.
        """
        data = self.model_dump(mode="json", exclude={"execution"})
        data["chemical_space"]["structures"] = [
            catalog.file_sha256(Path(p)) for p in self.chemical_space.structures
        ]
        return data
