"""report.html: one self-contained page about a finished screening campaign.

The page needs no network to be read: figures are inline SVG drawn with matplotlib
(:mod:`screen.deliverables.plots`), CSS and a few lines of JavaScript (sortable tables)
are inline, and nothing is loaded from elsewhere. Every string that comes from a file
(formulas, recipes, provenance) is HTML-escaped. Sections, in order:

1. header: title, campaign, potential, date of the last run, what "rank" means;
2. top candidates (``<table id="top-candidates">``, one ``<tr data-rank data-formula>`` per
   ranked candidate, best first, the best ``top_n`` of them; click a column header to
   sort; every ranked candidate is in candidates.csv);
3. funnel: records entering and passing each stage, and why they left;
4. Pareto front of the first two objectives (a bar chart with one objective); beyond the
   best ``top_n``, the other ranked candidates are small dots drawn as one image;
5. distributions of the objectives (and hull distance, BVSE barrier) over all records;
6. a card per top candidate: structure, key numbers with units, uncertainties and methods,
   score breakdown, decomposition, precursor suggestions, flags, Arrhenius plot;
7. provenance: potential, package versions, runs, the resolved workflow.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from screen.deliverables import plots
from screen.deliverables.funnel import FunnelRow
from screen.deliverables.table import change_label, ranked, recipe_label
from screen.properties import card_properties, definitions, histogram_properties
from screen.records import Property, Record
from screen.store.atomic import atomic_write_text

DIRECTION_ARROW = {"minimize": "↓", "maximize": "↑"}


# --------------------------------------------------------------------------- formatting


def esc(value: Any) -> str:
    """HTML-escaped text (quotes too, so it is safe in attributes)."""
    return html.escape(str(value), quote=True)


def _finite(value: Any) -> float | None:
    """A finite float from a numeric value, else None (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _sci(x: float) -> bool:
    return x != 0 and not 1e-3 <= abs(x) < 1e5


def fmt_number(x: float, digits: int = 4) -> str:
    """About ``digits`` significant digits; scientific notation for very small/large."""
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    if not math.isfinite(x):
        return str(x)
    if x == 0:
        return "0"
    if _sci(x):
        return f"{x:.{digits - 1}e}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}"


def fmt_pm(x: float, uncertainty: float | None) -> str:
    """``x ± u`` with u to two significant digits and x to the same decimals."""
    if uncertainty is None or not math.isfinite(uncertainty) or uncertainty <= 0:
        return fmt_number(x)
    if not math.isfinite(x) or _sci(x) or _sci(uncertainty):
        return f"{fmt_number(x)} ± {uncertainty:.2g}"
    decimals = min(8, max(0, 1 - math.floor(math.log10(uncertainty))))
    return f"{x:.{decimals}f} ± {uncertainty:.{decimals}f}"


def _item_text(value: Any) -> str:
    number = _finite(value)
    return str(value) if number is None else fmt_number(number)


def value_text(prop: Property | None) -> str:
    """A property's value as plain text (not escaped), with its uncertainty if known."""
    if prop is None or prop.value is None:
        return "–"
    value = prop.value
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return fmt_pm(value, prop.uncertainty)
    if isinstance(value, list):
        return ", ".join(_item_text(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_item_text(v)}" for k, v in value.items())
    return str(value)


def display(name: str, prop: Property | None) -> str:
    """How the report shows a property: scores to 3 decimals, probabilities to 2."""
    number = _finite(prop.value) if prop is not None else None
    if prop is None or number is None or isinstance(prop.value, int):
        return value_text(prop)
    if name == "rank_score":
        return fmt_pm(number, prop.uncertainty) if prop.uncertainty else f"{number:.3f}"
    if name.endswith("_probability"):
        return f"{number:.2f}"
    return value_text(prop)


def unit_of(name: str, records: Sequence[Record] = ()) -> str:
    """A property's unit as the records state it, else as the property table does."""
    for record in records:
        prop = record.properties.get(name)
        if prop is not None and prop.unit:
            return prop.unit
    known = definitions()
    return known[name].unit if name in known else ""


def _description(name: str) -> str:
    known = definitions()
    return known[name].description if name in known else name


def _sort_key(prop: Property | None) -> str:
    """``data-sort`` of a table cell: the raw number, or the text."""
    if prop is None:
        return ""
    number = _finite(prop.value)
    return repr(number) if number is not None else value_text(prop)


def _td(text: str, sort: str | None = None, cls: str = "", title: str = "") -> str:
    attrs = "" if sort is None else f' data-sort="{esc(sort)}"'
    attrs += f' class="{cls}"' if cls else ""
    attrs += f' title="{esc(title)}"' if title else ""
    return f"<td{attrs}>{esc(text)}</td>"


def _flags(record: Record) -> list[str]:
    """The confidence flags of the rank stage, else those the stages left on the record."""
    value = record.value("confidence_flags")
    if value is None:
        from screen.deliverables.confidence import confidence_flags

        return confidence_flags(record)[0]
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)] if value else []


