"""The candidate record: one material as it moves through the screening funnel.

A record carries a stable id (a hash of the recipe that generated it), the structure as
generated and, after relaxation, the relaxed structure (pymatgen ``Structure.as_dict()``,
exact on JSON round-trip), provenance, properties with value/unit/uncertainty/method/model,
and a status per stage. A record that leaves the funnel keeps the stage and the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from screen.ions import WorkingIonError, check_working_ion

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

PropertyValue = bool | int | float | str | list[str] | list[float] | dict[str, float] | None

StageState = Literal["ok", "failed", "filtered"]


class ModelIdentity(BaseModel):
    """Which potential produced a value: registry name, backend version, checkpoint hash."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str | None = None
    sha256: str | None = None


class Property(BaseModel):
    """One estimated quantity with the information needed to trust (or distrust) it."""

    model_config = ConfigDict(extra="forbid")

    value: PropertyValue
    unit: str = Field(description="SI-style unit string; '' for dimensionless quantities")
    method: str = Field(description="how the value was obtained, in one sentence")
    uncertainty: float | None = Field(
        default=None, description="one standard uncertainty in the same unit, when known"
    )
    model: ModelIdentity | None = None


class StageStatus(BaseModel):
    """Outcome of one stage for one record."""

    model_config = ConfigDict(extra="forbid")

    state: StageState
    reason: str | None = Field(
        default=None, description="short category code, e.g. 'critical-element'; used by the funnel"
    )
    detail: str | None = None


class Record(BaseModel):
    """One candidate material."""

    model_config = ConfigDict(extra="forbid")

    id: str
    formula: str = Field(description="reduced formula of the structure")
    structure: dict[str, Any] = Field(description="generated structure, Structure.as_dict()")
    relaxed_structure: dict[str, Any] | None = None
    provenance: dict[str, Any] = Field(
        default_factory=dict,
        description="recipe, working_ion (see Record.working_ion), parents, stage notes",
    )
    properties: dict[str, Property] = Field(default_factory=dict)
    status: dict[str, StageStatus] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _known_working_ion(self) -> Record:
        ion = self.provenance.get("working_ion")
        if ion is not None:
            check_working_ion(ion, f"record {self.id}: provenance.working_ion")
        return self

    # ----------------------------------------------------------------- working ion
    @property
    def working_ion(self) -> str | None:
        """The mobile ion this candidate is screened for (one of screen.ions.WORKING_IONS).

        Set by the generators (or ``working_ion=`` of the Python API) and kept in the
        provenance; None for a structure without one.
        """
        ion = self.provenance.get("working_ion")
        return None if ion is None else str(ion)

    def set_working_ion(self, ion: str) -> None:
        """Give the record its working ion (WorkingIonError for an unsupported one)."""
        self.provenance["working_ion"] = check_working_ion(ion, f"record {self.id}")

    def working_ion_in_structure(self) -> str | None:
        """The working ion when the current structure contains it, else None.

        The guard of every ion-dependent estimate (capacity, voltage, window, BVSE, MD).
        """
        ion = self.working_ion
        if ion is None:
            return None
        sites = (self.relaxed_structure or self.structure).get("sites", [])
        for site in sites:
            for species in site.get("species", []):
                if species.get("element") == ion and float(species.get("occu", 1.0)) > 0:
                    return ion
        return None

    # ----------------------------------------------------------------- structures
    def initial_structure(self) -> Structure:
        """The structure as generated, as a pymatgen Structure."""
        from pymatgen.core import Structure

        return Structure.from_dict(self.structure)

    def current_structure(self) -> Structure:
        """The relaxed structure when there is one, else the generated one."""
        from pymatgen.core import Structure

        return Structure.from_dict(self.relaxed_structure or self.structure)

    # ----------------------------------------------------------------- properties
    def set_property(
        self,
        name: str,
        value: PropertyValue,
        *,
        unit: str,
        method: str,
        uncertainty: float | None = None,
        model: ModelIdentity | None = None,
    ) -> None:
        """Add or replace one property."""
        self.properties[name] = Property(
            value=value, unit=unit, method=method, uncertainty=uncertainty, model=model
        )

    def value(self, name: str, default: PropertyValue = None) -> PropertyValue:
        """The value of a property, or ``default`` when it is absent."""
        prop = self.properties.get(name)
        return default if prop is None else prop.value

    def number(self, name: str) -> float:
        """A numeric property as float; KeyError/TypeError when absent or not numeric."""
        value = self.properties[name].value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"property {name!r} of record {self.id} is not a number: {value!r}")
        return float(value)

    # ----------------------------------------------------------------- status
    def mark(
        self, stage: str, state: StageState, reason: str | None = None, detail: str | None = None
    ) -> None:
        """Record the outcome of ``stage`` for this record."""
        if state != "ok" and not reason:
            raise ValueError(f"a {state!r} status needs a reason (record {self.id}, stage {stage})")
        self.status[stage] = StageStatus(state=state, reason=reason, detail=detail)

    @property
    def active(self) -> bool:
        """True while no stage has failed or filtered this record."""
        return all(s.state == "ok" for s in self.status.values())

    def exit_stage(self) -> tuple[str, StageStatus] | None:
        """The stage (and status) where the record left the funnel, if it did."""
        for stage, status in self.status.items():
            if status.state != "ok":
                return stage, status
        return None

    # ----------------------------------------------------------------- serialization
    def to_json(self) -> str:
        """One-line JSON; floats round-trip exactly."""
        return json.dumps(self.model_dump(mode="json"), separators=(",", ":"), allow_nan=True)

    @classmethod
    def from_json(cls, line: str) -> Record:
        """Inverse of :meth:`to_json`."""
        return cls.model_validate(json.loads(line))

    def copy_for_stage(self) -> Record:
        """A deep copy that a stage may modify without touching its input."""
        return self.model_copy(deep=True)


