"""Field types shared by the workflow models: element symbols, structure files, base model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo

from screen.workflow import catalog


def _check_element(symbol: str) -> str:
    if symbol not in catalog.ELEMENT_SYMBOLS:
        hint = ""
        fixed = symbol.strip().capitalize()
        if fixed in catalog.ELEMENT_SYMBOLS:
            hint = f" (did you mean {fixed!r}?)"
        raise ValueError(f"{symbol!r} is not an element symbol{hint}")
    return symbol


ElementSymbol = Annotated[str, AfterValidator(_check_element)]


def _readable_structures(path: Path, info: ValidationInfo) -> Path:
    base = Path((info.context or {}).get("base_dir", "."))
    full = path if path.is_absolute() else base / path
    if full.is_dir():
        files = catalog.structure_files_in(full)
        if not files:
            raise ValueError(
                f"folder {full} holds no structure files (*.cif, *.json, *.vasp, POSCAR*, *.extxyz)"
            )
        problems = []
        for file in files:
            try:
                catalog.check_structure_file(file)
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
    else:
        catalog.check_structure_file(full)  # raises ValueError naming the file
    return full.resolve()


#: a structure file, or a folder whose structure files are all read
StructureSource = Annotated[Path, AfterValidator(_readable_structures)]


def _anion_token(token: str) -> str:
    from screen.candidates.polyanions import POLYANIONS

    if token in POLYANIONS:
        return token
    if token in catalog.ELEMENT_SYMBOLS:
        return token
    raise ValueError(
        f"{token!r} is neither an element symbol nor a known polyanion ({', '.join(POLYANIONS)})"
    )


#: an anion element (O, S, F, ...) or a polyanion formula (PO4, SO4, SiO4, BO3, ...)
AnionToken = Annotated[str, AfterValidator(_anion_token)]


def known(names: list[str], available: tuple[str, ...], what: str) -> list[str]:
    """Return ``names`` (once each); ValueError listing unknown ones and what is available."""
    bad = [n for n in names if n not in available]
    if bad:
        raise ValueError(f"unknown {what}(s) {', '.join(bad)}; available: {', '.join(available)}")
    return unique(names, what)


def unique(values: list[str], what: str) -> list[str]:
    """Return ``values``; ValueError naming the entries listed twice."""
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise ValueError(f"{what} listed twice: {', '.join(sorted(set(seen)))}")
    return values


class Frozen(BaseModel):
    """Base of every workflow model: immutable, unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def existing_file(path: Path | None, info: ValidationInfo, what: str) -> Path | None:
    """A file path resolved against the workflow file's folder; an error if it is missing."""
    if path is None:
        return None
    base = Path((info.context or {}).get("base_dir", "."))
    full = (path if path.is_absolute() else base / path).resolve()
    if not full.is_file():
        raise ValueError(f"{what} {full} does not exist")
    return full
