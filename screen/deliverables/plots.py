"""The figures of report.html, drawn with matplotlib as inline SVG strings.

Every function returns an ``<svg>`` element that can be pasted into an HTML page as is
(no XML header, no DOCTYPE, no metadata, text kept as text). Figures are built with
``matplotlib.figure.Figure`` directly, so no pyplot state or GUI backend is touched and
matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import io
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure
    from pymatgen.core import Structure

    from screen.deliverables.funnel import FunnelRow

#: Boltzmann constant in eV/K
K_B = 8.617333262e-5

FRONT_COLOR = "#d95f02"
POINT_COLOR = "#4a6fa5"
MUTED_COLOR = "#b8c0cc"

_RC: Any = {  # matplotlib types rcParams keys as literals
    "svg.fonttype": "none",  # text stays text: small, searchable, no glyph definitions
    "font.size": 9,
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}

_salts = itertools.count(1)


def plain(text: str) -> str:
    """Text for a matplotlib label, shown literally (no mathtext from a stray '$')."""
    return str(text).replace("$", r"\$")


def new_figure(width: float, height: float) -> Figure:
    """A figure not registered with pyplot (no GUI backend, no global state)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def to_svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element for inline HTML."""
    import matplotlib

    buffer = io.StringIO()
    # a per-figure salt keeps clip-path and marker ids unique within one HTML page
    rc: Any = {**_RC, "svg.hashsalt": f"batscreen-{next(_salts)}"}
    with matplotlib.rc_context(rc):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.DOTALL)
    return _drop_unused_ids(text[text.index("<svg") :].strip())


def _drop_unused_ids(svg: str) -> str:
    """Remove ids nothing refers to ('figure_1', 'axes_1', ...: repeated in every figure)."""
    used = set(re.findall(r"#([\w.-]+)", svg))
    return re.sub(r' id="([^"]*)"', lambda m: m.group(0) if m.group(1) in used else "", svg)


def _styled(draw: Any) -> Any:
    """Run a drawing function under the report's rc settings (fonts, spines)."""

    def wrapper(*args: Any, **kwargs: Any) -> str:
        import matplotlib

        with matplotlib.rc_context(_RC):
            fig = draw(*args, **kwargs)
        return to_svg(fig)

    wrapper.__doc__ = draw.__doc__
    wrapper.__name__ = draw.__name__
    return wrapper


# --------------------------------------------------------------------------- funnel


