"""Crystal prototypes with substitutable roles.

Two sources, one shape (:class:`PrototypeStructure`: a structure whose sites carry a role):

- the curated battery library in candidates/prototypes/*.yaml, written from published
  refinements (space group, lattice, Wyckoff sites, occupancies, literature reference);
- pymatgen's bundled AFLOW prototype library (Mehl et al. 2017, Hicks et al. 2019), for
  the ionic entries (those with a charge-balanced oxidation-state guess): each element of
  the prototype becomes a role, cation roles may hold the working ion or a framework
  cation, anion roles an anion.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from screen.resources import resource_dir

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

RoleKind = Literal["working_ion", "framework_cation", "cation", "anion", "polyanion", "fixed"]


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

    @property
    def partially_occupied(self) -> bool:
        """True when some site is not fully occupied (candidates need ordering)."""
        return not self.structure.is_ordered

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
        """The prototype ready for substitution."""
        return PrototypeStructure(
            name=self.name,
            source="curated",
            reference_compound=self.reference_compound,
            reference=" ".join(self.reference.split()),
            applications=tuple(self.applications),
            roles=dict(self.roles),
            structure=self.reference_structure(),
        )


@functools.cache
def load_prototypes() -> dict[str, Prototype]:
    """Every curated prototype in candidates/prototypes/, by name."""
    out: dict[str, Prototype] = {}
    for path in sorted((resource_dir("candidates") / "prototypes").glob("*.yaml")):
        proto = Prototype.model_validate(yaml.safe_load(path.read_text()))
        if proto.name != path.stem:
            raise ValueError(f"prototype file {path} holds {proto.name!r}; name them alike")
        unknown = {s.role for s in proto.sites} - set(proto.roles)
        if unknown:
            raise ValueError(f"prototype {path}: sites use undeclared roles {sorted(unknown)}")
        for role, spec in proto.roles.items():
            if (spec.kind == "polyanion") != (spec.geometry is not None):
                raise ValueError(f"prototype {path}: role {role}: geometry goes with polyanion")
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
        )
    return out
