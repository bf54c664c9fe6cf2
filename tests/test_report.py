"""report.html: a self-contained page of a finished campaign, built from fake records.

The records are made by hand (no potential, no campaign run), so these tests are fast.
The browser test opens the page in headless Chromium and skips when there is none.
"""

from __future__ import annotations

import html
import math
import random
import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from pymatgen.core import Lattice, Structure

from screen.deliverables import plots
from screen.deliverables.funnel import FunnelRow
from screen.deliverables.report import (
    arrhenius_data,
    fmt_number,
    fmt_pm,
    report_html,
    write_report,
)
from screen.records import Record, record_from_structure
from tests.browser import dump_dom, js_errors, script_finished

STAGES = ("generate", "prefilter", "relax", "estimate", "md", "rank")
OBJECTIVES = {"energy_above_hull_per_atom": "minimize", "specific_energy": "maximize"}
CITATION = "A. Author et al., Journal 1, 2 (2023), https://doi.org/10.0000/example"
EVIL = '<b>Na</b>$\\alpha^$&"O3'  # tags, quotes, ampersand and unbalanced mathtext

#: (cation, rank, E_hull eV/atom, specific energy Wh/kg, score, score std, front)
RANKED = (
    ("Fe", 1, 0.000, 650.0, 0.81234, 0.04567, 1),
    ("Cr", 2, 0.020, 700.0, 0.70000, 0.05000, 1),
    ("Zn", 3, 0.010, 300.0, 0.50000, 0.03000, 2),
    ("Ca", 4, 0.060, 250.0, 0.10000, 0.02000, 3),
)


def perovskite(cation: str) -> Structure:
    coords = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    return Structure(Lattice.cubic(3.9), ["Na", cation, "O", "O", "O"], coords)


def new_record(cation: str, prototype: str = "perovskite-AMX3") -> Record:
    recipe = {
        "generator": "prototype-substitution",
        "prototype": prototype,
        "substitution": {"A": "Na", "M": cation, "X": "O"},
    }
    return record_from_structure(perovskite(cation), recipe, working_ion="Na")


def ranked_record(cation, rank, ehull, energy, score, score_std, front) -> Record:
    record = new_record(cation)
    for stage in STAGES:
        record.mark(stage, "ok")
    record.set_property(
        "energy_above_hull_per_atom", ehull, unit="eV/atom", method="hull", uncertainty=0.079
    )
    record.set_property("specific_energy", energy, unit="Wh/kg", method="V x capacity")
    record.set_property("spacegroup_relaxed", "Pm-3m", unit="", method="spglib")
    record.set_property("rank", rank, unit="", method="order of rank_score")
    record.set_property("rank_score", score, unit="", method="score", uncertainty=score_std)
    record.set_property(
        "score_breakdown",
        {"energy_above_hull_per_atom": score / 2, "specific_energy": score / 2},
        unit="",
        method="contributions",
    )
    record.set_property("pareto_front", front, unit="", method="non-dominated sorting")
    record.set_property("pareto_probability", 0.9 if front == 1 else 0.1, unit="", method="MC")
    record.set_property("constraint_probability", 0.95, unit="", method="MC")
    record.set_property(
        "decomposition", ["NaO2: 0.5", f"{cation}O: 0.5"], unit="atom fraction", method="hull"
    )
    record.set_property(
        "precursor_suggestions",
        [f"suggestion: Na2CO3 + {cation}O -> Na{cation}O3 + CO2 (air)"],
        unit="",
        method="precursors.yaml",
    )
    record.set_property("confidence_flags", [f"flag-{cation}"], unit="", method="flags")
    return record


def add_md(record: Record) -> None:
    temps = {"600": 1.0e-7, "800": 1.5e-6, "1000": 8.0e-6, "1200": 2.5e-5}
    record.set_property("md_diffusivity", temps, unit="cm2/s", method="MD")
    record.set_property(
        "md_diffusivity_std", {k: v * 0.2 for k, v in temps.items()}, unit="cm2/s", method="MSD"
    )
    record.set_property("md_flags", ["600K:md-too-few-hops"], unit="", method="MD flags")
    record.set_property(
        "md_activation_energy", 0.42, unit="eV", method="Arrhenius fit", uncertainty=0.05
    )


def campaign_records() -> list[Record]:
    records = [ranked_record(*row) for row in RANKED]
    add_md(records[1])  # the rank-2 candidate has MD
    left = new_record("Co")  # left at the prefilter: in the funnel only
    left.mark("generate", "ok")
    left.mark("prefilter", "filtered", "critical-element", "Co")
    unstable = new_record("Sn")  # left at ranking, but has a hull distance to histogram
    for stage in STAGES[:-1]:
        unstable.mark(stage, "ok")
    unstable.mark("rank", "filtered", "constraint", "E_hull > 0.1")
    unstable.set_property("energy_above_hull_per_atom", 0.3, unit="eV/atom", method="hull")
    records += [left, unstable]
    random.Random(0).shuffle(records)  # the report must order by rank itself
    return records


