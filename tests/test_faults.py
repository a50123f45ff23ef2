"""Faults: a run killed midway, a missing solver, a time limit.

Killed runs: the run folder is written into a hidden temporary sibling and renamed into place, so
a kill leaves no partial folder and never touches an earlier run. SIGTERM unwinds like Ctrl-C and
removes the temporary folder (exit 130). SIGKILL cannot be caught: it may leave a hidden
``.<name>.tmp-<pid>-*`` sibling, which the next run into the same parent folder removes (its
process is gone).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pulp
import pytest
from click.testing import CliRunner

import optimizer.solve as solve_module
from optimizer.cli import main
from optimizer.files import clean_stale
from optimizer.result import read_run, write_run
from optimizer.solve import Status

REPO = Path(__file__).resolve().parent.parent
SMALL = ["--set", "selection.max_countries=3", "--set", "eligibility.min_rule_of_law_pct=50"]
TIPFOCUS = Path(sys.executable).parent / "tipfocus"
STRESS = REPO / "benchmarks" / "stress.toml"

# Runs the CLI with write_csv slowed down: the marker file appears once the first run file is in
# the temporary folder, then the process sleeps so the test can kill it mid-write.
HOOK = r"""
import os, sys, time
import optimizer.result as result
original = result.write_csv
def slow(frame, path):
    original(frame, path)
    with open(os.environ["TIPFOCUS_TEST_MARKER"], "w") as handle:
        handle.write(str(path))
    time.sleep(60)
result.write_csv = slow
from optimizer.cli import main
sys.exit(main())
"""


# Runs the CLI with a marker file written when HiGHS starts its first solve.
SOLVE_HOOK = r"""
import os, sys
import optimizer.solve as solve
original = solve._interruptible_run
def marked(highs):
    with open(os.environ["TIPFOCUS_TEST_MARKER"], "a") as handle:
        handle.write("solving\n")
    original(highs)
solve._interruptible_run = marked
from optimizer.cli import main
sys.exit(main())
"""


def tree_hash(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("earlier") / "earlier"
    result = CliRunner().invoke(main, ["run", *SMALL, "--out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def runs(tmp_path: Path, earlier_run: Path) -> Path:
    """A runs/ folder holding a copy of an earlier run."""
    parent = tmp_path / "runs"
    parent.mkdir()
    shutil.copytree(earlier_run, parent / "earlier")
    return parent


def hooked(args: list[str], marker: Path, hook: str = HOOK) -> subprocess.Popen:
    env = {**os.environ, "TIPFOCUS_TEST_MARKER": str(marker)}
    return subprocess.Popen(
        [sys.executable, "-c", hook, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"run ended before writing (exit {proc.returncode}): {out}\n{err}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("run never reached the write")
        time.sleep(0.05)


def hidden_temps(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


# ---------------------------------------------------------------------------- (a) killed runs


def test_sigkill_after_start_leaves_no_partial_folder(runs: Path) -> None:
    before = tree_hash(runs / "earlier")
    command = [str(TIPFOCUS)] if TIPFOCUS.exists() else [sys.executable, "-m", "optimizer.cli"]
    proc = subprocess.Popen(
        [*command, "run", *SMALL, "--out", str(runs / "new")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    started = time.monotonic()
    while time.monotonic() - started < 1.0 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # The kill lands at an unknown moment: before the rename there must be no folder; after it
    # (the run may have finished, or be tearing down, when the signal arrives) the folder must be
    # a whole run, never a part of one.
    if (runs / "new").exists():
        assert set(tree_hash(runs / "new")) == set(before)
        assert read_run(runs / "new").summary.status == "optimal"
    assert tree_hash(runs / "earlier") == before
    assert all(".new.tmp-" in name for name in hidden_temps(runs))


def test_sigkill_mid_write_then_next_run_cleans_up(runs: Path, tmp_path: Path) -> None:
    before = tree_hash(runs / "earlier")
    marker = tmp_path / "marker"
    proc = hooked(["run", *SMALL, "--out", str(runs / "new")], marker)
    wait_for(marker, proc)
    assert ".new.tmp-" in marker.read_text()  # the first file went to the hidden temporary
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert not (runs / "new").exists()
    assert tree_hash(runs / "earlier") == before
    stale = hidden_temps(runs)
    assert len(stale) == 1 and stale[0].startswith(f".new.tmp-{proc.pid}-"), stale
    # the next run into the same parent removes the dead process's temporary folder
    write_run(read_run(runs / "earlier"), runs / "another")
    assert hidden_temps(runs) == []
    assert sorted(p.name for p in runs.iterdir()) == ["another", "earlier"]
    assert tree_hash(runs / "earlier") == before


def test_sigterm_mid_write_removes_the_temporary(runs: Path, tmp_path: Path) -> None:
    before = tree_hash(runs / "earlier")
    marker = tmp_path / "marker"
    proc = hooked(["run", *SMALL, "--out", str(runs / "new")], marker)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert "nothing was written" in err
    assert "Traceback" not in out + err
    assert sorted(p.name for p in runs.iterdir()) == ["earlier"]
    assert tree_hash(runs / "earlier") == before


def test_sigterm_during_a_long_solve_stops_it_at_once(runs: Path, tmp_path: Path) -> None:
    """The stress scenario's relaxation takes seconds; SIGTERM stops HiGHS within an iteration."""
    marker = tmp_path / "marker"
    proc = hooked(["run", str(STRESS), "--out", str(runs / "new")], marker, SOLVE_HOOK)
    wait_for(marker, proc)
    time.sleep(0.3)
    signalled = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    waited = time.monotonic() - signalled
    assert proc.returncode == 130, (out, err)
    assert "nothing was written" in err and "Traceback" not in out + err
    assert waited < 2.0, f"the solve went on for {waited:.1f} s after SIGTERM"
    assert marker.read_text() == "solving\n"  # stopped inside the first solve
    assert sorted(p.name for p in runs.iterdir()) == ["earlier"]


