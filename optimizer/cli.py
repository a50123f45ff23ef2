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
@click.option(
    "--no-tradeoffs",
    is_flag=True,
    help="Skip the trade-offs (price of each rule, marginal values: about a dozen re-solves).",
)
def run(
    scenario, overrides, out, force, solver, time_limit, gap, write_lp, write_mps, no_tradeoffs
) -> None:
    """Allocate the budget across focus countries, components and years.

    SCENARIO defaults to scenarios/baseline.toml. Writes allocation.csv, outcomes.csv, summary.json,
    the resolved scenario and a manifest to --out (default runs/<scenario>-<timestamp>/), and
    tradeoffs.csv (the impact each rule costs, by re-solving without it) and marginal_values.csv
    (duals with the focus countries fixed) unless --no-tradeoffs.
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
        result = run_engine(sc, tradeoffs=not no_tradeoffs, progress=_progress_line())
    if sys.stderr.isatty() and not no_tradeoffs:
        click.echo("\r" + " " * 52 + "\r", nl=False, err=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = out or Path("runs") / f"{safe_name(sc.name)}-{stamp}"
    write_run(result, folder, force=force)
    click.echo(run_summary(result))
    click.echo(f"\nWrote {folder}/")


def _progress_line():
    """A one-line "pricing ..." note on a terminal's stderr; nothing when not a terminal."""
    if not sys.stderr.isatty():
        return None
    return lambda step: click.echo(f"\rtrade-offs: {step[:40]:<40}", nl=False, err=True)


# ---------------------------------------------------------------------------- trade-offs


def _bar(length: int, label: str):
    """click's progress bar on a terminal's stderr; a silent stand-in otherwise."""
    if sys.stderr.isatty():
        return click.progressbar(length=length, label=label, file=sys.stderr)
    return contextlib.nullcontext(None)


def _ticker(bar):
    return (lambda: bar.update(1)) if bar is not None else None


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
    with _bar(12, f"explaining {iso}") as bar:
        found = explain_country(resolver, optimum, iso, _ticker(bar))
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
    with _bar(len(sweep.values), f"{sweep.key}") as bar:
        frame, interrupted = solve_points(sweep, scenario, list(overrides), _ticker(bar))
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
    with _bar(count, "searching") as bar:
        found, exhausted = find_alternatives(resolver, optimum, margin, count, _ticker(bar))
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
