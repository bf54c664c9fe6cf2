"""Crystal prototypes with substitutable roles.

Two sources, one shape (:class:`PrototypeStructure`: a structure whose sites carry a role):

- the curated battery library in candidates/prototypes/*.yaml, written from published
  refinements (space group, lattice, Wyckoff sites, occupancies, literature reference),
  each with the synthesised compounds of its family (``known_members``, with sources),
  against which :mod:`screen.candidates.likelihood` judges a substitution;
- pymatgen's bundled AFLOW prototype library (Mehl et al. 2017, Hicks et al. 2019), for
  the ionic entries (those with a charge-balanced oxidation-state guess): each element of
  the prototype becomes a role, cation roles may hold the working ion or a framework
  cation, anion roles an anion.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from screen.resources import resource_dir

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

RoleKind = Literal["working_ion", "framework_cation", "cation", "anion", "polyanion", "fixed"]


class PrototypeError(ValueError):
    """A prototype file that contradicts itself (names the file, the field, what is allowed)."""


class PrototypeSite(BaseModel):
    """One Wyckoff site of the reference compound and the role it plays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str
    species: str
    wyckoff: str
    coords: tuple[float, float, float]
    occupancy: float = Field(default=1.0, gt=0, le=1)


class RoleSpec(BaseModel):
    """What may occupy a role.

    working_ion: the chemical space's working ions; framework_cation: its framework
    cations; cation: either (AFLOW prototypes); anion: its element anions; polyanion: the
    centre element of its polyanions of the same geometry; fixed: never substituted.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: RoleKind
    allowed: list[str] | None = Field(
        default=None, description="restricts the chemical space's elements for this role"
    )
    geometry: Literal["tetrahedral", "trigonal"] | None = Field(
        default=None, description="polyanion roles: coordination of the centre"
    )


class KnownMember(BaseModel):
    """A synthesised compound of the prototype's family: one element per substitutable role."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    formula: str = Field(description="reduced formula of the roles filled into the prototype")
    roles: dict[str, str] = Field(description="role -> element (every role but fixed ones)")
    source: str = Field(min_length=1, description="paper, review or database id")
    note: str = ""


class LatticeSpec(BaseModel):
    """Conventional cell of the reference compound (Å, degrees)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    a: float
    b: float
    c: float
    alpha: float
    beta: float
    gamma: float


@dataclass(frozen=True)
class PrototypeStructure:
    """A prototype ready for substitution: sites carry a 'role' site property."""

    name: str
    source: str  # "curated" | "aflow"
    reference_compound: str
    reference: str
    applications: tuple[str, ...]
    roles: dict[str, RoleSpec]
    structure: Structure
    members: tuple[KnownMember, ...] = ()
    working_ion_contents: tuple[float, ...] = (1.0,)
    content: float = 1.0  # the factor this structure's working-ion occupancies carry

    @property
    def partially_occupied(self) -> bool:
        """True when some site is not fully occupied (candidates need ordering)."""
        return not self.structure.is_ordered

    def role_elements(self) -> dict[str, str]:
        """The reference compound's element on each role."""
        out: dict[str, str] = {}
        for site, role in zip(self.structure, self.structure.site_properties["role"], strict=True):
            out.setdefault(role, next(iter(site.species)).symbol)
        return out

    def fixed_oxidation_states(self, mapping: dict[str, str]) -> dict[str, int]:
        """Oxidation state of each polyanion centre (P5+ in PO4): the group fixes it."""
        from screen.candidates.polyanions import POLYANIONS

        reference = self.role_elements()
        fixed = {}
        for role, spec in self.roles.items():
            if spec.kind == "polyanion":
                centre = mapping.get(role) or reference[role]
                states = {
                    p.centre_oxidation_state
                    for p in POLYANIONS.values()
                    if p.centre == centre and p.geometry == spec.geometry
                }
                if len(states) == 1:
                    fixed[centre] = states.pop()
        return fixed

    def role_amounts(self) -> dict[str, float]:
        """Atoms of each role per cell (occupancies summed)."""
        amounts: dict[str, float] = {}
        for site, role in zip(self.structure, self.structure.site_properties["role"], strict=True):
            amounts[role] = amounts.get(role, 0.0) + float(sum(site.species.values()))
        return amounts

    def with_content(self, factor: float) -> PrototypeStructure:
        """The prototype with its working-ion occupancies multiplied by ``factor``.

        Hosts that take a variable number of working ions (Chevrel Mo6X8: one or two Mg)
        list the factors in ``working_ion_contents``; factor 1 is the file's own sites.
        """
        if factor == self.content:
            return self
        from pymatgen.core import Structure

        ref = self.structure
        working = {r for r, spec in self.roles.items() if spec.kind == "working_ion"}
        species = []
        for site, role in zip(ref, ref.site_properties["role"], strict=True):
            (old, occupancy), *_ = site.species.items()
            if role in working:  # relative to the file's own occupancies
                occupancy = min(1.0, round(occupancy * factor / self.content, 10))
            species.append({old.symbol: occupancy})
        structure = Structure(
            ref.lattice, species, ref.frac_coords, site_properties=dict(ref.site_properties)
        )
        return dataclasses.replace(self, structure=structure, content=factor)

    def substituted(self, mapping: dict[str, str]) -> Structure:
        """The structure with every role replaced by ``mapping[role]`` (fixed roles kept)."""
        from pymatgen.core import Structure

        ref = self.structure
        species = []
        for site, role in zip(ref, ref.site_properties["role"], strict=True):
            (old, occupancy), *_ = site.species.items()
            new = mapping.get(role, old.symbol)
            species.append({new: occupancy})
        return Structure(ref.lattice, species, ref.frac_coords)


