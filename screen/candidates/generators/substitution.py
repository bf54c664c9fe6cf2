"""Prototype substitution, judged against the known compounds of each family.

Every role assignment the chemical space allows is built on every selected prototype
(curated battery prototypes, and optionally pymatgen's ionic AFLOW prototypes), at each
working-ion content the prototype lists (Chevrel Mo6X8 with one and with two guests).
Each candidate carries ``substitution_likelihood``: its best match over the family's
known members of the product over roles of P(new | member) / P(member | member), with
data-mined substitution probabilities (:mod:`screen.candidates.likelihood`), and the
nearest member. Candidates below ``substitution_threshold`` stay in the funnel as
filtered (``unlikely-substitution``).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from screen.candidates.chemistry import predicted_volume
from screen.candidates.generators.common import STAGE, ordered_records
from screen.candidates.likelihood import family_likelihood
from screen.candidates.prototypes import (
    PrototypeStructure,
    aflow_prototypes,
    curated_structure,
    load_prototypes,
)
from screen.candidates.roles import role_mappings
from screen.records import Record, record_id, structure_dict

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition

    from screen.workflow.params import GenerateParams
    from screen.workflow.space import ChemicalSpace


def selected_prototypes(space: ChemicalSpace, params: GenerateParams) -> list[PrototypeStructure]:
    """The curated prototypes of the space (named, or all for its role), then AFLOW ones."""
    library = load_prototypes()
    names = space.prototypes or sorted(
        name for name, proto in library.items() if space.role in proto.applications
    )
    protos = [curated_structure(name) for name in names]
    if params.aflow_prototypes:
        protos += [
            p
            for _, p in sorted(aflow_prototypes(params.aflow_max_species).items())
            if len(p.structure) <= space.max_atoms
        ]
    return protos


@dataclass
class PrototypeTemplate:
    """A prototype prepared once: its structure as a dict, site roles, role amounts."""

    proto: PrototypeStructure
    sdict: dict[str, Any]
    site_roles: list[str]
    amounts: dict[str, float]  # role -> atoms per cell (occupancies summed)
    fixed: dict[str, str]  # fixed role -> element

    @classmethod
    def of(cls, proto: PrototypeStructure) -> PrototypeTemplate:
        """The template of a prototype (its roles stripped from the structure)."""
        structure = proto.structure.copy()
        roles = list(structure.site_properties["role"])
        structure.remove_site_property("role")
        amounts = proto.role_amounts()
        fixed = {
            role: element
            for role, element in proto.role_elements().items()
            if proto.roles[role].kind == "fixed"
        }
        return cls(proto, structure_dict(structure), roles, amounts, fixed)

    def composition(self, mapping: dict[str, str]) -> Composition:
        """Composition of the cell with ``mapping`` (role -> element) on its sites."""
        from pymatgen.core import Composition

        totals: dict[str, float] = {}
        for role, n in self.amounts.items():
            element = mapping.get(role) or self.fixed[role]
            totals[element] = totals.get(element, 0.0) + n
        return Composition(totals)

    def structure_dict(self, mapping: dict[str, str], scale: float) -> dict[str, Any]:
        """The substituted, isotropically scaled structure as Structure.as_dict() gives it."""
        out = copy.deepcopy(self.sdict)
        lattice = out["lattice"]
        lattice["matrix"] = [[x * scale for x in row] for row in lattice["matrix"]]
        for key in ("a", "b", "c"):
            lattice[key] *= scale
        lattice["volume"] *= scale**3
        for site, role in zip(out["sites"], self.site_roles, strict=True):
            element = mapping.get(role) or self.fixed[role]
            for species in site["species"]:
                species["element"] = element
            site["label"] = element
            site["xyz"] = [x * scale for x in site["xyz"]]
        return out


class PrototypeSubstitution:
    """Substitute the chemical space's elements into prototypes."""

    name = "prototype-substitution"

    def generate(self, space: ChemicalSpace, params: GenerateParams) -> list[Record]:
        """Every allowed role assignment on every selected prototype."""
        records: list[Record] = []
        for base in selected_prototypes(space, params):
            for factor in base.working_ion_contents:
                template = PrototypeTemplate.of(base.with_content(factor))
                for mapping in role_mappings(base.roles, space):
                    records += self.candidates_for(template, mapping, space, params)
        return records

    def candidates_for(
        self,
        template: PrototypeTemplate,
        mapping: dict[str, str],
        space: ChemicalSpace,
        params: GenerateParams,
    ) -> list[Record]:
        """The candidate(s) of one role assignment (enumeration and guided search alike).

        Several records for a prototype with partial occupancies (one per ordering).
        """
        proto = template.proto
        composition = template.composition(mapping)
        likelihood = family_likelihood(proto, mapping, composition)
        working = [
            mapping[r]
            for r, spec in sorted(proto.roles.items())
            if spec.kind in ("working_ion", "cation") and mapping[r] in space.working_ions
        ]
        recipe: dict[str, Any] = {
            "generator": self.name,
            "prototype": proto.name,
            "substitution": dict(sorted(mapping.items())),
        }
        if proto.content != 1.0:  # recipes (and ids) of the file's own content unchanged
            recipe["working_ion_content"] = proto.content
        provenance = {
            "prototype_reference": proto.reference_compound,
            "prototype_source": proto.source,
            "working_ion": working[0] if working else None,
            "volume_scaled": params.scale_volume,
            "substitution_likelihood": likelihood.value,
            "substitution_nearest_member": likelihood.member,
            "fixed_oxidation_states": proto.fixed_oxidation_states(mapping),
        }
        scale = 1.0
        if params.scale_volume:
            reference = proto.structure.composition
            scale = (predicted_volume(composition, reference, 1.0)) ** (1 / 3)
        unlikely = likelihood.value is not None and likelihood.value < params.substitution_threshold
        if proto.partially_occupied and not unlikely:
            structure = proto.substituted(mapping)
            structure.scale_lattice(structure.volume * scale**3)
            return ordered_records(structure, recipe, params, **provenance)
        record = Record(
            id=record_id(recipe),
            formula=composition.reduced_formula,
            structure=template.structure_dict(mapping, scale),
            provenance={"recipe": recipe, **provenance},
        )
        if unlikely:
            record.mark(
                STAGE,
                "filtered",
                "unlikely-substitution",
                f"likelihood {likelihood.value:.2e} < threshold "
                f"{params.substitution_threshold:g} (nearest known member {likelihood.member})",
            )
        else:
            record.mark(STAGE, "ok")
        return [record]
