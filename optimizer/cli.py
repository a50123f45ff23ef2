"""The `tipfocus` command line: a thin click layer over the library.

Commands parse, call the library and turn domain errors into one clear message and an exit code:
0 optimal (or done), 1 infeasible / no solution, 2 bad input. Tracebacks only with --debug.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import sys
from pathlib import Path

import click

from optimizer import __version__
from optimizer.errors import TipfocusError
from optimizer.files import check_target, write_text
from optimizer.importers import IMPORTERS

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
SCENARIO_ARG = click.argument(
    "scenario", required=False, type=click.Path(dir_okay=False, path_type=Path)
)
SET_OPTION = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one scenario value (repeatable); beats the file and what it extends.",
)


class Group(click.Group):
    """Catches tipfocus errors: one message, the right exit code, a traceback only with --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TipfocusError as exc:
            if ctx.meta.get("debug"):
                raise
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(exc.exit_code)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt as exc:
            written = getattr(exc, "written", None) or ctx.meta.get("written")
            said = f"{written} was written in full" if written else "nothing was written"
            click.echo(f"Interrupted; {said}.", err=True)
            ctx.exit(130)
        except Exception as exc:
            if ctx.meta.get("debug"):
                raise
            click.secho(
                f"Internal error ({type(exc).__name__}: {exc}). Re-run with --debug for the traceback "
                "and report it.",
                fg="red",
                err=True,
            )
            ctx.exit(3)


@click.group(cls=Group, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="tipfocus")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """tipfocus: where a limited multi-year anti-trafficking budget does the most good.

    Screen countries for focus-country compacts, allocate the budget across countries, program
    components and years by linear programming, and show what drives the result.
    """
    ctx.meta["debug"] = debug
    _sigterm_unwinds(ctx)


def _sigterm_unwinds(ctx: click.Context) -> None:
    """SIGTERM unwinds like Ctrl-C (exit 130), so a half-written run folder is removed."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    restore = signal.SIG_DFL if previous is None else previous
    ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, restore))


def _stderr_is_terminal() -> bool:
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def _progress():
    """A stage reporter: each stage, with the seconds so far, on stderr when it is a terminal (a
    run can take seconds with nothing else to show); silent when stderr is a file or a pipe."""
    import time

    if not _stderr_is_terminal():
        return lambda stage: None
    start = time.perf_counter()
    return lambda stage: click.echo(f"[{time.perf_counter() - start:5.1f}s] {stage}", err=True)


def _load(scenario: Path | None, overrides: tuple[str, ...]):
    from optimizer.scenario import load_scenario

    return load_scenario(scenario, list(overrides))


@contextlib.contextmanager
def _naming_file(scenario: Path | None):
    """Rules checked after loading (precheck) name the scenario file, like load-time errors."""
    from optimizer.errors import ScenarioError
    from optimizer.scenario import DEFAULT_SCENARIO

    try:
        yield
    except ScenarioError as exc:
        if not exc.where.startswith("scenario "):
            raise
        raise ScenarioError(str(scenario or DEFAULT_SCENARIO), exc.problems) from None


# ---------------------------------------------------------------------------- screen


@main.command(context_settings=CONTEXT)
@SCENARIO_ARG
@click.option(
    "--year",
    type=click.IntRange(1900, 2100),
    help="Reference year (TIP report year); default: the scenario's.",
)
@SET_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Terminal table, or every column as CSV (spreadsheet-safe) or JSON.",
)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@click.option("--force", is_flag=True, help="Replace --out if it exists.")
def screen(scenario, year, overrides, fmt, out, force) -> None:
    """Screen every TIP-rated country: eligible or not, why, and readiness rank.

    SCENARIO defaults to scenarios/baseline.toml.
    """
    from optimizer.data import load_tables
    from optimizer.report.text import screen_table
    from optimizer.screening import screen as run_screen

    sc = _load(scenario, overrides + (() if year is None else (f"data.reference_year={year}",)))
    if out:
        _check_file_output(out, force, "--out", sc)  # before any work
    tables = load_tables(sc.data.dir) if sc.data.dir else load_tables()
    result = run_screen(tables, sc.eligibility, sc.data.reference_year)
    frame = result.frame.reset_index()
    if fmt == "table":
        text = screen_table(result.frame, result.reference_year) + "\n"
    elif fmt == "csv":
        from optimizer.result import safe_cell

        text = frame.map(safe_cell).to_csv(index=False, lineterminator="\n")
    else:
        text = frame.to_json(orient="records", indent=2) + "\n"
    if out:
        write_text(out, text, force)
        click.get_current_context().meta["written"] = out
        click.echo(f"Wrote {out} ({len(frame)} countries, {int(frame['eligible'].sum())} eligible)")
    else:
        click.echo(text, nl=False)


# ---------------------------------------------------------------------------- run


def _finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """FloatRange lets nan through (every comparison with nan is false): refuse it, and inf."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number.", ctx, param)
    return value


