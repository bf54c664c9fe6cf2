"""Critical-raw-material content of a composition under a versioned list and a policy.

A list names raw materials, often in a form: "silicon metal", "titanium metal", "natural
graphite", "coking coal", "phosphate rock". Each entry of the data file says, in ``form``,
which compounds draw on it, with its reasoning in ``form_reason``:

- ``any``: every compound of the element (cobalt, lithium; phosphate rock and
  phosphorus, because phosphates and thiophosphates are made from it);
- ``metal``: the refined metal, which a compound draws on only where the element is
  zero-valent or anionic (the element, an alloy, a silicide): Si4+ in a silicate comes
  from silica or silicate minerals, Ti4+ in an oxide from ilmenite or rutile;
- ``elemental-carbon``: graphite or coal, drawn on where carbon is zero-valent or anionic
  (graphite, hard carbon, carbides), not the C4+ of a carbonate, C3+ of an oxalate or
  C2+ of a cyanide.

Policies: ``strict`` (every listed element excludes, forms ignored), ``form-aware`` (an
entry excludes where its form applies; the default), ``working-ion-exempt`` (form-aware,
and the working ion may be listed: allowed and flagged), ``report-only`` (form-aware
reading, nothing excludes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from screen.resources import resource_dir

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition

#: the forms an entry may name, and what each means
FORMS: dict[str, str] = {
    "any": "every compound of the element draws on it",
    "metal": "the refined metal: drawn on where the element is zero-valent or anionic "
    "(element, alloy, silicide, boride), not where it is a cation",
    "elemental-carbon": "graphite or coal: drawn on where carbon is zero-valent or anionic "
    "(graphite, hard carbon, carbides), not in carbonates, oxalates or cyanides",
}
#: forms whose entry applies only to zero-valent or anionic element
REDUCED_FORMS = frozenset({"metal", "elemental-carbon"})
POLICIES = ("strict", "form-aware", "working-ion-exempt", "report-only")


class CriticalListError(ValueError):
    """A critical-list file with an entry the policy cannot read (names file and entry)."""


@dataclass(frozen=True)
class CriticalEntry:
    """One listed raw material: the list's wording, its elements and the form it names."""

    name: str
    qualifier: str
    elements: tuple[str, ...]
    form: str
    form_reason: str

    @property
    def label(self) -> str:
        """The list's wording: 'nickel (battery grade)', 'silicon (metal)'."""
        return f"{self.name} ({self.qualifier})" if self.qualifier else self.name


def read_entry(material: dict[str, Any], where: str) -> CriticalEntry:
    """One ``materials`` item; CriticalListError for an unknown or unexplained form."""
    name = str(material.get("name", ""))
    elements = tuple(material.get("elements", []))
    form = material.get("form")
    if elements and form is None:
        raise CriticalListError(f"{where}: entry {name!r}: no 'form'; allowed: {', '.join(FORMS)}")
    if elements and form not in FORMS:
        raise CriticalListError(
            f"{where}: entry {name!r}: form {form!r} is not one the policy knows; "
            f"allowed: {', '.join(FORMS)}"
        )
    reason = str(material.get("form_reason", "")).strip()
    needs_reason = form != "any" or material.get("qualifier") or material.get("mapped_from")
    if elements and needs_reason and not reason:
        raise CriticalListError(
            f"{where}: entry {name!r}: form {form!r} of a qualified or mineral entry needs "
            "'form_reason' (why compounds do or do not draw on it)"
        )
    return CriticalEntry(
        name=name,
        qualifier=str(material.get("qualifier") or ""),
        elements=elements,
        form=str(form or "any"),
        form_reason=" ".join(reason.split()),
    )