class Prototype(BaseModel):
    """A curated prototype file: crystallographic facts and their literature reference."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    reference_compound: str
    reference: str
    applications: list[Literal["cathode", "anode", "electrolyte"]] = Field(min_length=1)
    spacegroup: int = Field(ge=1, le=230)
    lattice: LatticeSpec
    sites: list[PrototypeSite]
    roles: dict[str, RoleSpec]
    primitive: bool = False
    known_members: list[KnownMember] = Field(
        min_length=1,
        description="synthesised compounds of the family, each with its source; the "
        "substitution likelihood compares every candidate with each of them",
    )
    working_ion_contents: list[float] = Field(
        default=[1.0],
        min_length=1,
        description="factors on the working-ion site occupancies: hosts that take a "
        "variable number of working ions (Chevrel Mo6X8 takes one or two Mg) get a "
        "candidate for each content",
    )

    def reference_structure(self) -> Structure:
        """The reference compound built from space group, lattice and Wyckoff sites."""
        from pymatgen.core import Lattice, Structure

        lat = self.lattice
        lattice = Lattice.from_parameters(lat.a, lat.b, lat.c, lat.alpha, lat.beta, lat.gamma)
        species: list[Any] = [
            site.species if site.occupancy == 1 else {site.species: site.occupancy}
            for site in self.sites
        ]
        structure = Structure.from_spacegroup(
            self.spacegroup,
            lattice,
            species,
            [list(site.coords) for site in self.sites],
            site_properties={"role": [site.role for site in self.sites]},
        )
        if self.primitive:
            structure = structure.get_primitive_structure(use_site_props=True)
        return structure

    def build(self) -> PrototypeStructure:
        """The prototype ready for substitution; its known members checked against it."""
        structure = PrototypeStructure(
            name=self.name,
            source="curated",
            reference_compound=self.reference_compound,
            reference=" ".join(self.reference.split()),
            applications=tuple(self.applications),
            roles=dict(self.roles),
            structure=self.reference_structure(),
            members=tuple(self.known_members),
            working_ion_contents=tuple(self.working_ion_contents),
        )
        check_member_formulas(structure, f"candidates/prototypes/{self.name}.yaml")
        return structure


def member_content(proto: PrototypeStructure, member: KnownMember) -> float | None:
    """The working-ion content factor at which ``member`` fills ``proto``; None if none does."""
    from pymatgen.core import Composition

    target = Composition(member.formula).fractional_composition
    for factor in proto.working_ion_contents:
        filled = role_composition(proto.with_content(factor), member.roles)
        if filled.fractional_composition.almost_equals(target):
            return factor
    return None


def role_composition(proto: PrototypeStructure, mapping: dict[str, str]) -> Any:
    """Composition of the cell with ``mapping`` (role -> element); fixed roles keep theirs."""
    from pymatgen.core import Composition

    reference = proto.role_elements()
    totals: dict[str, float] = {}
    for role, n in proto.role_amounts().items():
        element = mapping.get(role) or reference[role]
        totals[element] = totals.get(element, 0.0) + n
    return Composition(totals)


def check_member_formulas(proto: PrototypeStructure, where: str) -> None:
    """Each known member's formula is its roles filled in, and it is charge balanced."""
    from screen.candidates.chemistry import oxidation_states

    for k, member in enumerate(proto.members):
        field = f"known_members[{k}] ({member.formula})"
        factor = member_content(proto, member)
        if factor is None:
            filled = role_composition(proto, member.roles).reduced_formula
            raise PrototypeError(
                f"{where}: {field}: its roles {member.roles} fill the prototype as {filled}, "
                f"not {member.formula} (working-ion contents {list(proto.working_ion_contents)})"
            )
        composition = role_composition(proto.with_content(factor), member.roles)
        fixed = proto.fixed_oxidation_states(member.roles)
        if oxidation_states(composition, fixed, established=True) is None:
            raise PrototypeError(
                f"{where}: {field}: no charge-balanced oxidation states (pymatgen ICSD "
                "statistics); a known compound must pass the charge-balance filter"
            )