@main.command(context_settings=CONTEXT)
@SCENARIO_ARG
@SET_OPTION
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Run folder to write."
)
@click.option("--force", is_flag=True, help="Replace the run folder if it exists.")
@click.option(
    "--solver", type=click.Choice(["highs", "cbc"]), help="MIP solver (default: scenario's)."
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    callback=_finite,
    help="Seconds for the whole solve.",
)
@click.option(
    "--gap", type=click.FloatRange(0, 1), callback=_finite, help="Relative MIP gap to stop at."
)
@click.option(
    "--write-lp",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the LP file, no solve.",
)
@click.option(
    "--write-mps",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the MPS file, no solve.",
)
def run(scenario, overrides, out, force, solver, time_limit, gap, write_lp, write_mps) -> None:
    """Allocate the budget across focus countries, components and years.

    SCENARIO defaults to scenarios/baseline.toml. Writes to --out (default
    runs/<scenario>[_<overrides>]-<timestamp>/): allocation.csv, outcomes.csv, constraints.csv
    (every rule in its own units), screen.csv, streams.csv (money by funding stream),
    cofinancing.csv (US and host money by country and year), targets.csv (the benchmarks),
    summary.json, timings.json, scenario.toml (the resolved scenario) and manifest.json (input
    hashes, versions). Progress goes to stderr on a terminal.
    Exit codes: 0 optimal or time-limited with an allocation, 1 infeasible or no solution, 2 bad input.
    """
    from optimizer.engine import prepare
    from optimizer.engine import run as run_engine
    from optimizer.report.text import run_summary
    from optimizer.result import run_name, write_run
    from optimizer.solve import write_model

    sc = _load(scenario, overrides)
    options = {"name": solver, "time_limit_s": time_limit, "mip_gap": gap}
    chosen = {key: value for key, value in options.items() if value is not None}
    if chosen:  # click has checked them; the run records them in the solver section, not as --set
        sc = sc.model_copy(update={"solver": sc.solver.model_copy(update=chosen)})
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = out or Path("runs") / f"{run_name(sc.name, overrides)}-{stamp}"
    _check_outputs(folder, write_lp, write_mps, force, sc)  # fail before solving, not after

    if write_lp or write_mps:
        with _naming_file(scenario):
            prep = prepare(sc)
        for path, fmt in ((write_lp, "lp"), (write_mps, "mps")):
            if path:
                write_model(prep.model, path, fmt, force)
                click.get_current_context().meta["written"] = path
                click.echo(
                    f"Wrote {path} ({len(prep.model.variables)} variables, "
                    f"{len(prep.model.problem.constraints())} rows); not solved."
                )
        return
    progress = _progress()
    with _naming_file(scenario):
        result = run_engine(sc, progress=progress)
    progress(f"writing {folder}/")
    write_run(result, folder, force=force)
    click.get_current_context().meta["written"] = folder
    click.echo(run_summary(result))
    click.echo(f"\nWrote {folder}/")


