"""Workflow files: every problem reported at once, with file, key path, given and allowed."""

from __future__ import annotations

import json

import pytest

from screen.workflow.load import WorkflowError, load_workflow, validate_workflow
from tests.conftest import QUICKSTART, REPO, quickstart_data, write_workflow


def problems_of(tmp_path, data=None, text=None):
    path = tmp_path / "wf.yaml"
    if text is not None:
        path.write_text(text)
    else:
        write_workflow(path, data)
    return validate_workflow(path)


def test_every_shipped_workflow_is_valid():
    for path in sorted((REPO / "workflows").glob("*.yaml")):
        assert validate_workflow(path) == [], path


def test_quickstart_resolves_defaults():
    wf = load_workflow(QUICKSTART)
    assert wf.stages.relax.fmax == 0.05
    assert wf.stages.prefilter.min_distance_angstrom == 0.9  # default filled in
    assert wf.potential.name == "chgnet-0.3.0"


def test_malformed_yaml_names_line_and_column(tmp_path):
    problems = problems_of(tmp_path, text="name: x\nchemical_space: [unclosed\n")
    assert len(problems) == 1
    assert "malformed YAML at line" in problems[0].message
    assert problems[0].file.endswith("wf.yaml")


def test_duplicate_key_is_refused(tmp_path):
    text = QUICKSTART.read_text() + "\nname: again\n"
    (problem,) = problems_of(tmp_path, text=text)
    assert "'name' appears twice" in problem.message


def test_empty_file(tmp_path):
    (problem,) = problems_of(tmp_path, text="")
    assert "must be a mapping" in problem.message


def test_missing_file(tmp_path):
    (problem,) = validate_workflow(tmp_path / "nope.yaml")
    assert problem.message == "file does not exist"


def test_all_problems_reported_at_once(tmp_path):
    data = quickstart_data()
    data["stages"]["relax"]["fmax"] = -1
    data["stages"]["relax"]["fmaxx"] = 0.1
    data["chemical_space"]["anions"] = ["O", "Xx"]
    data["potential"]["name"] = "mace-nonexistent"
    data["execution"]["workers"] = 0
    problems = problems_of(tmp_path, data)
    by_key = {p.key: p for p in problems}
    assert set(by_key) == {
        "stages.relax.fmax",
        "stages.relax.fmaxx",
        "chemical_space.anions.1",
        "potential.name",
        "execution.workers",
    }, problems
    assert by_key["stages.relax.fmax"].given == "-1"
    assert "greater than 0" in by_key["stages.relax.fmax"].message
    assert "unknown key" in by_key["stages.relax.fmaxx"].message
    assert "fmax" in by_key["stages.relax.fmaxx"].message  # lists the allowed keys
    assert "'Xx' is neither an element symbol" in by_key["chemical_space.anions.1"].message
    assert "chgnet-0.3.0" in by_key["potential.name"].message  # names registered models


def test_element_symbol_hint(tmp_path):
    data = quickstart_data()
    data["chemical_space"]["framework_cations"] = ["fe"]
    (problem,) = problems_of(tmp_path, data)
    assert "did you mean 'Fe'" in problem.message


def test_working_ion_must_be_an_allowed_one(tmp_path):
    data = quickstart_data()
    data["chemical_space"]["working_ions"] = ["Fe"]
    (problem,) = problems_of(tmp_path, data)
    assert problem.key == "chemical_space.working_ions"
    assert "allowed: Na, Mg, Zn, K, Ca, Al, Li" in problem.message


def test_strict_policy_refuses_critical_working_ion(tmp_path):
    data = quickstart_data()
    data["chemical_space"]["working_ions"] = ["Mg"]
    data["chemical_space"]["critical_policy"] = "strict"
    (problem,) = problems_of(tmp_path, data)
    assert "Mg is on critical list" in problem.message
    assert "working-ion-exempt" in problem.message
    data["chemical_space"]["critical_policy"] = "working-ion-exempt"
    assert problems_of(tmp_path, data) == []


def test_unknown_rank_objective_lists_rankable(tmp_path):
    data = quickstart_data()
    data["stages"]["rank"]["objectives"] = {"voltage": {"weight": 1, "direction": "maximize"}}
    (problem,) = problems_of(tmp_path, data)
    assert problem.key == "stages.rank.objectives"
    assert "formation_energy_per_atom" in problem.message


def test_unknown_key_inside_objective_mapping(tmp_path):
    data = quickstart_data()
    data["stages"]["rank"]["objectives"] = {
        "energy_above_hull_per_atom": {"direction": "minimize", "wieght": 2}
    }
    (problem,) = problems_of(tmp_path, data)
    assert problem.key == "stages.rank.objectives.energy_above_hull_per_atom.wieght"
    assert "allowed here: weight, direction" in problem.message


def test_unreadable_structure_file(tmp_path):
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a nonsense\n")
    data = quickstart_data()
    data["chemical_space"]["structures"] = ["broken.cif", "missing.cif", "notes.txt"]
    (tmp_path / "notes.txt").write_text("hello")
    problems = problems_of(tmp_path, data)
    text = "\n".join(map(str, problems))
    assert "broken.cif could not be read" in text
    assert "missing.cif does not exist" in text
    assert "notes.txt: unsupported format" in text


