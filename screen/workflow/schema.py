"""JSON schema of the workflow file format (docs/workflow.schema.json)."""

from __future__ import annotations

from typing import Any

from screen.workflow.spec import Workflow


def workflow_schema() -> dict[str, Any]:
    """The JSON schema of :class:`screen.workflow.spec.Workflow`."""
    schema = Workflow.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "batscreen workflow file"
    return schema
