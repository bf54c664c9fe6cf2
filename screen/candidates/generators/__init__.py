"""Candidate generators: plugins behind one interface, registered as entry points.

A generator is a class with a ``name`` and ``generate(space, params) -> list[Record]``;
built-in and third-party generators register in the entry-point group
``screen.generators`` (pyproject.toml) and are chosen in the workflow file
(``stages.generate.generators``).
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from screen.records import Record
    from screen.workflow.params import GenerateParams
    from screen.workflow.space import ChemicalSpace

ENTRY_POINT_GROUP = "screen.generators"


class Generator(Protocol):
    """What the generate stage needs from a generator."""

    name: str

    def generate(self, space: ChemicalSpace, params: GenerateParams) -> list[Record]:
        """Candidate records, each with a recipe and a ``generate`` status."""
        ...


def load_generator(name: str) -> Generator:
    """Instantiate the generator registered under ``name``."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        names = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
        raise KeyError(f"no generator {name!r}; registered: {', '.join(names)}")
    generator: Generator = found[0].load()()
    return generator
