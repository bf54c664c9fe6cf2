"""Order partially occupied structures: the N lowest-electrostatic-energy orderings.

Used for prototypes with partially occupied sites (P2 Na(x)MO2, argyrodite Li sites) and
for ion exchange with a charge change (2 Li+ -> Mg2+ + vacancy). The cell is first grown
to the smallest supercell in which every partially occupied site group holds a whole
number of atoms; pymatgen's OrderDisorderedStructureTransformation then ranks orderings by
Ewald energy (formal oxidation states), and symmetry-equivalent orderings are dropped
with StructureMatcher so the N returned orderings are distinct.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from screen.candidates.chemistry import oxidation_states

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

log = logging.getLogger(__name__)
OCCUPANCY_TOLERANCE = 0.05  # a site group may be rounded by this many atoms per site group


class OrderingError(ValueError):
    """No ordering: occupancies not commensurate, or no charges to weigh orderings with."""

    def __init__(self, message: str, reason: str = "ordering-failed"):
        super().__init__(message)
        self.reason = reason


def commensurate_supercell(structure: Structure, max_cells: int = 4) -> Structure:
    """Smallest diagonal supercell where each partial site group holds whole atoms.

    Occupancies are then rounded to exact fractions (the rounding is at most
    OCCUPANCY_TOLERANCE atoms per group).
    """
    for n in range(1, max_cells + 1):
        scalings = [
            p for p in itertools.product(range(1, n + 1), repeat=3) if p[0] * p[1] * p[2] == n
        ]
        # most compact first: the largest shortest cell edge, then the fewest long edges
        scalings.sort(
            key=lambda p: (-min(a * k for a, k in zip(structure.lattice.abc, p, strict=True)), p)
        )
        for scaling in scalings:
            cell = structure * scaling
            counts = _partial_site_groups(cell)
            ok = all(
                abs(occ * count - round(occ * count)) <= OCCUPANCY_TOLERANCE
                for key, count in counts.items()
                for _, occ in key
            )
            if ok:
                return _exact_fractions(cell, counts)
    raise OrderingError(
        f"{structure.composition.reduced_formula}: occupancies are not commensurate with "
        f"any supercell of up to {max_cells} cells"
    )


def _aspect(abc: tuple[float, float, float], scaling: tuple[int, ...]) -> float:
    edges = [a * k for a, k in zip(abc, scaling, strict=True)]
    return max(edges) / min(edges)


def _site_key(site: object) -> tuple[tuple[str, float], ...] | None:
    """Group key of a partially occupied site (None for a fully occupied one)."""
    species = site.species  # type: ignore[attr-defined]
    if site.is_ordered and sum(species.values()) == 1:  # type: ignore[attr-defined]
        return None
    return tuple(sorted((str(sp), float(occ)) for sp, occ in species.items()))


def _partial_site_groups(cell: Structure) -> dict[tuple[tuple[str, float], ...], int]:
    """Number of sites per group of identically occupied partial sites."""
    counts: dict[tuple[tuple[str, float], ...], int] = defaultdict(int)
    for site in cell:
        key = _site_key(site)
        if key is not None:
            counts[key] += 1
    return counts


def _exact_fractions(cell: Structure, counts: dict) -> Structure:
    from pymatgen.core import Structure

    species: list[Any] = []
    for site in cell:
        key = _site_key(site)
        if key is None:
            species.append(site.species)
            continue
        n = counts[key]
        species.append({sp: round(occ * n) / n for sp, occ in site.species.items()})
    return Structure(cell.lattice, species, cell.frac_coords, site_properties=cell.site_properties)


def lowest_orderings(
    structure: Structure, n: int, max_cells: int = 4, candidates_factor: int = 20
) -> list[Structure]:
    """Up to ``n`` distinct orderings of ``structure``, lowest Ewald energy first."""
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.core import Composition
    from pymatgen.transformations.standard_transformations import (
        OrderDisorderedStructureTransformation,
    )

    if structure.is_ordered:
        return [structure]
    cell = commensurate_supercell(structure, max_cells)
    charged = cell.copy()
    if "role" in charged.site_properties:
        charged.remove_site_property("role")
    composition = Composition(
        {el: round(n) for el, n in cell.composition.get_el_amt_dict().items()}
    )
    oxi = oxidation_states(composition, established=True)
    if oxi is None:
        raise OrderingError(
            f"no charge-balanced ICSD oxidation states for {composition.reduced_formula}",
            reason="charge-imbalance",
        )
    charged.add_oxidation_state_by_element(oxi)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranked: Any = OrderDisorderedStructureTransformation(
            algo=OrderDisorderedStructureTransformation.ALGO_FAST
        ).apply_transformation(charged, return_ranked_list=n * candidates_factor)
    matcher = StructureMatcher()
    distinct: list[tuple[float, Structure]] = []
    for entry in ranked:
        ordered, energy = entry["structure"], float(entry["energy"])
        ordered.remove_oxidation_states()
        # symmetry-equivalent orderings have the same Ewald energy: only those need a match
        if any(
            abs(energy - e) <= 1e-6 * max(1.0, abs(e)) and matcher.fit(ordered, kept)
            for e, kept in distinct
        ):
            continue
        distinct.append((energy, ordered))
        if len(distinct) == n:
            break
    return [structure for _, structure in distinct]