@dataclass(frozen=True)
class CriticalList:
    """A versioned list of critical raw materials, mapped to elements and forms."""

    id: str
    title: str
    mapping_version: int
    entries: tuple[CriticalEntry, ...]

    def listed_everywhere(self, policy: str) -> frozenset[str]:
        """Elements ``policy`` lists in every compound of theirs.

        strict: every element an entry maps to; the form-aware policies: those of entries
        of form ``any`` (an entry of a reduced form does not reach an element that is a
        cation, as every prototype role's cation is). Report-only lists them too: it only
        does not exclude them.
        """
        return frozenset(
            el
            for entry in self.entries
            if policy == "strict" or entry.form == "any"
            for el in entry.elements
        )

    @classmethod
    def load(cls, name: str) -> CriticalList:
        """Read candidates/critical/<name>.yaml."""
        return cls.read(resource_dir("candidates") / "critical" / f"{name}.yaml")

    @classmethod
    def read(cls, path: Path) -> CriticalList:
        """Read one list file; CriticalListError names the file and the entry."""
        data = yaml.safe_load(path.read_text())
        entries = tuple(read_entry(m, str(path)) for m in data["materials"])
        return cls(
            id=data["id"],
            title=data["title"],
            mapping_version=int(data.get("mapping_version", 1)),
            entries=entries,
        )


@dataclass(frozen=True)
class EntryDecision:
    """Whether one entry applies to a composition, and why."""

    entry: str
    element: str
    form: str
    applies: bool
    why: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "entry": self.entry,
            "element": self.element,
            "form": self.form,
            "applies": self.applies,
            "why": self.why,
        }


@dataclass(frozen=True)
class CriticalAssessment:
    """Which listed materials a composition draws on and whether the policy excludes it."""

    elements: list[str]  # elements of the entries that apply
    mass_fraction: float
    excluded_by: list[str]  # of those, the elements the policy does not exempt
    exempt: list[str]  # listed working ions exempted (flagged)
    decisions: list[EntryDecision]

    def applied(self, element: str) -> list[EntryDecision]:
        """The entries that apply through ``element``."""
        return [d for d in self.decisions if d.element == element and d.applies]

    def reason(self) -> str:
        """The funnel's critical-element detail: each excluding entry, its form and why."""
        return "; ".join(
            f"{d.element}: {d.entry} [form {d.form}]: {d.why}"
            for el in self.excluded_by
            for d in self.applied(el)
        )


def _state(element: str, composition: Composition, oxi: dict[str, float] | None) -> float | None:
    if len(composition.elements) == 1:
        return 0.0
    if oxi is not None and element in oxi:
        return float(oxi[element])
    return None


def decide(
    entry: CriticalEntry,
    element: str,
    composition: Composition,
    oxi: dict[str, float] | None,
    strict: bool,
) -> EntryDecision:
    """Whether ``entry`` applies to ``composition`` through ``element``."""
    if strict:
        return EntryDecision(entry.label, element, entry.form, True, "strict: element level")
    if entry.form not in REDUCED_FORMS:
        return EntryDecision(entry.label, element, entry.form, True, f"{element} present")
    state = _state(element, composition, oxi)
    if state is None:
        return EntryDecision(
            entry.label,
            element,
            entry.form,
            True,
            f"oxidation state of {element} unknown (no charge-balanced guess): counted",
        )
    if state <= 0:
        return EntryDecision(
            entry.label,
            element,
            entry.form,
            True,
            f"{element}({state:+g}) is zero-valent or anionic: drawn from the {entry.label}",
        )
    return EntryDecision(
        entry.label,
        element,
        entry.form,
        False,
        f"{element}({state:+g}) is a cation, made from its ores, not from the {entry.label}",
    )


def assess(
    composition: Composition,
    clist: CriticalList,
    policy: str,
    working_ions: list[str],
    oxidation_states: dict[str, float] | None = None,
) -> CriticalAssessment:
    """Critical content of ``composition`` under ``policy`` (see the module docstring).

    ``oxidation_states`` (charge-balanced guesses) tell the forms apart: without them an
    entry of a reduced form counts, and its decision says so.
    """
    if policy not in POLICIES:
        raise ValueError(f"critical policy {policy!r}; allowed: {', '.join(POLICIES)}")
    present = {str(el) for el in composition.elements}
    decisions = [
        decide(entry, element, composition, oxidation_states, policy == "strict")
        for entry in clist.entries
        for element in entry.elements
        if element in present
    ]
    applying = sorted({d.element for d in decisions if d.applies})
    mass = sum(composition.get_wt_fraction(el) for el in applying) if composition.weight else 0.0
    exempt = [el for el in applying if el in working_ions] if policy == "working-ion-exempt" else []
    excluded = [] if policy == "report-only" else [el for el in applying if el not in exempt]
    return CriticalAssessment(
        elements=applying,
        mass_fraction=float(mass),
        excluded_by=excluded,
        exempt=exempt,
        decisions=decisions,
    )