def _chips(items: Sequence[str], cls: str = "flag") -> str:
    return " ".join(f'<span class="{cls}">{esc(item)}</span>' for item in items)


def _when(stamp: Any) -> str:
    """An ISO time stamp as 'YYYY-MM-DD HH:MM UTC' (the raw text if it does not parse)."""
    if not stamp:
        return "–"
    try:
        when = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if when.tzinfo is None:
        return when.strftime("%Y-%m-%d %H:%M")
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _recipe_json(recipe: Any, limit: int = 600) -> str:
    """The recipe as JSON for a tooltip, cut at ``limit`` characters."""
    text = json.dumps(recipe, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _get(data: Any, *keys: str) -> Any:
    """data[k1][k2]... or None when a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _mapping(data: Any, key: str) -> dict[str, Any]:
    """data[key] when it is a mapping, else an empty one."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, dict) else {}


def _items(data: Any, key: str) -> list[Any]:
    """data[key] when it is a list, else an empty one."""
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


# --------------------------------------------------------------------------- header


def _rank_params(provenance: dict[str, Any]) -> dict[str, Any]:
    return _mapping(_get(provenance, "workflow", "stages"), "rank")


def _rank_meaning(objectives: dict[str, str], provenance: dict[str, Any]) -> str:
    params = _rank_params(provenance)
    weights = _mapping(params, "objectives")
    parts = []
    for name, direction in objectives.items():
        weight = _get(weights, name, "weight")
        text = f"{name} ({direction}"
        text += f", weight {weight:g})" if _finite(weight) is not None else ")"
        parts.append(text)
    order = params.get("order_by") or "score"
    how = (
        "Pareto front first, then weighted score"
        if order == "pareto"
        else "weighted score of min-max normalised objectives (1 = best on every objective)"
    )
    line = f"Rank 1 = best by {how}; objectives: {'; '.join(parts) or 'none'}."
    if params.get("profile"):
        line += f" Application profile: {params['profile']}."
    constraints = params.get("constraints")
    if isinstance(constraints, dict) and constraints:
        bounds = []
        for name, bound in constraints.items():
            if isinstance(bound, dict):
                if _finite(bound.get("min")) is not None:
                    bounds.append(f"{name} ≥ {bound['min']:g}")
                if _finite(bound.get("max")) is not None:
                    bounds.append(f"{name} ≤ {bound['max']:g}")
        if bounds:
            line += f" Constraints: {', '.join(bounds)}."
    return line


def _header(
    title: str,
    provenance: dict[str, Any],
    objectives: dict[str, str],
    records: list[Record],
    candidates: list[Record],
) -> str:
    potential = _mapping(provenance, "potential")
    sha = str(potential.get("sha256") or "")
    pot = str(potential.get("name") or "unknown potential")
    pot += f" (checkpoint sha256 {sha[:12]}…)" if sha else ""
    runs = _items(provenance, "runs")
    last = runs[-1] if runs and isinstance(runs[-1], dict) else {}
    campaign = provenance.get("campaign") or _get(provenance, "workflow", "name") or "–"
    facts = [
        ("Campaign", campaign),
        ("Potential", pot),
        ("Last run", _when(last.get("ended_utc") or last.get("started_utc"))),
        ("Records", f"{len(records)} screened, {len(candidates)} ranked"),
    ]
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    return (
        f'<header><h1>{esc(title)}</h1><dl class="facts">{items}</dl>'
        f'<p class="rank-meaning">{esc(_rank_meaning(objectives, provenance))}</p></header>'
    )


def _nav() -> str:
    links = [
        ("top", "Top candidates"),
        ("funnel", "Funnel"),
        ("pareto", "Pareto front"),
        ("distributions", "Distributions"),
        ("cards", "Candidates"),
        ("provenance", "Provenance"),
    ]
    return "<nav>" + " · ".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in links) + "</nav>"


