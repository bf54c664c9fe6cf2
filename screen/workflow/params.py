"""Parameters of the potential, of every stage and of execution (frozen pydantic models)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from screen.potentials.cards import EnergyConvention
from screen.workflow import catalog
from screen.workflow.estimate import EstimateParams
from screen.workflow.types import ElementSymbol, Frozen, existing_file, known


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
    file: Path | None = Field(
        default=None,
        description="a local weights file (e.g. a fine-tuned MACE .model) used instead of a "
        "model card; relative to the workflow file. Needs backend and energy_convention",
    )
    backend: str = Field(default="mace", description="with file: the backend that loads it")
    energy_convention: EnergyConvention | None = Field(
        default=None,
        description="with file: how its energies relate to the Materials Project's",
    )

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        known = catalog.model_card_names()
        if name not in known:
            raise ValueError(f"no model card named {name!r}; registered: {', '.join(known)}")
        return name

    @field_validator("file")
    @classmethod
    def _existing(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return existing_file(path, info, "model file")

    @model_validator(mode="after")
    def _file_needs_convention(self) -> PotentialSpec:
        if self.file is not None and self.energy_convention is None:
            raise ValueError(
                "a model file needs energy_convention (raw-vasp for MACE-MP fine-tunes, "
                "mp2020-corrected, omat24, or toy)"
            )
        return self

    def card(self) -> Any:
        """The model card: the registered one, or one made for the local file."""
        from screen.potentials.cards import ModelCard, get_card

        if self.file is None:
            return get_card(self.name)
        return ModelCard.for_file(
            self.file,
            backend=self.backend,
            energy_convention=str(self.energy_convention),
            default_dtype=self.dtype or "float64",
        )


#: a temperature (K): above 0, at most 5000 (far above any melting point), finite
Temperature = Annotated[float, Field(gt=0, le=5000, allow_inf_nan=False)]
#: one end of an allowed density range (g/cm³; osmium, the densest element, is 22.6)
Density = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
#: a random seed (numpy and Optuna take 0 <= seed < 2**32)
SEED_MAX = 2**32 - 1

#: default atoms per batch on a GPU (MACE-MP-0 medium in float32 fits this on a 40 GB card)
GPU_BATCH_ATOMS = 8000

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
        allow_inf_nan=False,
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
        default=0.9,
        gt=0,
        le=3,
        allow_inf_nan=False,
        description="drop cells with two atoms closer than this (Å)",
    )
    min_distance_fraction: float = Field(
        default=0.5,
        ge=0,
        le=1.5,
        allow_inf_nan=False,
        description="drop cells where two atoms are closer than this fraction of the sum of "
        "their (Shannon ionic, else atomic) radii",
    )
    density_g_cm3: tuple[Density, Density] = Field(
        default=(0.5, 25.0), description="allowed density range (g/cm³), each end in [0, 100]"
    )
    critical_elements: bool = Field(
        default=True, description="apply chemical_space.critical_policy"
    )
    duplicates: bool = Field(
        default=True,
        description="merge structure duplicates across generators (grouped by reduced formula "
        "and space group, then StructureMatcher); the kept record lists the others",
    )
    ltol: float = Field(
        default=0.2,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="StructureMatcher fractional length tol",
    )
    stol: float = Field(
        default=0.3, gt=0, le=1, allow_inf_nan=False, description="StructureMatcher site tolerance"
    )
    angle_tol: float = Field(
        default=5.0,
        gt=0,
        le=45,
        allow_inf_nan=False,
        description="StructureMatcher angle tol (deg)",
    )

    @field_validator("density_g_cm3")
    @classmethod
    def _ordered(cls, bounds: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= bounds[0] < bounds[1]:
            raise ValueError("give [min, max] with 0 <= min < max")
        return bounds


class RelaxParams(Frozen):
    """Relaxation with the potential (batscreen's batched engine, screen/relaxation/engine.py).

    FIRE and BFGS reproduce ASE's optimizers (same defaults); BFGS needs about half the
    steps of FIRE on crystals, FIRE is the Matbench Discovery protocol.
    """

    optimizer: Literal["FIRE", "BFGS"] = "BFGS"
    variable_cell: bool = Field(default=True, description="relax the cell too (else positions)")
    fmax: float = Field(
        default=0.05, gt=0, le=1.0, allow_inf_nan=False, description="force tolerance (eV/Å)"
    )
    smax_gpa: float = Field(
        default=0.2,
        gt=0,
        le=10.0,
        allow_inf_nan=False,
        description="stress tolerance, max |component| (GPa)",
    )
    max_steps: int = Field(default=500, gt=0, le=100_000)
    drop_unconverged: bool = Field(
        default=True, description="filter records whose relaxation did not converge"
    )


class NEBParams(Frozen):
    """Tier 2 of the conductivity funnel: vacancy-hop barriers by nudged elastic band.

    For each candidate the md stage takes, the shortest symmetry-distinct vacancy hops of
    the working ion: end points relaxed at fixed cell (one batch), then every band of every
    candidate optimised together (climbing image, improved tangent, FIRE), one potential
    call per step.
    """

    enabled: bool = Field(default=False, description="NEB vacancy-hop barriers of the K")
    images: int = Field(default=3, ge=1, le=15, description="moving images per band")
    hops: int = Field(
        default=2, ge=1, le=12, description="shortest distinct vacancy hops tried per candidate"
    )
    max_hop_angstrom: float = Field(
        default=4.5, gt=1.0, le=10.0, allow_inf_nan=False, description="longest hop considered (Å)"
    )
    fmax: float = Field(
        default=0.1,
        gt=0,
        le=1.0,
        allow_inf_nan=False,
        description="convergence on the nudged forces (eV/Å)",
    )
    max_steps: int = Field(default=300, ge=1, le=10000, description="steps per band")
    spring_ev_per_a2: float = Field(
        default=0.1, gt=0, le=10, allow_inf_nan=False, description="spring constant k (eV/Å²)"
    )
    climb: bool = Field(default=True, description="climbing image from the first step")
    min_cell_length_angstrom: float = Field(
        default=7.0,
        ge=4.0,
        le=30.0,
        allow_inf_nan=False,
        description="supercell: every cell height at least this (Å)",
    )
    max_atoms: int = Field(default=100, ge=8, le=2000, description="largest supercell (atoms)")


class MDParams(Frozen):
    """ML molecular dynamics for the best candidates (tier 2 of the conductivity estimate).

    NVT Langevin runs of the working ion at several temperatures, batched over candidates
    and temperatures; tracer diffusivity with its error per temperature, Arrhenius
    activation energy, and diffusivity and Nernst-Einstein conductivity extrapolated to
    300 K with propagated uncertainties.
    """

    top_k: int = Field(default=0, ge=0, description="run MD for the best K candidates (0: none)")
    select_by: str = Field(
        default="rank-score",
        description="how the K are chosen: 'rank-score' (the rank stage's objectives and "
        "constraints that exist before MD) or a rankable property, best first",
    )
    temperatures_K: list[Temperature] = Field(
        default_factory=lambda: [600.0, 800.0, 1000.0, 1200.0],
        min_length=1,
        description="temperatures of the runs (K, each in (0, 5000]); three or more give an "
        "activation-energy error",
    )
    timestep_fs: float = Field(
        default=2.0, gt=0, le=5.0, allow_inf_nan=False, description="integration step (fs)"
    )
    duration_ps: float = Field(
        default=20.0,
        gt=0,
        le=100_000,
        allow_inf_nan=False,
        description="production time per run (ps)",
    )
    equilibration_ps: float = Field(
        default=2.0,
        ge=0,
        le=100_000,
        allow_inf_nan=False,
        description="thermalisation before sampling (ps)",
    )
    friction_per_ps: float = Field(
        default=1.0,
        gt=0,
        le=1000,
        allow_inf_nan=False,
        description="Langevin friction gamma (1/ps); small perturbs diffusion less",
    )
    sample_interval_fs: float = Field(
        default=20.0,
        gt=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="time between saved frames",
    )
    min_cell_length_angstrom: float = Field(
        default=10.0,
        gt=0,
        le=100,
        allow_inf_nan=False,
        description="supercell: every cell height at least this (Å)",
    )
    max_atoms: int = Field(default=400, gt=0, le=100_000, description="largest supercell run")
    min_hops: float = Field(
        default=20.0,
        ge=0,
        le=1_000_000,
        allow_inf_nan=False,
        description="fewer effective working-ion hops: flagged, not used",
    )
    max_framework_rms_angstrom: float = Field(
        default=1.0,
        gt=0,
        le=20,
        allow_inf_nan=False,
        description="framework RMS displacement above this (Å) means melting, amorphisation "
        "or decomposition: flagged, not used",
    )
    seed: int = Field(default=0, ge=0, le=SEED_MAX, description="random seed of the thermostat")
    neb: NEBParams = Field(
        default_factory=NEBParams,
        description="tier 2: NEB vacancy-hop barriers for the same K, before the MD runs",
    )
    run_md: bool = Field(default=True, description="run the MD (false: NEB only)")
    carrier_defect: Literal["none", "vacancy", "interstitial", "frenkel", "tier1"] = Field(
        default="none",
        description="carrier defect put into the MD supercell before the run: 'vacancy' (one "
        "working ion removed), 'interstitial' (one added at the lowest BVSE interstitial "
        "position), 'frenkel' (one moved there: neutral, no compensation), 'tier1' (what "
        "the carriers estimator found: none for intrinsic carriers, a vacancy for a cathode "
        "charged, a Frenkel pair otherwise)",
    )

    @field_validator("select_by")
    @classmethod
    def _known_selector(cls, value: str) -> str:
        if value != "rank-score" and value not in catalog.rankable_properties():
            raise ValueError(
                f"select_by {value!r}: use 'rank-score' or a rankable property ("
                + ", ".join(catalog.rankable_properties())
                + ")"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MDParams:
        if self.sample_interval_fs < self.timestep_fs:
            raise ValueError("sample_interval_fs must be >= timestep_fs")
        if self.duration_ps * 1000 < 10 * self.sample_interval_fs:
            raise ValueError("duration_ps must cover at least 10 saved frames")
        return self


class Objective(Frozen):
    """One ranking objective."""

    weight: float = Field(default=1.0, ge=0, allow_inf_nan=False)
    direction: Literal["minimize", "maximize"]


class Bounds(Frozen):
    """A hard constraint on a property: records outside leave the funnel at rank."""

    # in the property's own unit (eV/atom, V, %, ...): no bound of their own, but finite
    min: float | None = Field(default=None, allow_inf_nan=False)
    max: float | None = Field(default=None, allow_inf_nan=False)

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
    """Ranking: hard constraints, a weighted score, Pareto fronts, with uncertainties.

    Objectives are min-max normalised and weighted (weights sum-normalised); the records
    meeting every constraint are also sorted into Pareto fronts over the objectives.
    Property uncertainties enter by Monte Carlo: the score's standard deviation and the
    probability of being on the first front; the probability of meeting the constraints
    assumes independent Gaussian errors.
    """

    profile: str | None = Field(
        default=None,
        description="application profile from workflows/profiles/ (drones-aviation, "
        "heavy-duty, stationary); its objectives and constraints for the campaign's role "
        "fill in those the workflow does not give",
    )
    drop: list[str] = Field(
        default_factory=list, description="profile objectives/constraints to leave out"
    )
    objectives: dict[str, Objective] = Field(default_factory=_default_objectives)
    constraints: dict[str, Bounds] = Field(default_factory=dict)
    order_by: Literal["score", "pareto"] = Field(
        default="score",
        description="score: by weighted score; pareto: by Pareto front, then score",
    )
    top_n: int | None = Field(default=None, gt=0, description="keep only the best N")
    uncertainty_samples: int = Field(
        default=512, ge=0, le=100000, description="Monte Carlo draws (0: no propagation)"
    )
    seed: int = Field(default=0, ge=0, le=SEED_MAX, description="seed of the Monte Carlo draws")

    @classmethod
    def from_profile(cls, profile: str, role: str = "cathode", **overrides: Any) -> RankParams:
        """Ranking of an application profile for a role, with optional overrides."""
        from screen.ranking.profiles import merge_profile

        return cls.model_validate(merge_profile({"profile": profile, **overrides}, role))

    @field_validator("profile")
    @classmethod
    def _profile(cls, profile: str | None) -> str | None:
        from screen.ranking.profiles import profile_names

        if profile is not None and profile not in profile_names():
            raise ValueError(
                f"unknown profile {profile!r}; shipped (workflows/profiles/): "
                + ", ".join(profile_names())
            )
        return profile

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, objectives: dict[str, Objective]) -> dict[str, Objective]:
        _some_rankable(objectives)
        if sum(o.weight for o in objectives.values()) <= 0:
            raise ValueError("objective weights sum to zero")
        return objectives

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, constraints: dict[str, Bounds]) -> dict[str, Bounds]:
        _known_rankable(list(constraints))
        return constraints


def _some_rankable(objectives: dict[str, Objective]) -> None:
    if not objectives:
        raise ValueError("at least one objective is needed")
    _known_rankable(list(objectives))


def _known_rankable(names: list[str]) -> None:
    bad = [n for n in names if n not in catalog.rankable_properties()]
    if bad:
        raise ValueError(
            f"unknown property {', '.join(bad)}; rankable: "
            + ", ".join(catalog.rankable_properties())
        )


class DeliverParams(Frozen):
    """What the campaign directory receives at the end."""

    cif: bool = Field(default=True, description="one symmetrized CIF per ranked candidate")
    symprec: float = Field(
        default=0.1, gt=0, le=1, allow_inf_nan=False, description="symmetry tolerance for CIFs (Å)"
    )
    precursors: bool = Field(
        default=True,
        description="suggest balanced solid-state routes from common non-critical precursors",
    )
    report: bool = Field(default=True, description="write the self-contained report.html")
    report_cards: int = Field(
        default=10, ge=0, description="candidates with a detailed card in the report"
    )
    report_top_n: int = Field(
        default=200,
        ge=1,
        description="best candidates listed in the report's table and drawn in detail on its "
        "Pareto plot (every ranked candidate is in candidates.csv)",
    )


class SearchParams(Frozen):
    """Guided search: an Optuna study proposes candidates instead of enumerating them all.

    Each trial picks a prototype and an element per role; B trials are asked at a time,
    built, prefiltered, relaxed and estimated as one batch, and told back. Objectives and
    constraints default to the rank stage's; constraints are Optuna constraints
    (infeasible trials rank below every feasible one), never penalties on the objective.
    """

    strategy: Literal["optuna"] = "optuna"
    sampler: Literal["tpe", "nsga2", "random"] = Field(
        default="tpe",
        description="tpe (one or more objectives), nsga2 (several objectives), random "
        "(the baseline)",
    )
    budget: int = Field(gt=0, description="candidates evaluated (relaxed and estimated)")
    batch_size: int = Field(default=8, gt=0, description="trials asked and evaluated together")
    objectives: dict[str, Objective] | None = Field(
        default=None, description="default: stages.rank.objectives"
    )
    constraints: dict[str, Bounds] | None = Field(
        default=None, description="default: stages.rank.constraints"
    )
    n_startup_trials: int | None = Field(
        default=None, ge=1, description="random trials before the model (default: batch_size)"
    )
    max_trials: int | None = Field(
        default=None,
        gt=0,
        description="stop after this many trials even below budget (default: 20 x budget: "
        "repeated and infeasible proposals cost no evaluation)",
    )
    seed: int = Field(default=0, ge=0, le=SEED_MAX, description="sampler seed")

    @field_validator("objectives")
    @classmethod
    def _objectives(cls, objectives: dict[str, Objective] | None) -> dict[str, Objective] | None:
        if objectives is not None:
            _some_rankable(objectives)
        return objectives

    @field_validator("constraints")
    @classmethod
    def _constraints(cls, constraints: dict[str, Bounds] | None) -> dict[str, Bounds] | None:
        if constraints:
            _known_rankable(list(constraints))
        return constraints


class Stages(Frozen):
    """Parameters of every stage, in funnel order."""

    generate: GenerateParams = Field(default_factory=GenerateParams)
    prefilter: PrefilterParams = Field(default_factory=PrefilterParams)
    relax: RelaxParams = Field(default_factory=RelaxParams)
    estimate: EstimateParams = Field(default_factory=EstimateParams)
    md: MDParams = Field(default_factory=MDParams)
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
    max_batch_atoms: int | Literal["auto"] = Field(
        default="auto",
        description="atoms relaxed together per potential call (auto: one structure at a "
        f"time on CPU, where batching does not pay; {GPU_BATCH_ATOMS} atoms on a GPU, halved "
        "on out-of-memory)",
    )

    def batch_atoms(self, device: str) -> int | None:
        """The batch limit for a device (None: one structure at a time)."""
        if self.max_batch_atoms != "auto":
            return int(self.max_batch_atoms)
        return GPU_BATCH_ATOMS if device.startswith("cuda") else None

    @field_validator("max_batch_atoms")
    @classmethod
    def _positive_atoms(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 1:
            raise ValueError("max_batch_atoms must be >= 1 or 'auto'")
        return value

    @field_validator("workers")
    @classmethod
    def _positive(cls, workers: int | str) -> int | str:
        if isinstance(workers, int) and workers < 1:
            raise ValueError("workers must be >= 1 or 'auto'")
        return workers
