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
@click.option(
    "--tradeoffs/--no-tradeoffs",
    default=False,
    help="Also price each rule and write the marginal values (one exact re-solve a rule family: "
    "minutes on the baseline's focus-country model; off by default).",
)
def run(
    scenario, overrides, out, force, solver, time_limit, gap, write_lp, write_mps, tradeoffs
) -> None:
    """Allocate the budget across focus countries, components and years.

    SCENARIO defaults to scenarios/baseline.toml. Writes to --out (default
    runs/<scenario>[_<overrides>]-<timestamp>/): allocation.csv, outcomes.csv, constraints.csv
    (every rule in its own units), screen.csv, streams.csv (money by funding stream),
    cofinancing.csv (US and host money by country and year), targets.csv (the benchmarks),
    summary.json, timings.json, scenario.toml (the resolved scenario), manifest.json (input
    hashes, versions), and with --tradeoffs tradeoffs.csv (the impact each rule costs, by
    re-solving without it) and marginal_values.csv (duals with the focus countries fixed).
    Progress goes to stderr on a terminal.
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
        result = run_engine(sc, tradeoffs=tradeoffs, progress=progress)
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


# ---------------------------------------------------------------------------- trade-offs


@contextlib.contextmanager
def _bar(length: int, label: str):
    """click's progress bar on a terminal's stderr: yields its tick; a no-op tick otherwise."""
    if not _stderr_is_terminal():
        yield lambda: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield lambda: bar.update(1)


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
    from optimizer.analysis.output import write_folder
    from optimizer.result import safe_name, write_csv

    sweep = parse_sweep(vary, scenario, list(overrides))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = safe_name(f"frontier-{(scenario.stem if scenario else 'baseline')}-{sweep.key}")
    folder = out or Path("runs") / f"{name}-{stamp}"
    check_target(folder, force)
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


# ---------------------------------------------------------------------------- uncertainty


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
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=os.cpu_count() or 1,
    show_default="the number of CPUs",
    help="Local worker processes.",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder to write.")
@click.option("--force", is_flag=True, help="Replace the folder if an earlier study wrote it.")
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Send the draws to a Dask distributed scheduler (needs tipfocus[distributed]).",
)
@click.option(
    "--robust",
    is_flag=True,
    help="Also the allocation with the best mean impact over the draws (at most 50 draws).",
)
def uncertainty(scenario, overrides, draws, seed, workers, out, force, scheduler, robust) -> None:
    """Monte Carlo over the impact model's low / mode / high ranges.

    Each draw re-solves the scenario with drawn costs, saturations, context elasticities and metric
    weights ([uncertainty] in the scenario sets the shape and overrides ranges). Writes to --out
    (default runs/<scenario>-uncertainty-<timestamp>/): uncertainty.csv (per country: selection
    probability, allocation P10/P50/P90), uncertainty_pillars.csv, draws.csv, ranges.csv,
    summary.json (impact distribution, regret of the mode allocation) and charts; with --robust
    also robust_allocation.csv and robust_vs_mode.csv (sample-average approximation over the
    draws). The same seed gives the same files whatever --workers or --scheduler. Ctrl-C keeps
    the finished draws.
    """
    from optimizer.engine import prepare
    from optimizer.result import run_name
    from optimizer.uncertainty.executors import executor
    from optimizer.uncertainty.outputs import check_folder, write_folder
    from optimizer.uncertainty.robust import check_draws, compare
    from optimizer.uncertainty.study import monte_carlo

    if robust:
        check_draws(draws)
    sc = _load(scenario, overrides)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = out or Path("runs") / f"{run_name(sc.name, overrides)}-uncertainty-{stamp}"
    check_folder(folder, force)
    progress = _progress()
    with _naming_file(scenario):
        progress("reading the data, screening countries and building the model")
        prep = prepare(sc)
        from optimizer.uncertainty.draws import ranges

        ranges(prep.catalogue, sc)  # bad [uncertainty] ranges fail before any solve
    with executor(workers, scheduler) as pool, _bar(draws, "draws") as tick:
        progress("solving at the mode values")
        result = monte_carlo(prep, draws, seed, pool, tick)
    if robust and result.summary["draws_solved"]:
        progress("solving the robust allocation over the draws")
        plan, versus = compare(prep, result.study, result.finished, prepare(sc))
        result.tables["robust_allocation"] = plan
        result.tables["robust_vs_mode"] = versus
        click.echo(versus.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    write_folder(folder, force, result.tables, result.summary, result.figures)
    click.get_current_context().meta["written"] = folder
    info = result.summary
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
            f"Impact of each draw's optimum: mean {spread['mean']:,.0f}, P10 {spread['p10']:,.0f}, "
            f"P50 {spread['p50']:,.0f}, P90 {spread['p90']:,.0f} (mode values: {info['mode_impact']:,.0f})."
        )
        click.echo(
            f"Regret of the mode allocation: mean {regret['mean']:,.0f}, P90 {regret['p90']:,.0f}."
        )
    click.echo(f"\nWrote {folder}/")
    if result.finished.interrupted:
        click.echo("Interrupted: the folder holds the draws that finished.", err=True)
        click.get_current_context().exit(130)


@main.command(context_settings=CONTEXT)
@SCENARIO_ARG
@SET_OPTION
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=os.cpu_count() or 1,
    show_default="the number of CPUs",
    help="Local worker processes.",
)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder to write.")
@click.option("--force", is_flag=True, help="Replace the folder if an earlier study wrote it.")
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
    once), every metric weight and the discount rate. Writes to --out (default
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
