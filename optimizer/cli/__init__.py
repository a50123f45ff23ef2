"""The `tipfocus` command line: a thin click layer over the library.

Commands parse, call the library and turn domain errors into one clear message and an exit code:
0 optimal (or done), 1 infeasible / no solution, 2 bad input. Tracebacks only with --debug.

The package holds the shared pieces and the core commands (screen, run, data); the other command
families live in submodules that register on `main` when imported at the bottom: reports (show,
compare, chart, report), tradeoffs (explain, frontier, alternatives), compacts (replan) and
uncertainty (uncertainty, sensitivity).
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
# The library names settings by key (optimizer.errors.setting); its messages reach the user with
# these flags instead. A scenario key keeps its key beside the flag (it may be set in a file too).
FLAGS = {
    "overrides": "--set",
    "output": "--out",
    "force": "--force",
    "xlsx": "--xlsx",
    "write_lp": "--write-lp",
    "write_mps": "--write-mps",
    "data_dir": "--data-dir",
    "data.reference_year": "--year",
    "solver.name": "--solver",
    "solver.time_limit_s": "--time-limit",
    "solver.mip_gap": "--gap",
    "kind": "--kind",
    "vary": "--vary",
    "within": "--within",
    "count": "--count",
    "actuals": "--actuals",
    "template": "--template",
    "through": "--through",
    "draws": "--draws",
    "seed": "--seed",
    "workers": "--workers",
    "scheduler": "--scheduler",
    "robust": "--robust",
    "robust_draws": "--robust-draws",
    "resume": "--resume",
    "top": "--top",
}


class Group(click.Group):
    """Catches tipfocus errors: one message, the right exit code, a traceback only with --debug."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TipfocusError as exc:
            if ctx.meta.get("debug"):
                raise
            click.secho(f"Error: {exc.render(FLAGS)}", fg="red", err=True)
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
    if not ctx.resilient_parsing:
        from optimizer.solve import blas_on_one_thread

        blas_on_one_thread()  # every command's process and the worker processes it forks


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
    from optimizer.paths import DEFAULT_SCENARIO

    try:
        yield
    except ScenarioError as exc:
        if not exc.where.startswith("scenario "):
            raise
        raise ScenarioError(
            str(scenario or DEFAULT_SCENARIO), exc.problems, key=exc.key, hint=exc.hint
        ) from None


@contextlib.contextmanager
def _bar(length: int, label: str):
    """click's progress bar on a terminal's stderr: yields its tick; a no-op tick otherwise."""
    if not _stderr_is_terminal():
        yield lambda: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield lambda: bar.update(1)


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
    default=True,
    help="Price each rule and write the marginal values (one exact re-solve a rule, two at "
    "once: on the baseline about 3 times a cold run's wall time); --no-tradeoffs skips them.",
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
    hashes, versions), and unless --no-tradeoffs, tradeoffs.csv (the impact each rule costs,
    by re-solving without it) and marginal_values.csv (duals with the focus countries fixed).
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
    from optimizer.errors import OutputError
    from optimizer.paths import DATA_DIR, DEFAULT_CATALOGUE
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
    from optimizer.importers import run_import
    from optimizer.paths import DATA_DIR

    written = run_import(kind, file, data_dir or DATA_DIR)
    click.echo(f"Wrote {written}")


@data.command("check", context_settings=CONTEXT)
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help="Tables folder.")
def data_check(data_dir: Path | None) -> None:
    """Validate every table: columns, types, ranges, duplicates, country codes."""
    from optimizer.data import check_data
    from optimizer.paths import DATA_DIR

    for line in check_data(data_dir or DATA_DIR):
        click.echo(line)
    click.echo("All tables valid.")


# ---------------------------------------------------------------------------- the other families

# Imported last: each submodule registers its commands on `main`. The command objects are
# re-exported so `from optimizer.cli import chart` keeps working (no submodule shares a command's
# name, so none is shadowed).
from optimizer.cli.compacts import replan  # noqa: E402
from optimizer.cli.montecarlo import sensitivity, uncertainty  # noqa: E402
from optimizer.cli.reports import chart, compare, report, show  # noqa: E402
from optimizer.cli.tradeoffs import alternatives, explain, frontier  # noqa: E402

__all__ = [
    "alternatives",
    "chart",
    "compare",
    "data",
    "explain",
    "frontier",
    "main",
    "replan",
    "report",
    "run",
    "screen",
    "sensitivity",
    "show",
    "uncertainty",
]
