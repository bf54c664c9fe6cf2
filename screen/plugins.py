"""Entry-point groups through which built-in and third-party parts register.

``screen.potentials`` (backends), ``screen.generators`` (candidate generators) and
``screen.estimators`` (property estimators): a package adds its own in its
pyproject.toml exactly as batscreen does for the built-in ones.
"""

from __future__ import annotations

import functools
from importlib.metadata import entry_points
from typing import Any

ESTIMATORS = "screen.estimators"


@functools.cache
def plugins(group: str) -> dict[str, Any]:
    """Every object registered in ``group``, loaded, by entry-point name (sorted)."""
    found = sorted(entry_points(group=group), key=lambda ep: ep.name)
    return {ep.name: ep.load() for ep in found}


@functools.cache
def estimator_classes() -> tuple[Any, ...]:
    """The registered estimator classes in stage order (``order``, then name).

    Each must carry the name it is registered under (its workflow section).
    """
    classes = []
    for name, cls in plugins(ESTIMATORS).items():
        if getattr(cls, "name", None) != name:
            raise TypeError(
                f"estimator {cls!r} is registered as {name!r} in {ESTIMATORS!r} but is named "
                f"{getattr(cls, 'name', None)!r}; the two must agree (it is its workflow section)"
            )
        classes.append(cls)
    return tuple(sorted(classes, key=lambda c: (c.order, c.name)))
