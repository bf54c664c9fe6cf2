"""The Estimator protocol: one estimator per property family, over a shared context.

An estimator is a class registered in the entry-point group ``screen.estimators``
(pyproject.toml), the way generators and potentials are. It declares

- ``name``: its section of the workflow, ``stages.estimate.<name>``;
- ``params_model``: that section's pydantic model (with ``enabled``);
- ``needs``: what it takes from the :class:`~screen.estimators.context.EstimateContext`
  (``working_ion``: the record's ion in its structure; ``hull``: the phase diagrams;
  ``charged_members``: relaxed charged end members; ``relax`` / ``single_points``: extra
  structures through the stage's runner);
- ``roles``: the chemical-space roles it applies to (None: every role);
- ``properties``: the property definitions it writes (unit, meaning, rankable, CSV and
  report membership); writing any other property is an error;
- ``order``: its place in the stage (lower first; also the CSV's column order).

``estimate(record, context)`` returns an :class:`Estimate`: properties, confidence flags,
provenance, or the record's exit from the funnel. The stage applies it; an estimator
never modifies the record it is given. docs/dev/estimator.md is the checklist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from screen.records import ModelIdentity, Property, PropertyValue, Record, StageState

if TYPE_CHECKING:  # pragma: no cover
    from screen.estimators.context import EstimateContext
    from screen.properties import PropertyDefinition
    from screen.workflow.estimate import EstimatorParams

#: what an estimator may need from the context
NEEDS = frozenset({"working_ion", "hull", "charged_members", "relax", "single_points"})


class UndeclaredProperty(RuntimeError):
    """An estimator wrote a property it does not declare."""


@dataclass
class Estimate:
    """What one estimator found for one record."""

    estimator: str
    declared: frozenset[str]
    properties: dict[str, Property] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    provenance: dict[str, Any] = field(default_factory=dict)
    exit: tuple[StageState, str, str] | None = None  # (state, reason, detail)

    def set(
        self,
        name: str,
        value: PropertyValue,
        *,
        unit: str,
        method: str,
        uncertainty: float | None = None,
        model: ModelIdentity | None = None,
    ) -> None:
        """One property of the record (one of the estimator's declared ones)."""
        if name not in self.declared:
            raise UndeclaredProperty(
                f"estimator {self.estimator!r} wrote {name!r}, which it does not declare "
                f"(declared: {', '.join(sorted(self.declared))})"
            )
        self.properties[name] = Property(
            value=value, unit=unit, method=method, uncertainty=uncertainty, model=model
        )

    def flag(self, text: str) -> None:
        """A reason to trust the record's numbers less (into ``estimate_flags``)."""
        self.flags.append(text)

    def leave(self, state: StageState, reason: str, detail: str) -> None:
        """The record leaves the funnel here (later estimators do not run for it)."""
        self.exit = (state, reason, detail)


class Estimator(Protocol):
    """What the estimate stage needs from an estimator (see the module docstring).

    Class attributes in an implementation; read-only here, so that each estimator may
    narrow ``params_model`` and ``params`` to its own section's model.
    """

    @property
    def name(self) -> str:
        """Its workflow section, ``stages.estimate.<name>``, and its entry-point name."""
        ...

    @property
    def params_model(self) -> type[EstimatorParams]:
        """The pydantic model of its section."""
        ...

    @property
    def needs(self) -> frozenset[str]:
        """What it takes from the context (a subset of NEEDS)."""
        ...

    @property
    def roles(self) -> frozenset[str] | None:
        """Chemical-space roles it applies to (None: all)."""
        ...

    @property
    def properties(self) -> tuple[PropertyDefinition, ...]:
        """The properties it writes."""
        ...

    @property
    def order(self) -> int:
        """Its place in the stage (lower first)."""
        ...

    @property
    def params(self) -> EstimatorParams:
        """Its section of the workflow."""
        ...

    def estimate(self, record: Record, context: EstimateContext) -> Estimate:
        """What this estimator finds for one record it applies to."""
        ...


def new_estimate(estimator: Estimator) -> Estimate:
    """An empty estimate of ``estimator`` (its declared properties only)."""
    return Estimate(estimator.name, frozenset(p.name for p in estimator.properties))


def applies(estimator: Estimator, record: Record, role: str) -> bool:
    """The estimator applies to the record: its role, and its working ion when it needs one."""
    if estimator.roles is not None and role not in estimator.roles:
        return False
    return "working_ion" not in estimator.needs or record.working_ion_in_structure() is not None
