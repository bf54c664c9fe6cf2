"""Application profiles: ranking objectives and constraints shipped as data.

One YAML per profile in ``workflows/profiles/`` (drones-aviation, heavy-duty, stationary;
from the KPI groups of the Dutch KIA ST battery action agenda). Each gives, per role
(cathode, anode, electrolyte), weighted objectives and hard constraints. A workflow picks
one with ``stages.rank.profile``; its own ``objectives`` and ``constraints`` entries replace
the profile's entries of the same name, and ``drop: [name, ...]`` (or an entry set to
``null``) leaves a profile entry out.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from screen.resources import resource_dir

ROLES = ("cathode", "anode", "electrolyte")


class ProfileError(ValueError):
    """A profile that does not exist or does not cover a role."""


def profile_dir() -> Path:
    """The folder of the shipped profiles."""
    return resource_dir("workflows") / "profiles"


def profile_names() -> list[str]:
    """Names of the shipped profiles."""
    return sorted(p.stem for p in profile_dir().glob("*.yaml"))


@functools.cache
def _read(path: str) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict) or not isinstance(data.get("roles"), dict):
        raise ProfileError(f"{path}: a profile needs a 'roles' mapping ({', '.join(ROLES)})")
    return data


def load_profile(name: str) -> dict[str, Any]:
    """The profile's data (name, title, summary, roles)."""
    path = profile_dir() / f"{name}.yaml"
    if not path.is_file():
        raise ProfileError(f"unknown profile {name!r}; shipped: {', '.join(profile_names())}")
    return _read(str(path))


def profile_ranking(name: str, role: str) -> dict[str, dict[str, Any]]:
    """{'objectives': {...}, 'constraints': {...}} of a profile for one role (plain data)."""
    data = load_profile(name)
    section = data["roles"].get(role)
    if not isinstance(section, dict):
        raise ProfileError(
            f"profile {name!r} ({profile_dir() / (name + '.yaml')}) has no section for role "
            f"{role!r}; it covers: {', '.join(data['roles'])}"
        )
    return {
        "objectives": dict(section.get("objectives") or {}),
        "constraints": dict(section.get("constraints") or {}),
    }


def merge_profile(rank: dict[str, Any], role: str) -> dict[str, Any]:
    """The raw ``stages.rank`` mapping with its profile's entries filled in.

    Entries the workflow gives replace the profile's; names in ``drop`` (and entries set
    to null, which are moved to ``drop``) are left out. Idempotent: merging a merged
    mapping again changes nothing, so a resolved workflow re-reads to the same ranking.
    """
    name = rank.get("profile")
    if not name:
        return rank
    base = profile_ranking(str(name), role)
    out = dict(rank)
    drop = list(rank.get("drop") or [])
    for key in ("objectives", "constraints"):
        drop += [k for k, v in (rank.get(key) or {}).items() if v is None and k not in drop]
    for key in ("objectives", "constraints"):
        merged = {k: v for k, v in base[key].items() if k not in drop}
        merged.update({k: v for k, v in (rank.get(key) or {}).items() if v is not None})
        out[key] = merged
    out["drop"] = drop
    return out
