"""Locate the shipped resource folders (candidates/, models/, workflows/, hpc/) by name.

In a wheel they live in ``screen/_resources/<name>``; in a source checkout or an
editable install they are the top-level folders of the repository.
"""

from __future__ import annotations

from pathlib import Path

RESOURCE_FOLDERS = ("candidates", "models", "workflows", "hpc")

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the directory of one shipped resource folder.

    Raises:
        ValueError: for a name that is not one of RESOURCE_FOLDERS.
        FileNotFoundError: when the folder is in neither place (a broken install).
    """
    if name not in RESOURCE_FOLDERS:
        raise ValueError(f"unknown resource folder {name!r}; known: {', '.join(RESOURCE_FOLDERS)}")
    for candidate in (_PACKAGE_DIR / "_resources" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"resource folder {name!r} not found next to the screen package ({_PACKAGE_DIR}); "
        "reinstall batscreen"
    )


def resource_path(name: str, *parts: str) -> Path:
    """Path of a file inside a resource folder (not checked for existence)."""
    return resource_dir(name).joinpath(*parts)
