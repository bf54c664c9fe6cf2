"""Load and validate workflow files, reporting every problem at once.

Each problem names the file, the key path (``stages.relax.fmax``), what was given and
what is allowed. An invalid file raises :class:`WorkflowError` and never starts a run.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from screen.workflow.spec import Workflow


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a workflow file."""

    file: str
    key: str
    message: str
    given: str | None = None

    def __str__(self) -> str:
        given = f" (given: {self.given})" if self.given is not None else ""
        where = f"{self.file}: {self.key}" if self.key else self.file
        return f"{where}: {self.message}{given}"


class WorkflowError(ValueError):
    """A workflow file that cannot be run; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        n = len(problems)
        lines = [f"{n} problem{'s' if n != 1 else ''} in workflow file:"]
        lines += [f"  - {p}" for p in problems]
        super().__init__("\n".join(lines))


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"key {key!r} appears twice (first on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; malformed YAML becomes a WorkflowError with line and column."""
    label = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise WorkflowError([Problem(label, "", "file does not exist")]) from None
    except OSError as exc:
        raise WorkflowError([Problem(label, "", f"cannot be read: {exc.strerror}")]) from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = exc.problem or str(exc)
        raise WorkflowError([Problem(label, "", f"malformed YAML at {where}: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise WorkflowError([Problem(label, "", f"malformed YAML: {exc}")]) from None


def validate_data(data: Any, *, file: str = "<workflow>", base_dir: Path | None = None) -> Workflow:
    """Validate already-parsed workflow data; raise WorkflowError listing every problem."""
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise WorkflowError(
            [Problem(file, "", f"a workflow file must be a mapping of keys, this one is {kind}")]
        )
    try:
        return Workflow.model_validate(data, context={"base_dir": base_dir or Path.cwd()})
    except ValidationError as exc:
        raise WorkflowError([_problem(file, err) for err in exc.errors()]) from None


def load_workflow(path: str | Path) -> Workflow:
    """Read and validate a workflow file.

    Raises:
        WorkflowError: with every problem found (file, key path, given, allowed).
    """
    path = Path(path)
    data = read_yaml(path)
    return validate_data(data, file=str(path), base_dir=path.resolve().parent)


def validate_workflow(path: str | Path) -> list[Problem]:
    """Every problem of a workflow file (an empty list when it is valid)."""
    try:
        load_workflow(path)
    except WorkflowError as exc:
        return exc.problems
    return []


# --------------------------------------------------------------------------- formatting
def _problem(file: str, err: Any) -> Problem:
    loc = tuple(err.get("loc", ()))
    key = ".".join(str(p) for p in loc)
    kind = err.get("type", "")
    # a whole-file check (empty location) would echo the entire file: leave that out
    given = None if kind == "missing" or not loc else _short(err.get("input"))
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        msg = "unknown key" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
        return Problem(file, key, msg)
    if kind == "missing":
        return Problem(file, key, "required key is missing")
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    return Problem(file, key, msg, given)


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found at ``loc`` inside Workflow (empty when not a model)."""
    model: Any = Workflow
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return []
        field = model.model_fields.get(str(part))
        if field is None:
            return []
        if typing.get_origin(field.annotation) is dict and parts:
            parts.pop(0)  # the user's own key inside a mapping such as rank.objectives
        model = _model_in(field.annotation)
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return []


def _model_in(annotation: Any) -> Any:
    """The BaseModel class inside an annotation such as ``X | None`` or ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
