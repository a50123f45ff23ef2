"""The frontier chart: impact against the swept value, the marginal return of each step, the
focus countries where they change, and the knee. (To be folded into optimizer/report/charts.py.)"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def plot_frontier(frame: pd.DataFrame, ax, key: str = "value"):
    """Draw ``frame`` (frontier.FRONTIER_COLUMNS) on ``ax``; returns ``ax``."""
    solved = frame[pd.to_numeric(frame["objective"], errors="coerce").notna()]
    x, y = solved["value"].astype(float), solved["objective"].astype(float)
    ax.plot(x, y, marker="o", markersize=3, color="tab:blue", label="impact (objective)")
    ax.set_xlabel(key)
    ax.set_ylabel("impact units", color="tab:blue")
    marginal = solved["marginal_return"].astype(float)
    if marginal.notna().any():
        twin = ax.twinx()
        steps = x.diff().fillna(0).abs()
        width = float(steps[steps > 0].min()) * 0.6 if (steps > 0).any() else 1.0
        twin.bar(x, marginal.fillna(0), width=width, alpha=0.25, color="tab:orange")
        twin.set_ylabel(f"marginal impact per unit of {key}", color="tab:orange")
        ax.set_zorder(twin.get_zorder() + 1)  # the curve over the bars
        ax.patch.set_visible(False)
    previous = None
    for xi, yi, countries in zip(x, y, solved["countries"], strict=True):
        if countries != previous:
            ax.annotate(
                str(countries).replace(";", " "),
                (xi, yi),
                textcoords="offset points",
                xytext=(2, -12),
                fontsize=6,
                rotation=-20,
            )
            previous = countries
    knee = solved[solved["knee"].astype(bool)]
    if len(knee):
        ax.axvline(float(knee["value"].iloc[0]), color="grey", linestyle="--", linewidth=1)
        ax.annotate("knee", (float(knee["value"].iloc[0]), float(knee["objective"].iloc[0])))
    failed = frame[~frame.index.isin(solved.index)]
    for xi in failed["value"].astype(float):
        ax.axvline(xi, color="red", alpha=0.2, linewidth=1)
    ax.set_title(f"Frontier over {key}" + (" (red: no allocation)" if len(failed) else ""))
    return ax


def save_frontier_chart(frame: pd.DataFrame, key: str, path: Path) -> None:
    """Render the chart to ``path`` (PNG) with the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 5.5), dpi=110)
    plot_frontier(frame, figure.add_subplot(1, 1, 1), key)
    figure.tight_layout()
    figure.savefig(path)