# --------------------------------------------------------------------------- top table


def _top_table(candidates: list[Record], objectives: dict[str, str], carded: set[str]) -> str:
    head = ["rank", "formula", "origin", "score"]
    head += [
        f"{name} {DIRECTION_ARROW.get(d, '')}"
        + (f" [{unit}]" if (unit := unit_of(name, candidates)) else "")
        for name, d in objectives.items()
    ]
    head += ["Pareto front", "P(front)", "P(constraints)", "flags"]
    ths = "".join(f'<th title="click to sort">{esc(h)}</th>' for h in head)
    rows = [_top_row(record, objectives, record.id in carded) for record in candidates]
    if not rows:
        rows = [f'<tr><td colspan="{len(head)}">no candidate passed every stage</td></tr>']
    return (
        '<table id="top-candidates" class="sortable">'
        f"<thead><tr>{ths}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _top_row(record: Record, objectives: dict[str, str], has_card: bool) -> str:
    rank = int(record.number("rank"))
    recipe = record.provenance.get("recipe") or {}
    origin = recipe_label(recipe)
    change = change_label(recipe)
    name = (
        f'<a href="#card-{esc(record.id)}">{esc(record.formula)}</a>'
        if has_card
        else esc(record.formula)
    )
    cells = [
        _td(str(rank), sort=str(rank)),
        f'<td data-sort="{esc(record.formula)}">{name}<br>'
        f'<small class="id">{esc(record.id)}</small></td>',
        _td(f"{origin} {change}".strip(), title=_recipe_json(recipe)),
    ]
    names = ["rank_score", *objectives, "pareto_front", "pareto_probability"]
    for prop_name in [*names, "constraint_probability"]:
        prop = record.properties.get(prop_name)
        cls = "num score" if prop_name == "rank_score" else "num"
        title = prop.method if prop else ""
        cells.append(_td(display(prop_name, prop), sort=_sort_key(prop), cls=cls, title=title))
    flags = _flags(record)
    cells.append(f'<td data-sort="{len(flags)}">{_chips(flags)}</td>')
    return f'<tr data-rank="{rank}" data-formula="{esc(record.formula)}">{"".join(cells)}</tr>'


# --------------------------------------------------------------------------- funnel


def _reasons(row: FunnelRow) -> str:
    items = sorted(row.left.items(), key=lambda item: (-item[1], item[0]))
    return "; ".join(f"{reason} ({state}): {n}" for (state, reason), n in items) or "–"


def _funnel_section(rows: Sequence[FunnelRow]) -> str:
    body = "".join(
        f"<tr><td>{esc(row.stage)}</td><td class='num'>{row.entered}</td>"
        f"<td class='num'>{row.passed}</td><td class='num'>{row.entered - row.passed}</td>"
        f"<td>{esc(_reasons(row))}</td></tr>"
        for row in rows
    )
    table = (
        '<table id="funnel-table"><thead><tr><th>stage</th><th>entered</th><th>passed</th>'
        f"<th>left</th><th>reasons for leaving (state): count</th></tr></thead><tbody>{body}"
        "</tbody></table>"
    )
    chart = f'<figure class="plot">{plots.funnel_chart(rows)}</figure>' if rows else ""
    return _section("funnel", "Funnel", table + chart)


def _section(anchor: str, heading: str, content: str, intro: str = "") -> str:
    intro_html = f'<p class="intro">{esc(intro)}</p>' if intro else ""
    return f'<section id="{anchor}"><h2>{esc(heading)}</h2>{intro_html}{content}</section>'


# --------------------------------------------------------------------------- Pareto


def _axis_label(name: str, direction: str, records: Sequence[Record]) -> str:
    unit = unit_of(name, records)
    better = "lower" if direction == "minimize" else "higher"
    return f"{name}" + (f" ({unit})" if unit else "") + f", {better} is better"


def _point(record: Record, x: str, y: str) -> plots.Point | None:
    xv, yv = _finite(record.value(x)), _finite(record.value(y))
    if xv is None or yv is None:
        return None
    front = _finite(record.value("pareto_front"))
    return plots.Point(
        label=record.formula,
        rank=int(record.number("rank")),
        x=xv,
        y=yv,
        x_err=record.properties[x].uncertainty,
        y_err=record.properties[y].uncertainty,
        front=int(front) if front is not None else None,
    )


def _pareto_section(candidates: list[Record], objectives: dict[str, str], top_n: int) -> str:
    names = list(objectives)
    if not candidates or not names:
        return _section("pareto", "Pareto front", "<p>no ranked candidates to plot</p>")
    if len(names) == 1:
        return _ranked_bars_section(candidates, names[0], objectives[names[0]], top_n)
    x, y = names[:2]
    points = [p for r in candidates if (p := _point(r, x, y)) is not None]
    if not points:
        return _section(
            "pareto", "Pareto front", f"<p>no candidate has both {esc(x)} and {esc(y)}</p>"
        )
    shown, rest = points[:top_n], points[top_n:]  # candidates come best first
    if rest:
        intro = (
            f"The best {len(shown)} of {len(points)} ranked candidates on the first two "
            "objectives, error bars one standard uncertainty; front-1 points (non-dominated) "
            f"highlighted and connected, the top three labelled; the other {len(rest)} are "
            "small dots (front 1 in orange)."
        )
    else:
        intro = (
            f"All {len(points)} ranked candidates on the first two objectives, error bars one "
            "standard uncertainty; front-1 points (non-dominated) highlighted and connected, "
            "the top three labelled."
        )
    if len(names) > 2:
        intro += f" The fronts are computed over all {len(names)} objectives ({', '.join(names)})."
    svg = plots.pareto_plot(
        shown,
        _axis_label(x, objectives[x], candidates),
        _axis_label(y, objectives[y], candidates),
        background=rest,
    )
    return _section("pareto", "Pareto front", f'<figure class="plot">{svg}</figure>', intro)


def _ranked_bars_section(candidates: list[Record], name: str, direction: str, top_n: int) -> str:
    have = [r for r in candidates if _finite(r.value(name)) is not None]
    if not have:
        return _section("pareto", "Ranking objective", f"<p>no candidate has {esc(name)}</p>")
    total, have = len(have), have[:top_n]
    svg = plots.ranked_bars(
        [f"#{int(r.number('rank'))} {r.formula}" for r in have],
        [r.number(name) for r in have],
        [r.properties[name].uncertainty for r in have],
        _axis_label(name, direction, candidates),
    )
    intro = f"One ranking objective ({name}): the ranked candidates, best at the top."
    if total > len(have):
        intro = f"One ranking objective ({name}): the best {len(have)} of {total} ranked "
        intro += "candidates, best at the top."
    return _section("pareto", "Ranking objective", f'<figure class="plot">{svg}</figure>', intro)


# --------------------------------------------------------------------------- distributions


def _distributions_section(
    records: list[Record], candidates: list[Record], objectives: dict[str, str]
) -> str:
    ranked_ids = {r.id for r in candidates}
    names = list(dict.fromkeys([*objectives, *histogram_properties()]))
    dists = []
    for name in names:
        values = [(r.id, v) for r in records if (v := _finite(r.value(name))) is not None]
        if values:
            dists.append(
                plots.Distribution(
                    name=name,
                    unit=unit_of(name, records),
                    values=[v for _, v in values],
                    ranked=[v for rid, v in values if rid in ranked_ids],
                )
            )
    if not dists:
        return _section("distributions", "Property distributions", "<p>no values to show</p>")
    intro = (
        "Every record with a value (also those that left the funnel later), the ranked "
        "candidates highlighted."
    )
    svg = plots.histograms(dists)
    return _section(
        "distributions", "Property distributions", f'<figure class="plot">{svg}</figure>', intro
    )


# --------------------------------------------------------------------------- cards


def _key_numbers(record: Record, objectives: dict[str, str]) -> str:
    names = [n for n in dict.fromkeys([*objectives, *card_properties()]) if n in record.properties]
    rows = []
    for name in names:
        prop = record.properties[name]
        unit = prop.unit or unit_of(name)
        mark = f" {DIRECTION_ARROW.get(objectives[name], '')}" if name in objectives else ""
        rows.append(
            f'<tr><th title="{esc(_description(name))}">{esc(name + mark)}</th>'
            f'<td class="num" title="{esc(prop.method)}">{esc(display(name, prop))}</td>'
            f"<td>{esc(unit)}</td></tr>"
        )
    return f'<table class="numbers">{"".join(rows)}</table>'


def _breakdown_bars(record: Record) -> str:
    breakdown = record.value("score_breakdown")
    if not isinstance(breakdown, dict) or not breakdown:
        return ""
    rows = []
    for name, contribution in breakdown.items():
        number = _finite(contribution)
        width = 0.0 if number is None else max(0.0, min(1.0, number)) * 100
        text = contribution if number is None else f"{number:.3f}"
        rows.append(
            f'<div class="bar-row"><span class="bar-label">{esc(name)}</span>'
            f'<span class="bar"><span style="width:{width:.1f}%"></span></span>'
            f'<span class="bar-value">{esc(text)}</span></div>'
        )
    return f'<h4>Score breakdown</h4><div class="bars">{"".join(rows)}</div>'


def _text_list(record: Record, name: str) -> list[str]:
    value = record.value(name)
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [f"{k}: {v}" for k, v in value.items()]
    return [str(value)] if value not in (None, "") else []


def _list_block(heading: str, items: Sequence[str], cls: str = "") -> str:
    if not items:
        return ""
    lis = "".join(f"<li>{esc(item)}</li>" for item in items)
    return f'<h4>{esc(heading)}</h4><ul class="{cls}">{lis}</ul>'


def _temperature(key: Any) -> float | None:
    try:
        t = float(str(key).rstrip("Kk"))
    except ValueError:
        return None
    return t if math.isfinite(t) and t > 0 else None


def _flagged_temperatures(record: Record) -> set[float]:
    """Temperatures the MD stage flagged (flags like '800K:md-too-few-hops')."""
    value = record.value("md_flags")
    out: set[float] = set()
    if isinstance(value, dict):
        out = {t for key, flags in value.items() if flags and (t := _temperature(key))}
    elif isinstance(value, list):
        for flag in value:
            match = re.match(r"\s*(\d+(?:\.\d+)?)\s*K\s*:", str(flag))
            if match:
                out.add(float(match.group(1)))
    return out


def arrhenius_data(record: Record) -> plots.ArrheniusData | None:
    """The MD diffusivities of a record, or None when it has none."""
    diffusivity = record.value("md_diffusivity")
    if not isinstance(diffusivity, dict):
        return None
    std = record.value("md_diffusivity_std")
    std = std if isinstance(std, dict) else {}
    flagged = _flagged_temperatures(record)
    points = []
    for key, d in diffusivity.items():
        t, dv = _temperature(key), _finite(d)
        if t is not None and dv is not None and dv > 0:
            points.append((t, dv, _finite(std.get(key)), t in flagged))
    if not points:
        return None
    points.sort()
    ea = record.properties.get("md_activation_energy")
    return plots.ArrheniusData(
        temperatures=[p[0] for p in points],
        diffusivities=[p[1] for p in points],
        stds=[p[2] for p in points],
        flagged=[p[3] for p in points],
        activation_energy=_finite(ea.value) if ea else None,
        activation_energy_std=ea.uncertainty if ea else None,
        diffusivity_300K=_finite(record.value("diffusivity_300K")),
    )


def profile_data(record: Record) -> plots.ProfileData | None:
    """The voltage profile of a record (electrode estimator's provenance), or None."""
    profile = record.provenance.get("voltage_profile")
    if not isinstance(profile, dict) or not profile.get("steps"):
        return None
    steps = []
    for step in profile["steps"]:
        x0, x1, v = (_finite(step.get(k)) for k in ("x_charged", "x_discharged", "voltage_v"))
        if x0 is None or x1 is None or v is None:
            return None
        steps.append((x0, x1, v))
    return plots.ProfileData(
        steps=steps,
        framework=str(profile.get("framework", "host")),
        ion=str(profile.get("working_ion", "")),
        unit=str(profile.get("unit", "V")),
        average_voltage=_finite(record.value("average_voltage")),
        uncertainty=_finite(profile.get("uncertainty_v")),
    )


def _structure_svg(record: Record) -> str:
    try:
        structure = record.current_structure()
    except Exception as exc:  # a structure that does not parse must not sink the report
        return f'<p class="muted">structure not available: {esc(exc)}</p>'
    return plots.structure_picture(structure)


def _recipe_text(record: Record) -> str:
    recipe = record.provenance.get("recipe") or {}
    parts = [recipe_label(recipe), change_label(recipe)]
    if recipe.get("generator"):
        parts.append(f"({recipe['generator']})")
    ion = record.working_ion
    if ion:
        parts.append(f"working ion {ion}")
    return " ".join(p for p in parts if p) or "–"


def _card(record: Record, objectives: dict[str, str]) -> str:
    rank = int(record.number("rank"))
    spacegroup = record.value("spacegroup_relaxed") or record.value("spacegroup_initial") or "–"
    recipe = record.provenance.get("recipe") or {}
    meta = (
        f'<p class="meta">rank {rank} · <span class="id">{esc(record.id)}</span> · '
        f"space group {esc(spacegroup)} · recipe: "
        f'<span title="{esc(_recipe_json(recipe))}">'
        f"{esc(_recipe_text(record))}</span></p>"
    )
    arrhenius = arrhenius_data(record)
    figure = f'<figure class="structure">{_structure_svg(record)}</figure>'
    profile = profile_data(record)
    if profile is not None:
        figure += (
            '<figure class="profile"><figcaption>Voltage profile</figcaption>'
            f"{plots.voltage_profile_plot(profile)}</figure>"
        )
    if arrhenius is not None:
        figure += (
            '<figure class="arrhenius"><figcaption>Arrhenius plot (MD)</figcaption>'
            f"{plots.arrhenius_plot(arrhenius)}</figure>"
        )
    details = (
        _key_numbers(record, objectives)
        + _breakdown_bars(record)
        + _list_block(
            "Decomposition (hull phases at the composition)", _text_list(record, "decomposition")
        )
        + _list_block(
            "Precursor routes (suggestion, not validated)",
            _text_list(record, "precursor_suggestions"),
            "suggestions",
        )
    )
    flags = _flags(record)
    if flags:
        details += f"<h4>Confidence flags</h4><p>{_chips(flags)}</p>"
    return (
        f'<article class="card" id="card-{esc(record.id)}" data-rank="{rank}">'
        f"<h3>#{rank} {esc(record.formula)}</h3>{meta}"
        f'<div class="card-body"><div class="figures">{figure}</div>'
        f'<div class="details">{details}</div></div></article>'
    )


def _cards_section(cards: list[Record], objectives: dict[str, str], total: int) -> str:
    if not cards:
        return _section("cards", "Candidates", "<p>no ranked candidates</p>")
    intro = (
        f"The best {len(cards)} of {total} ranked candidates. Hover a number for the method "
        "that produced it, a property name for its meaning."
    )
    return _section("cards", "Candidates", "".join(_card(r, objectives) for r in cards), intro)


# --------------------------------------------------------------------------- provenance


def _kv_table(items: Sequence[tuple[str, Any]], cls: str = "kv") -> str:
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc('–' if v is None else v)}</td></tr>" for k, v in items
    )
    return f'<table class="{cls}">{rows}</table>'


