"""Suggested solid-state synthesis routes from common, non-critical precursors.

For a candidate formula, :func:`suggest_precursors` proposes balanced reactions such as
``Na2CO3 + Fe2O3 -> 2 NaFeO2 + CO2`` from the precursor lists in ``precursors.yaml``
(next to this module). Every route is a *suggestion*: it is balanced with pymatgen's
:class:`~pymatgen.analysis.reaction_calculator.Reaction` and says nothing about
thermodynamics, kinetics, phase purity or whether the reaction has ever been done.

How a route is built:

1. The target's anion families are classified: oxide, sulfide, selenide, nitride,
   fluoride, chloride, bromide, iodide, or several of them for mixed-anion targets
   (``Na6PS5Cl`` is sulfide + chloride). S, Se or N with at least three O each is the
   centre of a polyanion (sulfate, ...), not an anion; a sulfate target also draws on the
   metal sulfates. A target without any anion is treated as an intermetallic.
2. Each element of the target gets a few candidate precursors from its families' lists,
   in the data file's order of preference; the elements themselves (metal powders, red P,
   S, Se) are offered for sulfide, selenide, nitride and intermetallic targets only. For
   mixed-anion targets an anion may also come from a second precursor of a cation
   (``Na2S`` and ``NaCl`` for ``Na6PS5Cl``).
3. Combinations (one or no precursor per element, ``itertools.product``) that supply every
   element of the target, bring in nothing that cannot leave as an allowed gas, and hold
   no element of ``avoid`` that the target lacks, are tried in order (fewest precursors,
   most preferred first; at most :data:`MAX_COMBINATIONS`).
4. Each combination is balanced against the target plus the gases its extra elements need
   (CO2 for C, H2O for H, NH3 for N in ammonium salts); oxide targets may also release or
   take up O2, nitride targets take up N2. Only reactions with a one-dimensional solution
   space (a unique route up to scale) are kept, and only if every precursor is consumed,
   the target and every gas listed are formed, and the element balance holds exactly in
   rational arithmetic.
5. Routes are ranked by, in turn: number of precursors; number of gases exchanged with
   the atmosphere (O2 released or taken up, N2 taken up: a redox step the furnace
   atmosphere has to allow); precursor preference (the sum of the precursors' positions in
   the data file's lists, so carbonates and oxides come first for oxides); number of
   decomposition gases released (CO2, H2O, NH3); the equation text.

Equation convention: the smallest whole-number coefficients, reactants first (solid
precursors in the order of the target's elements, then O2 or N2 if taken up), then the
target, then the released gases; a coefficient of 1 is omitted. The target is written as
given (whitespace removed) when that is already a reduced formula (``BiOCl``,
``Na3V2(PO4)3``), otherwise as its pymatgen reduced formula (``Na2Fe2O4`` -> ``NaFeO2``);
its coefficients refer to that formula unit. If a target with fractional subscripts
would need a coefficient above :data:`MAX_INTEGER_COEFFICIENT`, the target's coefficient
is 1 instead and the others are written as decimals (four significant figures).

The atmosphere label follows from the balance alone: ``"air"`` for oxides with no net O2
exchange, ``"air/O2"`` when O2 is taken up, ``"inert/reducing (releases O2)"`` when O2 is
released, ``"N2 flow"`` when N2 is taken up, and ``"inert atmosphere/sealed tube"`` for
sulfides, selenides, halides, nitrides, mixed-anion targets and intermetallics. It does
not look at oxidation states otherwise (an Fe(II) oxide formed without net O2 exchange is
still labelled ``"air"``, although it would need an inert gas).
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pymatgen.analysis.reaction_calculator import Reaction, ReactionError
from pymatgen.core import Composition, Element

__all__ = [
    "DATA_FILE",
    "MAX_COMBINATIONS",
    "PRECURSOR_METHOD",
    "PrecursorSuggestion",
    "load_precursor_table",
    "precursor_candidates",
    "suggest_precursors",
    "target_families",
]

PRECURSOR_METHOD = (
    "suggested solid-state route balanced with pymatgen Reaction from common precursors "
    "(screen/deliverables/precursors.yaml); not validated experimentally"
)

DATA_FILE = Path(__file__).with_name("precursors.yaml")

MAX_COMBINATIONS = 64
"""Most precursor combinations balanced for one target."""

MAX_PER_FAMILY = 3
"""Most candidate precursors taken from one family list of one element."""

MAX_PER_ELEMENT = 6
"""Most candidate precursors considered for one element of the target."""

MAX_INTEGER_COEFFICIENT = 99
"""Above this, a fractional-subscript target is written with coefficient 1 (see module doc)."""

_SYMBOL = re.compile(r"[A-Z][a-z]?")
_PLAIN_FORMULA = re.compile(r"(?:[A-Z][a-z]?|\d+(?:\.\d+)?|[()])+")
_MAX_PRODUCT = 100_000  # combinations looked at before filtering (guards many-element targets)
_TOL = 1e-6
_DENOMINATOR = 10**6

# Anion element -> family name; halogens get one family each.
_ANION_FAMILY: dict[str, str] = {
    "O": "oxide",
    "S": "sulfide",
    "Se": "selenide",
    "N": "nitride",
    "F": "fluoride",
    "Cl": "chloride",
    "Br": "bromide",
    "I": "iodide",
}
_HALIDE_FAMILIES = frozenset({"fluoride", "chloride", "bromide", "iodide"})
_FAMILY_ANION: dict[str, str] = {
    **{family: anion for anion, family in _ANION_FAMILY.items()},
    "sulfate": "S",
}
_FAMILY_ORDER = (
    "oxide",
    "sulfate",
    "sulfide",
    "selenide",
    "nitride",
    "fluoride",
    "chloride",
    "bromide",
    "iodide",
)
_OXIDE_FAMILIES = frozenset({"oxide", "sulfate"})
# Families for which an element itself (metal powder, red P, S, Se) is a sensible precursor.
_ELEMENTAL_FAMILIES = frozenset({"sulfide", "selenide", "nitride", "intermetallic"})
# Elements that may be in a precursor but not in the target, and the gas each leaves as.
_VOLATILE_GAS: dict[str, str] = {"C": "CO2", "H": "H2O", "N": "NH3"}
_GAS_ORDER = ("CO2", "H2O", "NH3", "O2", "N2")

_ATM_AIR = "air"
_ATM_OXIDISING = "air/O2"
_ATM_REDUCING = "inert/reducing (releases O2)"
_ATM_N2 = "N2 flow"
_ATM_SEALED = "inert atmosphere/sealed tube"


@dataclass(frozen=True)
class PrecursorSuggestion:
    """One suggested, balanced solid-state route to a target.

    Attributes:
        equation: balanced reaction, smallest whole-number coefficients (see module doc),
            e.g. ``"Na2CO3 + Fe2O3 -> 2 NaFeO2 + CO2"``.
        precursors: the solid (or liquid) precursors, in the order of the equation;
            O2 or N2 taken up from the atmosphere is in the equation, not here.
        byproducts: gases released (CO2, H2O, NH3, O2), in the order of the equation.
        atmosphere: ``"air"``, ``"air/O2"``, ``"inert/reducing (releases O2)"``,
            ``"N2 flow"`` or ``"inert atmosphere/sealed tube"``.
    """

    equation: str
    precursors: tuple[str, ...]
    byproducts: tuple[str, ...]
    atmosphere: str

    def as_text(self) -> str:
        """One line for reports, e.g. ``suggestion: Na2CO3 + ... -> ... (air)``."""
        return f"suggestion: {self.equation} ({self.atmosphere})"


# --------------------------------------------------------------------------- data file


@dataclass(frozen=True)
class _ElementEntry:
    families: Mapping[str, tuple[str, ...]]  # family -> formulas (halides expanded)
    elemental: bool


@functools.lru_cache(maxsize=4)
def _load_table(path: str) -> dict[str, _ElementEntry]:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, dict) or not isinstance(raw.get("elements"), dict):
        raise ValueError(f"{path}: expected a mapping with an 'elements' mapping")
    table: dict[str, _ElementEntry] = {}
    for symbol, spec in raw["elements"].items():
        symbol = str(symbol)
        if not Element.is_valid_symbol(symbol):
            raise ValueError(f"{path}: {symbol!r} is not an element symbol")
        table[symbol] = _parse_entry(path, symbol, spec or {})
    return table


def _parse_entry(path: str, symbol: str, spec: Any) -> _ElementEntry:
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: entry for {symbol} must be a mapping")
    known = {*_FAMILY_ORDER, "halide", "elemental"}
    unknown = set(spec) - known
    if unknown:
        raise ValueError(f"{path}: {symbol} has unknown keys {sorted(unknown)}")
    families: dict[str, tuple[str, ...]] = {}
    for family in _FAMILY_ORDER:
        if family in spec:
            formulas = [str(f) for f in spec[family] or []]
        elif family in _HALIDE_FAMILIES and "halide" in spec:
            halogen = _FAMILY_ANION[family]
            formulas = [str(t).replace("{X}", halogen) for t in spec["halide"] or []]
        else:
            continue
        for formula in formulas:
            _check_formula(path, symbol, family, formula)
        families[family] = tuple(formulas)
    return _ElementEntry(families=families, elemental=bool(spec.get("elemental", False)))


def _check_formula(path: str, symbol: str, family: str, formula: str) -> None:
    try:
        elements = _element_amounts(Composition(formula))
    except ValueError as exc:
        raise ValueError(f"{path}: {symbol} {family}: cannot parse {formula!r}") from exc
    anion = _FAMILY_ANION[family]
    if symbol not in elements or anion not in elements:
        raise ValueError(f"{path}: {symbol} {family}: {formula!r} lacks {symbol} or {anion}")
    if family == "sulfate" and "O" not in elements:
        raise ValueError(f"{path}: {symbol} sulfate: {formula!r} has no O")


def load_precursor_table(path: str | Path = DATA_FILE) -> dict[str, dict[str, Any]]:
    """The precursor table as plain data: element -> {family: [formulas], "elemental": bool}.

    Halide templates are expanded per halogen. The file is read once per path (cached);
    a malformed file raises ValueError naming the problem.
    """
    table = _load_table(str(path))
    return {
        symbol: {**{f: list(v) for f, v in entry.families.items()}, "elemental": entry.elemental}
        for symbol, entry in table.items()
    }


# --------------------------------------------------------------------------- chemistry


def _element_amounts(comp: Composition) -> dict[str, float]:
    """Element symbol -> amount; ValueError for dummy species or non-positive amounts."""
    amounts: dict[str, float] = {}
    for species, amount in comp.element_composition.items():
        symbol = str(getattr(species, "symbol", species))
        if not Element.is_valid_symbol(symbol):
            raise ValueError(f"{symbol!r} is not an element")
        if amount <= 0:
            raise ValueError(f"non-positive amount of {symbol}")
        amounts[symbol] = amounts.get(symbol, 0.0) + float(amount)
    if not amounts:
        raise ValueError("empty composition")
    return amounts


def _parse_target(formula: str) -> tuple[Composition, str]:
    """Reduced composition of ``formula`` and how to write it (see module doc)."""
    if not isinstance(formula, str) or not formula.strip():
        raise ValueError(f"cannot parse formula {formula!r}")
    written = "".join(formula.split())
    try:
        comp = Composition(written)
        amounts = _element_amounts(comp)
        dropped = set(_SYMBOL.findall(written)) - set(amounts)
        if dropped:  # e.g. "NaFe0O2": pymatgen drops zero amounts silently
            raise ValueError(f"zero amount of {', '.join(sorted(dropped))}")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"cannot parse formula {formula!r}: {exc}") from exc
    if comp.reduced_composition != comp or not _PLAIN_FORMULA.fullmatch(written):
        written = comp.reduced_formula
    return Composition(written), written


def _families_of(amounts: Mapping[str, float]) -> tuple[str, ...]:
    anions = {el for el in amounts if el in _ANION_FAMILY}
    families: set[str] = set()
    if "O" in anions:
        for centre in ("S", "Se", "N"):
            if centre in anions and amounts["O"] >= 3 * amounts[centre] - _TOL:
                anions.discard(centre)  # SO4, SeO4, NO3 ...: a polyanion centre
                if centre == "S":
                    families.add("sulfate")
    families.update(_ANION_FAMILY[el] for el in anions)
    if not families:
        return ("intermetallic",)

    def amount(family: str) -> float:  # sulfates first: the metal sulfates are the usual route
        return amounts.get(_FAMILY_ANION[family], 0.0) if family != "sulfate" else math.inf

    return tuple(sorted(families, key=lambda f: (-amount(f), _FAMILY_ORDER.index(f))))


def target_families(formula: str) -> tuple[str, ...]:
    """Anion families of ``formula``: sulfate first, then most abundant anion first.

    E.g. ``("oxide",)`` for NaFeO2, ``("sulfide", "chloride")`` for Na6PS5Cl,
    ``("sulfate", "oxide")`` for Na2Fe2(SO4)3, ``("intermetallic",)`` without any anion.
    """
    return _families_of(_element_amounts(_parse_target(formula)[0]))


def _anion_elements(families: Sequence[str]) -> set[str]:
    return {_FAMILY_ANION[f] for f in families if f not in ("sulfate", "intermetallic")}


def _cation_candidates(
    symbol: str, families: Sequence[str], table: Mapping[str, _ElementEntry]
) -> list[str]:
    entry = table.get(symbol)
    if entry is None:
        return []
    found: list[str] = []
    for family in families:
        found.extend(entry.families.get(family, ())[:MAX_PER_FAMILY])
    if entry.elemental and any(f in _ELEMENTAL_FAMILIES for f in families):
        found.append(symbol)
    return found


def _anion_candidates(
    symbol: str,
    families: Sequence[str],
    cations: Sequence[str],
    table: Mapping[str, _ElementEntry],
) -> list[str]:
    entry = table.get(symbol)
    found: list[str] = []
    if entry is not None and entry.elemental:
        found.append(symbol)  # S, Se
    anion_families = [f for f in families if f not in ("sulfate", "intermetallic")]
    if len(anion_families) > 1:  # mixed anion: a second precursor of a cation may bring it
        family = _ANION_FAMILY[symbol]
        for cation in cations:
            if cation in table:
                found.extend(table[cation].families.get(family, ())[:MAX_PER_FAMILY])
    return found


def _dedupe(items: Iterable[str], exclude: Composition) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for item in items:
        if item in seen or Composition(item).reduced_composition == exclude:
            continue
        seen.add(item)
        out.append(item)
    return out


def precursor_candidates(formula: str) -> dict[str, list[str]]:
    """Element of ``formula`` -> the candidate precursors considered for it, best first.

    An element with an empty list can only come with another element's precursor (or, for
    O and N, from the gas). ValueError for an unparsable formula.
    """
    target, _ = _parse_target(formula)
    amounts = _element_amounts(target)
    return _candidates(target, amounts, _families_of(amounts), _load_table(str(DATA_FILE)))


def _candidates(
    target: Composition,
    amounts: Mapping[str, float],
    families: Sequence[str],
    table: Mapping[str, _ElementEntry],
) -> dict[str, list[str]]:
    anions = _anion_elements(families)
    cations = [el for el in amounts if el not in anions]
    out: dict[str, list[str]] = {}
    for symbol in amounts:
        if symbol in anions:
            found = _anion_candidates(symbol, families, cations, table)
        else:
            found = _cation_candidates(symbol, families, table)
        out[symbol] = _dedupe(found, target.reduced_composition)[:MAX_PER_ELEMENT]
    return out


@dataclass(frozen=True)
class _Route:
    suggestion: PrecursorSuggestion
    key: tuple[Any, ...]


def _to_fraction(value: float) -> Fraction:
    return Fraction(value).limit_denominator(_DENOMINATOR)


def _format_coefficients(coeffs: Sequence[Fraction], target_index: int) -> list[str]:
    """Smallest whole numbers, or target-normalised decimals for huge ones (module doc)."""
    lcm = 1
    for c in coeffs:
        lcm = lcm * c.denominator // math.gcd(lcm, c.denominator)
    whole = [int(c * lcm) for c in coeffs]
    divisor = functools.reduce(math.gcd, whole)
    whole = [w // divisor for w in whole]
    if max(whole) <= MAX_INTEGER_COEFFICIENT:
        return ["" if w == 1 else f"{w} " for w in whole]
    scale = coeffs[target_index]
    return ["" if c == scale else f"{float(c / scale):.4g} " for c in coeffs]


def _balance(
    target: Composition,
    target_formula: str,
    precursors: Sequence[str],
    gases_in: Sequence[str],
    gases_out: Sequence[str],
) -> tuple[str, list[Fraction]] | None:
    """Balanced equation and |coefficients| (reactants then products), or None."""
    reactant_names = [*precursors, *gases_in]
    product_names = [target_formula, *gases_out]
    reactants = [Composition(f) for f in reactant_names]
    products = [target, *(Composition(f) for f in gases_out)]
    comps = reactants + products
    elements = sorted({str(el) for c in comps for el in c.elements})
    matrix = np.array([[c[el] for c in comps] for el in elements], dtype=float)
    if len(comps) - np.linalg.matrix_rank(matrix) != 1:
        return None  # no route, or not a unique one (a smaller combination covers it)
    try:
        reaction = Reaction(reactants, products)
    except (ReactionError, np.linalg.LinAlgError):
        return None
    raw = reaction.coeffs
    if len(raw) != len(comps):
        return None
    n_in = len(reactants)
    if any(c > -_TOL for c in raw[:n_in]) or any(c < _TOL for c in raw[n_in:]):
        return None  # a precursor not consumed, or the target / a gas not formed
    coeffs = [_to_fraction(abs(c)) for c in raw]
    # exact conservation of every element in rational arithmetic
    for el in elements:
        left = sum(
            (k * _to_fraction(c[el]) for k, c in zip(coeffs[:n_in], reactants, strict=True)),
            Fraction(0),
        )
        right = sum(
            (k * _to_fraction(c[el]) for k, c in zip(coeffs[n_in:], products, strict=True)),
            Fraction(0),
        )
        if left != right:
            return None
    prefixes = _format_coefficients(coeffs, target_index=n_in)
    terms = [p + name for p, name in zip(prefixes, reactant_names + product_names, strict=True)]
    equation = " + ".join(terms[:n_in]) + " -> " + " + ".join(terms[n_in:])
    return equation, coeffs


def _gas_variants(
    families: Sequence[str], species_elements: set[str]
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(gases taken up, extra gases released) variants to try, simplest first."""
    variants: list[tuple[tuple[str, ...], tuple[str, ...]]] = [((), ())]
    if set(families) <= _OXIDE_FAMILIES and "O" in species_elements:
        variants += [((), ("O2",)), (("O2",), ())]
    if "nitride" in families:
        variants.append((("N2",), ()))
    return variants


