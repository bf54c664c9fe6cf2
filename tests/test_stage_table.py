"""The one table of stages drives the runner, SLURM, the Python API and the search."""

from __future__ import annotations

import typing

from screen.context import InProcessRunner, StageContext
from screen.records import record_from_structure
from screen.stage_table import PER_RECORD, STAGE_NAMES, STAGES, in_search, previous, run_stage
from screen.workflow.params import Stages


def test_the_table_and_the_workflow_sections_agree():
    assert tuple(Stages.model_fields) == STAGE_NAMES
    hints = typing.get_type_hints(Stages)
    for stage in STAGES:
        assert hints[stage.name] is stage.params, stage.name
    assert PER_RECORD == ("relax", "md")
    assert previous("relax").name == "prefilter" and previous("generate") is None


def test_the_slurm_chain_is_derived_from_the_table():
    from screen.hpc.submit import ARRAY_STEPS, KIND, LAST_STAGE, LOGIN_UNTIL, STEPS

    assert STEPS == ("relax", "estimate", "md", "finish")
    assert ARRAY_STEPS == PER_RECORD and LOGIN_UNTIL == "prefilter"
    assert LAST_STAGE == {"relax": "relax", "estimate": "estimate", "md": "md", "finish": "deliver"}
    assert KIND == {"relax": "relax", "estimate": "light", "md": "md", "finish": "light"}


def test_a_search_runs_the_stages_the_table_gives_it():
    assert [s.name for s in in_search("filter")] == ["prefilter"]
    assert [s.name for s in in_search("evaluate")] == ["relax", "estimate"]
    assert [s.name for s in in_search("finish")] == ["rank", "deliver"]


def test_run_stage_passes_records_that_left_through_in_order(lj, nacl):
    records = []
    for k in range(3):
        structure = nacl.copy()
        structure.scale_lattice(nacl.volume * (1 + 0.02 * k))
        records.append(record_from_structure(structure))
    records[1].mark("prefilter", "filtered", "charge-imbalance", "test")
    context = StageContext(stages=Stages(), potential=lj, runner=InProcessRunner(lj))
    relax = next(s for s in STAGES if s.name == "relax")
    out = run_stage(relax, records, context).records
    assert [r.id for r in out] == [r.id for r in records]
    assert out[1] is records[1] and "relax" not in out[1].status
    assert out[0].status["relax"].state == "ok" and out[2].relaxed_structure is not None
