"""Workflow files: the pydantic models, loading with all-problems-at-once validation."""