def _atmosphere(families: Sequence[str], gases_in: Sequence[str], gases_out: Sequence[str]) -> str:
    if set(families) <= _OXIDE_FAMILIES:
        if "O2" in gases_in:
            return _ATM_OXIDISING
        if "O2" in gases_out:
            return _ATM_REDUCING
        return _ATM_AIR
    if "N2" in gases_in:
        return _ATM_N2
    return _ATM_SEALED


@functools.lru_cache(maxsize=1024)
def _suggest(formula: str, avoid: frozenset[str]) -> tuple[PrecursorSuggestion, ...]:
    """Every route found for ``formula``, ranked (module doc); cached per formula/avoid."""
    target, target_formula = _parse_target(formula)
    amounts = _element_amounts(target)
    table = _load_table(str(DATA_FILE))
    families = _families_of(amounts)
    candidates = _candidates(target, amounts, families, table)
    target_elements = set(amounts)
    anions = _anion_elements(families)

    # preference of a precursor: its best position in any element's list
    preference: dict[str, int] = {}
    for found in candidates.values():
        for rank, formula_ in enumerate(found):
            preference[formula_] = min(rank, preference.get(formula_, rank))
    elements_of = {f: set(_element_amounts(Composition(f))) for f in preference}

    gas_supplied = {"N"} if "nitride" in families else set()
    element_order = list(amounts)

    def order_key(precursor: str) -> tuple[int, int, int, str]:
        own = elements_of[precursor] & target_elements
        is_anion_source = own <= anions
        first = min(element_order.index(el) for el in own)
        return (int(is_anion_source), first, preference[precursor], precursor)

    combos: list[tuple[str, ...]] = []
    seen: set[frozenset[str]] = set()
    options = [[*candidates[el], None] for el in element_order]
    for pick in itertools.islice(itertools.product(*options), _MAX_PRODUCT):
        chosen = frozenset(p for p in pick if p is not None)
        if not chosen or chosen in seen:
            continue
        seen.add(chosen)
        supplied = set().union(*(elements_of[p] for p in chosen))
        if not target_elements <= supplied | gas_supplied:
            continue
        extra = supplied - target_elements
        if extra & avoid:
            continue
        if not extra <= {*_VOLATILE_GAS, "O"}:
            continue
        if "N" in extra and "H" not in extra:
            continue  # N can only leave as NH3
        combos.append(tuple(sorted(chosen, key=order_key)))
    combos.sort(key=lambda c: (len(c), sum(preference[p] for p in c), c))

    routes: list[_Route] = []
    for combo in combos[:MAX_COMBINATIONS]:
        supplied = set().union(*(elements_of[p] for p in combo))
        extra = supplied - target_elements
        released = [_VOLATILE_GAS[el] for el in ("C", "H", "N") if el in extra]
        for gases_in, more_out in _gas_variants(families, supplied | target_elements):
            gases_out = sorted([*released, *more_out], key=_GAS_ORDER.index)
            balanced = _balance(target, target_formula, combo, gases_in, gases_out)
            if balanced is None:
                continue
            equation, _ = balanced
            suggestion = PrecursorSuggestion(
                equation=equation,
                precursors=combo,
                byproducts=tuple(gases_out),
                atmosphere=_atmosphere(families, gases_in, gases_out),
            )
            redox = len(gases_in) + sum(g in ("O2", "N2") for g in gases_out)
            key = (
                len(combo),
                redox,
                sum(preference[p] for p in combo),
                len(gases_out),
                equation,
            )
            routes.append(_Route(suggestion, key))
            break  # the first variant that balances is the simplest for this combination
    routes.sort(key=lambda r: r.key)
    return tuple(r.suggestion for r in routes)


