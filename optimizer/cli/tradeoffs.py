"""`tipfocus explain`, `frontier` and `alternatives`: what drives the allocation, by exact re-solves."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from optimizer.cli import CONTEXT, SCENARIO_ARG, SET_OPTION, _bar, _load, _naming_file, main
from optimizer.files import check_target


def _prepared(scenario: Path | None, overrides: tuple[str, ...]):
    from optimizer.engine import prepare

    sc = _load(scenario, overrides)
    with _naming_file(scenario):
        return prepare(sc)


def _optimum(prep):
    """The prepared model on a warm resolver, solved: (resolver, optimum)."""
    from optimizer.analysis.resolve import Resolver
    from optimizer.errors import InfeasibleError, SolverError
    from optimizer.solve import Status

    resolver = Resolver(prep.model, prep.scenario.solver)
    optimum = resolver.solve()
    if optimum.status == Status.INFEASIBLE:
        raise InfeasibleError(
            f"scenario {prep.scenario.name}",
            "the rules cannot all hold; `tipfocus run` says which had to give",
        )
    if not optimum.ok:
        raise SolverError(prep.scenario.solver.name, f"no allocation found ({optimum.status})")
    return resolver, optimum


@main.command(context_settings=CONTEXT)
@click.argument("iso3")
@SCENARIO_ARG
@SET_OPTION
def explain(iso3, scenario, overrides) -> None:
    """Why ISO3 is in or out of the allocation, and what it would take to change that.

    For an eligible country left out: the impact lost by forcing it in and how much more effective
    its programmes would have to be to enter. For a focus country: how much less effective it
    could be before it drops out, and what replaces it. Every number is an exact re-solve.
    """
    from optimizer.analysis.explain import explain_country
    from optimizer.analysis.sentences import explain_sentences
    from optimizer.errors import InputError

    iso = iso3.strip().upper()
    prep = _prepared(scenario, overrides)
    frame = prep.screen.frame
    if iso not in frame.index:
        raise InputError(
            "ISO3",
            f"{iso3!r} is not a TIP-rated country in the data; give an ISO 3166 alpha-3 code "
            "from `tipfocus screen`",
        )
    name = str(frame.at[iso, "name"])
    if not frame.at[iso, "eligible"]:
        raise InputError("ISO3", f"{iso} {name} is not eligible: {frame.at[iso, 'reasons']}")
    if iso in prep.scenario.selection.lock_out:
        click.echo(f"{iso} {name} is eligible but locked out (selection.lock_out).")
        return
    if iso not in prep.countries:
        click.echo(
            f"{iso} {name} is eligible but can usefully absorb less than the minimum compact "
            "(selection.min_compact_usd), so it cannot be a focus country."
        )
        return
    resolver, optimum = _optimum(prep)
    with _bar(12, f"explaining {iso}") as tick:
        found = explain_country(resolver, optimum, iso, tick)
    for line in explain_sentences(found, name):
        click.echo(line)


@main.command(context_settings=CONTEXT)
@SCENARIO_ARG
@SET_OPTION
@click.option(
    "--vary",
    required=True,
    metavar="KEY=START:STOP:STEP",
    help="Numeric scenario key and its range, both ends included; money as in scenarios (150M).",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder to write.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def frontier(scenario, overrides, vary, out, force) -> None:
    """Solve at every value of one scenario key: frontier.csv and frontier.png.

    Columns: value, status, objective, budget_used_usd, countries (ISO3 joined by ;), the marginal
    return from the previous point and the knee. Right-hand sides (budget, yearly cap, country
    counts) are re-solved in place; other keys rebuild the model at each point. Ctrl-C keeps the
    points solved so far.
    """
    from optimizer.analysis.frontier import parse_sweep, solve_points
    from optimizer.analysis.frontier_chart import save_frontier_chart
    from optimizer.analysis.output import replaceable, write_folder
    from optimizer.result import safe_name, write_csv

    sweep = parse_sweep(vary, scenario, list(overrides))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = safe_name(f"frontier-{(scenario.stem if scenario else 'baseline')}-{sweep.key}")
    folder = out or Path("runs") / f"{name}-{stamp}"
    check_target(folder, force, replaceable=replaceable("frontier.csv"))
    with _bar(len(sweep.values), f"{sweep.key}") as tick:
        frame, interrupted = solve_points(sweep, scenario, list(overrides), tick)
    if frame.empty:
        click.echo("Interrupted before any point was solved; nothing was written.", err=True)
        sys.exit(130)
    files = {
        "frontier.csv": lambda path: write_csv(frame, path),
        "frontier.png": lambda path: save_frontier_chart(frame, sweep.key, path),
    }
    write_folder(folder, files, force)
    solved = frame["objective"].notna().sum()
    click.echo(f"{len(frame)} points ({solved} solved) over {sweep.key}")
    knee = frame[frame["knee"]]
    if len(knee):
        click.echo(f"Knee at {sweep.key} = {knee['value'].iloc[0]:,.12g}")
    click.echo(f"Wrote {folder}/")
    if interrupted:
        click.echo(f"Interrupted after {len(frame)} of {len(sweep.values)} points.", err=True)
        sys.exit(130)


def _margin(text: str) -> float:
    from optimizer.errors import InputError

    raw = text.strip()
    try:
        value = float(raw.removesuffix("%")) / (100.0 if raw.endswith("%") else 1.0)
    except ValueError:
        raise InputError("--within", f"{text!r} is not a margin; write e.g. 2% or 0.02") from None
    if not 0.0 < value < 1.0:
        raise InputError("--within", f"{text!r} is outside (0, 100%); write e.g. 2%")
    return value


@main.command(context_settings=CONTEXT)
@SCENARIO_ARG
@SET_OPTION
@click.option("--within", default="2%", show_default=True, help="Margin below the optimum.")
@click.option(
    "--count", type=click.IntRange(1, 20), default=5, show_default=True, help="Alternatives."
)
def alternatives(scenario, overrides, within, count) -> None:
    """Focus-country sets within a margin of the optimum, as different as possible.

    Each differs from the optimum and from every earlier one in as many countries as the margin
    allows, and is allocated for its own best impact. Planners use these when politics rules out
    the optimum. Ctrl-C keeps those found.
    """
    from optimizer.analysis.alternatives import find_alternatives

    margin = _margin(within)
    prep = _prepared(scenario, overrides)
    resolver, optimum = _optimum(prep)
    names = prep.screen.frame["name"]
    with _bar(count, "searching") as tick:
        found, exhausted = find_alternatives(resolver, optimum, margin, count, tick)
    click.echo(f"Optimum: {' '.join(optimum.selected)} ({optimum.objective:,.0f} impact units)")
    if not found and exhausted:
        click.echo(f"No other focus-country set comes within {margin:.1%} of the optimum.")
    for number, alt in enumerate(found, 1):
        leave = sorted(set(optimum.selected) - set(alt.point.selected))
        come = sorted(set(alt.point.selected) - set(optimum.selected))
        click.echo(
            f"{number}. {' '.join(alt.point.selected)}: {alt.impact_lost_pct:.2f}% less impact; "
            f"without {', '.join(leave) or 'none'}, with "
            f"{', '.join(f'{c} {names.get(c, c)}' for c in come) or 'none'}"
        )
    if len(found) < count:
        why = "no other set qualifies" if exhausted else "the search stopped (time limit or Ctrl-C)"
        click.echo(f"{len(found)} of {count} found within {margin:.1%}: {why}.")