def _runs_table(runs: list[Any]) -> str:
    rows = []
    for i, run in enumerate(runs, 1):
        if not isinstance(run, dict):
            continue
        device = str(run.get("device") or "–") + (f" ({run['gpu']})" if run.get("gpu") else "")
        stages = ", ".join(map(str, run.get("stages_run") or [])) or "–"
        rows.append(
            f"<tr><td class='num'>{i}</td><td>{esc(run.get('host') or '–')}</td>"
            f"<td>{esc(device)}</td><td>{esc(_when(run.get('started_utc')))}</td>"
            f"<td>{esc(_when(run.get('ended_utc')))}</td><td>{esc(run.get('status') or '–')}</td>"
            f"<td>{esc(stages)}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>" for h in ("#", "host", "device", "start", "end", "status", "stages run")
    )
    return f'<table id="runs"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _provenance_section(provenance: dict[str, Any]) -> str:
    potential = _mapping(provenance, "potential")
    keys = (
        "name",
        "version",
        "sha256",
        "backend",
        "dtype",
        "energy_convention",
        "license",
        "citation",
    )
    pot_items = [(k, potential.get(k)) for k in keys if k in potential]
    runs = _items(provenance, "runs")
    packages = _mapping(provenance, "packages")
    for run in reversed(runs):  # the packages of the last run that recorded them
        packages = packages or _mapping(run, "packages")
    workflow = provenance.get("workflow")
    content = (
        "<h3>Potential</h3>"
        + (_kv_table(pot_items) if pot_items else "<p>not recorded</p>")
        + "<h3>Package versions</h3>"
        + (_kv_table(sorted(packages.items())) if packages else "<p>not recorded</p>")
        + "<h3>Runs</h3>"
        + (_runs_table(runs) if runs else "<p>not recorded</p>")
    )
    if workflow is not None:
        text = json.dumps(workflow, indent=2, sort_keys=False, default=str)
        content += (
            f"<details><summary>Workflow (resolved)</summary><pre>{esc(text)}</pre></details>"
        )
    return _section("provenance", "Provenance", content)


