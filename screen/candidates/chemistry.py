"""Chemistry look-ups shared by generators and filters, cached per composition."""

from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition


def _integer_multiple(composition: Composition, largest: int = 24) -> Composition | None:
    """The smallest multiple of a fractional composition with whole-number amounts."""
    for k in range(1, largest + 1):
        amounts = {el: n * k for el, n in composition.get_el_amt_dict().items()}
        if all(abs(n - round(n)) < 1e-3 for n in amounts.values()):
            from pymatgen.core import Composition

            return Composition({el: round(n) for el, n in amounts.items()})
    return None


@functools.cache
def extra_oxidation_states() -> dict[str, tuple[int, ...]]:
    """States missing from pymatgen's ICSD list, from candidates/oxidation-states.yaml."""
    import yaml

    from screen.resources import resource_dir

    data = yaml.safe_load((resource_dir("candidates") / "oxidation-states.yaml").read_text())
    return {el: tuple(int(v) for v in entry["add"]) for el, entry in data["states"].items()}


def _guess(composition: Composition, override: dict[str, list[int]]) -> dict[str, float] | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guesses = composition.oxi_state_guesses(max_sites=-50, oxi_states_override=override)
    return dict(guesses[0]) if guesses else None


@functools.lru_cache(maxsize=65536)
def _oxidation_states(
    formula: str, fixed: tuple[tuple[str, int], ...] = (), established: bool = False
) -> tuple[tuple[str, float], ...] | None:
    from pymatgen.core import Composition, Element

    composition = _integer_multiple(Composition(formula))
    if composition is None:
        return None
    override = {el: [oxi] for el, oxi in fixed if el in composition}
    guess = _guess(composition, override)
    if guess is None and established:  # try the states the ICSD statistics lack (Fe4+)
        extra = {
            el: sorted(set(Element(el).icsd_oxidation_states) | set(states))
            for el, states in extra_oxidation_states().items()
            if el in composition and el not in override
        }
        if extra:
            guess = _guess(composition, override | extra)
    if guess is None:
        return None
    return tuple(sorted((str(el), float(v)) for el, v in guess.items()))


def oxidation_states(
    composition: Composition, fixed: dict[str, int] | None = None, established: bool = False
) -> dict[str, float] | None:
    """Most likely charge-balanced oxidation states (pymatgen, ICSD statistics), or None.

    ``fixed`` pins elements to one state (polyanion centres: P5+ in PO4, S6+ in SO4).
    With ``established`` (generation and its prefilters: is this compound plausible?), a
    composition with no guess from the ICSD states is tried again with the states of
    candidates/oxidation-states.yaml added (Fe4+ in CaFeO3); the electrode's redox window
    uses them too (a discharged host's states). Reference phases and radii keep the ICSD
    states alone. Cached by reduced formula; elements of
    mixed valence get their average.
    """
    key = tuple(sorted((fixed or {}).items()))
    found = _oxidation_states(composition.reduced_formula, key, established)
    return dict(found) if found is not None else None


@functools.lru_cache(maxsize=4096)
def ionic_radius(symbol: str, oxidation_state: float) -> float | None:
    """Shannon ionic radius (Å) for an integer oxidation state, None when unknown."""
    from pymatgen.core import Species

    if not float(oxidation_state).is_integer():
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = Species(symbol, int(oxidation_state)).ionic_radius
    except (ValueError, KeyError):
        return None
    return float(r) if r is not None else None


@functools.lru_cache(maxsize=256)
def atomic_radius(symbol: str) -> float:
    """Empirical atomic radius (Å); 1.5 Å where pymatgen has none."""
    from pymatgen.core import Element

    r = Element(symbol).atomic_radius
    return float(r) if r is not None else 1.5


def radius(symbol: str, oxidation_state: float | None) -> float:
    """Shannon ionic radius (Å) for an integer oxidation state, else the atomic radius."""
    if oxidation_state is not None:
        r = ionic_radius(symbol, oxidation_state)
        if r is not None:
            return r
    return atomic_radius(symbol)


def _radius_sum(composition: Composition) -> float:
    """sum_i r_i n_i^(1/3): ionic radii when all are known, else atomic radii."""
    oxi = oxidation_states(composition)
    amounts = composition.get_el_amt_dict()
    if oxi is not None:
        ionic = {el: ionic_radius(el, oxi[el]) for el in amounts}
        if all(r is not None for r in ionic.values()):
            return sum(float(ionic[el]) * n ** (1 / 3) for el, n in amounts.items())  # type: ignore[arg-type]
    return sum(atomic_radius(el) * n ** (1 / 3) for el, n in amounts.items())


def predicted_volume(composition: Composition, reference: Composition, volume: float) -> float:
    """Volume of a substituted cell by the radius-ratio rule of pymatgen's RLSVolumePredictor.

    V = V_ref (sum_i r_i n_i^(1/3) / sum_j r_j n_j^(1/3))^3, with Shannon ionic radii from
    charge-balanced oxidation states when every species has one, else atomic radii for
    both. Same rule as pymatgen, with cached composition-based oxidation states instead
    of a bond-valence analysis of each structure (50x faster).
    """
    return volume * (_radius_sum(composition) / _radius_sum(reference)) ** 3
