"""Working ions: the one table of the mobile ions batscreen screens for, with their charges.

Every ion-dependent number (capacity, voltage, window, BVSE, MD conductivity) takes the
ion's formal charge z from here; the workflow's ``working_ions``, ion exchange and the
record's :attr:`screen.records.Record.working_ion` are checked against it. Na, Mg and Zn
are the project's targets; K, Ca, Al and Li are supported (Li and K also as the ions
that ion exchange replaces).
"""

from __future__ import annotations

FARADAY_C_PER_MOL = 96485.33212  # CODATA 2018, exact since the 2019 SI

#: formal charge z of each supported working ion, the project's targets first
ION_CHARGE: dict[str, int] = {"Na": 1, "Mg": 2, "Zn": 2, "K": 1, "Ca": 2, "Al": 3, "Li": 1}

#: the supported working ions, in the order of ION_CHARGE
WORKING_IONS: tuple[str, ...] = tuple(ION_CHARGE)


class WorkingIonError(ValueError):
    """A working ion that is not in the table, or missing where an estimate needs one."""


def check_working_ion(symbol: object, where: str = "working ion") -> str:
    """``symbol`` when it is a supported working ion; WorkingIonError naming the allowed ones."""
    if isinstance(symbol, str) and symbol in ION_CHARGE:
        return symbol
    raise WorkingIonError(
        f"{where}: {symbol!r} is not a supported working ion; allowed: {', '.join(WORKING_IONS)}"
    )


def ion_charge(ion: str) -> int:
    """Formal charge z of a working ion (WorkingIonError for an unknown one)."""
    return ION_CHARGE[check_working_ion(ion)]


def vs_metal(ion: str) -> str:
    """Unit of a potential against the working-ion metal: 'V vs Na/Na+', 'V vs Mg/Mg2+'."""
    z = ion_charge(ion)
    return f"V vs {ion}/{ion}+" if z == 1 else f"V vs {ion}/{ion}{z}+"
