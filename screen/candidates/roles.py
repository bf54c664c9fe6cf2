"""Which elements may occupy each role of a prototype, given a chemical space.

No pymatgen here: the workflow validator uses this to tell, before any run, whether a
chemical space can generate anything at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

from screen.candidates.polyanions import split_anions

if TYPE_CHECKING:  # pragma: no cover
    from screen.candidates.prototypes import RoleSpec
    from screen.workflow.space import ChemicalSpace


def role_choices(
    roles: dict[str, RoleSpec], space: ChemicalSpace, exclude: frozenset[str] = frozenset()
) -> dict[str, list[str]]:
    """Elements allowed on each substitutable role (fixed roles are left out)."""
    anions, groups = split_anions(list(space.anions))
    choices: dict[str, list[str]] = {}
    for role, spec in roles.items():
        if spec.kind == "fixed":
            continue
        if spec.kind == "working_ion":
            pool = list(space.working_ions)
        elif spec.kind == "framework_cation":
            pool = list(space.framework_cations)
        elif spec.kind == "cation":
            pool = list(space.working_ions) + [
                c for c in space.framework_cations if c not in space.working_ions
            ]
        elif spec.kind == "anion":
            pool = anions
        else:  # polyanion centre
            pool = sorted({g.centre for g in groups if g.geometry == spec.geometry})
        if spec.allowed is not None:
            pool = [el for el in pool if el in spec.allowed]
        choices[role] = [el for el in pool if el not in exclude]
    return choices


def role_mappings(
    roles: dict[str, RoleSpec], space: ChemicalSpace, exclude: frozenset[str] = frozenset()
) -> Iterator[dict[str, str]]:
    """Every role -> element assignment, in a fixed order.

    Prototypes whose cation roles are generic (AFLOW) must put a working ion on at least
    one of them.
    """
    choices = role_choices(roles, space, exclude)
    names = sorted(choices)
    generic = [r for r in names if roles[r].kind == "cation"]
    has_working_role = any(roles[r].kind == "working_ion" for r in names)
    for combo in itertools.product(*(choices[r] for r in names)):
        mapping = dict(zip(names, combo, strict=True))
        if (
            not has_working_role
            and generic
            and not any(mapping[r] in space.working_ions for r in generic)
        ):
            continue
        yield mapping


def count_mappings(
    roles: dict[str, RoleSpec], space: ChemicalSpace, exclude: frozenset[str] = frozenset()
) -> int:
    """Number of assignments :func:`role_mappings` yields."""
    return sum(1 for _ in role_mappings(roles, space, exclude))
