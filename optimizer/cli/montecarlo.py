"""`tipfocus uncertainty` and `sensitivity`: Monte Carlo over the impact model's ranges, and one
assumption at a time.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from pathlib import Path

import click

from optimizer.cli import (
    CONTEXT,
    SCENARIO_ARG,
    SET_OPTION,
    _bar,
    _load,
    _naming_file,
    _progress,
    main,
)


def STUDY_OPTIONS(command):  # named like the module's other shared options
    """--workers, --out and --force: the options every study command shares."""
    options = (
        click.option(
            "--workers",
            type=click.IntRange(1, 256),
            default=os.cpu_count() or 1,
            show_default="the number of CPUs",
            help="Local worker processes.",
        ),
        click.option(
            "--out", type=click.Path(file_okay=False, path_type=Path), help="Folder to write."
        ),
        click.option(
            "--force", is_flag=True, help="Replace the folder if an earlier study wrote it."
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


@main.command(context_settings=CONTEXT)
@SCENARIO_ARG
@SET_OPTION
@click.option(
    "--draws",
    type=click.IntRange(1, 100_000),
    default=200,
    show_default=True,
    help="Number of draws (1 to 100,000).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draws.")
@STUDY_OPTIONS
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Send the draws to a Dask distributed scheduler (needs tipfocus[distributed]).",
)
@click.option(
    "--robust",
    is_flag=True,
    help="Also the allocation with the best mean impact over the first --robust-draws draws.",
)
@click.option(
    "--robust-draws",
    type=click.IntRange(1, 50),
    default=10,
    show_default=True,
    help="Draws the robust allocation is fitted on (1 to 50). Its model gets one copy of the "
    "candidate countries' spend columns and objective rows per draw (about 560 columns per country "
    "and draw on the baseline: 10 draws, 21 candidates, 167,000 columns), and the solve time "
    "grows faster than that; past the solver's time limit the plan on the mode's focus "
    "countries is kept if better.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the study in --out: keep its finished draws and solve only those it lacks up "
    "to --draws (an interrupted study, or more draws for narrower intervals). Same scenario, "
    "--set, data and seed, or it refuses; the folder is then replaced by the longer study.",
)
def uncertainty(
    scenario, overrides, draws, seed, workers, out, force, scheduler, robust, robust_draws, resume
) -> None:
    """Monte Carlo over the impact model's low / mode / high ranges.

    Each draw re-solves the scenario with drawn costs, saturations, context elasticities and metric
    weights ([uncertainty] in the scenario sets the shape and overrides ranges). Writes to --out
    (default runs/<scenario>-uncertainty-<timestamp>/): uncertainty.csv (per country: selection
    probability with its 95% interval for the number of draws, allocation P10/P50/P90),
    uncertainty_pillars.csv, draws.csv, ranges.csv, summary.json (impact distribution and the
    mean's 95% margin, regret of the mode allocation) and charts; with --robust
    also robust_allocation.csv and robust_vs_mode.csv: the allocation with the best mean impact
    over the first --robust-draws solved draws (sample-average approximation, tipping point
    included; only countries that some draw's optimum or the mode allocation chose are offered),
    compared with the mode allocation on those draws and on the study's other draws (held out,
    where a gain that only fits the sample vanishes): expected impact with its 95% margin, P10,
    regret, and the robust allocation's mean gain over the mode allocation on the same draws.
    The same seed gives the same files whatever --workers or --scheduler. Ctrl-C keeps the
    finished draws.
    """
    from optimizer.engine import prepare
    from optimizer.errors import SolverError
    from optimizer.result import run_name
    from optimizer.uncertainty.executors import executor
    from optimizer.uncertainty.outputs import check_folder, write_folder
    from optimizer.uncertainty.robust import compare
    from optimizer.uncertainty.study import monte_carlo

    sc = _load(scenario, overrides)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = out or Path("runs") / f"{run_name(sc.name, overrides)}-uncertainty-{stamp}"
    resumed = _resumed(out, draws, seed, robust) if resume else None
    if resumed is not None:
        seed = resumed.seed
        force = True  # the study's own folder, replaced by the longer study
    check_folder(folder, force)
    progress = _progress()
    with _naming_file(scenario):
        progress("reading the data, screening countries and building the model")
        prep = prepare(sc)
        from optimizer.uncertainty.draws import ranges

        ranges(prep.catalogue, sc)  # bad [uncertainty] ranges fail before any solve
    to_solve = draws - (len(resumed.outcomes) if resumed is not None else 0)
    with executor(workers, scheduler) as pool, _bar(to_solve, "draws") as tick:
        progress("solving at the mode values")
        result = monte_carlo(prep, draws, seed, pool, tick, resumed=resumed)
    if robust and result.summary["draws_solved"]:
        progress("solving the robust allocation over the draws")
        try:
            plan, versus = compare(
                prep, result.study, result.finished, lambda: prepare(sc), robust_draws
            )
        except SolverError as exc:  # the draws are kept: write the study without it
            click.echo(f"{exc}\nThe study is written without a robust allocation.", err=True)
        else:
            result.tables["robust_allocation"] = plan
            result.tables["robust_vs_mode"] = versus
            _print_versus(versus)
    outcomes = result.finished.outcomes
    write_folder(folder, force, result.tables, result.summary, result.figures, outcomes)
    click.get_current_context().meta["written"] = folder
    info = result.summary
    if resumed is not None:
        kept = len(resumed.outcomes)
        click.echo(f"Resumed: kept {kept} draw{'' if kept == 1 else 's'} solved before.")
    click.echo(f"{info['draws_solved']} of {draws} draws solved", nl=False)
    if info["draws_finished"] > info["draws_solved"]:
        click.echo(
            f"; {info['draws_finished'] - info['draws_solved']} without an allocation", nl=False
        )
    click.echo(f" ({', '.join(f'{k} {v}' for k, v in info['statuses'].items())}).")
    if "impact" in info:
        spread = info["impact"]
        regret = info["regret"]
        click.echo(
            f"Impact of each draw's optimum: mean {spread['mean']:,.0f}"
            f"{_margin(spread, info['draws_solved'])}, "
            f"P10 {spread['p10']:,.0f}, P50 {spread['p50']:,.0f}, P90 {spread['p90']:,.0f} "
            f"(mode values: {info['mode_impact']:,.0f})."
        )
        click.echo(
            f"Regret of the mode allocation: mean {regret['mean']:,.0f}"
            f"{_margin(regret, info['draws_solved'])}, P90 {regret['p90']:,.0f}."
        )
    click.echo(f"\nWrote {folder}/")
    if result.finished.interrupted:
        click.echo("Interrupted: the folder holds the draws that finished.", err=True)
        click.get_current_context().exit(130)


def _print_versus(versus) -> None:
    """The robust-versus-mode table's main columns, and what the held-out draws say."""
    shown = ["allocation", "sample", "draws", "expected_impact", "margin95", "impact_p10"]
    shown += ["mean_regret", "gain_over_mode", "gain_margin95", "draws_keeping_aftercare"]
    click.echo(versus[shown].to_string(index=False, na_rep="", float_format=lambda v: f"{v:,.0f}"))
    held = versus[(versus["sample"] == "held out") & (versus["allocation"] == "robust allocation")]
    if held.empty:
        click.echo(
            "No held-out draws: run more --draws than --robust-draws to see whether the robust "
            "allocation's gain holds beyond the draws it was fitted on."
        )
        return
    row = held.iloc[0]
    margin = "" if math.isnan(row["gain_margin95"]) else f" ± {row['gain_margin95']:,.0f}"
    draws = f"{row['draws']} held-out draw{'' if row['draws'] == 1 else 's'}"
    click.echo(
        f"On {draws} the robust allocation gains {row['gain_over_mode']:,.0f}{margin} (95%) over "
        "the mode allocation."
    )


def _resumed(out: Path | None, draws: int, seed: int, robust: bool):
    """The study in ``out`` to resume (``outputs.Resumed``), checked against these options."""
    from optimizer.uncertainty.draws import draw_seeds
    from optimizer.uncertainty.outputs import read_study

    if out is None:
        raise click.UsageError("--resume needs --out, the folder of the study to continue")
    resumed = read_study(out)
    source = click.get_current_context().get_parameter_source("seed")
    if source == click.core.ParameterSource.COMMANDLINE and seed != resumed.seed:
        raise click.UsageError(
            f"{out} was run with --seed {resumed.seed}; resume it with that seed (or without "
            f"--seed), or give a new --out for a study with --seed {seed}"
        )
    if (out / "robust_vs_mode.csv").exists() and not robust:
        raise click.UsageError(
            f"{out} has a robust allocation, which the new draws change; resume with --robust "
            "(and its --robust-draws) to solve it again"
        )
    last = max((o.index for o in resumed.outcomes), default=-1)
    if last >= draws:
        raise click.UsageError(
            f"{out} holds {len(resumed.outcomes)} draws, the last numbered {last}; ask for "
            f"--draws {last + 1} or more"
        )
    seeds = draw_seeds(resumed.seed, draws)
    for o in resumed.outcomes:
        if seeds[o.index] != o.seed:
            raise click.UsageError(
                f"{out}/draws.jsonl: draw {o.index} has seed {o.seed}, not the study's "
                f"{seeds[o.index]}; the file was changed: give a new --out"
            )
    return resumed


def _margin(spread: dict, draws: int) -> str:
    """The mean's 95% margin as the summary prints it (none from a single draw)."""
    if spread["mean_margin95"] is None:
        return " (one draw: no margin)"
    return f" (± {spread['mean_margin95']:,.0f} at 95% for {draws} draws)"


@main.command(context_settings=CONTEXT)
@SCENARIO_ARG
@SET_OPTION
@STUDY_OPTIONS
@click.option(
    "--top",
    type=click.IntRange(0, 100),
    default=5,
    show_default=True,
    help="Break-even values for this many of the largest swings that change the focus countries.",
)
def sensitivity(scenario, overrides, workers, out, force, top) -> None:
    """One assumption at a time, at its low and at its high value.

    Every component's cost per outcome, saturation and context elasticity (for every country at
    once), every metric weight, and the scenario's assumptions where it uses them: the discount
    rate, the tipping point ([tipping]: threshold per person, pillar years and minimum, durable
    share, durable years, decay; the systems dividend if on), readiness strength, the reach
    exponent and the absorptive cap (ranges: docs/model.md). Writes to --out (default
    runs/<scenario>-sensitivity-<timestamp>/): sensitivity.csv (impact at low and high, swing,
    focus countries and whether they change, break-even values), summary.json and a tornado chart.
    """
    from optimizer.engine import prepare
    from optimizer.result import run_name
    from optimizer.uncertainty import charts
    from optimizer.uncertainty.draws import ranges
    from optimizer.uncertainty.executors import executor
    from optimizer.uncertainty.montecarlo import study_of
    from optimizer.uncertainty.outputs import check_folder, figure, write_folder
    from optimizer.uncertainty.sensitivity import assumptions, one_at_a_time, with_break_even

    sc = _load(scenario, overrides)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = out or Path("runs") / f"{run_name(sc.name, overrides)}-sensitivity-{stamp}"
    check_folder(folder, force)
    progress = _progress()
    with _naming_file(scenario):
        progress("reading the data, screening countries and building the model")
        prep = prepare(sc)
        ranges(prep.catalogue, sc)
    progress("solving at the nominal values")
    study = study_of(prep)
    points = 2 * len(assumptions(study))
    with executor(workers) as pool, _bar(points, "assumptions") as tick:
        table = one_at_a_time(study, pool, tick)
    if top:
        progress(f"break-even values for up to {top} assumptions")
        table = with_break_even(study, table, top=top)
    info = {
        "scenario": sc.name,
        "mode_impact": study.mode_impact,
        "mode_focus_countries": list(study.mode_selected),
        "assumptions": len(table),
        "change_the_focus_countries": int(
            (table["set_changes_low"] | table["set_changes_high"]).sum()
        ),
    }
    fig = figure(charts.tornado, table, study.mode_impact, height=6.0)
    write_folder(folder, force, {"sensitivity": table}, info, {"tornado": fig})
    click.get_current_context().meta["written"] = folder
    shown = table.head(10)[
        [
            "kind",
            "key",
            "impact_low",
            "impact_high",
            "set_changes_low",
            "set_changes_high",
            "break_even",
        ]
    ]
    click.echo(f"Impact at the nominal values: {study.mode_impact:,.0f}. Largest swings:")
    click.echo(shown.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    click.echo(f"\nWrote {folder}/")