def suggest_precursors(
    formula: str, *, avoid: Iterable[str] = (), max_suggestions: int = 3
) -> list[PrecursorSuggestion]:
    """Suggested balanced solid-state routes to ``formula``, best first.

    Args:
        formula: target formula, e.g. ``"NaFeO2"`` or ``"Na6PS5Cl"``.
        avoid: element symbols (e.g. the campaign's critical elements) that no precursor
            may contain unless the target contains them too. Elements that leave as gases
            count as well: with ``"C"`` in ``avoid`` no carbonate is suggested.
        max_suggestions: most routes returned (0 gives an empty list).

    Returns:
        Up to ``max_suggestions`` suggestions, ranked by number of precursors, O2/N2
        exchanged, precursor preference, gases released and equation (module doc); an
        empty list when no combination of the listed precursors balances (for example an
        element with no precursor data, or a target that is itself the only listed
        precursor, such as La2O3 or NaCl).
        The result is deterministic and cached.

    Raises:
        ValueError: ``formula`` cannot be parsed (the message names it), or
            ``max_suggestions`` is negative.
    """
    if max_suggestions < 0:
        raise ValueError(f"max_suggestions must be >= 0, got {max_suggestions}")
    avoid_set = frozenset(str(a).strip() for a in avoid)
    _parse_target(formula)  # raise for an unparsable formula before any lookup
    if max_suggestions == 0:
        return []
    return list(_suggest(formula.strip(), avoid_set)[:max_suggestions])
