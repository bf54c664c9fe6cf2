"""The search space: the prototype-substitution generator's choices as Optuna parameters.

Parameters: ``prototype`` (categorical over the workflow's prototypes) and, for the chosen
prototype only (a conditional space), ``<prototype>.<role>`` (categorical over the
elements the chemical space allows on that role: working ion, framework cations,
anions, polyanion centres). A trial's parameters give one role -> element mapping, which
the substitution generator turns into exactly one candidate recipe and record id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from screen.records import Record

if TYPE_CHECKING:  # pragma: no cover
    import optuna

    from screen.workflow.params import GenerateParams
    from screen.workflow.space import ChemicalSpace


class SearchSpaceError(ValueError):
    """A search space that cannot propose anything."""


@dataclass(frozen=True)
class Proposal:
    """One trial's choices."""

    prototype: str
    mapping: dict[str, str]

    @property
    def key(self) -> str:
        """A stable text key of the choices (prototype and sorted role=element)."""
        roles = " ".join(f"{r}={e}" for r, e in sorted(self.mapping.items()))
        return f"{self.prototype} {roles}"


class SearchSpace:
    """The generator's choices for a chemical space, and the candidate of each choice."""

    def __init__(self, space: ChemicalSpace, params: GenerateParams):
        from screen.candidates.generators.substitution import selected_prototypes
        from screen.candidates.roles import role_choices

        self.space = space
        self.params = params
        self._protos = {p.name: p for p in selected_prototypes(space, params)}
        self.choices: dict[str, dict[str, list[str]]] = {}
        for name, proto in self._protos.items():
            choices = role_choices(proto.roles, space)
            if all(choices.values()):
                self.choices[name] = choices
        if not self.choices:
            raise SearchSpaceError(
                "the search space is empty: no prototype has an allowed element for every "
                f"role (prototypes {', '.join(self._protos) or 'none'}; check "
                "chemical_space.working_ions, framework_cations, anions and prototypes)"
            )
        self._templates: dict[str, Any] = {}

    @property
    def size(self) -> int:
        """Number of distinct choices (prototype x role assignments)."""
        return sum(math.prod(len(v) for v in c.values()) for c in self.choices.values())

    def suggest(self, trial: optuna.Trial) -> Proposal:
        """Ask the trial for a prototype and, for it, an element per role."""
        prototype = str(trial.suggest_categorical("prototype", sorted(self.choices)))
        mapping = {
            role: str(trial.suggest_categorical(f"{prototype}.{role}", elements))
            for role, elements in sorted(self.choices[prototype].items())
        }
        return Proposal(prototype, mapping)

    def proposal_of(self, params: dict[str, Any]) -> Proposal:
        """The proposal of a finished trial's parameters."""
        prototype = str(params["prototype"])
        mapping = {role: str(params[f"{prototype}.{role}"]) for role in self.choices[prototype]}
        return Proposal(prototype, mapping)

    def candidate(self, proposal: Proposal) -> Record:
        """The one candidate record of a proposal (the generator's first ordering)."""
        from screen.candidates.generators.substitution import (
            PrototypeSubstitution,
            PrototypeTemplate,
        )

        template = self._templates.get(proposal.prototype)
        if template is None:
            template = PrototypeTemplate.of(self._protos[proposal.prototype])
            self._templates[proposal.prototype] = template
        records = PrototypeSubstitution().candidates_for(
            template, proposal.mapping, self.space, self.params
        )
        active = [r for r in records if r.active]
        record = (active or records)[0]
        record.provenance["search_choice"] = proposal.key
        return record

    def all_proposals(self) -> list[Proposal]:
        """Every choice (for exhaustive benchmarks on small spaces)."""
        import itertools

        out = []
        for name, choices in sorted(self.choices.items()):
            roles = sorted(choices)
            for combo in itertools.product(*(choices[r] for r in roles)):
                out.append(Proposal(name, dict(zip(roles, combo, strict=True))))
        return out
