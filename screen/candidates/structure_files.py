"""Reading user structure files: CIF, POSCAR/CONTCAR, pymatgen JSON and extended XYZ.

pymatgen reads the first three; extended XYZ (``.extxyz``, ``.xyz``) is read with ASE
(every frame is a structure) and converted with pymatgen's AseAtomsAdaptor. A POSCAR is
checked against its own header first: fewer coordinate lines than the counts line says
is an error, not a shorter structure.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

__all__ = [
    "XYZ_SUFFIXES",
    "StructureFileError",
    "check_poscar_counts",
    "frame_labels",
    "is_poscar",
    "read_structure_file",
]

XYZ_SUFFIXES = (".xyz", ".extxyz")


class StructureFileError(ValueError):
    """A structure file that cannot give a crystal structure; the message names the file."""


def is_poscar(path: Path) -> bool:
    """Whether pymatgen reads ``path`` as a POSCAR (its name, as pymatgen decides)."""
    name = path.name.lower()
    if ".cif" in name or ".mcif" in name:
        return False
    return "poscar" in name or "contcar" in name or name.endswith(".vasp")


def read_structure_file(path: str | Path) -> list[Structure]:
    """Every structure in a file: each frame of an extended XYZ file, else the one.

    Raises:
        StructureFileError: a plain XYZ frame without a periodic cell, a POSCAR shorter
            than its header, an empty file (each naming the file).
    """
    path = Path(path)
    if path.name.lower().endswith(XYZ_SUFFIXES):
        return _xyz_structures(path)
    if is_poscar(path):
        check_poscar_counts(path)
    from pymatgen.core import Structure

    return [Structure.from_file(path)]


def frame_labels(path: Path, frames: int) -> list[str]:
    """Labels of a file's structures: its name, or ``name@i`` for each of several frames."""
    if frames == 1:
        return [path.name]
    return [f"{path.name}@{i}" for i in range(frames)]


def _xyz_structures(path: Path) -> list[Structure]:
    import ase.io
    from pymatgen.io.ase import AseAtomsAdaptor

    try:
        frames = ase.io.read(path, index=":", format="extxyz")
    except Exception as exc:  # ASE raises many kinds of errors for bad files
        raise StructureFileError(f"structure file {path} could not be read: {exc}") from None
    frames = frames if isinstance(frames, list) else [frames]
    if not frames:
        raise StructureFileError(f"structure file {path} contains no frames")
    structures = []
    for i, atoms in enumerate(frames):
        where = f"structure file {path}" + (f" (frame {i})" if len(frames) > 1 else "")
        if len(atoms) == 0:
            raise StructureFileError(f"{where} contains no atoms")
        if not atoms.pbc.all() or atoms.cell.rank < 3 or abs(atoms.cell.volume) < 1e-6:
            raise StructureFileError(
                f"{where} has no periodic cell: a crystal structure needs one; write it as "
                'extended XYZ with Lattice="ax ay az bx by bz cx cy cz" (and pbc="T T T") '
                "in the comment line"
            )
        structures.append(AseAtomsAdaptor.get_structure(atoms))
    return structures


_INT = re.compile(r"^[+-]?\d+$")


def _is_count_line(line: str) -> bool:
    tokens = line.split()
    return bool(tokens) and all(_INT.match(t) for t in tokens)


def check_poscar_counts(path: Path) -> None:
    """StructureFileError unless the POSCAR has a coordinate line for every counted atom.

    The counts line (after the element line of VASP 5 and later), an optional
    "Selective dynamics" line and the Direct/Cartesian line are read as pymatgen does;
    the coordinate lines are the non-empty lines that follow, up to the first blank line
    (velocities and predictor-corrector blocks come after one). A header that cannot be
    read is left to pymatgen's reader, which reports it.
    """
    text = path.read_text(errors="replace")
    chunks = re.split(r"\n\s*\n", text.rstrip(), flags=re.MULTILINE)  # as pymatgen splits
    if chunks and chunks[0] == "" and len(chunks) > 1:
        chunks = ["\n" + chunks[1], *chunks[2:]]
    lines = [line.split("#")[0].strip() for line in chunks[0].split("\n")]
    if len(lines) < 7:
        return
    if _is_count_line(lines[5]):
        counts_at, positions = [5], 6
    else:  # VASP 5+: element symbols, possibly over several lines, then as many of counts
        rows = next(
            (k for k in range(1, 11) if 5 + k < len(lines) and _is_count_line(lines[5 + k])),
            None,
        )
        if rows is None:
            return
        counts_at, positions = list(range(5 + rows, 5 + 2 * rows)), 5 + 2 * rows
    try:
        counts = [int(t) for i in counts_at for t in lines[i].split()]
    except (IndexError, ValueError):
        return
    if positions < len(lines) and lines[positions][:1] in ("s", "S"):
        positions += 1  # Selective dynamics
    found = sum(1 for line in lines[positions + 1 :] if line)
    expected = sum(counts)
    if found < expected:
        raise StructureFileError(
            f"structure file {path}: the POSCAR header counts {expected} atoms "
            f"({' '.join(map(str, counts))}) but {found} coordinate line"
            f"{'s' if found != 1 else ''} follow{'s' if found == 1 else ''}"
        )