def funnel_rows() -> list[FunnelRow]:
    return [
        FunnelRow("generate", 6, 6),
        FunnelRow("prefilter", 6, 5, Counter({("filtered", "critical-element"): 1})),
        FunnelRow("relax", 5, 5),
        FunnelRow("rank", 5, 4, Counter({("filtered", "constraint"): 1})),
    ]


def provenance() -> dict:
    return {
        "campaign": "unit-test",
        "potential": {
            "name": "chgnet-0.3.0",
            "version": "0.3.0",
            "sha256": "d14ab7c0f093efe64b60a7bcd540bca10e74fb7f46c86108a079af60524659d1",
            "citation": CITATION,
        },
        "runs": [
            {
                "host": "node-1",
                "device": "cuda",
                "gpu": "NVIDIA H100",
                "started_utc": "2026-01-02T03:04:05+00:00",
                "ended_utc": "2026-01-02T04:05:06+00:00",
                "status": "completed",
                "packages": {"pymatgen": "2026.1.1", "batscreen": "0.1.0"},
            }
        ],
        "workflow": {
            "name": "unit-test",
            "stages": {"rank": {"objectives": {"specific_energy": {"weight": 2.0}}}},
        },
    }


def build(records=None, **kwargs) -> str:
    options = {"objectives": OBJECTIVES, "title": "Unit-test campaign", **kwargs}
    return report_html(
        campaign_records() if records is None else records, funnel_rows(), provenance(), **options
    )


@pytest.fixture(scope="module")
def page() -> str:
    return build()


