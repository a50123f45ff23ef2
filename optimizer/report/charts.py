"""Allocation charts: each function takes data and a matplotlib ``ax``, draws, and returns the ax.

No pyplot: figures are plain ``matplotlib.figure.Figure`` objects (headless, no display), drawn
and saved inside ``chart_style()`` (text is never parsed as math, so a ``$`` in a country or
scenario name shows as itself). Colours are colour-blind safe: Okabe-Ito for the four pillars,
Paul Tol's muted and light schemes for countries, each country keeping its colour in every chart
of a report (``country_colours``).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from optimizer.files import atomic_path
from optimizer.vocabulary import PILLARS

PILLAR_COLOURS = dict(
    zip(PILLARS, ("#0072B2", "#D55E00", "#009E73", "#E69F00"), strict=True)
)  # Okabe-Ito
COUNTRY_SCHEME = [  # Paul Tol muted, then light (grey last, for "others")
    "#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677", "#882255",
    "#AA4499", "#77AADD", "#EE8866", "#EEDD88", "#FFAABB", "#99DDFF", "#44BB99", "#BBCC33",
]  # fmt: skip
RISE, FALL, OTHER = "#0072B2", "#D55E00", "#BBBBBB"
STYLE = {
    "text.parse_math": False,
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "tipfocus",
    # SVG text stays text (escaped by matplotlib; searchable, read by screen readers, a third of
    # the size of outlines) in a sans-serif family list that ends with the generic sans-serif
    "svg.fonttype": "none",
}
MILLION = 1e6
DPI = 200
FOOTNOTE_SPACE = 0.08  # of the figure height, kept free under the plot


@contextlib.contextmanager
def chart_style() -> Iterator[None]:
    with matplotlib.rc_context(STYLE):
        yield


def country_colours(isos: Iterable[str]) -> dict[str, str]:
    """A colour per country, by sorted code, so the same set of runs always colours alike."""
    ordered = sorted(set(isos))
    return {iso: COUNTRY_SCHEME[i % len(COUNTRY_SCHEME)] for i, iso in enumerate(ordered)}


def new_figure(width: float = 7.5, height: float = 4.2) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def footnote(fig: Figure, text: str) -> Figure:
    """The scenario and data vintage, small, under the plot."""
    fig.get_layout_engine().set(rect=(0, FOOTNOTE_SPACE, 1, 1 - FOOTNOTE_SPACE))
    fig.text(0.01, 0.01, text, fontsize=6.5, color="#444444", ha="left", va="bottom", wrap=True)
    return fig


def _stack_legend(ax: Axes, **options) -> None:
    """Legend in stacking order: the top segment first."""
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], fontsize=7, title_fontsize=8, frameon=False, **options)


def _millions(ax: Axes, axis: str = "y") -> None:
    formatter = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}")
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(formatter)


# ---------------------------------------------------------------------------- one run


def allocation_by_country(ax: Axes, country_pillar: pd.DataFrame, names: dict[str, str]) -> Axes:
    """Stacked bars: money per focus country (largest first), one segment per pillar."""
    pillars = [p for p in PILLAR_COLOURS if p in country_pillar.columns]
    labels = [f"{iso}\n{names.get(iso, '')[:14]}" for iso in country_pillar.index]
    bottom = pd.Series(0.0, index=country_pillar.index)
    for pillar in pillars:
        values = country_pillar[pillar] / MILLION
        ax.bar(labels, values, bottom=bottom, color=PILLAR_COLOURS[pillar], label=pillar)
        bottom += values
    ax.set_title("Allocation by focus country and pillar")
    ax.set_ylabel("US$ million over the horizon ($M)")
    ax.set_xlabel("focus country")
    ax.tick_params(axis="x", labelsize=7)
    _stack_legend(ax, title="pillar", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _millions(ax)
    return ax


def phasing_by_year(ax: Axes, country_year: pd.DataFrame, colours: dict[str, str]) -> Axes:
    """Stacked bars: money per year, one segment per focus country."""
    years = [c for c in country_year.columns if c != "total"]
    bottom = pd.Series(0.0, index=years)
    for iso, row in country_year[years].iterrows():
        values = row / MILLION
        ax.bar(years, values, bottom=bottom, color=colours.get(iso, OTHER), label=iso)
        bottom += values.to_numpy()
    ax.set_title("Phasing by year")
    ax.set_ylabel("US$ million per year ($M)")
    ax.set_xlabel("year")
    _stack_legend(ax, title="country", ncol=2, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _millions(ax)
    return ax


def outcomes_by_metric(ax: Axes, outcomes: pd.DataFrame) -> Axes:
    """Horizontal bars: each metric's share of the weighted impact, labelled with its count and
    cost per outcome."""
    frame = outcomes.sort_values("share")
    bars = ax.barh(frame["metric"], 100 * frame["share"], color="#0072B2")
    labels = [
        f"{row.outcome:,.0f} outcomes, ${row.cost_per_outcome_usd:,.0f} each"
        for row in frame.itertuples()
    ]
    ax.bar_label(bars, labels, padding=3, fontsize=7)
    ax.set_xlim(0, max(100.0, 100 * frame["share"].max() * 1.6 if len(frame) else 100.0))
    ax.set_title("Projected outcomes by metric")
    ax.set_xlabel("share of weighted impact (%)")
    ax.set_ylabel("metric")
    return ax


def readiness_vs_governance(ax: Axes, screening: pd.DataFrame, colours: dict[str, str]) -> Axes:
    """Scatter of the eligible countries: readiness against governance, focus countries marked."""
    eligible = screening[screening["eligible"].astype(bool)]
    governance = eligible["governance_pct"]
    focus = eligible["focus"].astype(bool)
    ax.scatter(governance[~focus], eligible.loc[~focus, "readiness"], s=18, facecolors="none",
               edgecolors="#777777", label="eligible, not chosen")  # fmt: skip
    ax.scatter(governance[focus], eligible.loc[focus, "readiness"], s=40, marker="D",
               c=[colours.get(i, OTHER) for i in eligible.loc[focus, "iso3"]],
               edgecolors="black", linewidths=0.6, label="focus country")  # fmt: skip
    ax.set_title("Readiness against governance, eligible countries")
    ax.set_xlabel("governance: mean of rule of law and control of corruption (WGI percentile)")
    ax.set_ylabel("readiness score (0-100)")
    ax.legend(fontsize=7, frameon=False)
    label_points(
        ax, eligible.loc[focus, "iso3"], governance[focus], eligible.loc[focus, "readiness"]
    )
    return ax


LABEL_OFFSETS = [(5, 3), (5, -10), (-5, 3), (-5, -10), (0, 8), (0, -15)]  # points from the marker


def label_points(ax: Axes, labels: Iterable[str], xs: Iterable[float], ys: Iterable[float]) -> None:
    """Each label beside its point, on the first side (``LABEL_OFFSETS``) where it covers neither a
    label placed before nor a labelled point (two focus countries with close scores would
    otherwise print one name over the other). Laid out on the figure as it will be drawn."""
    from matplotlib.transforms import Bbox

    figure = ax.get_figure()
    figure.draw_without_rendering()  # the layout and the axes' limits as they will be
    points = list(zip(labels, xs, ys, strict=True))
    half = 4.5 * figure.dpi / 72  # half a marker, in pixels
    taken = []
    for x, y in ax.transData.transform([(x, y) for _, x, y in points]):
        taken.append(Bbox.from_extents(x - half, y - half, x + half, y + half))
    for label, x, y in points:
        for dx, dy in LABEL_OFFSETS:
            text = ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points",
                               fontsize=7, ha="left" if dx >= 0 else "right")  # fmt: skip
            box = text.get_window_extent()
            if not any(box.overlaps(other) for other in taken):
                break
            if (dx, dy) != LABEL_OFFSETS[-1]:
                text.remove()  # the last side stays, clear or not
        taken.append(box)


def frontier(ax: Axes, points: pd.DataFrame, x: str, y: str) -> Axes:
    """The trade-off frontier: weighted impact against the budget (or the swept quantity)."""
    ordered = points.sort_values(x)
    # money columns end in _usd; a bare swept "value" of 100,000 or more is money too (the other
    # sweepable keys are counts and shares)
    scale = MILLION if x.endswith("_usd") or ordered[x].min() >= 1e5 else 1.0
    ax.plot(ordered[x] / scale, ordered[y], marker="o", color="#0072B2")
    ax.set_title("Frontier: impact against " + x.removesuffix("_usd").replace("_", " "))
    ax.set_xlabel(
        x.removesuffix("_usd").replace("_", " ") + (" (US$ million, $M)" if scale > 1 else "")
    )
    ax.set_ylabel("weighted impact (impact units)")
    return ax


# ---------------------------------------------------------------------------- several runs


def comparison_bars(ax: Axes, money: pd.DataFrame) -> Axes:
    """Grouped bars: money per country (rows) in each run (columns), US$."""
    runs = list(money.columns)
    width = 0.8 / max(len(runs), 1)
    scheme = [
        "#0072B2",
        "#E69F00",
        "#009E73",
        "#CC79A7",
        "#56B4E9",
        "#D55E00",
        "#F0E442",
        "#000000",
    ]
    positions = range(len(money.index))
    for i, run in enumerate(runs):
        ax.bar([p + (i - (len(runs) - 1) / 2) * width for p in positions], money[run] / MILLION,
               width=width, label=run, color=scheme[i % len(scheme)])  # fmt: skip
    ax.set_xticks(list(positions), [str(i) for i in money.index], fontsize=7)
    ax.set_title("Money per country in each run")
    ax.set_ylabel("US$ million over the horizon ($M)")
    ax.set_xlabel("country")
    ax.legend(title="run", fontsize=7, title_fontsize=8, frameon=False)
    _millions(ax)
    return ax


def change_bars(ax: Axes, change: pd.Series, against: str) -> Axes:
    """Horizontal bars: each country's change in money from the first run, US$."""
    ordered = change.sort_values()
    ax.barh([str(i) for i in ordered.index], ordered / MILLION,
            color=[RISE if v >= 0 else FALL for v in ordered])  # fmt: skip
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_title(f"Change in money per country from {against}")
    ax.set_xlabel(f"change from {against} (US$ million, $M)")
    ax.set_ylabel("country")
    _millions(ax, "x")
    return ax


# ---------------------------------------------------------------------------- output


def save(fig: Figure, path: Path, fmt: str, force: bool = False) -> None:
    """Write the figure (PNG at DPI, SVG or PDF) atomically; ``force`` to replace."""
    with chart_style(), atomic_path(path, force) as tmp:
        fig.savefig(tmp, format=fmt, dpi=DPI, metadata=_metadata(fmt))


def svg_markup(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no external reference)."""
    buffer = io.StringIO()
    with chart_style():
        fig.savefig(buffer, format="svg", metadata=_metadata("svg"))
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _metadata(fmt: str) -> dict[str, None] | None:
    """No creation dates, so the same run gives the same file."""
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None}
    return None