def test_kill_while_replacing_with_force_keeps_the_earlier_run(runs: Path, tmp_path: Path) -> None:
    before = tree_hash(runs / "earlier")
    marker = tmp_path / "marker"
    proc = hooked(["run", *SMALL, "--out", str(runs / "earlier"), "--force"], marker)
    wait_for(marker, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert tree_hash(runs / "earlier") == before


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_stale_cleanup_restores_an_earlier_run_moved_aside(tmp_path: Path) -> None:
    """Killed between the two renames of a --force replace: the earlier run is put back."""
    pid = _dead_pid()
    aside = tmp_path / f".run.old-{pid}"
    aside.mkdir()
    (aside / "summary.json").write_text("{}")
    half = tmp_path / f".run.tmp-{pid}-abc123"
    half.mkdir()
    (half / "allocation.csv").write_text("partial")
    alive = tmp_path / f".other.tmp-{os.getpid()}-xyz"  # a live process's temporary: kept
    alive.mkdir()
    unrelated = tmp_path / ".config"
    unrelated.mkdir()
    clean_stale(tmp_path)
    assert (tmp_path / "run" / "summary.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".config", alive.name, "run"])


# ---------------------------------------------------------------------------- (b) missing solver


def test_missing_highspy_names_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "highspy", None)  # import highspy -> ImportError
    result = CliRunner().invoke(main, ["run", *SMALL, "--out", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert "highspy" in result.stderr
    assert "--solver cbc" in result.stderr
    assert result.stderr.count("Error:") == 1
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- (c) time limit


def test_tiny_time_limit_on_the_stress_scenario(tmp_path: Path) -> None:
    out = tmp_path / "stress"
    result = CliRunner().invoke(
        main, ["run", str(STRESS), "--set", "solver.time_limit_s=0.5", "--out", str(out)]
    )
    assert "Traceback" not in result.output
    if result.exit_code == 0:  # an allocation was found in time: marked as not proven optimal
        summary = json.loads((out / "summary.json").read_text())
        assert summary["status"] in ("feasible", "optimal")
        if summary["status"] == "feasible":
            assert summary["gap"] is not None
            assert any("time limit" in w and "%" in w for w in summary["warnings"])
            assert "WARNING" in result.stdout
    else:
        assert result.exit_code == 1, result.output
        assert "no allocation found" in result.stderr
        assert "time limit 0.5 s" in result.stderr
        assert "solver.time_limit_s" in result.stderr
        assert result.stderr.count("Error:") == 1
        assert not out.exists()
        assert list(tmp_path.iterdir()) == []


def _no_shortcut(*_args):
    """Skip the integral-relaxation shortcut, so the (faked) MIP run decides."""
    return None, None


def _stopped_early(status: Status, bound_factor: float | None):
    original = solve_module._run_highs

    def fake(highs, problem: pulp.LpProblem, variables, is_mip):
        real = original(highs, problem, variables, is_mip)
        if not is_mip:  # the LP re-solve with the selection fixed: leave it alone
            return real
        if status in (Status.NO_SOLUTION, Status.ERROR):
            for var in problem.variables():
                var.varValue = None
            return status, None
        return status, float(pulp.value(problem.objective)) * bound_factor

    return fake


def test_time_limit_with_an_allocation_is_marked_feasible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HiGHS stopped at the limit with an incumbent: exit 0, status feasible, gap warned."""
    monkeypatch.setattr(solve_module, "_integral_relaxation", _no_shortcut)
    monkeypatch.setattr(solve_module, "_run_highs", _stopped_early(Status.FEASIBLE, 1.02))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", *SMALL, "--time-limit", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "feasible"
    assert summary["gap"] == pytest.approx(0.02, rel=1e-6)
    assert summary["bound"] > summary["objective"]
    assert summary["warnings"] == [
        "stopped at the time limit: best allocation found, within 2.00% of optimal"
    ]
    assert "feasible" in result.stdout and "WARNING: stopped at the time limit" in result.stdout


def test_time_limit_without_an_allocation_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(solve_module, "_integral_relaxation", _no_shortcut)
    monkeypatch.setattr(solve_module, "_run_highs", _stopped_early(Status.NO_SOLUTION, None))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", *SMALL, "--time-limit", "5", "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "no allocation found" in result.stderr
    assert "time limit 5 s" in result.stderr
    assert "--solver cbc" in result.stderr
    assert "('" not in result.stderr  # a message, not a tuple
    assert list(tmp_path.iterdir()) == []


def test_a_solver_error_is_not_called_a_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HiGHS failing (numerical trouble) is reported as a solver failure, not "raise the limit"."""
    monkeypatch.setattr(solve_module, "_integral_relaxation", _no_shortcut)
    monkeypatch.setattr(solve_module, "_run_highs", _stopped_early(Status.ERROR, None))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", *SMALL, "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "the solver failed (status error; HiGHS model status:" in result.stderr
    assert "before the time limit" in result.stderr and "objective.weights" in result.stderr
    assert "raise solver.time_limit_s" not in result.stderr
    assert result.stderr.count("Error:") == 1
    assert list(tmp_path.iterdir()) == []