def structure_dict(structure: Structure) -> dict[str, Any]:
    """``Structure.as_dict()`` in plain JSON types (exact floats, lists not tuples)."""
    data: dict[str, Any] = json.loads(json.dumps(structure.as_dict()))
    return data


def canonical_json(data: Any) -> str:
    """Deterministic JSON used for hashing (sorted keys, no whitespace)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def record_id(recipe: dict[str, Any]) -> str:
    """Stable id of a candidate from its generation recipe: 'bs-' + 12 hex digits of sha256."""
    digest = hashlib.sha256(canonical_json(recipe).encode()).hexdigest()
    return f"bs-{digest[:12]}"


def record_from_structure(
    structure: Structure, recipe: dict[str, Any] | None = None, **provenance: Any
) -> Record:
    """Wrap a pymatgen Structure as a new record.

    Without a recipe the id is derived from the structure itself (species and exact
    coordinates), so the same structure always gets the same id.
    """
    sdict = structure_dict(structure)
    if recipe is None:
        recipe = {"generator": "user-structure", "structure_sha256": structure_sha256(structure)}
    return Record(
        id=record_id(recipe),
        formula=structure.composition.reduced_formula,
        structure=sdict,
        provenance={"recipe": recipe, **provenance},
    )


def structure_sha256(structure: Structure) -> str:
    """sha256 of a structure's lattice, species and fractional coordinates."""
    payload = {
        "lattice": structure.lattice.matrix.tolist(),
        "species": [site.species_string for site in structure],
        "frac_coords": structure.frac_coords.tolist(),
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def records_from_structures(
    structures: Iterable[Structure], source: str = "python-api", working_ion: str | None = None
) -> list[Record]:
    """Records for user-provided structures (ids derived from the structures)."""
    return as_records(list(structures), working_ion=working_ion, source=source)


def as_records(
    items: Sequence[Record | Structure],
    working_ion: str | None = None,
    source: str = "python-api",
    *,
    caller: str = "as_records",
) -> list[Record]:
    """Accept records or pymatgen Structures (or a mix) and return records.

    ``working_ion`` is given to the structures and to records without one; a record made
    for another ion is an error (WorkingIonError naming both). Anything else, or a single
    structure or record instead of a sequence of them, is a TypeError naming ``caller``,
    the type given and its position.
    """
    accepted = "a sequence of pymatgen Structure or screen Record"
    single = isinstance(items, Record)
    if not single and not isinstance(items, list | tuple):
        from pymatgen.core import IStructure

        single = isinstance(items, IStructure)
    if single or isinstance(items, str | bytes | dict) or not isinstance(items, Iterable):
        hint = " (a single one: wrap it in a list)" if single else ""
        raise TypeError(f"{caller}: items must be {accepted}, got {type(items).__name__}{hint}")
    items = list(items)
    if not all(isinstance(item, Record) for item in items):
        from pymatgen.core import IStructure

        for i, item in enumerate(items):
            if not isinstance(item, Record | IStructure):
                raise TypeError(
                    f"{caller}: items must be {accepted}, got {type(item).__name__} at position {i}"
                )
    if working_ion is not None:
        check_working_ion(working_ion, "working_ion=")
    out: list[Record] = []
    for item in items:
        record = item if isinstance(item, Record) else record_from_structure(item, source=source)
        if working_ion is not None and record.working_ion != working_ion:
            if record.working_ion is not None:
                raise WorkingIonError(
                    f"record {record.id} ({record.formula}) was made for {record.working_ion}, "
                    f"not working_ion={working_ion!r}"
                )
            record = record.copy_for_stage()
            record.set_working_ion(working_ion)
        out.append(record)
    return out
