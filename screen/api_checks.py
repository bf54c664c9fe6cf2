"""Argument checks at the public Python API (screen.run and the stage functions).

A wrong type fails here with a TypeError naming the function, the argument, the type
given and what is accepted, before any model is loaded, instead of an AttributeError
deep inside a stage. Stage parameters may be given as a dict of the model's fields: it
is validated into the model (a ValueError naming the function and the field otherwise).
The items of a stage are checked by :func:`screen.records.as_records`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from screen.workflow.spec import ChemicalSpace, Workflow

__all__ = [
    "check_int",
    "check_params",
    "check_path",
    "check_potential",
    "check_run_arguments",
    "check_space",
    "check_str",
    "check_working_ion",
]

M = TypeVar("M", bound=BaseModel)


def _got(value: Any) -> str:
    return f"the class {value.__name__}" if isinstance(value, type) else type(value).__name__


def _validated(function: str, name: str, value: dict[str, Any], model: type[M]) -> M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or name}: "
            f"{str(e['msg']).removeprefix('Value error, ')} (given: {e.get('input')!r})"
            for e in exc.errors()
        )
        raise ValueError(
            f"{function}: {name} is not a valid {model.__name__}: {problems}"
        ) from None


def check_params(function: str, name: str, value: Any, model: type[M]) -> M | None:
    """``value`` as a ``model``: None stays None, an instance is kept, a dict is validated."""
    if value is None or isinstance(value, model):
        return value
    if isinstance(value, dict):
        return _validated(function, name, value, model)
    raise TypeError(
        f"{function}: {name} must be {model.__name__}, a dict of its fields, or None, "
        f"got {_got(value)}"
    )


def check_space(function: str, space: Any, *, none_allowed: bool = False) -> ChemicalSpace:
    """A ChemicalSpace (a dict is validated into one).

    ``none_allowed``: the function also takes None (the caller handles it; the message
    says so).
    """
    if isinstance(space, ChemicalSpace):
        return space
    if isinstance(space, dict):
        return _validated(function, "space", space, ChemicalSpace)
    accepted = "ChemicalSpace or a dict of its fields" + (", or None" if none_allowed else "")
    raise TypeError(f"{function}: space must be {accepted}, got {_got(space)}")


def check_potential(function: str, potential: Any, *, optional: bool = False) -> None:
    """A loaded Potential (anything with ``evaluate``) or the name of a model card."""
    if potential is None and optional:
        return
    if isinstance(potential, str):
        from screen.workflow.catalog import model_card_names

        names = model_card_names()
        if potential not in names:
            raise ValueError(
                f"{function}: potential {potential!r} is not a model card; "
                f"registered: {', '.join(names)}"
            )
        return
    if isinstance(potential, type) or not callable(getattr(type(potential), "evaluate", None)):
        accepted = "a Potential (screen.load_potential)" + (
            " or None" if optional else " or a model-card name str"
        )
        raise TypeError(f"{function}: potential must be {accepted}, got {_got(potential)}")


def check_working_ion(function: str, working_ion: Any) -> None:
    """None or a str (its value is checked by screen.ions.check_working_ion)."""
    if working_ion is not None and not isinstance(working_ion, str):
        raise TypeError(
            f"{function}: working_ion must be an element symbol str such as 'Na', or None, "
            f"got {_got(working_ion)}"
        )


def check_path(function: str, name: str, value: Any, *, optional: bool = True) -> None:
    """A str or os.PathLike (None where ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, str | os.PathLike):
        accepted = "a str or pathlib.Path" + (" or None" if optional else "")
        raise TypeError(f"{function}: {name} must be {accepted}, got {_got(value)}")


def check_str(function: str, name: str, value: Any, *, optional: bool = False) -> None:
    """A str (None where ``optional``)."""
    if (value is None and optional) or isinstance(value, str):
        return
    raise TypeError(
        f"{function}: {name} must be a str{' or None' if optional else ''}, got {_got(value)}"
    )


def check_int(
    function: str, name: str, value: Any, *, minimum: int = 1, optional: bool = True
) -> None:
    """An int of at least ``minimum`` (None where ``optional``); bool is not an int here."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        accepted = "an int" + (" or None" if optional else "")
        raise TypeError(f"{function}: {name} must be {accepted}, got {_got(value)}")
    if value < minimum:
        raise ValueError(f"{function}: {name} must be at least {minimum}, got {value}")


def check_run_arguments(
    spec: Any,
    out: Any,
    workers: Any,
    progress: Callable[..., Any] | None,
    potential: Any,
    until: Any,
    frozen: Collection[str],
) -> None:
    """The arguments of screen.run (TypeError/ValueError naming the argument)."""
    function = "screen.run"
    if not isinstance(spec, Workflow | str | os.PathLike):
        raise TypeError(
            f"{function}: spec must be a Workflow (screen.load_workflow) or the path of a "
            f"workflow file (str or pathlib.Path), got {_got(spec)}"
        )
    check_path(function, "out", out)
    if workers != "auto":
        if isinstance(workers, str):
            raise ValueError(
                f"{function}: workers must be an int >= 1, 'auto' or None, got {workers!r}"
            )
        check_int(function, "workers", workers)
    if progress is not None and not callable(progress):
        raise TypeError(
            f"{function}: progress must be a callable progress(stage, done, total) or None, "
            f"got {_got(progress)}"
        )
    if isinstance(potential, str):
        raise TypeError(
            f"{function}: potential must be a loaded Potential or None (the workflow file "
            "names its model card: potential.name), got str"
        )
    check_potential(function, potential, optional=True)
    check_str(function, "until", until, optional=True)
    if (
        isinstance(frozen, str)
        or not isinstance(frozen, Collection)
        or not all(isinstance(name, str) for name in frozen)
    ):
        raise TypeError(
            f"{function}: frozen must be a frozenset of stage names (str), got {_got(frozen)}"
        )