@_styled
def funnel_chart(rows: Sequence[FunnelRow]) -> Figure:
    """Horizontal bars: records entering (light) and passing (dark) each stage."""
    fig = new_figure(6.4, 0.45 * len(rows) + 0.9)
    ax = fig.add_subplot()
    y = list(range(len(rows)))
    entered = [row.entered for row in rows]
    passed = [row.passed for row in rows]
    ax.barh(y, entered, color=MUTED_COLOR, label="entered")
    ax.barh(y, passed, height=0.5, color=POINT_COLOR, label="passed")
    top = max(entered, default=0) or 1
    for yi, n_in, n_ok in zip(y, entered, passed, strict=True):
        ax.text(n_in + 0.01 * top, yi, f"{n_ok} / {n_in}", va="center", fontsize=8)
    ax.set_yticks(y, [plain(row.stage) for row in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.15)
    ax.set_xlabel("records")
    ax.legend(loc="lower right", frameon=False)
    return fig


# --------------------------------------------------------------------------- Pareto


@dataclass
class Point:
    """One ranked candidate in objective space."""

    label: str
    rank: int
    x: float
    y: float
    x_err: float | None = None
    y_err: float | None = None
    front: int | None = None


def _errors(values: Sequence[float | None]) -> list[float] | None:
    if all(v is None for v in values):
        return None
    return [v if v is not None and math.isfinite(v) else 0.0 for v in values]


@_styled
def pareto_plot(
    points: Sequence[Point], x_label: str, y_label: str, background: Sequence[Point] = ()
) -> Figure:
    """First two objectives of the ranked candidates; front 1 highlighted and connected.

    ``background``: more candidates, drawn as small dots without error bars or labels in
    one embedded image (rasterized), so the SVG's size does not grow with their number.
    """
    fig = new_figure(6.4, 4.4)
    ax = fig.add_subplot()
    for group, color, label in (
        ([p for p in background if p.front != 1], MUTED_COLOR, "other ranked"),
        ([p for p in background if p.front == 1], FRONT_COLOR, "other ranked, front 1"),
    ):
        if group:
            ax.scatter(
                [p.x for p in group],
                [p.y for p in group],
                s=3,
                color=color,
                linewidths=0,
                rasterized=True,
                zorder=0,
                label=f"{label} ({len(group)})",
            )
    groups = (
        ([p for p in points if p.front != 1], POINT_COLOR, 5, "other fronts"),
        ([p for p in points if p.front == 1], FRONT_COLOR, 7, "Pareto front 1"),
    )
    for group, color, size, label in groups:
        if not group:
            continue
        ax.errorbar(
            [p.x for p in group],
            [p.y for p in group],
            xerr=_errors([p.x_err for p in group]),
            yerr=_errors([p.y_err for p in group]),
            fmt="o",
            ms=size,
            color=color,
            ecolor=color,
            elinewidth=0.8,
            alpha=0.9,
            capsize=2,
            label=f"{label} ({len(group)})",
        )
    front = sorted((p for p in points if p.front == 1), key=lambda p: (p.x, p.y))
    if len(front) > 1:
        ax.plot([p.x for p in front], [p.y for p in front], "-", color=FRONT_COLOR, lw=1)
    for p in sorted(points, key=lambda p: p.rank)[:3]:
        ax.annotate(
            plain(f"#{p.rank} {p.label}"),
            (p.x, p.y),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=8,
            fontweight="bold",
        )
    ax.set_xlabel(plain(x_label))
    ax.set_ylabel(plain(y_label))
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="best")
    return fig


@_styled
def ranked_bars(
    labels: Sequence[str], values: Sequence[float], errors: Sequence[float | None], x_label: str
) -> Figure:
    """One objective: a bar per ranked candidate, best at the top."""
    fig = new_figure(6.4, 0.28 * len(labels) + 1.0)
    ax = fig.add_subplot()
    y = list(range(len(labels)))
    ax.barh(y, values, xerr=_errors(errors), color=POINT_COLOR, capsize=2)
    ax.set_yticks(y, [plain(label) for label in labels])
    ax.invert_yaxis()
    ax.set_xlabel(plain(x_label))
    ax.grid(axis="x", alpha=0.3)
    return fig


# --------------------------------------------------------------------------- histograms


@dataclass
class Distribution:
    """Values of one property over all records, and over the ranked ones."""

    name: str
    unit: str
    values: list[float]
    ranked: list[float]


