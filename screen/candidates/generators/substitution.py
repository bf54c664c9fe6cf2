"""Prototype substitution, ranked by data-mined substitution probabilities.

Every role assignment the chemical space allows is built on every selected prototype
(curated battery prototypes, and optionally pymatgen's ionic AFLOW prototypes). Each
candidate carries ``substitution_likelihood``: the product over substituted roles of
P(new | old) / P(old | old), with pymatgen's data-mined conditional substitution
probabilities (G. Hautier et al., Inorg. Chem. 50, 656 (2011)) and oxidation states from
charge-balanced guesses of the reference compound and of the candidate. Candidates below
``substitution_threshold`` stay in the funnel as filtered (``unlikely-substitution``).
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from screen.candidates.chemistry import oxidation_states, predicted_volume
from screen.candidates.generators.common import STAGE, ordered_records
from screen.candidates.polyanions import POLYANIONS
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


@functools.cache
def _probability_table() -> object:
    from pymatgen.analysis.structure_prediction.substitution_probability import (
        SubstitutionProbability,
    )

    return SubstitutionProbability()


def role_elements(proto: PrototypeStructure) -> dict[str, str]:
    """The reference compound's element on each role."""
    out: dict[str, str] = {}
    for site, role in zip(proto.structure, proto.structure.site_properties["role"], strict=True):
        out.setdefault(role, next(iter(site.species)).symbol)
    return out


def fixed_oxidation_states(proto: PrototypeStructure, mapping: dict[str, str]) -> dict[str, int]:
    """Oxidation state of each polyanion centre (P5+ in PO4): the group fixes it."""
    fixed = {}
    for role, spec in proto.roles.items():
        if spec.kind == "polyanion":
            centre = mapping.get(role) or role_elements(proto)[role]
            states = {
                p.centre_oxidation_state
                for p in POLYANIONS.values()
                if p.centre == centre and p.geometry == spec.geometry
            }
            if len(states) == 1:
                fixed[centre] = states.pop()
    return fixed


def substitution_likelihood(
    proto: PrototypeStructure, mapping: dict[str, str], composition: Composition
) -> float | None:
    """Product of P(new|old)/P(old|old) over substituted roles; None without oxidation states."""
    from pymatgen.core import Species

    old_oxi = oxidation_states(proto.structure.composition, fixed_oxidation_states(proto, {}))
    new_oxi = oxidation_states(composition, fixed_oxidation_states(proto, mapping))
    if old_oxi is None or new_oxi is None:
        return None
    table = _probability_table()
    likelihood = 1.0
    for role, old in role_elements(proto).items():
        new = mapping.get(role, old)
        s_old = Species(old, round(old_oxi[old]))
        s_new = Species(new, round(new_oxi[new]))
        if s_old == s_new:
            continue
        try:
            ratio = table.cond_prob(s_new, s_old) / table.cond_prob(s_old, s_old)  # type: ignore[attr-defined]
        except ZeroDivisionError:  # a species the data-mined table does not know
            return None
        likelihood *= ratio
    return likelihood


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
        amounts: dict[str, float] = {}
        for site, role in zip(structure, roles, strict=True):
            amounts[role] = amounts.get(role, 0.0) + float(sum(site.species.values()))
        fixed = {
            role: element
            for role, element in role_elements(proto).items()
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
        for proto in selected_prototypes(space, params):
            template = PrototypeTemplate.of(proto)
            for mapping in role_mappings(proto.roles, space):
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
        likelihood = substitution_likelihood(proto, mapping, composition)
        working = [
            mapping[r]
            for r, spec in sorted(proto.roles.items())
            if spec.kind in ("working_ion", "cation") and mapping[r] in space.working_ions
        ]
        recipe = {
            "generator": self.name,
            "prototype": proto.name,
            "substitution": dict(sorted(mapping.items())),
        }
        provenance = {
            "prototype_reference": proto.reference_compound,
            "prototype_source": proto.source,
            "working_ion": working[0] if working else None,
            "volume_scaled": params.scale_volume,
            "substitution_likelihood": likelihood,
            "fixed_oxidation_states": fixed_oxidation_states(proto, mapping),
        }
        scale = 1.0
        if params.scale_volume:
            reference = proto.structure.composition
            scale = (predicted_volume(composition, reference, 1.0)) ** (1 / 3)
        unlikely = likelihood is not None and likelihood < params.substitution_threshold
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
                f"likelihood {likelihood:.2e} < threshold {params.substitution_threshold:g}",
            )
        else:
            record.mark(STAGE, "ok")
        return [record]
