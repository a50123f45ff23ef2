"""`tipfocus show`, `compare`, `chart` and `report`: views of saved run folders (or scenario files
solved on the fly).
"""

from __future__ import annotations

from pathlib import Path

import click

from optimizer.cli import CONTEXT, main
from optimizer.files import check_target, write_text

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
        write_workbook(loaded[0].result, xlsx, force, comparison, loaded[0].tables)
    write_text(out, html, force)
    click.echo(f"Wrote {out}" + (f" and {xlsx}" if xlsx else ""))