def check_members(proto: Prototype, where: str) -> None:
    """Each known member names every substitutable role, with an element the role allows."""
    from pymatgen.core.periodic_table import Element

    from screen.candidates.polyanions import POLYANIONS
    from screen.ions import WORKING_IONS

    substitutable = {r for r, spec in proto.roles.items() if spec.kind != "fixed"}
    for k, member in enumerate(proto.known_members):
        field = f"known_members[{k}] ({member.formula})"
        if set(member.roles) != substitutable:
            raise PrototypeError(
                f"{where}: {field}: roles {sorted(member.roles)}; the prototype's substitutable "
                f"roles are {sorted(substitutable)}"
            )
        for role, element in member.roles.items():
            spec = proto.roles[role]
            if not Element.is_valid_symbol(element):
                raise PrototypeError(f"{where}: {field}: role {role}: {element!r} is no element")
            if spec.allowed is not None and element not in spec.allowed:
                raise PrototypeError(
                    f"{where}: {field}: role {role} allows {', '.join(spec.allowed)}, not {element}"
                )
            if spec.kind == "working_ion" and element not in WORKING_IONS:
                raise PrototypeError(
                    f"{where}: {field}: role {role} is the working ion; allowed: "
                    f"{', '.join(WORKING_IONS)}, not {element}"
                )
            if spec.kind == "polyanion":
                centres = sorted(
                    {p.centre for p in POLYANIONS.values() if p.geometry == spec.geometry}
                )
                if element not in centres:
                    raise PrototypeError(
                        f"{where}: {field}: role {role} is a {spec.geometry} polyanion centre; "
                        f"allowed: {', '.join(centres)}, not {element}"
                    )


def read_prototype(path: Path) -> Prototype:
    """One curated prototype file, checked; PrototypeError names the file and the field."""
    from pydantic import ValidationError

    try:
        proto = Prototype.model_validate(yaml.safe_load(path.read_text()))
    except ValidationError as exc:
        raise PrototypeError(f"{path}: {exc}") from exc
    if proto.name != path.stem:
        raise PrototypeError(f"prototype file {path} holds {proto.name!r}; name them alike")
    unknown = {s.role for s in proto.sites} - set(proto.roles)
    if unknown:
        raise PrototypeError(f"prototype {path}: sites use undeclared roles {sorted(unknown)}")
    for role, spec in proto.roles.items():
        if (spec.kind == "polyanion") != (spec.geometry is not None):
            raise PrototypeError(f"prototype {path}: role {role}: geometry goes with polyanion")
    if any(f <= 0 for f in proto.working_ion_contents):
        raise PrototypeError(f"prototype {path}: working_ion_contents must be positive")
    check_members(proto, str(path))
    return proto


@functools.cache
def load_prototypes() -> dict[str, Prototype]:
    """Every curated prototype in candidates/prototypes/, by name."""
    out: dict[str, Prototype] = {}
    for path in sorted((resource_dir("candidates") / "prototypes").glob("*.yaml")):
        proto = read_prototype(path)
        out[proto.name] = proto
    return out


@functools.cache
def curated_structure(name: str) -> PrototypeStructure:
    """A curated prototype, built once per process."""
    return load_prototypes()[name].build()


# ---------------------------------------------------------------------------- AFLOW
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


@functools.cache
def aflow_prototypes(max_species: int = 4) -> dict[str, PrototypeStructure]:
    """Ionic prototypes of pymatgen's AFLOW library, keyed 'aflow:<label>'.

    Only entries whose composition has a charge-balanced oxidation-state guess are kept
    (the library is mostly intermetallic). Roles are named after the prototype's elements.
    """
    from pymatgen.analysis.prototypes import AFLOW_PROTOTYPE_LIBRARY

    out: dict[str, PrototypeStructure] = {}
    for entry in AFLOW_PROTOTYPE_LIBRARY:
        structure = entry["snl"].structure.copy()
        composition = structure.composition
        if len(composition.elements) < 2 or len(composition.elements) > max_species:
            continue
        try:
            guesses = composition.oxi_state_guesses(max_sites=-20)
        except ValueError:  # too many sites to guess: an intermetallic anyway
            continue
        if not guesses or any(v == 0 for v in guesses[0].values()):
            continue
        oxi = guesses[0]
        tags = entry["tags"]
        label = _SAFE.sub("_", tags["aflow"])
        roles = {
            str(el): RoleSpec(kind="anion" if oxi[str(el)] < 0 else "cation")
            for el in composition.elements
        }
        structure.add_site_property("role", [site.specie.symbol for site in structure])
        mineral = tags.get("mineral") or ""
        out[f"aflow:{label}"] = PrototypeStructure(
            name=f"aflow:{label}",
            source="aflow",
            reference_compound=composition.reduced_formula,
            reference=f"AFLOW prototype {tags['aflow']} ({tags['pearson']}"
            + (f", {mineral}" if mineral else "")
            + "), pymatgen AFLOW_PROTOTYPE_LIBRARY (Mehl et al., Comput. Mater. Sci. 136, "
            "S1 (2017))",
            applications=("cathode", "anode", "electrolyte"),
            roles=roles,
            structure=structure,
            members=(
                KnownMember(
                    formula=composition.reduced_formula,
                    roles={str(el): str(el) for el in composition.elements},
                    source=f"AFLOW prototype {tags['aflow']}",
                ),
            ),
        )
    return out
