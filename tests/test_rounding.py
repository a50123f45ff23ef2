"""Whole dollars that add up (optimizer.rounding): every total is the exact total rounded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.rounding import whole_dollars


def frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [
        (iso, year, comp, float(rng.uniform(0, 5e6)) if rng.random() > 0.2 else 0.0)
        for iso in ("AAA", "BBB", "CCC", "DDD")
        for year in (2015, 2016, 2017)
        for comp in ("a", "b", "c", "d", "e")
    ]
    return pd.DataFrame(rows, columns=["iso3", "year", "component", "amount_usd"])


@pytest.mark.parametrize("seed", range(12))
def test_every_margin_is_its_exact_total_rounded(seed):
    exact = frame(seed)
    whole = exact.assign(amount_usd=whole_dollars(exact))
    assert (whole["amount_usd"] == whole["amount_usd"].round(0)).all()
    assert whole["amount_usd"].sum() == round(exact["amount_usd"].sum())
    assert (whole["amount_usd"] - exact["amount_usd"]).abs().max() < 1.0
    for by in ("iso3", "year", ["iso3", "year"]):
        gap = whole.groupby(by)["amount_usd"].sum() - exact.groupby(by)["amount_usd"].sum()
        assert gap.abs().max() < 1.0, by


def test_a_whole_total_stays_whole():
    """Solver noise around a binding rule ($60M less a few nano-dollars) is that rule's $60M."""
    exact = pd.DataFrame(
        {
            "iso3": ["AAA"] * 3 + ["BBB"] * 3,
            "year": [2015, 2015, 2016, 2015, 2016, 2016],
            "component": list("abcabc"),
            "amount_usd": [
                10e6 + 0.4,
                20e6 + 0.3,
                30e6 - 0.7 - 3e-9,
                5e6 + 0.5,
                7e6 + 0.25,
                8e6 - 0.75 + 2e-9,
            ],
        }
    )
    whole = exact.assign(amount_usd=whole_dollars(exact))
    assert whole.groupby("iso3")["amount_usd"].sum().to_dict() == {"AAA": 60e6, "BBB": 20e6}
    assert whole["amount_usd"].sum() == 80e6
