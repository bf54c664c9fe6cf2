"""Pareto fronts, uncertainty propagation and application profiles in the ranking."""

from __future__ import annotations

import math

import numpy as np
import pytest

from screen.ranking.pareto import first_front, front_probability, non_dominated_sort
from screen.ranking.profiles import ProfileError, merge_profile, profile_names, profile_ranking
from screen.ranking.score import constraint_probability, rank
from screen.records import record_from_structure
from screen.workflow.spec import RankParams


def _brute_fronts(costs: np.ndarray) -> list[int]:
    """Fronts by the definition, peeling one front at a time (slow, obviously right)."""
    left = set(range(len(costs)))
    fronts = [0] * len(costs)
    front = 0
    while left:
        front += 1
        current = {
            j
            for j in left
            if not any(
                all(costs[i] <= costs[j]) and any(costs[i] < costs[j]) for i in left if i != j
            )
        }
        for j in current:
            fronts[j] = front
        left -= current
    return fronts


def test_non_dominated_sort_small_by_hand():
    costs = np.array([[1, 5], [2, 2], [5, 1], [3, 3], [4, 4], [2, 2]], dtype=float)
    # (1,5), (2,2) twice and (5,1) are non-dominated (equal points do not dominate each other)
    assert non_dominated_sort(costs).tolist() == [1, 1, 1, 2, 3, 1]
    assert first_front(costs).tolist() == [True, True, True, False, False, True]


@pytest.mark.parametrize("seed", range(5))
def test_non_dominated_sort_matches_definition(seed):
    rng = np.random.default_rng(seed)
    costs = rng.integers(0, 6, size=(40, 3)).astype(float)  # many ties on purpose
    assert non_dominated_sort(costs).tolist() == _brute_fronts(costs)


def test_front_probability_exact_and_uncertain():
    rng = np.random.default_rng(0)
    costs = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.9, 0.9]])
    exact = front_probability(costs, np.zeros_like(costs), 100, rng)
    assert exact.tolist() == [1.0, 1.0, 1.0, 0.0]
    # give (0.9, 0.9) an error sigma = 0.4 in both objectives, x, y ~ N(0.9, 0.4); it is
    # non-dominated where (0.5, 0.5) does not dominate it (x < 0.5 or y < 0.5) and neither
    # do (0, 1) (x >= 0 and y >= 1) nor (1, 0). With F(a) = Phi((a - 0.9) / 0.4):
    # P = F(.5)^2 + 2 [F(.5)(1 - F(.5)) - (F(.5) - F(0))(1 - F(1))] = 0.1747
    sigmas = np.zeros_like(costs)
    sigmas[3] = 0.4
    p = front_probability(costs, sigmas, 8000, rng)
    assert np.all(p[:3] > 0.9)  # the moving point sometimes dominates one of them
    f = [0.5 * math.erfc(-(a - 0.9) / 0.4 / math.sqrt(2)) for a in (0.5, 0.0, 1.0)]
    expected = f[0] ** 2 + 2 * (f[0] * (1 - f[0]) - (f[0] - f[1]) * (1 - f[2]))
    assert expected == pytest.approx(0.1747, abs=1e-3)
    assert p[3] == pytest.approx(expected, abs=0.015)  # 8000 draws: 3 standard errors


def _record(nacl, i, **values):
    s = nacl.copy()
    s.scale_lattice(nacl.volume * (1 + 0.01 * i))
    r = record_from_structure(s)
    for name, value in values.items():
        if isinstance(value, tuple):
            r.set_property(name, value[0], unit="", method="t", uncertainty=value[1])
        else:
            r.set_property(name, value, unit="", method="t")
    return r


