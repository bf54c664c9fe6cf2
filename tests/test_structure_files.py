"""User structure files: extended XYZ through ASE, POSCARs checked against their header."""

from __future__ import annotations

import pytest

from screen.candidates.generators.user import UserStructures, read_structures
from screen.candidates.structure_files import StructureFileError, read_structure_file
from screen.workflow.params import GenerateParams
from screen.workflow.space import ChemicalSpace

NACL_POSCAR = """NaCl rock salt
1.0
5.64 0.0 0.0
0.0 5.64 0.0
0.0 0.0 5.64
{symbols}{counts}
{selective}Direct
{coords}
"""
COORDS = [
    "0.0 0.0 0.0",
    "0.5 0.5 0.0",
    "0.5 0.0 0.5",
    "0.0 0.5 0.5",
    "0.5 0.0 0.0",
    "0.0 0.5 0.0",
    "0.0 0.0 0.5",
    "0.5 0.5 0.5",
]


def poscar(n_coords=8, symbols="Na Cl\n", selective=False, tail=""):
    coords = COORDS[:n_coords]
    if selective:
        coords = [f"{c} {'F F F' if i == 0 else 'T T T'}" for i, c in enumerate(coords)]
    text = NACL_POSCAR.format(
        symbols=symbols,
        counts="4 4",
        selective="Selective dynamics\n" if selective else "",
        coords="\n".join(coords),
    )
    return text + tail


def rock_salt_frames(n):
    from ase.build import bulk

    frames = []
    for i in range(n):
        atoms = bulk("NaCl", "rocksalt", a=5.6 + 0.05 * i)
        frames.append(atoms)
    return frames


def space_of(*paths):
    # model_construct: the workflow-level file check (screen.workflow.catalog) is not the
    # subject here; the generator reads the files itself
    return ChemicalSpace.model_construct(
        working_ions=["Na"], anions=["Cl"], structures=list(paths), max_atoms=40
    )


def test_extxyz_frames_are_structures_labelled_by_index(tmp_path):
    from ase.io import write

    path = tmp_path / "nacl.extxyz"
    write(path, rock_salt_frames(3), format="extxyz")
    structures = read_structure_file(path)
    assert [s.composition.reduced_formula for s in structures] == ["NaCl"] * 3
    assert structures[2].volume > structures[0].volume
    records = UserStructures().generate(space_of(path), GenerateParams())
    assert [r.provenance["recipe"]["file"] for r in records] == [
        f"nacl.extxyz@{i}" for i in (0, 1, 2)
    ]
    assert len({r.id for r in records}) == 3
    assert all(r.working_ion == "Na" and r.active for r in records)
    assert [p for p, _ in read_structures(space_of(path))] == [path] * 3


def test_single_frame_xyz_with_a_lattice_keeps_the_file_name(tmp_path):
    from ase.io import write

    path = tmp_path / "nacl.xyz"
    write(path, rock_salt_frames(1)[0], format="extxyz")
    assert 'Lattice="' in path.read_text()
    (structure,) = read_structure_file(path)
    assert structure.lattice.volume == pytest.approx(5.6**3 / 4)
    (record,) = UserStructures().generate(space_of(path), GenerateParams())
    assert record.provenance["recipe"]["file"] == "nacl.xyz"


def test_plain_xyz_without_a_cell_says_a_periodic_cell_is_needed(tmp_path):
    path = tmp_path / "molecule.xyz"
    path.write_text("2\nNaCl pair\nNa 0.0 0.0 0.0\nCl 2.8 0.0 0.0\n")
    with pytest.raises(StructureFileError, match="periodic cell") as info:
        read_structure_file(path)
    assert str(path) in str(info.value) and "Lattice=" in str(info.value)


def test_unreadable_xyz_names_the_file(tmp_path):
    path = tmp_path / "broken.extxyz"
    path.write_text("three\nnot a frame\n")
    with pytest.raises(StructureFileError, match="could not be read") as info:
        read_structure_file(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("symbols", "selective", "tail"),
    [
        ("Na Cl\n", False, ""),
        ("Na Cl\n", True, ""),
        ("Na Cl\n", False, "\n" + "\n".join(["0.0 0.0 0.0"] * 8) + "\n"),  # velocities block
        ("", False, ""),  # VASP 4: no element line
    ],
    ids=["vasp5", "selective-dynamics", "velocities-after", "vasp4"],
)
def test_a_poscar_shorter_than_its_header_is_an_error(tmp_path, symbols, selective, tail):
    path = tmp_path / "POSCAR"
    path.write_text(poscar(7, symbols=symbols, selective=selective, tail=tail))
    with pytest.raises(StructureFileError) as info:
        read_structure_file(path)
    message = str(info.value)
    assert str(path) in message
    assert "counts 8 atoms (4 4)" in message and "7 coordinate lines" in message


@pytest.mark.parametrize("name", ["POSCAR", "CONTCAR", "nacl.vasp", "nacl.poscar"])
def test_a_complete_poscar_reads(tmp_path, name):
    path = tmp_path / name
    velocities = "\n" + "\n".join(["0.0 0.0 0.0"] * 8) + "\n"
    path.write_text(poscar(8, selective=True, tail=velocities))
    (structure,) = read_structure_file(path)
    assert len(structure) == 8 and structure.composition.reduced_formula == "NaCl"


def test_a_pymatgen_written_poscar_and_cif_read(tmp_path):
    from pymatgen.core import Lattice, Structure

    nacl = Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )
    for name in ("POSCAR", "nacl.cif", "nacl.json"):
        nacl.to(filename=str(tmp_path / name))
        (structure,) = read_structure_file(tmp_path / name)
        assert len(structure) == 8, name


def test_validate_accepts_extxyz_and_names_a_short_poscar(tmp_path):
    from ase.io import write

    from screen.workflow.load import validate_workflow
    from tests.conftest import quickstart_data, write_workflow

    write(tmp_path / "nacl.extxyz", rock_salt_frames(2), format="extxyz")
    data = quickstart_data()
    data["chemical_space"]["structures"] = ["nacl.extxyz"]
    assert validate_workflow(write_workflow(tmp_path / "wf.yaml", data)) == []
    (tmp_path / "POSCAR").write_text(poscar(7))
    data["chemical_space"]["structures"] = ["POSCAR"]
    (problem,) = validate_workflow(write_workflow(tmp_path / "wf.yaml", data))
    assert "counts 8 atoms" in problem.message
