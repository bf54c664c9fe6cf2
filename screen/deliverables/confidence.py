"""Confidence flags: one list per ranked candidate of the reasons to trust its numbers less.

Collected from the stages that produced the numbers, in words a synthesis team can act on:
- ``relax-unconverged``: the relaxation stopped above fmax/smax (energies are upper bounds);
- the estimate stage's flags (e.g. ``hull-from-incomplete-references``: a competing phase
  may be missing, so the hull distance can be too low; ``bvse-unavailable: ...``);
- the MD stage's flags (``md-too-few-hops@800K``, ``md-too-short``, ...);
- ``constraints-uncertain``: under the property uncertainties the probability that every
  ranking constraint holds is below one half (the point value passed, narrowly).
"""

from __future__ import annotations

from typing import Any

from screen.records import Record

CONSTRAINT_CONFIDENCE = 0.5

METHOD = (
    "relax-unconverged (relax stage), estimate_flags, md_flags, constraints-uncertain "
    f"(constraint_probability < {CONSTRAINT_CONFIDENCE})"
)


def _as_list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        return [f"{flag}@{key}" for key, flags in value.items() for flag in _as_list(flags)]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def confidence_flags(record: Record) -> tuple[list[str], str]:
    """The flags of one record and the method text of the property."""
    flags: list[str] = []
    if record.value("relax_converged") is False:
        force = record.value("relax_max_force")
        detail = f" (max force {force:.3g} eV/Å)" if isinstance(force, float) else ""
        flags.append("relax-unconverged" + detail)
    flags += _as_list(record.value("estimate_flags"))
    flags += _as_list(record.value("md_flags"))
    p = record.value("constraint_probability")
    if isinstance(p, float | int) and p < CONSTRAINT_CONFIDENCE:
        flags.append(f"constraints-uncertain (P = {p:.2f})")
    return list(dict.fromkeys(flags)), METHOD
