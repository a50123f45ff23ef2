"""Scenario loading: layering, overrides, money, validation messages."""

from __future__ import annotations

import tomllib

import pytest

from optimizer.cli import FLAGS
from optimizer.errors import InfeasibleError, ScenarioError
from optimizer.scenario import (
    DEFAULT_SCENARIO,
    load_scenario,
    parse_money,
    resolved_toml,
    unit_warnings,
    usd,
)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("given", "dollars"),
    [
        (250e6, 250e6),
        ("250M", 250e6),
        ("1.5B", 1.5e9),
        ("$40k", 40e3),
        ("12,000,000", 12e6),
        (0, 0.0),
    ],
)
def test_money_accepts_numbers_and_readable_strings(given, dollars):
    assert parse_money(given) == dollars


@pytest.mark.parametrize(
    "given", ["five million", "-3M", float("nan"), float("inf"), True, "12MM", -1]
)
def test_money_rejects_nonsense(given):
    with pytest.raises(ValueError):
        parse_money(given)


def test_baseline_loads_with_its_values():
    s = load_scenario()
    assert s.name == "baseline"
    assert s.data.reference_year == 2013
    assert s.budget.total_usd == 250e6
    assert s.years == [2015, 2016, 2017, 2018, 2019]


def test_precedence_set_over_file_over_extended_over_defaults(tmp_path):
    write(tmp_path, "base.toml", '[budget]\ntotal_usd = "100M"\nhorizon_years = 4\n')
    child = write(tmp_path, "child.toml", 'extends = "base.toml"\n[budget]\ntotal_usd = "200M"\n')
    s = load_scenario(child)
    assert s.budget.total_usd == 200e6  # the file beats what it extends
    assert s.budget.horizon_years == 4  # tables merge key by key
    assert s.budget.discount_rate == 0.03  # defaults fill the rest
    s = load_scenario(child, ["budget.total_usd=300M", "selection.max_countries=5"])
    assert s.budget.total_usd == 300e6  # --set beats the file
    assert s.selection.max_countries == 5
    assert s.name == "child"


def test_unknown_key_suggests_the_closest(tmp_path):
    path = write(tmp_path, "typo.toml", "[budget]\ntotal_usdd = 5\n")
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    message = str(err.value)
    assert "typo.toml" in message and "budget.total_usdd" in message
    assert "did you mean 'total_usd'" in message


def test_all_problems_are_reported_at_once(tmp_path):
    path = write(
        tmp_path,
        "many.toml",
        '[budget]\nhorizon_years = 7\ntotal_usd = "lots"\n[selection]\nmax_countries = 0\n',
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert len(err.value.problems) == 3


def test_an_error_in_an_extended_file_names_that_file(tmp_path):
    (tmp_path / "shared").mkdir()
    write(tmp_path / "shared", "base.toml", '[budget]\ntotal_usd = "lots"\nhorizon_years = 7\n')
    child = write(
        tmp_path,
        "child.toml",
        'extends = "shared/base.toml"\n[budget]\nhorizon_years = 4\n[selection]\nmax_countries = 0\n',
    )
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    problems = info.value.problems
    assert len(problems) == 2  # horizon 7 is overridden by the child: not a problem
    inherited = next(p for p in problems if p.startswith("budget.total_usd"))
    assert inherited.endswith(f"[set in {tmp_path / 'shared' / 'base.toml'}]")
    own = next(p for p in problems if p.startswith("selection.max_countries"))
    assert "[set in" not in own
    with pytest.raises(ScenarioError) as info:  # --set names itself, not a file
        load_scenario(child, ["budget.total_usd=cheap"])
    assert "[with overrides=budget.total_usd=cheap]\n" in str(info.value)  # the library's words
    assert "[with --set budget.total_usd=cheap]\n" in info.value.render(FLAGS)  # the CLI's


def test_extends_cycle_is_named(tmp_path):
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="loops back"):
        load_scenario(tmp_path / "a.toml")


def test_malformed_toml_names_the_line(tmp_path):
    path = write(tmp_path, "bad.toml", "[budget\ntotal_usd = 1\n")
    with pytest.raises(ScenarioError, match=r"bad.toml.*line 1"):
        load_scenario(path)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("budget.total", "unknown key"),
        ("nonsense", "section.key=value"),
        ("budget.horizon_years=7", "3, 4 or 5"),
        ("policy.me_floor_share=1.5", "less than or equal to 1"),
    ],
)
def test_bad_overrides(override, fragment):
    with pytest.raises(ScenarioError, match=fragment):
        load_scenario(
            None, [override if "=" in override or override == "nonsense" else override + "=1"]
        )


def test_shares_above_one_in_total_are_refused(tmp_path):
    path = write(
        tmp_path,
        "floors.toml",
        "[policy]\npillar_floor_share = { prevention = 0.6, protection = 0.5 }\n",
    )
    with pytest.raises(ScenarioError, match="above 100%"):
        load_scenario(path)


def test_resolved_scenario_round_trips():
    s = load_scenario(DEFAULT_SCENARIO, ["budget.total_usd=123M"])
    text = resolved_toml(s)
    again = tomllib.loads(text)
    assert again["budget"]["total_usd"] == 123e6
    assert again["selection"]["region_max"]["AF"] == 3


