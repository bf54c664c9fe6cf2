"""Critical-raw-material content of a composition under a versioned list and a policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

from screen.resources import resource_dir

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition


@dataclass(frozen=True)
class CriticalList:
    """A versioned list of critical raw materials, mapped to elements."""

    id: str
    title: str
    mapping_version: int
    elements: frozenset[str]
    materials_by_element: dict[str, list[str]]

    @classmethod
    def load(cls, name: str) -> CriticalList:
        """Read candidates/critical/<name>.yaml."""
        path = resource_dir("candidates") / "critical" / f"{name}.yaml"
        data = yaml.safe_load(path.read_text())
        by_element: dict[str, list[str]] = {}
        for material in data["materials"]:
            for element in material.get("elements", []):
                label = material["name"]
                if material.get("qualifier"):
                    label += f" ({material['qualifier']})"
                by_element.setdefault(element, []).append(label)
        return cls(
            id=data["id"],
            title=data["title"],
            mapping_version=int(data.get("mapping_version", 1)),
            elements=frozenset(by_element),
            materials_by_element=by_element,
        )


@dataclass(frozen=True)
class CriticalAssessment:
    """Which listed elements a composition holds and whether the policy excludes it."""

    elements: list[str]
    mass_fraction: float
    excluded_by: list[str]  # listed elements the policy does not exempt
    exempt: list[str]  # listed working ions exempted (flagged)


def assess(
    composition: Composition, clist: CriticalList, policy: str, working_ions: list[str]
) -> CriticalAssessment:
    """Critical content of ``composition`` under ``policy``.

    strict: every listed element excludes; working-ion-exempt: listed working ions are
    allowed (and flagged); report-only: nothing excludes.
    """
    present = sorted(str(el) for el in composition.elements if str(el) in clist.elements)
    total_mass = composition.weight
    mass = sum(composition.get_wt_fraction(el) for el in present) if total_mass else 0.0
    exempt = [el for el in present if el in working_ions] if policy == "working-ion-exempt" else []
    if policy == "report-only":
        excluded: list[str] = []
    else:
        excluded = [el for el in present if el not in exempt]
    return CriticalAssessment(
        elements=present, mass_fraction=float(mass), excluded_by=excluded, exempt=exempt
    )
