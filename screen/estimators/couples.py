"""Accessible redox couples: how far an electrode host can be charged, from data.

The couples that cycle in intercalation electrodes are versioned data
(candidates/redox-couples.yaml), by element and anion family, each with its reference and
its practical range (O3-NaFeO2 to about Na0.5FeO2: Fe3+ to Fe3.5+ on average). For a
discharged host, :func:`redox_window` gives the working ions that can leave:

1. the anion family of the host (:func:`anion_family`) and the charge-balanced oxidation
   states of its cations, anions and polyanion centres fixed at their nominal charges
   (``established`` states: Fe4+ is known, see screen/candidates/chemistry.py);
2. per cation at state s: the couple whose range holds s, oxidised to its
   ``practical_high``; on into the next couple of the same element and family only when
   this one is used to its end and the next ``chains``;
3. electrons freed / z of the working ion, at most the ions present.

An element or family the file does not list falls back to the element's highest ICSD
oxidation state (today's rule before the file), and :attr:`RedoxWindow.fallback` says so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from screen.candidates.polyanions import POLYANIONS

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition

#: an anion family of the couples file, or ``any`` for the families an element does not name
FamilyKey = Literal["oxide", "polyanion", "sulfide", "selenide", "halide", "any"]
#: main-group polyanion centres with oxygen (PO4, SiO4, SO4, BO3, CO3, AsO4, GeO4) at the
#: states of screen/candidates/polyanions.py; V, Mo, W are left out (they are also cations)
POLYANION_CENTRES: dict[str, int] = {
    p.centre: p.centre_oxidation_state
    for p in POLYANIONS.values()
    if p.ligand == "O" and p.centre in {"P", "Si", "S", "B", "C", "As", "Ge"}
}
ANION_CHARGES: dict[str, int] = {
    "O": -2, "S": -2, "Se": -2, "Te": -2, "N": -3, "F": -1, "Cl": -1, "Br": -1, "I": -1,
}  # fmt: skip
HALOGENS = frozenset({"F", "Cl", "Br", "I"})
TOLERANCE = 1e-6


class RedoxCouplesError(ValueError):
    """A redox-couples file that does not validate (names the file and the field)."""


def _number(value: Any) -> float:
    """A state given as a number or an exact fraction string ('8/3')."""
    if isinstance(value, str):
        return float(Fraction(value.strip()))
    return float(value)


class Couple(BaseModel):
    """One couple low/high of an element in one anion family, with its practical range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    couple: tuple[float, float] = Field(description="[low, high] oxidation states")
    practical_high: float | None = Field(
        default=None, description="highest average state reached reversibly; default high"
    )
    chains: bool = Field(
        default=True,
        description="a host that starts in the couple below continues into this one",
    )
    reference: str = Field(min_length=10)
    practical: str = Field(min_length=3, description="the practical range and its source")

    @field_validator("couple", mode="before")
    @classmethod
    def _states(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return tuple(_number(v) for v in value)
        return value

    @field_validator("practical_high", mode="before")
    @classmethod
    def _practical(cls, value: Any) -> Any:
        return None if value is None else _number(value)

    @model_validator(mode="after")
    def _ordered(self) -> Couple:
        low, high = self.couple
        if not low < high:
            raise ValueError(f"couple {list(self.couple)}: low must be below high")
        if self.practical_high is not None and not low < self.practical_high <= high:
            raise ValueError(f"practical_high {self.practical_high} must lie in ({low}, {high}]")
        return self

    @property
    def low(self) -> float:
        """The reduced state of the couple."""
        return self.couple[0]

    @property
    def high(self) -> float:
        """The oxidised state of the couple."""
        return self.couple[1]

    @property
    def reach(self) -> float:
        """The highest state reached in practice."""
        return self.high if self.practical_high is None else self.practical_high


class RedoxCouples(BaseModel):
    """The couples file: per element, per family (or ``any``), a list of couples."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int = Field(ge=1)
    elements: dict[str, dict[FamilyKey, list[Couple]]]
    inactive_reason: str = ""
    source: str = ""

    @field_validator("elements")
    @classmethod
    def _elements(cls, value: dict[str, Any]) -> dict[str, Any]:
        from pymatgen.core import Element

        for symbol in value:
            if not Element.is_valid_symbol(symbol):
                raise ValueError(f"{symbol!r} is not an element symbol")
        return value

    @classmethod
    def read(cls, path: Path) -> RedoxCouples:
        """Read and check a couples file; RedoxCouplesError names the file and the field."""
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise RedoxCouplesError(f"{path}: cannot read the redox couples: {exc}") from None
        try:
            found = cls.model_validate(data)
        except ValidationError as exc:
            fields = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise RedoxCouplesError(f"{path}: invalid redox couples: {fields}") from None
        return found.model_copy(update={"source": str(path)})

    def couples(self, element: str, family: str | None) -> list[Couple] | None:
        """The couples of ``element`` in ``family``; None when the file does not say."""
        entry = self.elements.get(element)
        if entry is None:
            return None
        if family is not None and family in entry:
            return sorted(entry[family], key=lambda c: c.low)
        if "any" in entry:
            return sorted(entry["any"], key=lambda c: c.low)
        return None


def default_couples_path() -> Path:
    """The bundled couples file."""
    from screen.resources import resource_dir

    return resource_dir("candidates") / "redox-couples.yaml"


@functools.cache
def load_couples(path: str | None = None) -> RedoxCouples:
    """The couples of ``path`` (default: the bundled file), read once.

    ``source`` names the file as records cite it: the bundled one by its place in the
    package and its version (no machine-specific path), a user's by its path.
    """
    if path:
        return RedoxCouples.read(Path(path))
    data = RedoxCouples.read(default_couples_path())
    return data.model_copy(
        update={"source": f"candidates/redox-couples.yaml (version {data.version})"}
    )


def anion_family(composition: Composition) -> str | None:
    """oxide, polyanion, sulfide, selenide or halide; None for anything else (nitrides)."""
    elements = {el.symbol for el in composition.elements}
    if "O" in elements:
        if elements & set(POLYANION_CENTRES):  # S with O: a sulfate
            return "polyanion"
        return "oxide"
    if "S" in elements and not elements & {"Se", "Te", "N"}:
        return "sulfide"
    if "Se" in elements and not elements & {"S", "Te", "N"}:
        return "selenide"
    anions = elements & set(ANION_CHARGES)
    if anions and anions <= HALOGENS:
        return "halide"
    return None


def fixed_states(composition: Composition, family: str | None) -> dict[str, int]:
    """Anions at their nominal charge and polyanion centres at their group's state."""
    elements = {el.symbol for el in composition.elements}
    fixed = {el: q for el, q in ANION_CHARGES.items() if el in elements}
    if family == "polyanion":
        fixed.update({el: q for el, q in POLYANION_CENTRES.items() if el in elements})
    elif "P" in elements and elements & {"S", "Se"}:
        fixed["P"] = 5  # thiophosphates
    return fixed


@dataclass(frozen=True)
class Oxidation:
    """What one element gives up: from its discharged state to its reached state."""

    element: str
    amount: float  # atoms per cell
    start: float
    reached: float
    couples: tuple[str, ...]  # 'Fe3+/Fe4+ (oxide) to 3.5+'
    fallback: bool  # no couple in the file: highest ICSD state

    @property
    def electrons(self) -> float:
        """Electrons this element gives up per cell."""
        return self.amount * max(0.0, self.reached - self.start)


@dataclass(frozen=True)
class RedoxWindow:
    """How many working ions leave a host, and which couples pay for it."""

    ion: str
    ions: float  # working ions per cell that can leave
    family: str | None
    oxidations: tuple[Oxidation, ...] = ()
    problem: str | None = None  # why no window (no charge-balanced states)
    source: str = ""  # the couples file

    @property
    def electrons(self) -> float:
        """Electrons every element gives up per cell."""
        return sum(o.electrons for o in self.oxidations)

    @property
    def fallback(self) -> tuple[str, ...]:
        """Elements charged by the ICSD fallback, as 'Ru (oxide)'."""
        return tuple(
            f"{o.element} ({self.family or 'unclassified anions'})"
            for o in self.oxidations
            if o.fallback and o.electrons > TOLERANCE
        )

    def why_none(self) -> str:
        """Why no working ion can leave: each cation's state and what limits it."""
        if self.problem:
            return self.problem
        parts = []
        for o in self.oxidations:
            if o.fallback:
                limit = "at its highest ICSD state (not in the couples file)"
            elif o.couples:
                limit = "at the end of its couples"
            else:
                limit = f"no couple cycles from this state ({self.family or 'mixed'} host)"
            parts.append(f"{o.element}{_state(o.start)} {limit}")
        return (
            f"no {self.ion} can leave: "
            + ("; ".join(parts) or "no oxidisable cation")
            + f" ({self.source})"
        )

    def couples_text(self) -> list[str]:
        """Each couple that is used, with its reach."""
        return [c for o in self.oxidations if o.electrons > TOLERANCE for c in o.couples]


def _state(q: float) -> str:
    text = f"{q:.2f}".rstrip("0").rstrip(".")
    return f"{text}+"


def _through_couples(
    element: str, start: float, couples: list[Couple], family: str
) -> tuple[float, tuple[str, ...]]:
    """The state reached from ``start`` through the file's couples, and their labels."""
    current = start
    used: list[str] = []
    chain = [c for c in couples if c.low - TOLERANCE <= current < c.reach - TOLERANCE]
    if not chain:
        return start, ()
    couple = chain[0]
    while True:
        label = f"{element}{_state(couple.low)}/{element}{_state(couple.high)} ({family})"
        if couple.reach < couple.high - TOLERANCE:
            label += f" to {_state(couple.reach)}"
        used.append(label)
        current = couple.reach
        if couple.reach < couple.high - TOLERANCE:
            break
        following = [c for c in couples if abs(c.low - couple.high) <= TOLERANCE and c.chains]
        if not following:
            break
        couple = following[0]
    return current, tuple(used)


def redox_window(
    composition: Composition, ion: str, couples: RedoxCouples | None = None
) -> RedoxWindow:
    """The working ions (per cell of ``composition``) the host's couples let go."""
    from pymatgen.core import Element

    from screen.candidates.chemistry import oxidation_states
    from screen.ions import ion_charge

    data = couples or load_couples()
    family = anion_family(composition)
    present = float(composition[ion])
    if present <= TOLERANCE:
        return RedoxWindow(ion, 0.0, family, problem=f"no {ion} in the host", source=data.source)
    fixed = fixed_states(composition, family)
    states = oxidation_states(composition, fixed, established=True)
    if states is None:
        return RedoxWindow(
            ion, 0.0, family, source=data.source,
            problem=f"no charge-balanced oxidation states for {composition.reduced_formula}",
        )  # fmt: skip
    oxidations: list[Oxidation] = []
    for element, start in sorted(states.items()):
        if element == ion or element in fixed or start <= 0:
            continue
        amount = float(composition[element])
        listed = data.couples(element, family)
        if listed is None:  # not in the file: the highest ICSD state
            top = max(Element(element).icsd_oxidation_states or (start,))
            reached = max(start, float(top))
            label = (f"{element}{_state(start)} to {element}{_state(reached)} (ICSD fallback)",)
            oxidations.append(Oxidation(element, amount, start, reached, label, True))
            continue
        reached, labels = _through_couples(element, start, listed, family or "any")
        oxidations.append(Oxidation(element, amount, start, reached, labels, False))
    window = RedoxWindow(ion, 0.0, family, tuple(oxidations), source=data.source)
    ions = min(present, window.electrons / ion_charge(ion))
    nearest = round(ions)
    if abs(ions - nearest) < 1e-3:  # states such as 8/3 written with a few digits
        ions = float(nearest)
    return RedoxWindow(ion, ions, family, tuple(oxidations), source=data.source)