@pytest.mark.parametrize(
    ("scenario", "overrides"),
    [(path, []) for path in sorted(DEFAULT_SCENARIO.parent.glob("*.toml"))]
    + [
        (
            DEFAULT_SCENARIO,
            ["selection.absorptive_cap_usd=none", 'description="a \\"quoted\\" one"'],
        )
    ],
)
def test_resolved_scenario_reloads_to_the_same_scenario(tmp_path, scenario, overrides):
    """scenario.toml in a run folder loads back to the scenario that was run (a limit set to
    none over a non-none default included) and writes the same bytes again."""
    s = load_scenario(scenario, overrides)
    text = resolved_toml(s)
    stored = write(tmp_path, "scenario.toml", text)
    again = load_scenario(stored)
    assert again.model_dump() == s.model_dump()
    assert resolved_toml(again) == text


@pytest.mark.parametrize(
    ("dollars", "shown"),
    [
        (999_999, "$1.00M"),
        (1_500, "$1.5k"),
        (9_960, "$10k"),
        (9_999_999, "$10.0M"),
        (999_999_999, "$1.00B"),
        (60e6, "$60.0M"),
        (6.75e6, "$6.75M"),
        (40e3, "$40k"),
        (250, "$250"),
        (-1_500, "-$1.5k"),
    ],
)
def test_usd_rounds_before_it_picks_the_unit(dollars, shown):
    assert usd(dollars) == shown


def test_a_bare_small_budget_warns_that_the_unit_is_dollars():
    scenario = load_scenario(DEFAULT_SCENARIO, ["budget.total_usd=250"])
    (warning,) = unit_warnings(scenario)
    assert "budget.total_usd is $250" in warning and "US dollars" in warning
    assert "250M" in warning
    assert unit_warnings(load_scenario()) == []


def test_a_budget_too_small_to_run_says_the_unit_in_the_error():
    from optimizer.engine import prepare

    with pytest.raises(InfeasibleError) as err:
        prepare(load_scenario(DEFAULT_SCENARIO, ["budget.total_usd=250"]))
    assert "write 250M" in str(err.value)


def test_a_table_value_is_replaced_whole_not_merged(tmp_path):
    """One semantics, as docs/scenario.md says: sections merge, a key's table is replaced."""
    base = DEFAULT_SCENARIO.as_posix()
    one = write(
        tmp_path, "one.toml", f'extends = "{base}"\n[selection]\nregion_max = {{ AF = 1 }}\n'
    )
    assert load_scenario(one).selection.region_max == {"AF": 1}
    none = write(tmp_path, "none.toml", f'extends = "{base}"\n[selection]\nregion_max = {{}}\n')
    assert load_scenario(none).selection.region_max == {}
    assert load_scenario(none).selection.max_countries == 8  # the section still merges


def test_set_replaces_a_table_or_changes_one_entry():
    replaced = load_scenario(DEFAULT_SCENARIO, ["policy.earmark_share={migrants=0.9}"])
    assert replaced.policy.earmark_share == {"migrants": 0.9}
    one = load_scenario(DEFAULT_SCENARIO, ["policy.earmark_share.labor=0.6"])
    assert one.policy.earmark_share == {"child_protection": 0.10, "labor": 0.6}
    assert one.selection.region_max["AF"] == 3


def test_a_bad_entry_in_a_replacing_table_names_the_file_that_wrote_it(tmp_path):
    base = write(tmp_path, "base.toml", "[selection]\nregion_max = { AF = 2, EUR = 1 }\n")
    child = write(
        tmp_path, "child.toml", 'extends = "base.toml"\n[selection]\nregion_max = { AF = -1 }\n'
    )
    with pytest.raises(ScenarioError) as err:
        load_scenario(child)
    message = str(err.value)
    assert "selection.region_max.AF" in message and "set in" not in message
    assert base.name not in message


def test_one_country_code_may_stand_alone():
    assert load_scenario(DEFAULT_SCENARIO, ["selection.lock_in=GHA"]).selection.lock_in == ["GHA"]


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ('selection.lock_in=["gha"]', "write 'GHA'"),
        ('selection.lock_out=["G1A"]', "three capital letters such as 'GHA'"),
        ("total_usd=300M", "did you mean 'budget.total_usd'?"),
        ("selection.annual_cap_usd=40M", "did you mean 'budget.annual_cap_usd'?"),
    ],
)
def test_messages_say_what_to_write(override, says):
    with pytest.raises(ScenarioError) as err:
        load_scenario(DEFAULT_SCENARIO, [override])
    assert says in str(err.value)
    assert "should match pattern" not in str(err.value)


def test_none_in_words_drops_an_inherited_optional_limit(tmp_path):
    base = DEFAULT_SCENARIO.as_posix()
    child = write(
        tmp_path, "nocap.toml", f'extends = "{base}"\n[budget]\nannual_cap_usd = "none"\n'
    )
    assert load_scenario(DEFAULT_SCENARIO).budget.annual_cap_usd == 60e6
    assert load_scenario(child).budget.annual_cap_usd is None
    assert load_scenario(DEFAULT_SCENARIO, ["policy.ramp_up=none"]).policy.ramp_up is None
    again = tomllib.loads(resolved_toml(load_scenario(child)))
    assert "annual_cap_usd" not in again["budget"]  # the stored scenario reloads the same
    with pytest.raises(ScenarioError, match=r"budget\.total_usd"):
        load_scenario(DEFAULT_SCENARIO, ["budget.total_usd=none"])  # not optional: no default none
