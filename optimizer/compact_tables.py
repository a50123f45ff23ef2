"""The compact's tables in a run folder: ``streams.csv``, ``cofinancing.csv`` and ``targets.csv``.

Plain data in, plain data out (no solver): ``engine.collect`` gives the solved amounts, and a
Result built without them (an older run folder) gets the tables its allocation implies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STREAM_COLUMNS = ["iso3", "component", "year", "stream", "amount_usd"]
COFINANCING_COLUMNS = [
    "iso3",
    "year",
    "programme_usd",
    "us_usd",
    "host_usd",
    "host_share",
    "affordable_usd",
]
TARGET_COLUMNS = ["iso3", "country", "component", "year", "metric", "projected", "p10", "p90"]
KEY = ["iso3", "component", "year"]
HOST = "host"


def split_whole(parts: pd.DataFrame, allocation: pd.DataFrame) -> pd.DataFrame:
    """Stream amounts in whole dollars that add up to each allocation row exactly.

    ``parts`` holds the solved (exact) amount of each (iso3, component, year, stream); each row of
    ``allocation`` (whole dollars) is shared over its streams in proportion to them, the dollars
    left by rounding down going to the largest remainders. A row whose parts are all 0 (not
    expected) goes to the first stream listed for it."""
    if allocation.empty or parts.empty:
        return pd.DataFrame(columns=STREAM_COLUMNS)
    target = allocation.set_index(KEY)["amount_usd"]
    frame = parts[parts.set_index(KEY).index.isin(target.index)].copy()
    frame = frame.sort_values([*KEY, "stream"], ignore_index=True)
    keys = [frame[k] for k in KEY]
    exact = frame["amount_usd"].clip(lower=0.0)
    whole = target.reindex(pd.MultiIndex.from_frame(frame[KEY])).to_numpy(dtype=float)
    total = exact.groupby(keys).transform("sum").to_numpy()
    first = (frame.groupby(KEY).cumcount() == 0).to_numpy()
    share = np.where(total > 0, exact.to_numpy() / np.where(total > 0, total, 1.0), first * 1.0)
    scaled = share * whole
    base = np.floor(scaled + 1e-9)
    left = whole - pd.Series(base).groupby(keys).transform("sum").to_numpy()
    rank = pd.Series(scaled - base).groupby(keys).rank(method="first", ascending=False)
    frame["amount_usd"] = base + (rank.to_numpy() <= left)
    frame = frame[frame["amount_usd"] >= 1.0]
    return frame[STREAM_COLUMNS].reset_index(drop=True)


def default_streams(allocation: pd.DataFrame) -> pd.DataFrame:
    """Every dollar from the implicit stream ``default`` (no streams, no co-financing)."""
    return allocation[[*KEY, "amount_usd"]].assign(stream="default")[STREAM_COLUMNS]


def cofinancing_table(
    streams: pd.DataFrame,
    allocation: pd.DataFrame,
    caps: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Per focus country and year: programme money, the US and host parts, the host's share and
    what it can afford a year (blank when unknown)."""
    if allocation.empty:
        return pd.DataFrame(columns=COFINANCING_COLUMNS)
    programme = allocation.groupby(["iso3", "year"])["amount_usd"].sum()
    host = streams[streams["stream"] == HOST].groupby(["iso3", "year"])["amount_usd"].sum()
    frame = programme.rename("programme_usd").to_frame()
    frame["host_usd"] = host.reindex(frame.index).fillna(0.0)
    frame["us_usd"] = frame["programme_usd"] - frame["host_usd"]
    frame["host_share"] = (frame["host_usd"] / frame["programme_usd"]).round(6)
    isos = frame.index.get_level_values("iso3")
    frame["affordable_usd"] = [round(float((caps or {}).get(i, np.nan)), 0) for i in isos]
    return frame.reset_index()[COFINANCING_COLUMNS]


def us_share_by_year(cofinancing: pd.DataFrame) -> dict[str, float]:
    """The US share of all compacts' programme money, year by year: the glide path."""
    if cofinancing.empty:
        return {}
    years = cofinancing.groupby("year")[["us_usd", "programme_usd"]].sum()
    share = years["us_usd"] / years["programme_usd"]
    return {str(int(y)): round(float(s), 6) for y, s in share.items()}


def money_by_stream(streams: pd.DataFrame) -> dict[str, float]:
    """Dollars from each stream over the horizon (the host's co-financing as ``host``)."""
    return {str(k): float(v) for k, v in streams.groupby("stream")["amount_usd"].sum().items()}


def targets_table(outcomes: pd.DataFrame, spread: pd.DataFrame | None = None) -> pd.DataFrame:
    """The benchmarks a compact would sign: projected outputs per country, component and year
    (from the run's ``outcomes``, i.e. the curves the run used, ``Curves.outcomes``).

    ``spread`` (optional, from an uncertainty run) is indexed by (iso3, component, year) with
    columns ``p10`` and ``p90``: the range of the same outputs over the draws. Without it the range
    columns are blank."""
    frame = outcomes.rename(columns={"outcome": "projected"})
    frame = frame[[c for c in TARGET_COLUMNS if c in frame]].copy()
    for col in ("p10", "p90"):
        if spread is not None and col in spread:
            frame[col] = spread[col].reindex(pd.MultiIndex.from_frame(frame[KEY])).to_numpy()
        else:
            frame[col] = np.nan
    frame = frame[frame["projected"] > 0] if len(frame) else frame
    return frame[TARGET_COLUMNS].reset_index(drop=True)
