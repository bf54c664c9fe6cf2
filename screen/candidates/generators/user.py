"""User structures: files and folders named in the chemical space, as they are.

CIF, POSCAR/CONTCAR and pymatgen JSON are read with pymatgen, extended XYZ with ASE (each
frame of a multi-frame file is a structure, labelled ``file@i``): see
screen/candidates/structure_files.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from screen.candidates.generators.common import STAGE, make_record
from screen.candidates.structure_files import frame_labels, read_structure_file
from screen.records import structure_sha256
from screen.workflow.catalog import structure_files_in

if TYPE_CHECKING:  # pragma: no cover
    from pymatgen.core import Structure

    from screen.records import Record
    from screen.workflow.params import GenerateParams
    from screen.workflow.space import ChemicalSpace


def structure_paths(space: ChemicalSpace) -> list[Path]:
    """Every structure file the space names (folders expanded, sorted)."""
    paths: list[Path] = []
    for path in space.structures:
        paths += structure_files_in(path) if path.is_dir() else [path]
    return paths


def read_labelled_structures(space: ChemicalSpace) -> list[tuple[Path, str, Structure]]:
    """(path, label, structure) of every structure of every user structure file.

    The label is the file's name, or ``name@i`` for frame i of a multi-frame file.
    """
    out: list[tuple[Path, str, Structure]] = []
    for path in structure_paths(space):
        structures = read_structure_file(path)
        labels = frame_labels(path, len(structures))
        out += [(path, label, s) for label, s in zip(labels, structures, strict=True)]
    return out


def read_structures(space: ChemicalSpace) -> list[tuple[Path, Structure]]:
    """(path, structure) of every user structure (one per frame of a multi-frame file)."""
    return [(path, structure) for path, _, structure in read_labelled_structures(space)]


def working_ion_of(structure: Structure, space: ChemicalSpace) -> str | None:
    """The first of the space's working ions present in ``structure``."""
    present = [ion for ion in space.working_ions if ion in structure.composition]
    return present[0] if present else None


class UserStructures:
    """The chemical space's structure files enter the funnel unchanged."""

    name = "user-structures"

    def generate(self, space: ChemicalSpace, params: GenerateParams) -> list[Record]:
        """One record per structure (per frame of a multi-frame file)."""
        records = []
        for path, label, structure in read_labelled_structures(space):
            recipe = {
                "generator": "user-structure",
                "file": label,
                "structure_sha256": structure_sha256(structure),
            }
            record = make_record(
                structure,
                recipe,
                source_file=str(path),
                working_ion=working_ion_of(structure, space),
            )
            record.mark(STAGE, "ok")
            records.append(record)
        return records
