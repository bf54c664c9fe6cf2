"""A campaign gives the same records, properties and deliverables as the recorded golden run.

The golden digests (tests/golden/digests/) were recorded with the code before a
restructuring; a change meant to keep behaviour must reproduce them. Regenerate with
``pytest tests/test_behaviour_kept.py --update-golden`` only for an intended change of
results, and say which in the commit.
"""

from __future__ import annotations

import screen
from screen.workflow.load import load_workflow
from tests.campaign_digest import compare_with_golden
from tests.conftest import small_workflow, write_workflow


def compare(root, name, request, rel):
    update = request.config.getoption("--update-golden")
    return compare_with_golden(root, name, update=update, rel=rel)


def test_toy_campaign_matches_its_golden_digest(tmp_path, lj, request):
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    data["stages"]["rank"]["constraints"] = {}
    workflow = load_workflow(write_workflow(tmp_path / "wf.yaml", data))
    result = screen.run(workflow, tmp_path / "camp", potential=lj)
    assert result.ranked()
    assert compare(result.root, "small-lj", request, rel=1e-9) == []


def test_toy_electrolyte_campaign_with_md_matches_its_golden_digest(tmp_path, lj, request):
    """Ion exchange, window, BVSE and the md stage on the toy potential."""
    data = small_workflow(**{"potential.name": "lennard-jones-toy"})
    space = data["chemical_space"]
    space.update(
        role="electrolyte",
        prototypes=["antiperovskite-A3XY", "perovskite-AMX3"],
        framework_cations=["Ca", "Zn"],
        anions=["O", "Cl", "Br"],
    )
    data["stages"]["generate"] = {
        "generators": ["prototype-substitution", "ion-exchange"],
        "ion_exchange": {"from_ions": ["Li", "K"], "sources": ["prototype-references"]},
    }
    data["stages"]["estimate"] = {
        "hull": {"references": "self-consistent", "polymorphs_per_formula": 1},
        "electrochemical_window": True,
    }
    data["stages"]["md"] = {
        "top_k": 2,
        "select_by": "bvse_barrier",
        "temperatures_K": [600, 900],
        "duration_ps": 0.3,
        "equilibration_ps": 0.03,
        "sample_interval_fs": 10,
        "min_cell_length_angstrom": 5.0,
    }
    data["stages"]["rank"] = {
        "objectives": {
            "energy_above_hull_per_atom": {"direction": "minimize"},
            "reduction_limit": {"direction": "minimize"},
            "bvse_barrier": {"direction": "minimize"},
        },
    }
    workflow = load_workflow(write_workflow(tmp_path / "wf.yaml", data))
    result = screen.run(workflow, tmp_path / "camp", potential=lj)
    assert result.ranked()
    assert any("md_diffusivity" in r.properties for r in result.records)
    assert any("reduction_limit" in r.properties for r in result.records)
    assert compare(result.root, "electrolytes-lj", request, rel=1e-9) == []
