"""batscreen: screening of critical-raw-material-free battery materials with ML potentials.

``import screen`` is cheap: it imports neither torch nor pymatgen. The public API is
loaded on first use::

    import screen
    spec = screen.load_workflow("workflows/quickstart.yaml")
    result = screen.run(spec, out="campaigns/quickstart")

Each pipeline stage is also callable on its own, on pymatgen Structures or records:
``screen.generate``, ``screen.prefilter``, ``screen.relax``, ``screen.estimate``,
``screen.md``, ``screen.rank``, ``screen.deliver``. A finished campaign's ranked
candidates read back with ``screen.load_candidates("campaigns/quickstart")``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily, PEP 562)
_LAZY: dict[str, str] = {
    "run": "screen.pipeline",
    "CampaignResult": "screen.pipeline",
    "load_workflow": "screen.workflow.load",
    "validate_workflow": "screen.workflow.load",
    "WorkflowError": "screen.workflow.load",
    "Workflow": "screen.workflow.spec",
    "Record": "screen.records",
    "records_from_structures": "screen.records",
    "generate": "screen.stages",
    "prefilter": "screen.stages",
    "relax": "screen.stages",
    "estimate": "screen.stages",
    "md": "screen.stages",
    "rank": "screen.stages",
    "deliver": "screen.stages",
    "load_potential": "screen.potentials.registry",
    "load_candidates": "screen.deliverables.export",
}

__all__ = [
    "CampaignResult",
    "Record",
    "Workflow",
    "WorkflowError",
    "__version__",
    "deliver",
    "estimate",
    "generate",
    "load_candidates",
    "load_potential",
    "load_workflow",
    "md",
    "prefilter",
    "rank",
    "records_from_structures",
    "relax",
    "run",
    "validate_workflow",
]

if TYPE_CHECKING:  # pragma: no cover
    from screen.pipeline import CampaignResult, run
    from screen.potentials.registry import load_potential
    from screen.records import Record, records_from_structures
    from screen.stages import deliver, estimate, generate, md, prefilter, rank, relax
    from screen.workflow.load import WorkflowError, load_workflow, validate_workflow
    from screen.workflow.spec import Workflow


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'screen' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