@_styled
def histograms(distributions: Sequence[Distribution]) -> Figure:
    """One histogram panel per property; ranked candidates drawn on top of all records."""
    import numpy as np

    ncols = min(3, len(distributions))
    nrows = math.ceil(len(distributions) / ncols)
    fig = new_figure(3.2 * ncols, 2.5 * nrows)
    for i, dist in enumerate(distributions):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        values = np.asarray(dist.values, dtype=float)
        lo, hi = float(values.min()), float(values.max())
        if hi <= lo:  # one value (or all equal): a narrow window around it
            pad = abs(lo) * 0.05 or 0.5
            lo, hi = lo - pad, hi + pad
        bins = np.linspace(lo, hi, min(30, max(5, len(values) // 2)) + 1).tolist()
        ax.hist(values, bins=bins, color=MUTED_COLOR, label=f"all ({len(values)})")
        if dist.ranked:
            ax.hist(dist.ranked, bins=bins, color=FRONT_COLOR, label=f"ranked ({len(dist.ranked)})")
        ax.set_title(plain(dist.name), fontsize=9)
        ax.set_xlabel(plain(dist.unit or "(dimensionless)"))
        ax.set_ylabel("records")
        ax.legend(frameon=False, fontsize=7)
    return fig


# --------------------------------------------------------------------------- structure


def _rotation(tilt_deg: float = -18.0, turn_deg: float = 28.0) -> Any:
    """A small view rotation: about y by ``turn``, then about x by ``tilt``."""
    import numpy as np

    t, u = math.radians(tilt_deg), math.radians(turn_deg)
    rot_x = np.array([[1, 0, 0], [0, math.cos(t), -math.sin(t)], [0, math.sin(t), math.cos(t)]])
    rot_y = np.array([[math.cos(u), 0, math.sin(u)], [0, 1, 0], [-math.sin(u), 0, math.cos(u)]])
    return rot_x @ rot_y


def _cell_edges(matrix: Any) -> list[tuple[Any, Any]]:
    """The 12 edges of the unit cell as (start, end) Cartesian points."""
    import numpy as np

    corners = {c: np.asarray(c, dtype=float) @ matrix for c in itertools.product((0, 1), repeat=3)}
    edges = []
    for c, start in corners.items():
        for axis in range(3):
            if c[axis] == 0:
                other = tuple(1 if i == axis else v for i, v in enumerate(c))
                edges.append((start, corners[other]))
    return edges


def _site_symbol(site: Any) -> str:
    """The majority element of a (possibly disordered) site."""
    species, _ = max(site.species.items(), key=lambda item: item[1])
    return str(getattr(species, "symbol", species))


@_styled
def structure_picture(structure: Structure) -> Figure:
    """The unit cell projected on the screen plane: cell edges, atoms, element legend."""
    import numpy as np
    from ase.data import atomic_numbers, covalent_radii
    from ase.data.colors import jmol_colors
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    rot = _rotation()
    cart = np.asarray(structure.cart_coords) @ rot.T
    symbols = [_site_symbol(site) for site in structure]
    fig = new_figure(3.3, 3.3)
    ax = fig.add_subplot()
    for start, end in _cell_edges(structure.lattice.matrix):
        (x0, y0, _), (x1, y1, _) = start @ rot.T, end @ rot.T
        ax.plot([x0, x1], [y0, y1], color="#555555", lw=0.8, zorder=1)
    order = np.argsort(cart[:, 2])  # far atoms first, near atoms drawn over them
    for i in order:
        z = atomic_numbers.get(symbols[i], 0)
        ax.add_patch(
            Circle(
                (cart[i, 0], cart[i, 1]),
                radius=0.55 * float(covalent_radii[z]),
                facecolor=tuple(jmol_colors[z]),
                edgecolor="#222222",
                linewidth=0.5,
                zorder=2,
            )
        )
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            ls="",
            markersize=7,
            markerfacecolor=tuple(jmol_colors[atomic_numbers.get(symbol, 0)]),
            markeredgecolor="#222222",
            label=plain(symbol),
        )
        for symbol in sorted(set(symbols), key=lambda s: atomic_numbers.get(s, 0))
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_aspect("equal")
    ax.autoscale_view()
    ax.axis("off")
    return fig


# --------------------------------------------------------------------------- Arrhenius


@dataclass
class ArrheniusData:
    """MD diffusivities of one candidate and, when fitted, its activation energy."""

    temperatures: list[float]  # K
    diffusivities: list[float]  # cm2/s
    stds: list[float | None]
    flagged: list[bool]  # temperatures not used in the fit
    activation_energy: float | None = None  # eV
    activation_energy_std: float | None = None
    diffusivity_300K: float | None = None  # anchors the fitted line when known


def _fit_line(data: ArrheniusData) -> tuple[float, float] | None:
    """(slope, intercept) of log10 D against 1000/T from Ea, or None without Ea."""
    if data.activation_energy is None:
        return None
    slope = -data.activation_energy / (1000.0 * K_B * math.log(10))
    if data.diffusivity_300K is not None and data.diffusivity_300K > 0:
        return slope, math.log10(data.diffusivity_300K) - slope * (1000.0 / 300.0)
    used = [
        (1000.0 / t, math.log10(d))
        for t, d, bad in zip(data.temperatures, data.diffusivities, data.flagged, strict=True)
        if not bad and d > 0
    ] or [
        (1000.0 / t, math.log10(d))
        for t, d in zip(data.temperatures, data.diffusivities, strict=True)
        if d > 0
    ]
    if not used:
        return None
    return slope, sum(y - slope * x for x, y in used) / len(used)


@_styled
def arrhenius_plot(data: ArrheniusData) -> Figure:
    """log10 D against 1000/T with error bars and the fitted Arrhenius line."""
    fig = new_figure(3.6, 2.9)
    ax = fig.add_subplot()
    for bad in (False, True):
        pts = [
            (1000.0 / t, math.log10(d), (s / (d * math.log(10))) if s else 0.0)
            for t, d, s, f in zip(
                data.temperatures, data.diffusivities, data.stds, data.flagged, strict=True
            )
            if f == bad and d > 0 and t > 0
        ]
        if not pts:
            continue
        ax.errorbar(
            [p[0] for p in pts],
            [p[1] for p in pts],
            yerr=[p[2] for p in pts],
            fmt="o",
            ms=5,
            capsize=2,
            color=POINT_COLOR,
            mfc="white" if bad else POINT_COLOR,
            label="flagged, not fitted" if bad else "MD",
        )
    line = _fit_line(data)
    if line is not None and data.temperatures:
        slope, intercept = line
        xs = [1000.0 / t for t in data.temperatures if t > 0]
        x0, x1 = min(xs), max(xs)
        ea = f"Ea = {data.activation_energy:.3g}"
        if data.activation_energy_std:
            ea += f" ± {data.activation_energy_std:.2g}"
        ax.plot(
            [x0, x1],
            [intercept + slope * x0, intercept + slope * x1],
            "-",
            color=FRONT_COLOR,
            label=f"{ea} eV",
        )
    ax.set_xlabel("1000 / T  (1/K)")
    ax.set_ylabel("log10 D  (cm2/s)")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    return fig


# --------------------------------------------------------------------------- voltage profile


@dataclass
class ProfileData:
    """A voltage profile: steps as (x_charged, x_discharged, voltage), fully charged first."""

    steps: list[tuple[float, float, float]]
    framework: str  # host formula, for the x axis
    ion: str
    unit: str  # 'V vs Na/Na+'
    average_voltage: float | None = None
    uncertainty: float | None = None  # one standard uncertainty of each step voltage (V)


@_styled
def voltage_profile_plot(data: ProfileData) -> Figure:
    """Step voltage against working-ion content x, with the uncertainty band and average."""
    fig = new_figure(3.6, 2.9)
    ax = fig.add_subplot()
    xs: list[float] = []
    ys: list[float] = []
    for x0, x1, v in data.steps:
        xs += [x0, x1]
        ys += [v, v]
    ax.plot(xs, ys, "-", color=POINT_COLOR, lw=1.8, label="profile (hull along x)")
    if data.uncertainty:
        s = data.uncertainty
        ax.fill_between(xs, [y - s for y in ys], [y + s for y in ys], color=POINT_COLOR,
                        alpha=0.15, lw=0, label=f"± {s:.2g} V (1 sigma)")  # fmt: skip
    if data.average_voltage is not None and xs:
        ax.axhline(data.average_voltage, color=FRONT_COLOR, ls="--", lw=1,
                   label=f"average {data.average_voltage:.3g} V")  # fmt: skip
    ax.set_xlabel(f"x in {data.ion}x{data.framework}")
    ax.set_ylabel(data.unit)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=7)
    return fig