def test_rank_sets_fronts_probabilities_and_score_uncertainty(nacl):
    params = RankParams(
        objectives={
            "energy_above_hull_per_atom": {"direction": "minimize"},
            "specific_energy": {"direction": "maximize"},
        },
        constraints={"energy_above_hull_per_atom": {"max": 0.1}},
    )
    records = [
        _record(nacl, 0, energy_above_hull_per_atom=(0.00, 0.08), specific_energy=300.0),
        _record(nacl, 1, energy_above_hull_per_atom=(0.05, 0.08), specific_energy=500.0),
        _record(nacl, 2, energy_above_hull_per_atom=(0.06, 0.08), specific_energy=400.0),
        _record(nacl, 3, energy_above_hull_per_atom=(0.09, 0.08), specific_energy=450.0),
    ]
    out = {r.number("specific_energy"): r for r in rank(records, params)}
    fronts = {k: r.number("pareto_front") for k, r in out.items()}
    assert fronts == {300.0: 1, 500.0: 1, 400.0: 2, 450.0: 2}
    # the dominated points are within the error bars: a fair chance to be on the front
    assert 0 < out[400.0].number("pareto_probability") < 1
    assert out[500.0].number("pareto_probability") > out[400.0].number("pareto_probability")
    # P(Ehull <= 0.1) with sigma 0.08: Phi((0.1 - 0.09)/0.08) = 0.5497
    assert out[450.0].number("constraint_probability") == pytest.approx(0.5497, abs=1e-3)
    assert out[300.0].number("constraint_probability") == pytest.approx(0.8944, abs=1e-3)
    score = out[500.0].properties["rank_score"]
    assert score.uncertainty is not None and 0.05 < score.uncertainty < 0.5
    # the breakdown still sums to the point score
    assert sum(out[500.0].value("score_breakdown").values()) == pytest.approx(score.value)


def test_score_uncertainty_is_the_propagated_normal_error(nacl):
    """One uncertain objective among exact ones: std = weight share x sigma / span."""
    params = RankParams(
        objectives={
            "formation_energy_per_atom": {"direction": "minimize", "weight": 1.0},
            "specific_energy": {"direction": "maximize", "weight": 3.0},
        },
        uncertainty_samples=20000,
    )
    records = [
        _record(nacl, 0, formation_energy_per_atom=(-2.0, 0.1), specific_energy=100.0),
        _record(nacl, 1, formation_energy_per_atom=(-1.0, 0.1), specific_energy=200.0),
    ]
    for r in rank(records, params):
        assert r.properties["rank_score"].uncertainty == pytest.approx(0.25 * 0.1 / 1.0, rel=0.03)


def test_exact_values_give_exact_probabilities_and_no_score_uncertainty(nacl):
    records = [
        _record(nacl, i, formation_energy_per_atom=-1.0 - i, theoretical_capacity_gravimetric=c)
        for i, c in enumerate([100.0, 300.0, 200.0])
    ]
    out = rank(records, RankParams())
    assert {r.number("pareto_probability") for r in out} <= {0.0, 1.0}
    assert all(r.properties["rank_score"].uncertainty is None for r in out)
    assert all(r.number("constraint_probability") == 1.0 for r in out)


def test_order_by_pareto_puts_the_front_first(nacl):
    objectives = {
        "formation_energy_per_atom": {"direction": "minimize", "weight": 10.0},
        "theoretical_capacity_gravimetric": {"direction": "maximize", "weight": 0.1},
    }
    records = [
        _record(nacl, 0, formation_energy_per_atom=-2.00, theoretical_capacity_gravimetric=100.0),
        _record(nacl, 1, formation_energy_per_atom=-1.99, theoretical_capacity_gravimetric=90.0),
        _record(nacl, 2, formation_energy_per_atom=-1.00, theoretical_capacity_gravimetric=300.0),
    ]
    by_score = rank(records, RankParams(objectives=objectives))
    by_front = rank(records, RankParams(objectives=objectives, order_by="pareto"))

    def order(out):
        ranked = sorted(out, key=lambda r: r.number("rank"))
        return [r.number("theoretical_capacity_gravimetric") for r in ranked]

    assert order(by_score) == [100.0, 90.0, 300.0]  # Ef dominates the weights
    assert order(by_front) == [100.0, 300.0, 90.0]  # 90 is dominated by 100


def test_constraint_probability_two_sided(nacl):
    params = RankParams(constraints={"average_voltage": {"min": 2.0, "max": 4.0}})
    r = _record(nacl, 0, average_voltage=(3.0, 1.0))
    # Phi(1) - Phi(-1)
    assert constraint_probability(r, params) == pytest.approx(math.erf(1 / math.sqrt(2)), 1e-9)


# ------------------------------------------------------------------ profiles
def test_shipped_profiles_cover_every_role_with_rankable_properties():
    assert {"drones-aviation", "heavy-duty", "stationary"} <= set(profile_names())
    for name in profile_names():
        for role in ("cathode", "anode", "electrolyte"):
            params = RankParams.from_profile(name, role)  # validates the property names
            assert params.objectives and params.profile == name


