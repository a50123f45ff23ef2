"""`tipfocus replan`: re-plan a compact from actuals (docs/compacts.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from optimizer.cli import CONTEXT, main
from optimizer.files import check_target


@main.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--actuals",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV of iso3, component, year, spend_usd, outcome for the years already passed.",
)
@click.option(
    "--template",
    is_flag=True,
    help="Write an actuals file to fill in (the plan's figures) instead of re-planning.",
)
@click.option(
    "--through",
    type=click.IntRange(1900, 2100),
    help="With --template: the last year passed (default: the plan's first year).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Run folder to write (with --template: the CSV file; default actuals-<run>.csv).",
)
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
@click.option(
    "--solver", type=click.Choice(["highs", "cbc"]), help="MIP solver (default: scenario's)."
)
def replan(run_dir, actuals, template, through, out, force, solver) -> None:
    """Re-plan a compact from actuals: fix the passed years, update effectiveness, re-optimise.

    RUN_DIR is the plan's run folder. Effectiveness per country and component moves by the ratio
    of actual to projected outputs, clipped to [0.5, 1.5] (docs/compacts.md). Writes a run folder
    (default runs/<plan>-replan-<timestamp>/) with changes.csv: plan, re-plan and change per
    country, component and year. Exit codes as for `run`.
    """
    from optimizer.result import not_a_run, read_run, safe_name, write_csv

    if template == (actuals is not None):
        raise click.UsageError("give either --actuals FILE (re-plan) or --template (write one)")
    plan = read_run(run_dir)
    if template:
        from optimizer.replan import template as actuals_template

        path = out or Path(f"actuals-{safe_name(Path(run_dir).resolve().name)}.csv")
        check_target(path, force, "--out")
        frame = actuals_template(plan, through)
        if frame.empty:
            raise click.UsageError(f"the plan spends nothing up to {through}; choose --through")
        write_csv(frame, path)
        click.get_current_context().meta["written"] = path
        click.echo(f"Wrote {path} ({len(frame)} rows): replace the plan's figures by the actuals")
        return
    from optimizer.engine import prepare
    from optimizer.replan import changes_text, read_actuals
    from optimizer.replan import replan as replan_run
    from optimizer.report.text import run_summary
    from optimizer.result import write_run
    from optimizer.scenario import load_scenario

    frame = read_actuals(actuals)
    sc = load_scenario(Path(run_dir) / "scenario.toml")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = out or Path("runs") / f"{safe_name(Path(run_dir).resolve().name)}-replan-{stamp}"
    check_target(folder, force, "--out", replaceable=not_a_run)
    result = replan_run(prepare(sc), plan, frame, actuals, solver)
    write_run(result, folder, force=force)
    click.get_current_context().meta["written"] = folder
    click.echo(run_summary(result))
    click.echo("\n" + changes_text(result.changes))
    click.echo(f"\nWrote {folder}/")
