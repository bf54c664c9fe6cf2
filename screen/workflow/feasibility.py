"""Can a chemical space generate anything? Checked at validation, before any run.

An empty space (a role with nothing to put on it in every prototype, no structures) and
a contradictory one (everything it can build contains an element the critical policy
excludes) are refused with the reason, per prototype.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from screen.candidates.roles import count_mappings, role_choices
from screen.workflow import catalog

if TYPE_CHECKING:  # pragma: no cover
    from screen.workflow.params import GenerateParams
    from screen.workflow.space import ChemicalSpace


def excluded_elements(space: ChemicalSpace) -> frozenset[str]:
    """Elements the critical policy removes from every candidate."""
    if space.critical_policy == "report-only":
        return frozenset()
    listed = catalog.critical_elements(space.critical_list, space.critical_policy)
    if space.critical_policy == "working-ion-exempt":
        return listed - set(space.working_ions)
    return listed


def selected_prototype_names(space: ChemicalSpace) -> list[str]:
    """Curated prototypes the space uses (named, or every one meant for its role)."""
    if space.prototypes:
        return list(space.prototypes)
    return [
        name
        for name in catalog.prototype_names()
        if space.role in catalog.prototype_applications(name)
    ]


#: the generators whose candidates this check can count without running them
COUNTED = frozenset({"prototype-substitution", "ion-exchange", "user-structures"})


def feasibility_problem(space: ChemicalSpace, params: GenerateParams) -> str | None:
    """A sentence saying why the space yields no (admissible) candidate, or None."""
    if space.structures and "user-structures" in params.generators:
        return None
    if any(name not in COUNTED for name in params.generators):
        return None  # a third party's or the Materials Project's: the funnel will tell
    if params.aflow_prototypes and "prototype-substitution" in params.generators:
        return None  # cannot be counted offline; the funnel will tell
    excluded = excluded_elements(space)
    possible = admissible = 0
    reasons = []
    names = selected_prototype_names(space)
    if "prototype-substitution" in params.generators:
        for name in names:
            roles = catalog.prototype_roles(name)
            n_all = count_mappings(roles, space)
            n_ok = count_mappings(roles, space, excluded)
            possible += n_all
            admissible += n_ok
            if n_all == 0:
                empty = [r for r, c in role_choices(roles, space).items() if not c]
                reasons.append(f"{name}: nothing allowed on role(s) {', '.join(empty)}")
            elif n_ok == 0:
                blocked = [r for r, c in role_choices(roles, space, excluded).items() if not c]
                reasons.append(
                    f"{name}: every choice for role(s) {', '.join(blocked)} is excluded by "
                    f"critical_policy {space.critical_policy!r} ({space.critical_list})"
                )
    if (
        "ion-exchange" in params.generators
        and "prototype-references" in params.ion_exchange.sources
    ):
        for name in names:
            if catalog.prototype_reference_elements(name) & set(params.ion_exchange.from_ions):
                possible += 1
                admissible += 1  # the funnel applies the policy to what comes out
    if admissible:
        return None
    kind = "generates no candidates" if possible == 0 else "is contradictory"
    detail = "; ".join(reasons) or "no generator has anything to work on"
    return f"the chemical space {kind}: {detail}"