def test_profile_merge_overrides_drops_and_is_idempotent():
    rank_section = {
        "profile": "heavy-duty",
        "objectives": {"element_cost": {"weight": 5.0, "direction": "minimize"}},
        "constraints": {"volume_change_abs": None},
        "drop": ["specific_energy"],
    }
    merged = merge_profile(rank_section, "cathode")
    assert merged["objectives"]["element_cost"]["weight"] == 5.0
    assert "specific_energy" not in merged["objectives"]
    assert "volume_change_abs" not in merged["constraints"]
    assert "energy_above_hull_per_atom" in merged["constraints"]
    params = RankParams.model_validate(merged)
    again = merge_profile(params.model_dump(mode="json"), "cathode")
    assert RankParams.model_validate(again) == params


def test_profile_errors_name_the_problem():
    with pytest.raises(ProfileError, match=r"unknown profile 'racing'.*stationary"):
        profile_ranking("racing", "cathode")
    with pytest.raises(ProfileError, match=r"no section for role 'separator'"):
        profile_ranking("stationary", "separator")


def test_workflow_profile_fills_in_objectives(tmp_path):
    import yaml

    from screen.workflow.load import WorkflowError, load_workflow
    from tests.conftest import small_workflow

    data = small_workflow()
    data["stages"]["rank"] = {"profile": "stationary", "top_n": 3}
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(data))
    wf = load_workflow(path)
    assert wf.stages.rank.objectives["element_cost"].weight == 2.0
    assert wf.stages.rank.top_n == 3
    data["stages"]["rank"] = {"profile": "racing"}
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(WorkflowError, match="racing"):
        load_workflow(path)


def _application_records(nacl):
    """Three cathodes, each best at what one application values most."""
    common = dict(
        energy_above_hull_per_atom=0.02,
        energy_above_hull_charged=0.05,
        critical_mass_fraction=0.0,
        average_voltage=3.2,
    )
    light = _record(  # energy-dense but pricey and concentrated supply, breathes 12 %
        nacl, 0, specific_energy=620.0, capacity_volumetric=900.0, element_cost=40.0,
        hhi_production=3500.0, volume_change_abs=12.0, **common,
    )  # fmt: skip
    cheap = _record(  # abundant and cheap, modest energy, 8 %
        nacl, 1, specific_energy=330.0, capacity_volumetric=500.0, element_cost=0.8,
        hhi_production=1100.0, volume_change_abs=8.0, **common,
    )  # fmt: skip
    stiff = _record(  # zero-strain-like, middling otherwise
        nacl, 2, specific_energy=420.0, capacity_volumetric=650.0, element_cost=6.0,
        hhi_production=2000.0, volume_change_abs=0.5, **common,
    )  # fmt: skip
    return {"light": light, "cheap": cheap, "stiff": stiff}


@pytest.mark.parametrize(
    ("profile", "winner"),
    [("drones-aviation", "light"), ("stationary", "cheap"), ("heavy-duty", "stiff")],
)
def test_changing_the_profile_in_the_workflow_moves_the_ranking(tmp_path, nacl, profile, winner):
    import yaml

    from screen.workflow.load import load_workflow
    from tests.conftest import small_workflow

    data = small_workflow()
    data["stages"]["rank"] = {"profile": profile}
    path = tmp_path / f"{profile}.yaml"
    path.write_text(yaml.safe_dump(data))
    params = load_workflow(path).stages.rank
    named = _application_records(nacl)
    by_id = {r.id: name for name, r in named.items()}
    out = sorted(rank(list(named.values()), params), key=lambda r: r.number("rank"))
    assert by_id[out[0].id] == winner
    assert f"profile {profile}" in out[0].properties["rank_score"].method


def test_unknown_profile_is_reported_with_the_other_problems(tmp_path):
    from screen.workflow.load import validate_workflow
    from tests.conftest import quickstart_data, write_workflow

    data = quickstart_data()
    data["stages"]["rank"]["profile"] = "racing"
    data["stages"]["relax"]["fmax"] = -1
    problems = validate_workflow(write_workflow(tmp_path / "w.yaml", data))
    by_key = {p.key: p for p in problems}
    assert set(by_key) == {"stages.rank.profile", "stages.relax.fmax"}, problems
    assert "drones-aviation" in by_key["stages.rank.profile"].message
