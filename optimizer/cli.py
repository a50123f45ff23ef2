"""The `tipfocus` command line: a thin click layer over the library.

Commands parse, call the library and turn domain errors into one clear message and an exit code:
0 optimal (or done), 1 infeasible / no solution, 2 bad input. Tracebacks only with --debug.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
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
        except KeyboardInterrupt:
            click.echo("Interrupted; nothing was written.", err=True)
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
@click.option("--year", type=int, help="Reference year (TIP report year); default: the scenario's.")
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

    sc = _load(scenario, overrides + ((f"data.reference_year={year}",) if year else ()))
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
        click.echo(f"Wrote {out} ({len(frame)} countries, {int(frame['eligible'].sum())} eligible)")
    else:
        click.echo(text, nl=False)


# ---------------------------------------------------------------------------- run


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
    "--time-limit", type=click.FloatRange(min=0, min_open=True), help="Seconds for the whole solve."
)
@click.option("--gap", type=click.FloatRange(0, 1), help="Relative MIP gap to stop at.")
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

    SCENARIO defaults to scenarios/baseline.toml. Writes allocation.csv, outcomes.csv, summary.json,
    the resolved scenario and a manifest to --out (default runs/<scenario>-<timestamp>/).
    Exit codes: 0 optimal or time-limited with an allocation, 1 infeasible or no solution, 2 bad input.
    """
    from optimizer.engine import prepare
    from optimizer.engine import run as run_engine
    from optimizer.report.text import run_summary
    from optimizer.result import safe_name, write_run
    from optimizer.solve import write_model

    extra = []
    if solver:
        extra.append(f"solver.name={json.dumps(solver)}")
    if time_limit:
        extra.append(f"solver.time_limit_s={time_limit}")
    if gap is not None:
        extra.append(f"solver.mip_gap={gap}")
    sc = _load(scenario, overrides + tuple(extra))
    for path, what in ((write_lp, "--write-lp"), (write_mps, "--write-mps"), (out, "--out")):
        if path:
            check_target(path, force, what)  # fail before solving, not after

    if write_lp or write_mps:
        with _naming_file(scenario):
            prep = prepare(sc)
        for path, fmt in ((write_lp, "lp"), (write_mps, "mps")):
            if path:
                write_model(prep.model, path, fmt)
                click.echo(
                    f"Wrote {path} ({len(prep.model.variables)} variables, "
                    f"{len(prep.model.problem.constraints())} rows); not solved."
                )
        return
    with _naming_file(scenario):
        result = run_engine(sc)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = out or Path("runs") / f"{safe_name(sc.name)}-{stamp}"
    write_run(result, folder, force=force)
    click.echo(run_summary(result))
    click.echo(f"\nWrote {folder}/")


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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
