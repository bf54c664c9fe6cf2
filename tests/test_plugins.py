"""A third-party package adds a potential and a generator by entry point, as
docs/dev/potential.md and docs/dev/generator.md say, without touching batscreen.

(The third-party estimator is in tests/test_estimator_protocol.py.)
"""

from __future__ import annotations

import pytest

import screen
from tests.fake_package import clear_plugin_caches, install

PACKAGE = '''
from pymatgen.core import Lattice, Structure

from screen.candidates.generators.common import STAGE, make_record
from screen.potentials.lennard_jones import LennardJonesPotential


class SoftSpheres(LennardJonesPotential):
    """A backend of the package: the toy pair potential under another name."""


class RockSalts:
    """Rock-salt cells of the space's working ion with each of its anions."""

    name = "rock-salts"

    def generate(self, space, params):
        records = []
        for ion in space.working_ions:
            for anion in space.anions:
                structure = Structure.from_spacegroup(
                    "Fm-3m", Lattice.cubic(5.6), [ion, anion], [[0, 0, 0], [0.5, 0.5, 0.5]]
                ).get_primitive_structure()
                recipe = {"generator": self.name, "ion": ion, "anion": anion}
                record = make_record(structure, recipe, working_ion=ion)
                record.mark(STAGE, "ok")
                records.append(record)
        return records
'''

CARD = """\
name: soft-spheres
backend: soft-spheres
version: "0.1"
description: the toy pair potential of a third-party package
source: {kind: none}
license: BSD-3-Clause
training_data: none
energy_convention: toy
default_dtype: float64
supported_dtypes: [float64]
cutoff_angstrom: 6.0
citation: none
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    entry_points = {
        "screen.potentials": {"soft-spheres": "thirdparty:SoftSpheres"},
        "screen.generators": {"rock-salts": "thirdparty:RockSalts"},
    }
    monkeypatch.syspath_prepend(str(install(tmp_path, "thirdparty", PACKAGE, entry_points)))
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "soft-spheres.yaml").write_text(CARD)
    monkeypatch.setenv("BATSCREEN_MODELS_PATH", str(cards))
    clear_plugin_caches()
    yield
    monkeypatch.undo()
    clear_plugin_caches()


def test_a_third_party_potential_loads_by_its_card_and_conforms(package):
    from screen.potentials.registry import load_potential
    from screen.testing import check_potential
    from screen.workflow import catalog

    assert "soft-spheres" in catalog.model_card_names()
    potential = load_potential("soft-spheres")
    assert type(potential).__name__ == "SoftSpheres"
    assert potential.identity.name == "soft-spheres"
    check_potential(potential)


def test_a_third_party_generator_runs_from_the_workflow(package, tmp_path):
    from screen.workflow.load import load_workflow
    from tests.conftest import small_workflow, write_workflow

    data = small_workflow(**{"potential.name": "soft-spheres"})
    data["stages"]["generate"] = {"generators": ["rock-salts"]}
    workflow = load_workflow(write_workflow(tmp_path / "wf.yaml", data))
    records = screen.generate(workflow.chemical_space, workflow.stages.generate)
    assert sorted(r.formula for r in records) == ["Na2O2", "NaCl"]  # pymatgen reduces NaO
    assert {r.working_ion for r in records} == {"Na"}
    again = screen.generate(workflow.chemical_space, workflow.stages.generate)
    assert [r.id for r in again] == [r.id for r in records]  # ids are the recipes' hashes
