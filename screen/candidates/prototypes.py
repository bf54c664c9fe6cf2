"""The prototype library in candidates/prototypes/: crystal structures with substitutable roles."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from screen.resources import resource_dir

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure


class PrototypeSite(BaseModel):
    """One Wyckoff site of the reference compound and the role it plays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: str
    species: str
    wyckoff: str
    coords: tuple[float, float, float]


class RoleSpec(BaseModel):
    """What may occupy a role: the working ion, a framework cation or an anion."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["working_ion", "framework_cation", "anion"]
    allowed: list[str] | None = Field(
        default=None, description="restricts the chemical space's elements for this role"
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


class Prototype(BaseModel):
    """A crystal prototype with the literature reference it was written from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str
    reference_compound: str
    reference: str
    applications: list[Literal["cathode", "anode", "electrolyte"]] = Field(
        min_length=1, description="roles the prototype is screened for"
    )
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
        structure = Structure.from_spacegroup(
            self.spacegroup,
            lattice,
            [site.species for site in self.sites],
            [list(site.coords) for site in self.sites],
            site_properties={"role": [site.role for site in self.sites]},
        )
        if self.primitive:
            structure = structure.get_primitive_structure(use_site_props=True)
        return structure

    def substituted(self, mapping: dict[str, str]) -> Structure:
        """The reference structure with every role replaced by ``mapping[role]``."""
        from pymatgen.core import Structure

        ref = self.reference_structure()
        species = [mapping[role] for role in ref.site_properties["role"]]
        return Structure(ref.lattice, species, ref.frac_coords)


@functools.cache
def load_prototypes() -> dict[str, Prototype]:
    """Every prototype shipped in candidates/prototypes/, by name."""
    out: dict[str, Prototype] = {}
    for path in sorted((resource_dir("candidates") / "prototypes").glob("*.yaml")):
        proto = Prototype.model_validate(yaml.safe_load(path.read_text()))
        if proto.name != path.stem:
            raise ValueError(f"prototype file {path} holds {proto.name!r}; name them alike")
        unknown = {s.role for s in proto.sites} - set(proto.roles)
        if unknown:
            raise ValueError(f"prototype {path}: sites use undeclared roles {sorted(unknown)}")
        out[proto.name] = proto
    return out
