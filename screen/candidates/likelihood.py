"""How likely a substitution is, judged against the known compounds of a prototype family.

For a candidate c and a known member m of the family (``known_members`` of the prototype
file, each a synthesised compound with its source),

    L(c | m) = prod over roles r of  P(s_c,r | s_m,r) / P(s_m,r | s_m,r)

where s is a species (element and oxidation state) and P(s' | s) is the data-mined
conditional probability that s' replaces s in a known structure (G. Hautier, C. Fischer,
V. Ehrlacher, A. Jain, G. Ceder, Inorg. Chem. 50, 656 (2011); pymatgen's
SubstitutionProbability). The candidate's likelihood is the best match,
L(c) = max over m of L(c | m), and the member that gives it is recorded.

Why this form:
- Hautier's predictor starts from every known structure and keeps the substitutions it
  finds probable from any of them; a compound is plausible in a structure type when it is
  a probable substitution of *some* known member, so the maximum, not a product or a mean
  over members, is the family's answer. A family that holds Mg, Zn and Li spinels judges
  ZnFe2O4 from MgFe2O4-like members, not from LiMn2O4.
- Dividing by P(s | s) makes an unchanged role count 1 (a known member scores exactly 1)
  and removes how common the original species is from the ratio.
- Oxidation states come from the same charge-balanced ICSD guesses as the charge-balance
  prefilter (polyanion centres pinned: P5+ in PO4), for candidates and members alike.
- A role of mixed valence (Mn3.5+ in LiMn2O4) is a population of its two neighbouring
  integer states. Two populations are compared through their comonotone coupling (both
  sorted by oxidation state, matched in order): the role's factor is the product of the
  pieces' ratios raised to the piece weights, so a role compared with itself gives 1.
- Species the data-mined table does not know make that member uninformative; a candidate
  no member can judge gets no likelihood (None) and is kept.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from screen.candidates.chemistry import oxidation_states
from screen.candidates.prototypes import member_content, role_composition

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Sequence

    from pymatgen.core import Composition

    from screen.candidates.prototypes import KnownMember, PrototypeStructure

#: (oxidation state, weight) pieces of one role
Population = tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class Likelihood:
    """A candidate's substitution likelihood and the known member nearest to it."""

    value: float | None
    member: str | None


def with_fixed_roles(proto: PrototypeStructure, mapping: dict[str, str]) -> dict[str, str]:
    """``mapping`` with the element of every fixed role (the O of PO4) added."""
    fixed = {r: el for r, el in proto.role_elements().items() if proto.roles[r].kind == "fixed"}
    return dict(mapping) | fixed


def population(state: float) -> Population:
    """An average oxidation state as integer states with weights (3.5 -> 3: 0.5, 4: 0.5)."""
    low = math.floor(state + 1e-9)
    frac = state - low
    if frac < 1e-6:
        return ((low, 1.0),)
    if frac > 1 - 1e-6:
        return ((low + 1, 1.0),)
    return ((low, 1.0 - frac), (low + 1, frac))


def coupling(new: Population, old: Population) -> list[tuple[int, int, float]]:
    """Comonotone coupling of two populations: (new state, old state, weight) pieces."""
    pieces = []
    i = j = 0
    left_new, left_old = new[0][1], old[0][1]
    while i < len(new) and j < len(old):
        w = min(left_new, left_old)
        if w > 1e-12:
            pieces.append((new[i][0], old[j][0], w))
        left_new -= w
        left_old -= w
        if left_new <= 1e-12:
            i += 1
            left_new = new[i][1] if i < len(new) else 0.0
        if left_old <= 1e-12:
            j += 1
            left_old = old[j][1] if j < len(old) else 0.0
    return pieces


@functools.cache
def _table() -> object:
    from pymatgen.analysis.structure_prediction.substitution_probability import (
        SubstitutionProbability,
    )

    return SubstitutionProbability()


@functools.lru_cache(maxsize=65536)
def species_ratio(new: str, new_state: int, old: str, old_state: int) -> float | None:
    """P(new | old) / P(old | old); None when the table does not know a species."""
    from pymatgen.core import Species

    if (new, new_state) == (old, old_state):
        return 1.0
    table = _table()
    try:
        s_new, s_old = Species(new, new_state), Species(old, old_state)
        return float(table.cond_prob(s_new, s_old) / table.cond_prob(s_old, s_old))  # type: ignore[attr-defined]
    except (ZeroDivisionError, KeyError, ValueError):
        return None


def role_populations(
    composition: Composition, mapping: dict[str, str], fixed: dict[str, int]
) -> dict[str, Population] | None:
    """Each role's oxidation-state population, from charge-balanced guesses; None without."""
    oxi = oxidation_states(composition, fixed, established=True)
    if oxi is None:
        return None
    return {role: population(oxi[element]) for role, element in mapping.items()}


def _member_populations(
    proto: PrototypeStructure, member: KnownMember
) -> tuple[dict[str, str], dict[str, Population] | None]:
    key = (proto.name, member.formula, tuple(sorted(member.roles.items())))
    if key not in _MEMBERS:
        factor = member_content(proto, member) or 1.0
        mapping = with_fixed_roles(proto, member.roles)
        composition = role_composition(proto.with_content(factor), mapping)
        pops = role_populations(composition, mapping, proto.fixed_oxidation_states(mapping))
        _MEMBERS[key] = (mapping, pops)
    return _MEMBERS[key]


_MEMBERS: dict[tuple[object, ...], tuple[dict[str, str], dict[str, Population] | None]] = {}


def relative_likelihood(
    new: dict[str, str],
    new_pops: dict[str, Population],
    old: dict[str, str],
    old_pops: dict[str, Population],
) -> float | None:
    """L(new | old): the product over roles of the coupled species ratios."""
    value = 1.0
    for role, element in new.items():
        for s_new, s_old, weight in coupling(new_pops[role], old_pops[role]):
            ratio = species_ratio(element, s_new, old[role], s_old)
            if ratio is None:
                return None
            value *= ratio**weight
    return value


def family_likelihood(
    proto: PrototypeStructure,
    mapping: dict[str, str],
    composition: Composition,
    members: Sequence[KnownMember] | None = None,
) -> Likelihood:
    """The candidate's likelihood: the best L(c | m) over the family's known members.

    ``mapping`` gives the candidate's element on every substitutable role; ``members``
    (default: the prototype's own) lets a benchmark leave a member out.
    """
    full = with_fixed_roles(proto, mapping)
    pops = role_populations(composition, full, proto.fixed_oxidation_states(mapping))
    if pops is None:
        return Likelihood(None, None)
    best: Likelihood = Likelihood(None, None)
    for member in proto.members if members is None else members:
        old, old_pops = _member_populations(proto, member)
        if old_pops is None:
            continue
        value = relative_likelihood(full, pops, old, old_pops)
        if value is not None and (best.value is None or value > best.value):
            best = Likelihood(value, member.formula)
    return best
