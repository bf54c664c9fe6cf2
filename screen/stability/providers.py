"""Reference entries for convex hulls, behind one interface.

- :class:`MaterialsProjectReferences`: MP entries (MP2020-corrected, GGA/GGA+U mixing),
  fetched through mp-api once per chemical system and cached in the campaign, so compute
  nodes need no network.
- :class:`FileReferences`: a user's JSON file of pymatgen ComputedStructureEntry (or
  ComputedEntry) objects, with the energy convention the user declares.
- :class:`SelfConsistentReferences` (screen/stability/selfconsistent.py): elements and the
  binary/ternary phases the prototype library can build, relaxed with the same potential.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from screen.store.atomic import atomic_write_text

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.entries.computed_entries import ComputedEntry


class ReferenceUnavailable(RuntimeError):
    """References cannot be obtained (no cache, no key, unreadable file)."""


ALTERNATIVES = (
    "alternatives: stages.estimate.hull.references: self-consistent (offline, relaxed with "
    "the same potential), or references: file with entries_file: a JSON list of pymatgen "
    "ComputedStructureEntry objects"
)


class ReferenceProvider(Protocol):
    """Where a hull's reference entries come from."""

    name: str
    convention: str  # energy convention of the entries as returned (screen.stability.entries)
    complete: bool  # False when the set is known to miss phases (self-consistent)

    def entries(self, systems: list[frozenset[str]]) -> list[ComputedEntry]:
        """Every reference entry within the given chemical systems (and their subsystems)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What provenance records about this provider."""
        ...


def chemsys(elements: frozenset[str]) -> str:
    """'Fe-Na-O' style name of a chemical system."""
    return "-".join(sorted(elements))


def _within(entries: list[Any], systems: list[frozenset[str]]) -> list[Any]:
    return [
        e
        for e in entries
        if any({el.symbol for el in e.composition.elements} <= s for s in systems)
    ]


class FileReferences:
    """Entries from a user's JSON file (monty-serialised ComputedEntry objects)."""

    name = "file"
    complete = True

    def __init__(self, path: str | Path, convention: str):
        self.path = Path(path)
        self.convention = convention
        self._entries: list[Any] | None = None

    def _load(self) -> list[Any]:
        from monty.json import MontyDecoder
        from pymatgen.entries.computed_entries import ComputedEntry

        if not self.path.is_file():
            raise ReferenceUnavailable(f"{self.path}: entries file not found; {ALTERNATIVES}")
        try:
            data = json.loads(self.path.read_text(), cls=MontyDecoder)
        except ValueError as exc:
            raise ReferenceUnavailable(f"{self.path}: not valid JSON ({exc})") from None
        if isinstance(data, dict) and "entries" in data:
            data = data["entries"]
        if not isinstance(data, list) or not all(isinstance(e, ComputedEntry) for e in data):
            raise ReferenceUnavailable(
                f"{self.path}: expected a JSON list of pymatgen ComputedStructureEntry / "
                "ComputedEntry objects (as monty's MontyEncoder writes them)"
            )
        for k, entry in enumerate(data):
            if entry.entry_id is None:
                entry.entry_id = f"{self.path.name}:{k}"
        return data

    def entries(self, systems: list[frozenset[str]]) -> list[Any]:
        """Every reference entry within ``systems`` and their subsystems."""
        if self._entries is None:
            self._entries = self._load()
        return _within(self._entries, systems)

    def describe(self) -> dict[str, Any]:
        """What provenance records about this provider."""
        from screen.checksums import file_sha256

        return {
            "provider": self.name,
            "file": str(self.path),
            "sha256": file_sha256(self.path) if self.path.is_file() else None,
            "convention": self.convention,
        }


class MaterialsProjectReferences:
    """Materials Project entries, cached per chemical system in ``cache_dir``."""

    name = "materials-project"
    convention = "mp2020-corrected"
    complete = True

    def __init__(self, cache_dir: Path, api_key_env: str = "MP_API_KEY"):
        self.cache_dir = Path(cache_dir)
        self.api_key_env = api_key_env
        self.fetched: list[str] = []

    def _cache_file(self, system: frozenset[str]) -> Path:
        return self.cache_dir / f"{chemsys(system)}.json"

    def _fetch(self, system: frozenset[str]) -> list[Any]:
        key = os.environ.get(self.api_key_env)
        where = self._cache_file(system)
        if not key:
            raise ReferenceUnavailable(
                f"no cached Materials Project entries for {chemsys(system)} ({where}) and "
                f"{self.api_key_env} is not set: set it on a machine with network (a login "
                "node) and rerun once to fill the cache; " + ALTERNATIVES
            )
        try:
            from mp_api.client import MPRester
        except ImportError:
            raise ReferenceUnavailable(
                "the materials-project provider needs mp-api (pip install mp-api); " + ALTERNATIVES
            ) from None
        try:
            with MPRester(key) as mpr:
                entries = mpr.get_entries_in_chemsys(
                    sorted(system), additional_criteria={"thermo_types": ["GGA_GGA+U"]}
                )
        except Exception as exc:  # expired key, no network, server error
            raise ReferenceUnavailable(
                f"Materials Project query for {chemsys(system)} failed ({type(exc).__name__}: "
                f"{exc}); check {self.api_key_env} (expired or invalid keys are refused) and "
                "the network; " + ALTERNATIVES
            ) from None
        return list(entries)

    def entries(self, systems: list[frozenset[str]]) -> list[Any]:
        """Every reference entry within ``systems`` and their subsystems."""
        from monty.json import MontyDecoder, MontyEncoder

        out: dict[str, Any] = {}
        for system in systems:
            path = self._cache_file(system)
            if path.is_file():
                loaded = json.loads(path.read_text(), cls=MontyDecoder)
            else:
                loaded = self._fetch(system)
                atomic_write_text(path, json.dumps(loaded, cls=MontyEncoder))
                self.fetched.append(chemsys(system))
            for entry in loaded:
                out[str(entry.entry_id)] = entry
        return _within(list(out.values()), systems)

    def describe(self) -> dict[str, Any]:
        """What provenance records about this provider."""
        return {
            "provider": self.name,
            "cache_dir": str(self.cache_dir),
            "convention": self.convention,
            "fetched_now": self.fetched,
            "thermo_types": ["GGA_GGA+U"],
        }
