"""The paths that keep large campaigns fast and small give what the plain ones gave.

benchmarks/scale.py pushes 100,000 records through rank, deliver, report and status; the
changes it led to (draws in blocks, a one-sweep non-dominated sort, candidates.json
written one candidate at a time, results.parquet built in blocks, the report's top N)
must not change a campaign's results. Each is checked here against the plain way.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pytest

import screen.deliverables.export as export
import screen.ranking.score as score
from screen.deliverables.export import candidates_json, candidates_json_chunks, results_table
from screen.deliverables.report import report_html
from screen.ranking.pareto import non_dominated_sort
from screen.ranking.score import rank
from screen.workflow.params import DeliverParams
from screen.workflow.spec import RankParams
from tests.test_pareto import _brute_fronts
from tests.test_report import (
    OBJECTIVES,
    campaign_records,
    funnel_rows,
    provenance,
    ranked_record,
    top_rows,
)


def test_candidates_json_in_pieces_is_the_one_dump():
    records = campaign_records()
    records[0].provenance["empty"] = {"list": [], "dict": {}, "text": "a\nb"}
    payload = {
        "format": "batscreen-candidates",
        "version": 1,
        "potential": "chgnet-0.3.0",
        "candidates": [
            r.model_dump(mode="json")
            for r in sorted(
                (r for r in records if r.active and "rank" in r.properties),
                key=lambda r: r.number("rank"),
            )
        ],
    }
    expected = json.dumps(payload, indent=1, default=str)
    assert candidates_json(records, "chgnet-0.3.0") == expected
    assert len(list(candidates_json_chunks(records, "chgnet-0.3.0"))) == 2 + 4
    none = {**payload, "candidates": []}
    assert candidates_json([], "chgnet-0.3.0") == json.dumps(none, indent=1, default=str)


def test_results_table_in_blocks_is_the_one_table(monkeypatch):
    records = campaign_records()  # properties absent from some records
    records[0].set_property("mixed", 1, unit="", method="whole")
    records[-1].set_property("mixed", 2.5, unit="", method="fraction")
    whole = results_table(records)
    monkeypatch.setattr(export, "_TABLE_BLOCK", 2)
    blocks = results_table(records)
    assert blocks.schema == whole.schema
    assert blocks.schema.field("mixed").type == pa.float64()
    assert blocks.to_pylist() == whole.to_pylist()


def test_results_parquet_written_in_blocks_reads_as_the_one_table(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    records = campaign_records()
    records[0].set_property("mixed", 1, unit="", method="whole")
    records[-1].set_property("mixed", 2.5, unit="", method="fraction")
    export.write_results_parquet(tmp_path / "one.parquet", records)
    monkeypatch.setattr(export, "_TABLE_BLOCK", 2)
    export.write_results_parquet(tmp_path / "blocks.parquet", records)
    one, blocks = (pq.read_table(tmp_path / f"{n}.parquet") for n in ("one", "blocks"))
    assert pq.ParquetFile(tmp_path / "blocks.parquet").num_row_groups == 3
    assert blocks.schema == one.schema
    assert blocks.schema.field("mixed").metadata == {b"unit": b"", b"method": b"whole"}
    assert blocks.to_pylist() == one.to_pylist()


def test_score_draws_in_blocks_are_the_one_draw(monkeypatch):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(300, 4))
    sigmas = np.abs(rng.normal(size=values.shape)) * (rng.random(values.shape) < 0.5)
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    sign = np.array([1.0, -1.0, 1.0, -1.0])
    lo, hi = values.min(axis=0), values.max(axis=0)
    draw = np.random.default_rng(3)
    draws = values + sigmas * draw.standard_normal((512, *values.shape))
    expected = (weights * score._normalised(draws, lo, hi, sign)).sum(axis=2).std(axis=0)
    after = draw.random()
    for block in (10**9, 1000, 1):
        monkeypatch.setattr(score, "_DRAW_BLOCK", block)
        draw = np.random.default_rng(3)
        got = score._score_draws(values, sigmas, weights, lo, hi, sign, 512, draw).std(axis=0)
        assert np.array_equal(got, expected)
        assert draw.random() == after  # the front Monte Carlo gets the same numbers


@pytest.mark.parametrize("seed", range(4))
def test_non_dominated_sort_with_many_fronts_and_ties(seed):
    rng = np.random.default_rng(seed)
    costs = rng.integers(0, 12, size=(300, 2 + seed % 3)).astype(float)
    costs[:40] = costs[0]  # a block of equal candidates
    assert non_dominated_sort(costs).tolist() == _brute_fronts(costs)


def test_rank_leaves_its_input_unchanged():
    records = [ranked_record(*row) for row in (("Fe", 1, 0.0, 650.0, 0.8, 0.04, 1),)]
    records += [ranked_record("Cr", 2, 0.02, 700.0, 0.7, 0.05, 1)]
    for record in records:
        del record.properties["rank"], record.status["rank"]
    before = [r.model_dump() for r in records]
    params = RankParams(
        objectives={
            "energy_above_hull_per_atom": {"direction": "minimize"},
            "specific_energy": {"direction": "maximize"},
        }
    )
    out = rank(records, params)
    assert [r.model_dump() for r in records] == before
    assert all("rank" in r.properties and "rank" in r.status for r in out)


def _many_ranked(n: int) -> list:
    rows = []
    for i in range(n):
        record = ranked_record("Fe", i + 1, 0.001 * i, 700.0 - i, 1.0 - i / n, 0.01, 1 + i // 7)
        record.id = f"bs-{i:012d}"
        rows.append(record)
    return rows


def test_report_shows_the_top_n_of_many_candidates():
    records = _many_ranked(60)
    text = report_html(
        records, funnel_rows(), provenance(), objectives=OBJECTIVES, title="t", top_n=12
    )
    assert [rank for rank, _ in top_rows(text)] == list(range(1, 13))
    assert "The best 12 of 60 ranked candidates (every one is in candidates.csv)" in text
    assert "the other 48 are small dots" in text
    pareto = text[text.index('<section id="pareto">') :]
    assert "<image" in pareto[: pareto.index("</section>")]  # the 48 as one picture


def test_few_candidates_give_the_same_table_whatever_top_n():
    records = campaign_records()
    default = report_html(records, funnel_rows(), provenance(), objectives=OBJECTIVES, title="t")
    exact = report_html(
        records, funnel_rows(), provenance(), objectives=OBJECTIVES, title="t", top_n=4
    )

    def top(text: str) -> str:
        return re.sub(r"batscreen-\d+", "", text[: text.index('<section id="funnel">')])

    assert top(default) == top(exact)
    assert "The best" not in top(default)
    assert "<image" not in default


def test_report_size_does_not_grow_with_the_candidates():
    small = report_html(
        _many_ranked(50), funnel_rows(), provenance(), objectives=OBJECTIVES, title="t", top_n=20
    )
    large = report_html(
        _many_ranked(1500), funnel_rows(), provenance(), objectives=OBJECTIVES, title="t", top_n=20
    )
    assert len(large) < 1.5 * len(small) + 200_000


def test_report_top_n_is_a_deliver_setting():
    assert DeliverParams().report_top_n == 200
    with pytest.raises(ValueError):
        DeliverParams(report_top_n=0)
