"""The public Python API refuses wrong argument types at its boundary, naming them.

Every call here fails (or finishes on no records) before any potential is loaded: the
message names the function, the argument, the type given and what is accepted.
Parameters given as a dict are validated into the stage's model.
"""

from __future__ import annotations

import math
import re

import pytest

import screen
from screen.workflow.params import MDParams, RelaxParams
from tests.conftest import QUICKSTART


@pytest.fixture(scope="module")
def nacl():
    from pymatgen.core import Lattice, Structure

    return Structure(Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


@pytest.fixture(scope="module")
def space():
    return screen.load_workflow(QUICKSTART).chemical_space


ITEMS = "items must be a sequence of pymatgen Structure or screen Record"


def fails(kind: type[Exception], *parts: str):
    """pytest.raises(kind) whose message holds ``parts``, in order (plain text, not regex)."""
    return pytest.raises(kind, match=".*".join(map(re.escape, parts)))


@pytest.mark.parametrize("name", ["prefilter", "relax", "estimate", "md", "rank", "deliver"])
def test_items_that_are_a_string_name_the_function(name, space, tmp_path):
    call = {
        "prefilter": lambda: screen.prefilter("NaCl", space),
        "relax": lambda: screen.relax("NaCl"),
        "estimate": lambda: screen.estimate("NaCl", space),
        "md": lambda: screen.md("NaCl"),
        "rank": lambda: screen.rank("NaCl"),
        "deliver": lambda: screen.deliver("NaCl", tmp_path),
    }[name]
    with pytest.raises(TypeError) as info:
        call()
    assert str(info.value) == f"screen.{name}: {ITEMS}, got str"


def test_a_wrong_item_is_named_with_its_position(nacl):
    with fails(TypeError, f"screen.relax: {ITEMS}, got str at position 1"):
        screen.relax([nacl, "Na3PS4"])
    with fails(TypeError, "got dict at position 0"):
        screen.rank([{"formula": "NaCl"}])
    with fails(TypeError, "got str at position 0"):
        screen.records_from_structures("NaCl")


def test_a_single_structure_or_record_asks_for_a_list(nacl):
    with fails(TypeError, "got Structure (a single one: wrap it in a list)"):
        screen.relax(nacl)
    (record,) = screen.records_from_structures([nacl])
    with fails(TypeError, "got Record (a single one: wrap it in a list)"):
        screen.rank(record)


def test_params_of_another_type_are_refused():
    with fails(
        TypeError,
        "screen.relax: params must be RelaxParams, a dict of its fields, or None, got str",
    ):
        screen.relax([], params="fast")
    with fails(TypeError, "screen.relax: params must be RelaxParams", "got MDParams"):
        screen.relax([], params=MDParams())
    with fails(TypeError, "screen.md: params must be MDParams", "got RelaxParams"):
        screen.md([], params=RelaxParams())
    with fails(TypeError, "screen.estimate: relax_params must be RelaxParams"):
        screen.estimate([], screen.load_workflow(QUICKSTART).chemical_space, relax_params=3)


def test_params_as_a_dict_are_validated_into_the_model(lj):
    assert screen.relax([], params={"fmax": 0.1, "max_steps": 10}, potential=lj) == []
    assert screen.rank([], params={"top_n": 1}) == []
    with fails(ValueError, "screen.relax: params is not a valid RelaxParams: fmax"):
        screen.relax([], params={"fmax": 0}, potential=lj)
    with fails(ValueError, "temperatures_K.0: Input should be a finite number"):
        screen.md([], params={"temperatures_K": [math.nan]})
    with fails(ValueError, "screen.rank: params is not a valid RankParams: top_n"):
        screen.rank([], params={"top_n": 0})


def test_potential_must_be_a_potential_or_a_card_name():
    accepted = "a Potential (screen.load_potential) or a model-card name str"
    with fails(TypeError, f"screen.relax: potential must be {accepted}, got int"):
        screen.relax([], potential=3)
    with fails(TypeError, "screen.md: potential must be ", "got the class RelaxParams"):
        screen.md([], potential=RelaxParams)
    with fails(ValueError, "potential 'chgnet' is not a model card; registered: "):
        screen.relax([], potential="chgnet")
    with fails(TypeError, "screen.deliver: potential must be a str, got"):
        screen.deliver([], "out", potential=object())


def test_space_and_other_arguments(space, tmp_path):
    with fails(TypeError, "screen.prefilter: space must be ChemicalSpace"):
        screen.prefilter([], "Na-ion")
    with fails(TypeError, "screen.estimate: space must be ", "got NoneType"):
        screen.estimate([], None)
    with fails(TypeError, "screen.generate: space must be ", "got list"):
        screen.generate(["Na", "O"])
    with fails(ValueError, "screen.generate: space is not a valid ChemicalSpace"):
        screen.generate({"working_ions": ["Xx"], "anions": ["O"]})
    with fails(TypeError, "screen.deliver: space must be ", "or None, got str"):
        screen.deliver([], tmp_path, space="Na")
    with fails(TypeError, "screen.deliver: out must be a str or pathlib.Path, got"):
        screen.deliver([], 5)
    with fails(TypeError, "screen.relax: working_ion must be ", "got int"):
        screen.relax([], working_ion=11)
    with fails(TypeError, "screen.md: trajectory_dir must be ", "got int"):
        screen.md([], trajectory_dir=1)
    with fails(TypeError, "screen.md: max_batch_atoms must be an int or None"):
        screen.md([], max_batch_atoms="lots")
    with fails(ValueError, "screen.md: max_batch_atoms must be at least 1, got 0"):
        screen.md([], max_batch_atoms=0)
    with fails(TypeError, "screen.estimate: references_dir must be"):
        screen.estimate([], space, references_dir=3)


def test_run_arguments(tmp_path):
    with fails(TypeError, "screen.run: spec must be a Workflow ", "got int"):
        screen.run(5)
    with fails(TypeError, "screen.run: spec must be ", "got dict"):
        screen.run({"name": "x"})
    with fails(TypeError, "screen.run: out must be a str or pathlib.Path or None"):
        screen.run(QUICKSTART, out=3)
    with fails(ValueError, "screen.run: workers must be an int >= 1, 'auto' or None"):
        screen.run(QUICKSTART, tmp_path, workers="many")
    with fails(ValueError, "screen.run: workers must be at least 1, got 0"):
        screen.run(QUICKSTART, tmp_path, workers=0)
    with fails(TypeError, "screen.run: potential must be a loaded Potential or None"):
        screen.run(QUICKSTART, tmp_path, potential="chgnet-0.3.0")
    with fails(TypeError, "screen.run: progress must be a callable"):
        screen.run(QUICKSTART, tmp_path, progress="bar")
    with fails(TypeError, "screen.run: until must be a str or None, got int"):
        screen.run(QUICKSTART, tmp_path, until=3)
    with fails(TypeError, "screen.run: frozen must be a frozenset of stage names"):
        screen.run(QUICKSTART, tmp_path, frozen="md")
    assert not any(tmp_path.iterdir())  # nothing was created