def test_readable_structure_file_is_resolved(tmp_path, nacl):
    nacl.to(filename=str(tmp_path / "nacl.cif"))
    data = quickstart_data()
    data["chemical_space"]["structures"] = ["nacl.cif"]
    wf = load_workflow(write_workflow(tmp_path / "wf.yaml", data))
    assert wf.chemical_space.structures == [(tmp_path / "nacl.cif").resolve()]


def test_error_message_lists_problems():
    with pytest.raises(WorkflowError) as info:
        load_workflow(REPO / "does-not-exist.yaml")
    assert "1 problem in workflow file" in str(info.value)


def test_committed_schema_is_current():
    from screen.workflow.schema import workflow_schema

    committed = json.loads((REPO / "docs" / "workflow.schema.json").read_text())
    assert committed == workflow_schema(), (
        "regenerate: batscreen schema -o docs/workflow.schema.json"
    )


def test_identity_ignores_execution(tmp_path):
    a = quickstart_data()
    b = quickstart_data()
    b["execution"]["workers"] = 1
    wa = load_workflow(write_workflow(tmp_path / "a.yaml", a))
    wb = load_workflow(write_workflow(tmp_path / "b.yaml", b))
    assert wa.identity() == wb.identity()


def test_polyanions_are_anions(tmp_path):
    data = quickstart_data()
    data["chemical_space"]["anions"] = ["O", "PO4", "XO4"]
    (problem,) = problems_of(tmp_path, data)
    assert problem.key == "chemical_space.anions.2"
    assert "neither an element symbol nor a known polyanion" in problem.message
    assert "PO4" in problem.message


def test_empty_space_is_rejected(tmp_path):
    data = quickstart_data()
    data["chemical_space"]["framework_cations"] = []
    (problem,) = problems_of(tmp_path, data)
    assert "generates no candidates" in problem.message
    assert "layered-o3-AMX2: nothing allowed on role(s) M" in problem.message


def test_space_without_matching_polyanions_is_empty(tmp_path):
    data = quickstart_data()
    data["chemical_space"]["prototypes"] = ["olivine-AMTO4"]
    data["chemical_space"]["anions"] = ["O"]  # olivine needs a tetrahedral polyanion
    data["stages"]["generate"] = {"generators": ["prototype-substitution"]}
    (problem,) = problems_of(tmp_path, data)
    assert "olivine-AMTO4: nothing allowed on role(s) T" in problem.message


def test_contradictory_space_is_rejected(tmp_path):
    data = quickstart_data()
    data["chemical_space"]["framework_cations"] = ["Co", "Ni", "Mn"]  # all critical
    data["chemical_space"]["critical_policy"] = "strict"
    (problem,) = problems_of(tmp_path, data)
    assert "is contradictory" in problem.message
    assert "excluded by critical_policy 'strict'" in problem.message
    data["chemical_space"]["critical_policy"] = "report-only"
    assert problems_of(tmp_path, data) == []


def test_unknown_generator_and_missing_mp_section(tmp_path):
    data = quickstart_data()
    data["stages"]["generate"] = {"generators": ["prototype-substitution", "dreams"]}
    (problem,) = problems_of(tmp_path, data)
    assert "unknown generator(s) dreams" in problem.message
    data["stages"]["generate"] = {"generators": ["materials-project"]}
    (problem,) = problems_of(tmp_path, data)
    assert "needs a materials_project section" in problem.message


def test_structure_folder_problems_name_each_file(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "bad.cif").write_text("data_x\n")
    data = quickstart_data()
    data["chemical_space"]["structures"] = ["mine"]
    (problem,) = problems_of(tmp_path, data)
    assert "bad.cif could not be read" in problem.message
    empty = tmp_path / "empty"
    empty.mkdir()
    data["chemical_space"]["structures"] = ["empty"]
    (problem,) = problems_of(tmp_path, data)
    assert "holds no structure files" in problem.message


def test_hull_mixing_conventions_is_refused_before_running(tmp_path):
    data = quickstart_data()
    data["potential"] = {"name": "mace-omat-0-medium"}
    data["stages"]["estimate"]["hull"] = {"references": "materials-project"}
    (problem,) = problems_of(tmp_path, data)
    assert "stages.estimate.hull.references" in problem.message
    assert "omat24" in problem.message and "self-consistent" in problem.message
    assert problem.given is None  # the whole file is not echoed
    data["potential"] = {"name": "mace-mp-0-medium"}  # raw VASP + MP2020: allowed
    assert problems_of(tmp_path, data) == []


def test_entries_file_is_relative_to_the_workflow(tmp_path):
    (tmp_path / "refs.json").write_text("[]")
    data = quickstart_data()
    data["stages"]["estimate"]["hull"] = {"references": "file", "entries_file": "refs.json"}
    assert problems_of(tmp_path, data) == []
    data["stages"]["estimate"]["hull"] = {"references": "file", "entries_file": "nope.json"}
    (problem,) = problems_of(tmp_path, data)
    assert problem.key == "stages.estimate.hull.entries_file" and "nope.json" in problem.message
