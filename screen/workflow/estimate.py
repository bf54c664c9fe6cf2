"""Parameters of the estimate stage: one section per estimator, ``stages.estimate.<name>``.

Each estimator (screen/estimators/, entry-point group ``screen.estimators``) reads its own
section; every section has ``enabled``, and ``true``/``false`` stands for
``{enabled: ...}``. The built-in estimators' sections are declared here (typed, in the
JSON schema); a third-party estimator's section is validated by its own params model.

Workflow files written before the estimators had sections still read: ``formation_energy``
is ``hull.enabled``, ``voltage`` is ``electrode.enabled``, ``electrochemical_window`` is
``window.enabled``, and the formation-energy bounds moved into ``hull``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from screen.potentials.cards import EnergyConvention
from screen.workflow.types import Frozen, existing_file


class EstimatorParams(Frozen):
    """The section of one estimator: at least whether it runs."""

    enabled: bool = Field(default=True, description="run this estimator")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``true`` / ``false`` stand for ``{enabled: true}`` / ``{enabled: false}``."""
        return {"enabled": data} if isinstance(data, bool) else data


class HullParams(EstimatorParams):
    """Formation energy, energy above the convex hull and decomposition (screen/stability/).

    The hull it builds is shared: the window and electrode estimators use it too, with
    these reference settings, even when this section is disabled.
    """

    enabled: bool = Field(
        default=True,
        description="formation energy per atom and energy above the convex hull, with "
        "decomposition products",
    )
    references: Literal["self-consistent", "materials-project", "file"] = Field(
        default="self-consistent",
        description="self-consistent: elements and prototype-built binary/ternary phases "
        "relaxed with the same potential (offline; flagged as incomplete); "
        "materials-project: MP entries via mp-api, cached in the campaign; "
        "file: a JSON list of pymatgen ComputedStructureEntry objects (entries_file)",
    )
    entries_file: Path | None = Field(
        default=None, description="references: file -- the JSON file of computed entries"
    )
    entries_convention: EnergyConvention = Field(
        default="mp2020-corrected",
        description="references: file -- energy convention of the file's entries",
    )
    api_key_env: str = Field(
        default="MP_API_KEY", description="references: materials-project -- key variable"
    )
    include_candidates: bool = Field(
        default=True,
        description="the campaign's relaxed candidates join the hull (each is measured "
        "against the references and the other candidates)",
    )
    polymorphs_per_formula: int = Field(
        default=2,
        ge=1,
        le=20,
        description="self-consistent: prototypes relaxed per reference formula (the lowest "
        "single-point energies at the predicted volume)",
    )
    max_reference_atoms: int = Field(
        default=24, ge=1, le=200, description="self-consistent: largest prototype cell built"
    )
    cache_dir: Path | None = Field(
        default=None,
        description="self-consistent: folder shared between campaigns for relaxed "
        "references (default: inside the campaign directory)",
    )
    max_formation_energy_per_atom_ev: float = Field(
        default=1.0,
        ge=-10,
        le=10,
        allow_inf_nan=False,
        description="records above this formation energy (eV/atom) are marked unphysical",
    )
    min_formation_energy_per_atom_ev: float = Field(
        default=-5.0,
        ge=-10,
        le=10,
        allow_inf_nan=False,
        description="records below this formation energy (eV/atom) are marked unphysical "
        "(no known compound is below about -4.5 eV/atom)",
    )

    @field_validator("entries_file")
    @classmethod
    def _entries_exist(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        return existing_file(path, info, "entries file")

    @model_validator(mode="after")
    def _file_given(self) -> HullParams:
        if self.references == "file" and self.entries_file is None:
            raise ValueError("references: file needs entries_file")
        return self

    def reference_convention(self) -> str | None:
        """Energy convention of the references (None: the potential's own, self-consistent)."""
        if self.references == "materials-project":
            return "mp2020-corrected"
        if self.references == "file":
            return self.entries_convention
        return None


class ElectrodeParams(EstimatorParams):
    """Cathodes: the charged end member and the electrode numbers."""

    enabled: bool = Field(
        default=True,
        description="cathodes: relax the charged end member (working ion removed as far as "
        "the host's accessible redox couples allow) and the intermediates, and report the "
        "voltage profile, average voltage, capacity, specific energy, volume change and the "
        "charged phase's energy above hull",
    )
    intermediates: int = Field(
        default=1,
        ge=0,
        le=7,
        description="intermediate compositions between the discharged and the charged end "
        "member, in equal steps of working-ion content, each Ewald-ordered and relaxed with "
        "the end members (0: end members only, one average voltage)",
    )
    max_atoms: int = Field(
        default=64,
        ge=8,
        le=400,
        description="largest supercell of an intercalation member: the smallest multiple of "
        "the candidate's cell that holds a whole number of removed ions is used; above this "
        "size the removal is rounded to whole ions in the largest allowed supercell",
    )
    redox_couples: Path | None = Field(
        default=None,
        description="a redox-couples file replacing candidates/redox-couples.yaml (same "
        "format: couples by element and anion family, with references and practical ranges)",
    )

    @field_validator("redox_couples")
    @classmethod
    def _couples_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        from screen.estimators.couples import RedoxCouples

        path = existing_file(value, info, "redox_couples file")
        assert path is not None
        RedoxCouples.read(path)  # RedoxCouplesError (a ValueError) names file and field
        return path


class CapacityParams(EstimatorParams):
    """Cathodes: the theoretical capacity."""

    enabled: bool = Field(
        default=True, description="theoretical capacity if every working ion is extracted"
    )


class WindowParams(EstimatorParams):
    """Electrolytes: the electrochemical stability window."""

    enabled: bool = Field(
        default=True,
        description="electrolytes: reduction and oxidation limits vs the working-ion metal "
        "from the grand-potential phase diagram",
    )


class BVSEParams(EstimatorParams):
    """Bond-valence site energy: migration barrier and network dimensionality (tier 1)."""

    enabled: bool = Field(
        default=True,
        description="percolation barrier (1D/2D/3D) and dimensionality of the working ion's "
        "network for every relaxed candidate (softBV parameters)",
    )
    resolution_angstrom: float = Field(
        default=0.2,
        gt=0.05,
        le=0.5,
        allow_inf_nan=False,
        description="spacing of the site-energy grid (Å)",
    )


class CarrierParams(EstimatorParams):
    """Carriers of the working-ion sublattice and the effective activation energy (tier 1).

    Intrinsic carriers (partially occupied sublattice) or vacancies made by charging (a
    cathode with an accessible redox couple): Ea = Em. Otherwise the cheapest Frenkel pair
    is relaxed at fixed cell with the candidate's potential, all candidates in one batch:
    Ea = Em + Ef/2 (Em where the pair sits on a vacant site equivalent to occupied ones
    and costs at most 0.1 eV: intrinsic).
    """

    enabled: bool = Field(
        default=True,
        description="carrier kind, Frenkel-pair formation energy (where carriers must be "
        "created) and effective activation energy of every relaxed candidate with a "
        "working ion (Em from its BVSE landscape)",
    )
    min_cell_length_angstrom: float = Field(
        default=7.0,
        ge=4.0,
        le=30.0,
        allow_inf_nan=False,
        description="the defect supercell repeats the cell until every height is at least this (Å)",
    )
    max_atoms: int = Field(
        default=100,
        ge=8,
        le=2000,
        description="largest defect supercell (atoms); fewer repeats beyond it",
    )
    trials: int = Field(
        default=2,
        ge=1,
        le=8,
        description="symmetry-distinct interstitial positions tried per candidate (vacant "
        "sites equivalent to occupied ones first, then the lowest BVSE site energy); the "
        "lowest relaxed Frenkel energy counts",
    )
    fmax: float = Field(
        default=0.1,
        gt=0.0,
        le=1.0,
        allow_inf_nan=False,
        description="force convergence of the fixed-cell defect relaxation (eV/Å)",
    )
    max_steps: int = Field(
        default=150, ge=1, le=10000, description="step limit of the defect relaxation"
    )


#: old key -> (section, field) it now is
LEGACY_KEYS = {
    "formation_energy": ("hull", "enabled"),
    "voltage": ("electrode", "enabled"),
    "electrochemical_window": ("window", "enabled"),
    "max_formation_energy_per_atom_ev": ("hull", "max_formation_energy_per_atom_ev"),
    "min_formation_energy_per_atom_ev": ("hull", "min_formation_energy_per_atom_ev"),
}


class EstimateParams(Frozen):
    """The estimators run after relaxation, one section each (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="allow")  # third-party estimators' sections

    hull: HullParams = Field(default_factory=HullParams)
    electrode: ElectrodeParams = Field(default_factory=ElectrodeParams)
    capacity: CapacityParams = Field(default_factory=CapacityParams)
    window: WindowParams = Field(default_factory=WindowParams)
    bvse: BVSEParams = Field(default_factory=BVSEParams)
    carriers: CarrierParams = Field(default_factory=CarrierParams)

    @model_validator(mode="before")
    @classmethod
    def _legacy_keys(cls, data: Any) -> Any:
        """Move the keys of the flat layout into their sections."""
        if not isinstance(data, dict) or not set(data) & set(LEGACY_KEYS):
            return data
        data = dict(data)
        for key, (section, field) in LEGACY_KEYS.items():
            if key not in data:
                continue
            value = data.pop(key)
            given = data.get(section, {})
            given = {"enabled": given} if isinstance(given, bool) else dict(given or {})
            if field in given and given[field] != value:
                raise ValueError(f"{key} (older form) and {section}.{field} disagree; give one")
            given[field] = value
            data[section] = given
        return data

    @model_validator(mode="after")
    def _plugin_sections(self, info: ValidationInfo) -> EstimateParams:
        """Sections of third-party estimators, validated by their own params models."""
        from screen.plugins import estimator_classes

        extra = self.__pydantic_extra__ if self.__pydantic_extra__ is not None else {}
        plugins = {c.name: c for c in estimator_classes() if c.name not in type(self).model_fields}
        unknown = sorted(set(extra) - set(plugins))
        if unknown:
            known = [*type(self).model_fields, *plugins]
            raise ValueError(
                f"no estimator {', '.join(map(repr, unknown))}; registered estimators "
                f"(stages.estimate sections): {', '.join(known)}"
            )
        for name, cls in plugins.items():
            value = extra.get(name, {})
            if isinstance(value, EstimatorParams):
                continue
            try:
                extra[name] = cls.params_model.model_validate(value, context=info.context)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(map(str, e['loc'])) or name}: {e['msg']}" for e in exc.errors()
                )
                raise ValueError(f"{name}: {problems}") from None
        return self

    def section(self, name: str) -> EstimatorParams:
        """The parameters of estimator ``name`` (KeyError for an unregistered one)."""
        if name in type(self).model_fields:
            value: EstimatorParams = getattr(self, name)
            return value
        extra = self.__pydantic_extra__ or {}
        if name not in extra:
            raise KeyError(f"no estimator section {name!r}")
        section: EstimatorParams = extra[name]
        return section
