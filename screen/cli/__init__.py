"""The batscreen command-line interface."""