def _check_outputs(
    folder: Path, write_lp: Path | None, write_mps: Path | None, force: bool, sc
) -> None:
    """Every output path checked before the solve: one each, none in another's place."""
    from optimizer.errors import OutputError
    from optimizer.result import not_a_run

    models = [(p, what) for p, what in ((write_lp, "--write-lp"), (write_mps, "--write-mps")) if p]
    if len(models) == 2 and os.path.abspath(write_lp) == os.path.abspath(write_mps):
        raise OutputError(
            str(write_lp), "given to both --write-lp and --write-mps; give each its own file"
        )
    for path, what in models:
        _check_file_output(path, force, what, sc)
    if not models:
        check_target(folder, force, "--out", replaceable=not_a_run)


def _check_file_output(path: Path, force: bool, what: str, sc) -> None:
    """``check_target``, and never one of the run's own input files (even with --force)."""
    from optimizer.catalogue import DEFAULT_CATALOGUE
    from optimizer.data import DATA_DIR
    from optimizer.errors import OutputError
    from optimizer.tables import TABLES

    check_target(path, force, what)
    data_dir = Path(sc.data.dir or DATA_DIR)
    inputs = [*sc.files, Path(sc.data.catalogue or DEFAULT_CATALOGUE)]
    inputs += [data_dir / schema.filename for schema in TABLES.values()]
    target = os.path.realpath(path)
    used = next((p for p in inputs if os.path.realpath(p) == target), None)
    if used is not None:
        raise OutputError(str(path), f"is an input of this run ({used}); choose another {what}")


# ---------------------------------------------------------------------------- data


@main.group(context_settings=CONTEXT)
def data() -> None:
    """Rebuild and check the curated country tables in data/."""


@data.command("import", context_settings=CONTEXT)
@click.argument("kind", type=click.Choice(sorted(IMPORTERS)))
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Tables folder.")
def data_import(kind: str, file: Path, data_dir: Path | None) -> None:
    """Rebuild one table from the publisher's own FILE (see data/SOURCES.md for each KIND)."""
    from optimizer.data import DATA_DIR
    from optimizer.importers import run_import

    written = run_import(kind, file, data_dir or DATA_DIR)
    click.echo(f"Wrote {written}")


@data.command("check", context_settings=CONTEXT)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Tables folder.")
def data_check(data_dir: Path | None) -> None:
    """Validate every table: columns, types, ranges, duplicates, country codes."""
    from optimizer.data import DATA_DIR, check_data

    for line in check_data(data_dir or DATA_DIR):
        click.echo(line)
    click.echo("All tables valid.")


# ---------------------------------------------------------------------------- show, compare, chart, report

RUNS_ARG = click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
FORCE_OPTION = click.option("--force", is_flag=True, help="Replace outputs that exist.")


@main.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
def show(run_dir: Path) -> None:
    """Print the summary of a saved run folder again (no solve)."""
    from optimizer.report.text import run_summary
    from optimizer.result import read_run

    click.echo(run_summary(read_run(run_dir)))


@main.command(context_settings=CONTEXT)
@RUNS_ARG
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "md"]),
    default="table",
    show_default=True,
    help="Terminal table, CSV (raw numbers) or Markdown.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write comparison.txt, .csv or .md (per --format) to, instead of the terminal.",
)
@FORCE_OPTION
def compare(runs: tuple[Path, ...], fmt: str, out: Path | None, force: bool) -> None:
    """Compare runs side by side: RUNS are run folders or scenario files (solved on the fly).

    Shows status, money by country, pillar, channel and year, outcomes, cost per outcome and impact,
    each later run's change from the first, and every scenario value and input file that differs.
    """
    from optimizer.report.compare import (
        as_markdown,
        as_text,
        assumptions_diff,
        one_table,
        side_by_side,
    )
    from optimizer.report.sources import load_runs

    if len(runs) < 2:
        raise click.UsageError("give at least two run folders or scenario files to compare")
    if out:
        check_target(out, force)
    loaded = load_runs(list(runs))
    table, diff = side_by_side(loaded), assumptions_diff(loaded)
    if fmt == "csv":
        from optimizer.result import safe_cell

        both = one_table(table, diff).map(safe_cell)
        texts = {"comparison.csv": both.to_csv(index=False, lineterminator="\n")}
    elif fmt == "md":
        texts = {"comparison.md": as_markdown(table, diff) + "\n"}
    else:
        texts = {"comparison.txt": as_text(table, diff) + "\n"}
    if not out:
        click.echo("\n".join(texts.values()), nl=False)
        return
    for name, text in texts.items():
        write_text(out / name, text, force=True)
    click.echo(f"Wrote {', '.join(str(out / n) for n in texts)}")


