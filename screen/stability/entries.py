"""Computed entries from ML energies, and the energy conventions that make them comparable.

A model card states its energy convention (screen/potentials/cards.py):

- ``mp2020-corrected`` (CHGNet 0.3.0): energies already carry MP2020 corrections; used as is.
- ``raw-vasp`` (MACE-MP family): raw GGA/GGA+U energies of MPtrj; MP2020 corrections are
  applied before any hull with MP-corrected energies is built (Matbench Discovery protocol).
- ``omat24`` and ``toy``: not MP-compatible; a hull may only mix them with energies from the
  same potential (the self-consistent reference set).

pymatgen's ``MaterialsProject2020Compatibility`` silently drops an entry without
``parameters``; every ML entry therefore says which MP calculation it stands for (GGA, or
GGA+U with MP's U values for oxides and fluorides of Co, Cr, Fe, Mn, Mo, Ni, V, W), and
:func:`apply_convention` counts entries in and out.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Composition, Structure
    from pymatgen.entries.computed_entries import ComputedEntry

#: what a hull built from entries of a convention is comparable with
MP_COMPATIBLE = "mp2020-corrected"


class ConventionError(ValueError):
    """Energies of incompatible conventions would be mixed in one hull."""


class DroppedEntryError(RuntimeError):
    """An energy correction step lost entries."""


@functools.cache
def mp_hubbard_u() -> dict[str, dict[str, float]]:
    """MP's U values (eV) by anion (O, F) and element, from pymatgen's MPRelaxSet config."""
    from pymatgen.io.vasp.sets import MPRelaxSet

    table: dict[str, dict[str, float]] = MPRelaxSet.CONFIG["INCAR"]["LDAUU"]
    return {anion: dict(values) for anion, values in table.items()}


def mp_run_parameters(composition: Composition) -> dict[str, Any]:
    """The MP calculation an ML energy stands for: GGA, or GGA+U with MP's U values."""
    symbols = {el.symbol for el in composition.elements}
    table = mp_hubbard_u()
    # MP uses the oxide U values when O is present, else the fluoride ones
    anion = "O" if "O" in symbols else "F" if "F" in symbols else None
    hubbards = {}
    if anion is not None:
        hubbards = {el: u for el, u in table[anion].items() if el in symbols and u > 0}
    if hubbards:
        return {"run_type": "GGA+U", "is_hubbard": True, "hubbards": hubbards}
    return {"run_type": "GGA", "is_hubbard": False, "hubbards": {}}


def ml_entry(
    of: Structure | Composition,
    energy_ev: float,
    entry_id: str,
    data: dict[str, Any] | None = None,
) -> ComputedEntry:
    """An entry for an ML total energy, with MP run parameters attached.

    A ComputedStructureEntry for a structure, a ComputedEntry for a bare composition.
    """
    from pymatgen.core import Structure
    from pymatgen.entries.computed_entries import ComputedEntry, ComputedStructureEntry

    if isinstance(of, Structure):
        parameters = mp_run_parameters(of.composition)
        return ComputedStructureEntry(
            of, float(energy_ev), parameters=parameters, entry_id=entry_id, data=dict(data or {})
        )
    return ComputedEntry(
        of,
        float(energy_ev),
        parameters=mp_run_parameters(of),
        entry_id=entry_id,
        data=dict(data or {}),
    )


def hull_convention(potential_convention: str) -> str:
    """The convention of a potential's energies once processed for a hull."""
    return MP_COMPATIBLE if potential_convention == "raw-vasp" else potential_convention


def apply_convention(entries: Sequence[ComputedEntry], potential_convention: str) -> list[Any]:
    """Entries of one potential made hull-ready: MP2020 corrections for raw-VASP models.

    Raises DroppedEntryError when the correction scheme rejects any entry (so that no
    candidate disappears silently).
    """
    if potential_convention != "raw-vasp":
        return list(entries)
    import warnings

    from pymatgen.entries.compatibility import MaterialsProject2020Compatibility

    compat = MaterialsProject2020Compatibility(check_potcar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = compat.process_entries(list(entries), inplace=False, on_error="warn")
    if len(out) != len(entries):
        kept = {e.entry_id for e in out}
        lost = [e.entry_id for e in entries if e.entry_id not in kept]
        raise DroppedEntryError(
            f"MP2020 corrections dropped {len(lost)} of {len(entries)} entries: "
            + ", ".join(map(str, lost[:10]))
        )
    return list(out)


def check_mixable(potential_convention: str, reference_convention: str, provider: str) -> None:
    """Refuse a hull mixing the potential's energies with references of another convention."""
    mine = hull_convention(potential_convention)
    if mine != reference_convention:
        raise ConventionError(
            f"the potential's energies ({potential_convention}, hull convention {mine}) cannot "
            f"share a hull with {provider} references ({reference_convention}): "
            + (
                "OMat24-trained models use other DFT settings than the Materials Project; "
                if "omat24" in (mine, reference_convention)
                else ""
            )
            + "use references: self-consistent (relaxed with the same potential) instead"
        )
