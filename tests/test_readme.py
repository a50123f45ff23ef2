"""The README's Quick start shows what `tipfocus run` really prints on the baseline."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from optimizer.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
TIMINGS = re.compile(r"build [\d.]+s, solve [\d.]+s(, trade-offs [\d.]+s)?")


def test_quick_start_summary_matches_a_real_run(tmp_path):
    block = README.read_text().split("```text\n", 1)[1].split("```", 1)[0]
    shown = [line for line in block.splitlines() if line.strip() not in ("...", "")]
    result = CliRunner().invoke(main, ["run", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    printed = {TIMINGS.sub("", line) for line in result.stdout.splitlines()}
    missing = [line for line in shown if TIMINGS.sub("", line) not in printed]
    assert not missing, f"README lines not in the real summary: {missing}"


def test_design_notes_name_every_module_of_the_package():
    """docs/design.md's pipeline block lists every top-level module of ``optimizer/``."""
    design = (ROOT / "docs" / "design.md").read_text()
    block = design.split("```\n", 1)[1].split("```", 1)[0]
    modules = sorted(p.name for p in (ROOT / "optimizer").glob("*.py") if p.name != "__init__.py")
    missing = [name for name in modules if name not in block]
    assert not missing, f"modules missing from docs/design.md: {missing}"
    for stage in ("`inputs`", "`model`", "`solve`/`session`", "`engine`"):
        assert stage in README.read_text(), stage
