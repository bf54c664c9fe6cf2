"""Supply-side indicators of a composition, from data bundled with pymatgen.

- HHI: Herfindahl-Hirschman index of the countries producing (and holding reserves of)
  each element, mass-weighted (0-10000; > 2500 is "highly concentrated"); data of
  M. W. Gaultois et al., Chem. Mater. 25, 2911 (2013), via pymatgen.analysis.hhi.
- element cost: mass-weighted price of the pure elements (USD/kg), from pymatgen's
  costdb_elements.csv (2013 prices); a raw-material indicator, not a synthesis cost.
  Absent when an element has no price.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition

HHI_METHOD = "mass-weighted HHI (Gaultois et al., Chem. Mater. 2013; pymatgen.analysis.hhi)"
COST_METHOD = "mass-weighted pure-element price, pymatgen costdb_elements.csv (2013 prices)"


@functools.cache
def _hhi_model() -> Any:
    from pymatgen.analysis.hhi import HHIModel

    return HHIModel()


@functools.cache
def element_prices() -> dict[str, float]:
    """USD per kg of each element with a price in pymatgen's cost table."""
    import pymatgen.analysis

    path = Path(next(iter(pymatgen.analysis.__path__))) / "costdb_elements.csv"
    prices = {}
    with path.open() as fh:
        for row in csv.reader(fh):
            if row and not row[0].startswith("#"):
                prices[row[0].strip()] = float(row[1])
    return prices


@functools.lru_cache(maxsize=65536)
def _supply(formula: str) -> tuple[float | None, float | None, float | None]:
    from pymatgen.core import Composition

    composition = Composition(formula)
    hhi_production, hhi_reserve = _hhi_model().get_hhi(composition)
    prices = element_prices()
    symbols = [el.symbol for el in composition.elements]
    cost = None
    if all(s in prices for s in symbols):
        cost = sum(composition.get_wt_fraction(s) * prices[s] for s in symbols)
    return hhi_production, hhi_reserve, cost


def supply_properties(composition: Composition) -> dict[str, tuple[float, str, str]]:
    """{property: (value, unit, method)} for the indicators that have data."""
    hhi_production, hhi_reserve, cost = _supply(composition.reduced_formula)
    out: dict[str, tuple[float, str, str]] = {}
    if hhi_production is not None:
        out["hhi_production"] = (round(float(hhi_production), 1), "", HHI_METHOD)
    if hhi_reserve is not None:
        out["hhi_reserve"] = (round(float(hhi_reserve), 1), "", HHI_METHOD)
    if cost is not None:
        out["element_cost"] = (round(float(cost), 3), "USD/kg", COST_METHOD)
    return out