@main.command(context_settings=CONTEXT)
@RUNS_ARG
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(  # figures.KINDS, spelt out so the CLI starts without matplotlib
        ["allocation", "phasing", "outcomes", "readiness", "frontier", "compare", "change"]
    ),
    help="Chart to draw (repeatable; default: every one the runs can have). compare and change "
    "need two runs or more; frontier needs frontier.csv in the run folder.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["png", "svg", "pdf"]),
    default="png",
    show_default=True,
    help="Image format; PNG is drawn at 200 dpi.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the charts (default: charts/<first run's name>/).",
)
@FORCE_OPTION
def chart(
    runs: tuple[Path, ...], kinds: tuple[str, ...], fmt: str, out: Path | None, force: bool
) -> None:
    """Draw charts of run folders (or scenario files, solved on the fly): PNG at 200 dpi, SVG or PDF.

    The first of RUNS is charted; the comparison charts use all of them, against the first.
    """
    from optimizer.report import charts
    from optimizer.report.figures import check_kinds, figure, run_colours
    from optimizer.report.sources import load_runs
    from optimizer.result import safe_name

    loaded = load_runs(list(runs))
    wanted = check_kinds(loaded, list(kinds))
    folder = out or Path("charts") / safe_name(loaded[0].label)
    targets = {kind: folder / f"{kind}.{fmt}" for kind in wanted}
    for path in targets.values():
        check_target(path, force)
    colours = run_colours(loaded)
    figures = {kind: figure(kind, loaded, colours) for kind in wanted}  # all drawn, then saved
    for kind, path in targets.items():
        charts.save(figures[kind], path, fmt, force)
    click.echo(
        f"Wrote {len(targets)} charts to {folder}/: {', '.join(p.name for p in targets.values())}"
    )


@main.command(context_settings=CONTEXT)
@RUNS_ARG
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="HTML file to write (default: <first run's name>-report.html).",
)
@click.option(
    "--xlsx",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write an Excel workbook of the first run (allocation, outcomes, screening, "
    "assumptions) and, given several runs, their comparison.",
)
@FORCE_OPTION
def report(runs: tuple[Path, ...], out: Path | None, xlsx: Path | None, force: bool) -> None:
    """Write a self-contained HTML report of run folders or scenario files (solved on the fly).

    One file, charts inline, nothing loaded from elsewhere; prints cleanly to PDF from a browser.
    Given several runs it starts with their comparison.
    """
    from optimizer.report.html import render
    from optimizer.report.sources import load_runs
    from optimizer.result import safe_name

    for path, what in ((out, "--out"), (xlsx, "--xlsx")):
        if path:
            check_target(path, force, what)
    loaded = load_runs(list(runs))
    out = out or Path(f"{safe_name(loaded[0].label)}-report.html")
    check_target(out, force)
    html = render(loaded)
    if xlsx:
        from optimizer.report.excel import write_workbook

        comparison = None
        if len(loaded) > 1:
            from optimizer.report.compare import assumptions_diff, one_table, side_by_side

            comparison = one_table(side_by_side(loaded), assumptions_diff(loaded))
        write_workbook(loaded[0].result, xlsx, force, comparison)
    write_text(out, html, force)
    click.echo(f"Wrote {out}" + (f" and {xlsx}" if xlsx else ""))


# ---------------------------------------------------------------------------- replan


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
