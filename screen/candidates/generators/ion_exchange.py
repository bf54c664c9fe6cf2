"""Ion exchange: replace the mobile ion of known compounds by the working ion.

Li -> Na (same charge) keeps every site; 2 Li+ -> Mg2+ + vacancy puts Mg at half
occupancy on the Li sites, and the charge-compensating vacancies are ordered by
electrostatic energy (screen.candidates.ordering): the ``max_orderings`` lowest, distinct
orderings become candidates. A working ion of lower charge than the ion it replaces would
need interstitials and is not attempted. Sources: the curated prototypes' reference
compounds, the chemical space's structure files and Materials Project entries.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from screen.candidates.generators.common import ordered_records, scale_to_predicted_volume
from screen.candidates.generators.substitution import selected_prototypes
from screen.ions import ION_CHARGE
from screen.records import structure_sha256

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.records import Record
    from screen.workflow.params import GenerateParams
    from screen.workflow.space import ChemicalSpace

log = logging.getLogger(__name__)


def exchange_sources(
    space: ChemicalSpace, params: GenerateParams
) -> list[tuple[str, Structure, dict[str, int]]]:
    """(label, structure, fixed polyanion-centre oxidation states) of every source."""
    from screen.candidates.generators.materials_project import mp_structures
    from screen.candidates.generators.user import read_structures

    sources: list[tuple[str, Structure, dict[str, int]]] = []
    if "prototype-references" in params.ion_exchange.sources:
        for proto in selected_prototypes(space, params):
            if proto.source != "curated":
                continue
            structure = proto.structure.copy()
            structure.remove_site_property("role")
            fixed = proto.fixed_oxidation_states({})
            sources.append((f"prototype:{proto.name}", structure, fixed))
    if "structures" in params.ion_exchange.sources:
        sources += [(f"file:{path.name}", s, {}) for path, s in read_structures(space)]
        if params.materials_project is not None and "materials-project" in params.generators:
            sources += [(f"mp:{mid}", s, {}) for mid, s in mp_structures(params.materials_project)]
    return sources


def exchanged(structure: Structure, old: str, new: str) -> Structure:
    """``structure`` with every ``old`` site holding ``new`` at z_old / z_new occupancy."""
    from pymatgen.core import Structure

    ratio = ION_CHARGE[old] / ION_CHARGE[new]
    species = []
    for site in structure:
        amounts: dict[str, float] = {}
        for sp, occupancy in site.species.items():
            if sp.symbol == old:
                amounts[new] = amounts.get(new, 0.0) + occupancy * ratio
            else:
                amounts[sp.symbol] = amounts.get(sp.symbol, 0.0) + occupancy
        species.append(amounts)
    return Structure(structure.lattice, species, structure.frac_coords)


class IonExchange:
    """Working ion into known compounds, with vacancies where the charge demands."""

    name = "ion-exchange"

    def generate(self, space: ChemicalSpace, params: GenerateParams) -> list[Record]:
        """Every (source, replaced ion, working ion) combination, ordered when needed."""
        records: list[Record] = []
        for label, source, fixed in exchange_sources(space, params):
            present = {el.symbol for el in source.composition.elements}
            for old in params.ion_exchange.from_ions:
                if old not in present or old not in ION_CHARGE:
                    continue
                for new in space.working_ions:
                    if new == old:
                        continue
                    if ION_CHARGE[new] < ION_CHARGE[old]:
                        log.debug("%s: %s -> %s needs interstitials; skipped", label, old, new)
                        continue
                    records += self._candidates(label, source, old, new, fixed, params)
        return records

    def _candidates(
        self,
        label: str,
        source: Structure,
        old: str,
        new: str,
        fixed: dict[str, int],
        params: GenerateParams,
    ) -> list[Record]:
        structure = exchanged(source, old, new)
        if params.scale_volume:
            structure = scale_to_predicted_volume(structure, source)
        recipe = {
            "generator": self.name,
            "source": label,
            "source_sha256": structure_sha256(source),
            "exchange": {old: new},
        }
        provenance = {
            "working_ion": new,
            "exchanged_ion": old,
            "vacancies_per_working_ion": ION_CHARGE[new] / ION_CHARGE[old] - 1,
            "source_formula": source.composition.reduced_formula,
            "volume_scaled": params.scale_volume,
            "fixed_oxidation_states": fixed,
        }
        return ordered_records(structure, recipe, params, **provenance)
