"""Errors about a campaign directory that the CLI turns into exit code 2 with the message.

Kept in a module of their own, importing nothing, so the CLI can catch them without
importing the store.
"""

from __future__ import annotations


class CampaignError(RuntimeError):
    """A campaign directory that cannot be used as asked (the message: the file, what next)."""
