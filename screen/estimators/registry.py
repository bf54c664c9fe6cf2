"""The estimators a workflow enables, from the entry-point group ``screen.estimators``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from screen.plugins import estimator_classes

if TYPE_CHECKING:  # pragma: no cover
    from screen.estimators.base import Estimator
    from screen.workflow.estimate import EstimateParams


def enabled_estimators(params: EstimateParams) -> list[Estimator]:
    """One instance per enabled estimator, with its section, in stage order."""
    out = []
    for cls in estimator_classes():
        section = params.section(cls.name)
        if section.enabled:
            out.append(cls(section))
    return out


def needing_working_ion(params: EstimateParams, role: str) -> list[str]:
    """Names of the enabled estimators that need a working ion for a role."""
    return [
        e.name
        for e in enabled_estimators(params)
        if "working_ion" in e.needs and (e.roles is None or role in e.roles)
    ]
