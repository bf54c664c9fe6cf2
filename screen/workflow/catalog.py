"""Cheap look-ups used while validating a workflow file.

Reads the names in the shipped resource folders (prototypes, critical lists, model cards)
without importing pymatgen or torch, so validation stays fast.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import yaml

from screen.checksums import file_sha256
from screen.resources import resource_dir

__all__ = [
    "ELEMENT_SYMBOLS",
    "check_structure_file",
    "critical_elements",
    "critical_list_names",
    "file_sha256",
    "model_card_names",
    "prototype_names",
    "rankable_properties",
]

ELEMENT_SYMBOLS = frozenset(
    """H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge
    As Se Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm
    Eu Gd Tb Dy Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U
    Np Pu Am Cm Bk Cf Es Fm Md No Lr Rf Db Sg Bh Hs Mt Ds Rg Cn Nh Fl Mc Lv Ts Og""".split()
)

STRUCTURE_SUFFIXES = (".cif", ".json", ".vasp", ".poscar", ".xyz", ".extxyz")


def rankable_properties() -> tuple[str, ...]:
    """Names of the properties a ranking may use (stages' and estimators' declarations)."""
    from screen.properties import rankable

    return tuple(sorted(rankable()))


def _stems(folder: str, sub: str) -> list[str]:
    return sorted(p.stem for p in (resource_dir(folder) / sub).glob("*.yaml"))


@functools.cache
def prototype_names() -> tuple[str, ...]:
    """Names of the prototypes shipped in candidates/prototypes/."""
    return tuple(_stems("candidates", "prototypes"))


@functools.cache
def prototype_applications(name: str) -> tuple[str, ...]:
    """Roles (cathode, anode, electrolyte) a prototype is meant for."""
    path = resource_dir("candidates") / "prototypes" / f"{name}.yaml"
    return tuple(yaml.safe_load(path.read_text()).get("applications", ()))


@functools.cache
def generator_names() -> tuple[str, ...]:
    """Candidate generators registered in the entry-point group 'screen.generators'."""
    from importlib.metadata import entry_points

    return tuple(sorted({ep.name for ep in entry_points(group="screen.generators")}))


@functools.cache
def prototype_roles(name: str) -> dict[str, Any]:
    """Role specifications (RoleSpec) of a curated prototype, read from its file only."""
    from screen.candidates.prototypes import RoleSpec

    path = resource_dir("candidates") / "prototypes" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    return {role: RoleSpec.model_validate(spec) for role, spec in data["roles"].items()}


@functools.cache
def prototype_reference_elements(name: str) -> frozenset[str]:
    """Elements of a curated prototype's reference compound (species of its sites)."""
    path = resource_dir("candidates") / "prototypes" / f"{name}.yaml"
    return frozenset(site["species"] for site in yaml.safe_load(path.read_text())["sites"])


@functools.cache
def critical_list_names() -> tuple[str, ...]:
    """Names of the critical-raw-material lists shipped in candidates/critical/."""
    return tuple(_stems("candidates", "critical"))


@functools.cache
def critical_elements(name: str, policy: str = "strict") -> frozenset[str]:
    """Elements the critical list ``name`` lists in every compound of theirs.

    strict: every element an entry maps to; the form-aware policies: those of entries of
    form any (CriticalList.listed_everywhere).
    """
    from screen.candidates.critical import CriticalList

    return CriticalList.load(name).listed_everywhere(policy)


def model_card_names() -> tuple[str, ...]:
    """Names of the model cards (models/ and $BATSCREEN_MODELS_PATH)."""
    from screen.potentials.cards import card_dirs

    return tuple(sorted({p.stem for folder in card_dirs() for p in folder.glob("*.yaml")}))


def folder_sha256(folder: Path) -> str:
    """sha256 over the names and contents of a folder's structure files."""
    h = hashlib.sha256()
    for path in structure_files_in(folder):
        h.update(f"{path.name}:{file_sha256(path)}\n".encode())
    return h.hexdigest()


def structure_files_in(folder: Path) -> list[Path]:
    """Structure files in a folder (not recursive), sorted by name."""
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file()
        and (
            p.name.lower().endswith(STRUCTURE_SUFFIXES)
            or p.name.upper().startswith(("POSCAR", "CONTCAR"))
        )
    )


def check_structure_file(path: Path) -> None:
    """Raise ValueError (naming the file) unless pymatgen can read a structure from it."""
    if not path.is_file():
        raise ValueError(f"structure file {path} does not exist")
    name = path.name.lower()
    if not (name.endswith(STRUCTURE_SUFFIXES) or "poscar" in name or "contcar" in name):
        raise ValueError(
            f"structure file {path}: unsupported format; allowed: CIF (.cif), POSCAR/CONTCAR, "
            "pymatgen JSON (.json), extended XYZ (.extxyz, .xyz with a Lattice)"
        )
    from screen.candidates.structure_files import StructureFileError, read_structure_file

    try:
        structures = read_structure_file(path)
    except StructureFileError:
        raise
    except Exception as exc:  # pymatgen and ase raise many kinds of errors for bad files
        raise ValueError(f"structure file {path} could not be read: {exc}") from None
    if not structures or any(len(s) == 0 for s in structures):
        raise ValueError(f"structure file {path} contains no atoms")
