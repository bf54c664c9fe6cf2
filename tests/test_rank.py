"""The weighted score, by hand."""

from __future__ import annotations

import pytest

from screen.ranking.score import rank
from screen.records import record_from_structure
from screen.workflow.spec import RankParams


def _records(nacl, values):
    out = []
    for i, (ef, cap) in enumerate(values):
        s = nacl.copy()
        s.scale_lattice(nacl.volume * (1 + 0.01 * i))
        r = record_from_structure(s)
        r.set_property("formation_energy_per_atom", ef, unit="eV/atom", method="t")
        if cap is not None:
            r.set_property("theoretical_capacity_gravimetric", cap, unit="mAh/g", method="t")
        out.append(r)
    return out


def test_score_by_hand(nacl):
    records = _records(nacl, [(-2.0, 100.0), (-1.0, 200.0), (-1.5, 150.0)])
    out = rank(records, RankParams())
    by_ef = {r.number("formation_energy_per_atom"): r for r in out}
    # weights 1 (Ef, minimize) and 0.5 (capacity, maximize), normalised by 1.5
    assert by_ef[-2.0].number("rank_score") == pytest.approx((1 * 1 + 0.5 * 0) / 1.5)
    assert by_ef[-1.0].number("rank_score") == pytest.approx((1 * 0 + 0.5 * 1) / 1.5)
    assert by_ef[-1.5].number("rank_score") == pytest.approx((0.5 + 0.25) / 1.5)
    assert [
        r.number("formation_energy_per_atom") for r in sorted(out, key=lambda r: r.number("rank"))
    ] == [-2.0, -1.5, -1.0]
    breakdown = by_ef[-1.5].value("score_breakdown")
    assert sum(breakdown.values()) == pytest.approx(by_ef[-1.5].number("rank_score"))


def test_constraints_top_n_and_missing(nacl):
    records = _records(nacl, [(-2.0, 100.0), (0.2, 200.0), (-1.5, None), (-1.0, 90.0)])
    params = RankParams(constraints={"formation_energy_per_atom": {"max": 0.0}}, top_n=1)
    out = {r.number("formation_energy_per_atom"): r for r in rank(records, params)}
    assert out[0.2].status["rank"].reason == "constraint"
    assert "> 0.0 eV/atom" in out[0.2].status["rank"].detail
    assert out[-1.5].status["rank"].reason == "missing-property"
    assert out[-2.0].status["rank"].state == "ok" and out[-2.0].number("rank") == 1
    assert out[-1.0].status["rank"].reason == "below-top-n"