# --------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:0 auto;max-width:1200px;padding:0 1.2em 3em;color:#1d2430;line-height:1.4}
header{border-bottom:2px solid #d95f02;margin-bottom:.6em}
h1{font-size:1.6em;margin:.8em 0 .3em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}
h3{margin:.4em 0}h4{margin:.8em 0 .2em;font-size:.95em}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.1em 1em;margin:.3em 0}
dl.facts dt{font-weight:600}dl.facts dd{margin:0}
.rank-meaning,.intro{color:#444;font-size:.92em}nav{margin:.6em 0;font-size:.92em}
table{border-collapse:collapse;font-size:.88em;margin:.4em 0}
th,td{border-bottom:1px solid #e3e6ea;padding:.25em .5em;text-align:left;vertical-align:top}
thead th{background:#f3f5f8;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.sortable thead th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}
table.sortable th[aria-sort=descending]::after{content:" ▼"}
#top-candidates tbody tr:hover{background:#fff4ea}
small.id,span.id{color:#777;white-space:nowrap;font-family:ui-monospace,monospace;font-size:.85em}
.flag{display:inline-block;background:#fdecea;color:#8a1c12;border-radius:3px;
padding:0 .35em;margin:.1em;font-size:.82em}
figure.plot svg,figure svg{max-width:100%;height:auto}figure{margin:.5em 0}
.card{border:1px solid #d9dde3;border-radius:6px;padding:.6em 1em;margin:1em 0;
break-inside:avoid}
.card .meta{margin:.1em 0 .5em;color:#444;font-size:.9em}
.card-body{display:flex;flex-wrap:wrap;gap:1.2em}.figures{flex:0 0 330px}
.details{flex:1 1 420px;min-width:300px}
figcaption{font-size:.85em;color:#555}
.bars{font-size:.85em}.bar-row{display:flex;align-items:center;gap:.5em;margin:.1em 0}
.bar-label{flex:0 0 15em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.bar{flex:0 0 12em;height:.8em;background:#eef0f3;border-radius:2px;overflow:hidden}
.bar span{display:block;height:100%;background:#d95f02}
ul.suggestions li{font-family:ui-monospace,monospace;font-size:.85em}
pre{background:#f6f8fa;padding:.6em;overflow:auto;font-size:.8em;max-height:40em}
.muted{color:#888}
"""

_JS = """
(function () {
  function key(cell) {
    var text = cell.getAttribute("data-sort");
    if (text === null) { text = cell.textContent.trim(); }
    var number = parseFloat(text);
    return isNaN(number) || !/^[-+0-9.]/.test(text) ? text.toLowerCase() : number;
  }
  function compare(x, y) {
    if (x === "" || y === "") { return (x === "") - (y === ""); }
    if (typeof x !== typeof y) { x = String(x); y = String(y); }
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, column) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          var blank = (x === "") - (y === "");
          return blank || compare(x, y) * (ascending ? 1 : -1);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.body.dataset.ready = "1";
})();
"""


def report_html(
    records: list[Record],
    funnel_rows: list[FunnelRow],
    provenance: dict[str, Any],
    *,
    objectives: dict[str, str],
    title: str,
    max_cards: int = 10,
    top_n: int = 200,
) -> str:
    """The whole report as one self-contained HTML document.

    Args:
        records: every record of the campaign (also those that left the funnel).
        funnel_rows: the funnel (:func:`screen.deliverables.funnel.funnel`).
        provenance: the campaign's provenance.json (missing keys are tolerated).
        objectives: ranking objectives, property name -> "minimize" or "maximize".
        title: page title (escaped).
        max_cards: candidate cards for the best this many ranked records.
        top_n: rows of the top-candidates table and detailed points of the Pareto plot
            (the page stays a few MB however many candidates were ranked).
    """
    provenance = provenance if isinstance(provenance, dict) else {}
    candidates = ranked(records)
    cards = candidates[: max(0, max_cards)]
    top_n = max(1, top_n)
    intro = (
        "Click a column header to sort; ↓/↑: the objective is minimised/maximised. "
        "Score ± its standard deviation under the property uncertainties."
    )
    if len(candidates) > top_n:
        intro = (
            f"The best {top_n} of {len(candidates)} ranked candidates (every one is in "
            f"candidates.csv). {intro}"
        )
    top = _section(
        "top",
        "Top candidates",
        _top_table(candidates[:top_n], objectives, {r.id for r in cards}),
        intro,
    )
    body = (
        _header(title, provenance, objectives, records, candidates)
        + _nav()
        + top
        + _funnel_section(funnel_rows)
        + _pareto_section(candidates, objectives, top_n)
        + _distributions_section(records, candidates, objectives)
        + _cards_section(cards, objectives, len(candidates))
        + _provenance_section(provenance)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head>"
        f"<body>{body}<script>{_JS}</script></body></html>\n"
    )


def write_report(
    path: Path,
    records: list[Record],
    funnel_rows: list[FunnelRow],
    provenance: dict[str, Any],
    *,
    objectives: dict[str, str],
    title: str,
    max_cards: int = 10,
    top_n: int = 200,
) -> Path:
    """Write :func:`report_html` to ``path`` atomically and return the path."""
    path = Path(path)
    text = report_html(
        records,
        funnel_rows,
        provenance,
        objectives=objectives,
        title=title,
        max_cards=max_cards,
        top_n=top_n,
    )
    atomic_write_text(path, text)
    return path
