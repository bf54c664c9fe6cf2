"""JSON schema of the workflow file format (docs/workflow.schema.json).

``stages.estimate`` lists a section per registered estimator (third-party ones included,
from their params models), each also accepting ``true``/``false``, and the keys of the
older flat layout, marked deprecated.
"""

from __future__ import annotations

from typing import Any

from screen.workflow.spec import Workflow


def workflow_schema() -> dict[str, Any]:
    """The JSON schema of :class:`screen.workflow.spec.Workflow`."""
    schema = Workflow.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "batscreen workflow file"
    _estimator_sections(schema)
    return schema


def _estimator_sections(schema: dict[str, Any]) -> None:
    from screen.plugins import estimator_classes
    from screen.workflow.estimate import LEGACY_KEYS

    estimate = schema["$defs"]["EstimateParams"]
    sections = estimate["properties"]
    for cls in estimator_classes():
        if cls.name not in sections:  # a third party's: its own model, inlined
            sections[cls.name] = cls.params_model.model_json_schema()
    for name, section in list(sections.items()):
        sections[name] = {"anyOf": [section, {"type": "boolean"}], "description": "or true/false"}
    for key, (section_name, field) in LEGACY_KEYS.items():
        sections[key] = {"deprecated": True, "description": f"older form of {section_name}.{field}"}
    estimate["additionalProperties"] = False