class Tags(HTMLParser):
    """Start tags with their (unescaped) attributes, in document order."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(text: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(text)
    return parser.tags


def top_table(text: str) -> str:
    table = text[text.index('id="top-candidates"') :]
    return table[: table.index("</table>")]


def top_rows(text: str) -> list[tuple[int, str]]:
    return [
        (int(a["data-rank"]), a["data-formula"])
        for tag, a in tags(top_table(text))
        if tag == "tr" and "data-rank" in a
    ]


def cards(text: str) -> list[str]:
    return re.findall(r'<article class="card".*?</article>', text, flags=re.DOTALL)


# --------------------------------------------------------------------------- tests


def test_top_table_lists_the_ranked_candidates_in_rank_order(page):
    expected = [(rank, f"Na{cation}O3") for cation, rank, *_ in RANKED]
    assert top_rows(page) == expected
    table = top_table(page)
    assert "0.812 ± 0.046" in table  # score ± std of rank 1
    assert "flag-Fe" in table and "perovskite-AMX3" in table
    assert "NaCoO3" not in table and "NaSnO3" not in table  # left the funnel


def test_page_has_every_section_in_order(page):
    anchors = ["top", "funnel", "pareto", "distributions", "cards", "provenance"]
    positions = [page.index(f'<section id="{a}">') for a in anchors]
    assert positions == sorted(positions)
    assert page.rstrip().endswith("</html>")
    assert 'document.body.dataset.ready = "1"' in page
    assert "critical-element (filtered): 1" in page  # funnel reason
    assert "specific_energy (maximize, weight 2)" in page  # what rank means
    assert "d14ab7c0f093" in page and "2026-01-02 04:05 UTC" in page  # potential, last run


def test_page_is_self_contained(page):
    refs = re.findall(r"""\b(?:src|href)\s*=\s*["']?\s*([^"'\s>]*)""", page, flags=re.I)
    assert refs, "the page links its own sections"
    assert not [r for r in refs if re.match(r"(?:[a-z]+:)?//", r, flags=re.I)]
    assert "<link" not in page and "@import" not in page and "url(http" not in page
    assert "<img" not in page  # figures are inline SVG
    assert html.escape(CITATION) in page  # a citation URL as plain text is fine
    assert page.count("<svg") >= 4  # funnel, Pareto, histograms, structures


def test_strings_from_files_are_escaped():
    records = campaign_records()
    top = next(r for r in records if r.value("rank") == 1)
    top.formula = EVIL
    top.provenance["recipe"]["prototype"] = "<img src=x onerror=alert(1)>"
    text = build(records, title="<script>alert('title')</script>")
    found = tags(text)
    assert [t for t, _ in found].count("script") == 1  # only the report's own script
    assert not any(t in ("img", "b") for t, _ in found)
    assert "<script>alert" not in text and "<b>Na</b>" not in text
    assert "&lt;script&gt;alert(&#x27;title&#x27;)&lt;/script&gt;" in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert top_rows(text)[0] == (1, EVIL)  # the attribute reads back as the raw string


def test_cards_are_limited_to_max_cards():
    text = build(max_cards=2)
    found = cards(text)
    assert len(found) == 2
    assert [re.search(r'data-rank="(\d+)"', c).group(1) for c in found] == ["1", "2"]
    assert len(top_rows(text)) == 4  # the table still lists every ranked candidate
    assert text.count('href="#card-') == 2
    assert "The best 2 of 4 ranked candidates" in text


def test_card_shows_numbers_with_units_methods_and_suggestions(page):
    first = cards(page)[0]
    assert "#1 NaFeO3" in first and "Pm-3m" in first
    assert 'title="V x capacity"' in first  # the method as a tooltip
    assert "0.000 ± 0.079" in first and "eV/atom" in first  # uncertainty and unit
    assert "suggestion, not validated" in first
    assert "suggestion: Na2CO3 + FeO -&gt; NaFeO3 + CO2 (air)" in first
    assert "Score breakdown" in first and "NaO2: 0.5" in first
    for element in ("Na", "Fe", "O"):  # the structure picture's legend
        assert f">{element}<" in first


def test_arrhenius_plot_only_for_the_record_with_md(page):
    with_plot = [c for c in cards(page) if 'class="arrhenius"' in c]
    assert len(with_plot) == 1
    assert "#2 NaCrO3" in with_plot[0]
    assert "Ea = 0.42 ± 0.05 eV" in with_plot[0]


def test_arrhenius_data_and_fitted_line():
    record = ranked_record(*RANKED[1])
    assert arrhenius_data(record) is None
    add_md(record)
    data = arrhenius_data(record)
    assert data.temperatures == [600.0, 800.0, 1000.0, 1200.0]
    assert data.flagged == [True, False, False, False]
    slope, _ = plots._fit_line(data)
    # log10 D against 1000/T: Ea = -slope * k_B * ln(10) * 1000
    assert -slope * plots.K_B * math.log(10) * 1000 == pytest.approx(0.42)


def test_pareto_plot_labels_the_top_three(page):
    pareto = page[page.index('<section id="pareto">') : page.index('<section id="distrib')]
    for label in ("#1 NaFeO3", "#2 NaCrO3", "#3 NaZnO3"):
        assert label in pareto
    assert "#4 NaCaO3" not in pareto
    assert "Pareto front 1 (2)" in pareto


def test_one_objective_gives_a_ranked_bar_chart():
    text = build(objectives={"specific_energy": "maximize"})
    assert "Ranking objective" in text and "Pareto front 1" not in text


def test_missing_pieces_do_not_break_the_page():
    text = report_html([], [], {}, objectives={}, title="empty")
    assert "no candidate passed every stage" in text
    assert top_rows(text) == []
    assert 'document.body.dataset.ready = "1"' in text


def test_write_report_is_atomic(tmp_path):
    path = write_report(
        tmp_path / "report.html",
        campaign_records(),
        funnel_rows(),
        provenance(),
        objectives=OBJECTIVES,
        title="t",
        max_cards=1,
    )
    assert path == tmp_path / "report.html"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert len(cards(path.read_text())) == 1


def test_number_formatting():
    assert fmt_pm(0.81234, 0.04567) == "0.812 ± 0.046"
    assert fmt_pm(771.38, None) == "771.4"
    assert fmt_pm(12.0, 3.0) == "12.0 ± 3.0"
    assert fmt_number(1.234567e-7) == "1.235e-07"
    assert fmt_number(3) == "3" and fmt_number(0.0) == "0"


def test_report_renders_in_headless_chromium(tmp_path, chromium):
    path = write_report(
        tmp_path / "report.html",
        campaign_records(),
        funnel_rows(),
        provenance(),
        objectives=OBJECTIVES,
        title="browser test",
    )
    result = dump_dom(chromium, path, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = result.stdout
    assert script_finished(dom), "the inline script did not finish"
    assert "NaFeO3" in dom and "0.812 ± 0.046" in dom
    assert not js_errors(result.stderr)

    # clicking a column header sorts the table (E_hull ascending: ranks 1, 3, 2, 4)
    clicked = tmp_path / "clicked.html"
    click = "<script>document.querySelectorAll('#top-candidates th')[4].click();</script>"
    clicked.write_text(path.read_text().replace("</body>", click + "</body>"))
    result = dump_dom(chromium, clicked, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [rank for rank, _ in top_rows(result.stdout)] == [1, 3, 2, 4]
    assert not js_errors(result.stderr)
