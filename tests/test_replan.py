"""Re-planning from actuals on small worlds: the plan reproduced, the past fixed, effectiveness
updated by the bounded rule, bad actuals refused with their numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from world import World, catalogue, component, scenario, view

from optimizer.errors import InputError
from optimizer.replan import BOUNDS, effectiveness, replan, template

ACTUALS = Path("actuals.csv")
KEY = ["iso3", "component", "year"]


def small_world(**sections) -> World:
    """Two countries, two concave components, a ramp: money moves between years and countries."""
    comps = {
        "A": component(pillar="protection", cost=1000.0, saturation=0.01),
        "B": component(pillar="prosecution", channel="government", cost=2500.0, saturation=0.02),
    }
    base = {"budget": {"total_usd": "9M"}, "policy": {"ramp_up": 0.5}}
    countries = {"AAA": {}, "BBB": {"people": 60_000}}
    return World(
        scenario=scenario(**{**base, **sections}), view=view(countries), catalogue=catalogue(comps)
    )


def amounts(frame: pd.DataFrame, after: int) -> pd.Series:
    return frame[frame["year"] > after].set_index(KEY)["amount_usd"].sort_index()


def test_actuals_equal_to_the_plan_reproduce_the_plan() -> None:
    world = small_world()
    plan = world.result()
    actuals = template(plan, through=2015)
    assert set(actuals["year"]) == {2015} and len(actuals)
    again = replan(world.prepare(), plan, actuals, ACTUALS, today=2026)
    planned, replanned = amounts(plan.allocation, 2015), amounts(again.allocation, 2015)
    assert list(replanned.index) == list(planned.index)
    assert replanned.to_numpy() == pytest.approx(planned.to_numpy(), abs=2.0)
    assert (again.changes["change_usd"].abs() <= 2.0).all()
    assert set(again.changes["phase"]) == {"actual", "replanned"}


def test_the_past_is_fixed_and_the_money_left_is_re_optimised() -> None:
    """Year 1 spent half the plan on AAA's A: the rest of the budget goes to the later years."""
    world = small_world()
    plan = world.result()
    actuals = template(plan, through=2015)
    first = (actuals["iso3"] == "AAA") & (actuals["component"] == "A")
    actuals.loc[first, ["spend_usd", "outcome"]] /= 2
    again = replan(world.prepare(), plan, actuals, ACTUALS, today=2026)
    past = again.allocation[again.allocation["year"] == 2015].set_index(KEY)["amount_usd"]
    assert past.to_dict() == pytest.approx(actuals.set_index(KEY)["spend_usd"].to_dict(), abs=1.0)
    assert again.summary.budget_used_usd == pytest.approx(plan.summary.budget_used_usd, abs=2.0)
    later = again.allocation[again.allocation["year"] > 2015]["amount_usd"].sum()
    planned_later = plan.allocation[plan.allocation["year"] > 2015]["amount_usd"].sum()
    assert later > planned_later + 1_000


def test_effectiveness_is_clipped_and_moves_the_plan() -> None:
    world = small_world()
    plan = world.result()
    actuals = template(plan, through=2015)
    is_a = actuals["component"] == "A"
    actuals.loc[is_a, "outcome"] *= 3.0  # far better than projected: clipped to 1.5
    actuals.loc[~is_a, "outcome"] *= 0.8
    ratio = effectiveness(actuals, world.prepare().curves)
    assert ratio.xs("A", level=1).tolist() == pytest.approx([BOUNDS[1]] * 2, rel=1e-3)
    assert ratio.xs("B", level=1).tolist() == pytest.approx([0.8] * 2, rel=1e-3)
    again = replan(world.prepare(), plan, actuals, ACTUALS, today=2026)
    later = lambda r, k: r.allocation.query("year > 2015 and component == @k")["amount_usd"].sum()  # noqa: E731
    assert later(again, "A") > later(plan, "A")
    assert later(again, "B") < later(plan, "B")
    reported = again.outcomes.query("year == 2015").set_index(KEY)["outcome"]
    assert reported.to_dict() == pytest.approx(actuals.set_index(KEY)["outcome"].to_dict())


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"iso3": "ZZZ"}, "ZZZ is not a candidate country of the run"),
        ({"component": "Q"}, "Q is not a component of the run's catalogue"),
        ({"year": 2031}, "2031 is not a year of the run"),
        ({"year": 2016}, "2016 has not passed yet (it is 2015)"),
        ({"spend_usd": -5.0}, "spend_usd is -5, below 0"),
        ({"spend_usd": 0.0, "outcome": 12.0}, "outcome 12 without spend"),
        ({"spend_usd": 9e9}, "above the"),
    ],
)
def test_bad_actuals_are_refused_with_their_numbers(change: dict, says: str) -> None:
    world = small_world()
    plan = world.result()
    actuals = template(plan, through=2015)
    for col, value in change.items():
        actuals.loc[0, col] = value
    with pytest.raises(InputError, match=r"actuals\.csv.*") as info:
        replan(world.prepare(), plan, actuals, ACTUALS, today=2015)
    assert says in str(info.value)


def test_actuals_in_a_locked_out_country_are_refused_by_name() -> None:
    """A locked-out country stays in the model (held at 0 by its lock row): spend there is named
    as locked out, not reported as an infeasible re-plan."""
    world = small_world()
    plan = world.result()
    actuals = template(plan, through=2015)
    locked = small_world(selection={"lock_out": [actuals.loc[0, "iso3"]]})
    with pytest.raises(InputError, match="is locked out of the run"):
        replan(locked.prepare(), plan, actuals, ACTUALS, today=2015)


def test_actuals_for_every_year_leave_nothing_to_replan() -> None:
    world = small_world()
    plan = world.result()
    with pytest.raises(InputError, match="nothing is left to re-plan"):
        replan(world.prepare(), plan, template(plan, through=2017), ACTUALS, today=2026)
