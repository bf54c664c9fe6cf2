"""Parameters of the potential, of every stage and of execution (frozen pydantic models)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from screen.workflow import catalog
from screen.workflow.types import ElementSymbol, Frozen, known


class PotentialSpec(Frozen):
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


GENERATORS = ("prototype-substitution", "ion-exchange", "user-structures", "materials-project")


class IonExchangeParams(Frozen):
    """Replace the working ion of known compounds (prototype references, user structures)."""

    from_ions: list[ElementSymbol] = Field(
        default_factory=lambda: ["Li", "Na", "K"],
        description="ions replaced by each working ion; a higher-valent working ion leaves "
        "vacancies (2 Li+ -> Mg2+ + vacancy), ordered by electrostatic energy",
    )
    sources: list[Literal["prototype-references", "structures"]] = Field(
        default_factory=lambda: ["prototype-references", "structures"],  # type: ignore[arg-type]
        description="the curated prototypes' reference compounds and/or the chemical "
        "space's structures (user files, Materials Project entries)",
    )


class MaterialsProjectParams(Frozen):
    """Known compounds from the Materials Project (mp-api), cached for offline nodes."""

    chemsys: list[str] = Field(
        min_length=1,
        description="chemical systems such as 'Na-Fe-P-O' (all subsystems are not included)",
    )
    cache: Path = Field(
        default=Path("mp-structures.json"),
        description="cache file (relative to the workflow file); queried only when absent",
    )
    api_key_env: str = Field(default="MP_API_KEY", description="environment variable of the key")

    @field_validator("cache")
    @classmethod
    def _resolve(cls, path: Path, info: ValidationInfo) -> Path:
        base = Path((info.context or {}).get("base_dir", "."))
        return (path if path.is_absolute() else base / path).resolve()

    @field_validator("chemsys")
    @classmethod
    def _chemsys(cls, systems: list[str]) -> list[str]:
        for system in systems:
            bad = [e for e in system.split("-") if e not in catalog.ELEMENT_SYMBOLS]
            if bad:
                raise ValueError(f"{system!r}: {', '.join(bad)} not element symbols")
        return systems


class GenerateParams(Frozen):
    """Which generators run and how."""

    generators: list[str] = Field(
        default_factory=lambda: ["prototype-substitution", "user-structures"],
        description=f"generator plugins to run; built in: {', '.join(GENERATORS)}",
    )
    aflow_prototypes: bool = Field(
        default=False,
        description="also substitute into the ionic prototypes of pymatgen's AFLOW library",
    )
    aflow_max_species: int = Field(
        default=3,
        ge=2,
        le=4,
        description="largest number of elements of the AFLOW prototypes used (quaternary "
        "ones multiply the candidates by the number of cations)",
    )
    substitution_threshold: float = Field(
        default=1e-3,
        ge=0,
        le=1,
        description="drop substitutions less likely than this: product over substituted roles "
        "of P(new|old)/P(old|old) from pymatgen's data-mined substitution probabilities",
    )
    max_orderings: int = Field(
        default=3, ge=1, le=50, description="orderings kept per partially occupied candidate"
    )
    max_supercell: int = Field(
        default=4, ge=1, le=8, description="largest supercell (cells) tried to order sites"
    )
    ion_exchange: IonExchangeParams = Field(default_factory=IonExchangeParams)
    materials_project: MaterialsProjectParams | None = None
    scale_volume: bool = Field(
        default=True,
        description="rescale each substituted prototype with pymatgen's ionic-radius "
        "volume predictor before relaxation",
    )

    @field_validator("generators")
    @classmethod
    def _known_generators(cls, names: list[str]) -> list[str]:
        if not names:
            raise ValueError("at least one generator is needed")
        return known(names, catalog.generator_names(), "generator")

    @model_validator(mode="after")
    def _mp_settings(self) -> GenerateParams:
        if "materials-project" in self.generators and self.materials_project is None:
            raise ValueError("generator 'materials-project' needs a materials_project section")
        return self


class PrefilterParams(Frozen):
    """Cheap filters before any potential is evaluated, applied in this order."""

    max_atoms: bool = Field(default=True, description="drop cells above chemical_space.max_atoms")
    charge_balance: bool = Field(
        default=True,
        description="drop compositions without a charge-balanced set of ICSD oxidation states",
    )
    electronegativity: bool = Field(
        default=True,
        description="drop assignments where a cation is at least as electronegative "
        "(Pauling) as an anion",
    )
    min_distance_angstrom: float = Field(
        default=0.9, gt=0, le=3, description="drop cells with two atoms closer than this (Å)"
    )
    min_distance_fraction: float = Field(
        default=0.5,
        ge=0,
        le=1.5,
        description="drop cells where two atoms are closer than this fraction of the sum of "
        "their (Shannon ionic, else atomic) radii",
    )
    density_g_cm3: tuple[float, float] = Field(
        default=(0.5, 25.0), description="allowed density range (g/cm³)"
    )
    critical_elements: bool = Field(
        default=True, description="apply chemical_space.critical_policy"
    )
    duplicates: bool = Field(
        default=True,
        description="merge structure duplicates across generators (grouped by reduced formula "
        "and space group, then StructureMatcher); the kept record lists the others",
    )
    ltol: float = Field(default=0.2, gt=0, description="StructureMatcher fractional length tol")
    stol: float = Field(default=0.3, gt=0, description="StructureMatcher site tolerance")
    angle_tol: float = Field(default=5.0, gt=0, description="StructureMatcher angle tol (deg)")

    @field_validator("density_g_cm3")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= bounds[0] < bounds[1]:
            raise ValueError("give [min, max] with 0 <= min < max")
        return bounds


class RelaxParams(Frozen):
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


class EstimateParams(Frozen):
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


class Objective(Frozen):
    """One ranking objective."""

    weight: float = Field(default=1.0, ge=0)
    direction: Literal["minimize", "maximize"]


class Bounds(Frozen):
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


class RankParams(Frozen):
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


class DeliverParams(Frozen):
    """What the campaign directory receives at the end."""

    cif: bool = Field(default=True, description="one symmetrized CIF per ranked candidate")
    symprec: float = Field(default=0.1, gt=0, description="symmetry tolerance for CIFs (Å)")


class Stages(Frozen):
    """Parameters of every stage, in funnel order."""

    generate: GenerateParams = Field(default_factory=GenerateParams)
    prefilter: PrefilterParams = Field(default_factory=PrefilterParams)
    relax: RelaxParams = Field(default_factory=RelaxParams)
    estimate: EstimateParams = Field(default_factory=EstimateParams)
    rank: RankParams = Field(default_factory=RankParams)
    deliver: DeliverParams = Field(default_factory=DeliverParams)


class Execution(Frozen):
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
