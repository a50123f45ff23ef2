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

import pytest
from click.testing import CliRunner

import optimizer.engine as engine_module
import optimizer.session as session_module
from optimizer.cli import main
from optimizer.errors import OutputError
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


# Runs the CLI with a marker file written when HiGHS starts a solve ("solving") and when it
# returns ("<model status> <simplex iterations>"), however it ends.
SOLVE_HOOK = r"""
import os, sys
import optimizer.solve as solve
original = solve._interruptible_run
def marked(highs):
    with open(os.environ["TIPFOCUS_TEST_MARKER"], "a") as handle:
        handle.write("solving\n")
    try:
        original(highs)
    finally:
        status, info = highs.getModelStatus(), highs.getInfo()
        with open(os.environ["TIPFOCUS_TEST_MARKER"], "a") as handle:
            handle.write(f"{status.name} {info.simplex_iteration_count}\n")
solve._interruptible_run = marked
import optimizer.decompose as decompose
bound = decompose.Decomposition.bound
def split(self, *args):  # the relaxation split by country: rounds of small HiGHS LPs in Python
    with open(os.environ["TIPFOCUS_TEST_MARKER"], "a") as handle:
        handle.write("solving split\n")
    ended = "kInterrupt split"
    try:
        found = bound(self, *args)
        ended = "split"
        return found
    finally:
        with open(os.environ["TIPFOCUS_TEST_MARKER"], "a") as handle:
            handle.write(ended + "\n")
decompose.Decomposition.bound = split
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


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 90.0, line: str = "") -> None:
    """Until ``marker`` exists (and has ``line`` among its lines, if given)."""
    deadline = time.monotonic() + timeout
    while not marker.exists() or (line and line not in marker.read_text().splitlines()):
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
    """The stress scenario's relaxation takes seconds; SIGTERM stops it inside.

    No wall-clock bound (a busy machine stretches any): the solve under way (HiGHS, or the
    relaxation split by country, between two of its small LPs) ended because it was interrupted
    (not solved), and no further solve started."""
    marker = tmp_path / "marker"
    proc = hooked(["run", str(STRESS), "--out", str(runs / "new")], marker, SOLVE_HOOK)
    wait_for(marker, proc, line="solving split")  # the first relaxation, split by country
    time.sleep(0.3)  # let the solve get going
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=600)  # a guard against a hang, not a speed bound
    assert proc.returncode == 130, (out, err)
    assert "nothing was written" in err and "Traceback" not in out + err
    lines = marker.read_text().splitlines()  # solving / its end, for each HiGHS run
    started, ended = lines[-2:]  # the run the signal stopped, and no further run after it
    assert started.startswith("solving")
    assert ended.split()[0] == "kInterrupt", ended  # HiGHS stopped by the signal, not finished
    assert "kInterrupt" not in " ".join(lines[:-2])
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


def _stopped_early(status: Status, bound_factor: float | None):
    """HiGHS's MIP run (``session.run``) faked to stop early with ``status``; the LPs (relaxation
    and the fixed-selection LP) are left alone."""
    original = session_module.run

    def fake(highs, is_mip):
        real = original(highs, is_mip)
        if not is_mip:  # the LP re-solve with the selection fixed: leave it alone
            return real
        if status in (Status.NO_SOLUTION, Status.ERROR):
            return status, None
        return status, highs.getInfo().objective_function_value * bound_factor

    return fake


def test_time_limit_with_an_allocation_is_marked_feasible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HiGHS stopped at the limit with an incumbent: exit 0, status feasible, gap warned."""
    monkeypatch.setattr(session_module, "run", _stopped_early(Status.FEASIBLE, 1.02))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", *SMALL, "--time-limit", "5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "feasible"
    assert summary["gap"] == pytest.approx(0.02, rel=1e-6)
    assert summary["bound"] > summary["objective"]
    assert summary["warnings"][0] == (
        "stopped at the time limit: best allocation found, within 2.00% of optimal"
    )
    assert "feasible" in result.stdout and "WARNING: stopped at the time limit" in result.stdout


def test_time_limit_without_an_allocation_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "run", _stopped_early(Status.NO_SOLUTION, None))
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
    monkeypatch.setattr(session_module, "run", _stopped_early(Status.ERROR, None))
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", *SMALL, "--out", str(out)])
    assert result.exit_code == 1, result.output
    assert "the solver failed (status error; HiGHS model status:" in result.stderr
    assert "before the time limit" in result.stderr and "objective.weights" in result.stderr
    assert "raise solver.time_limit_s" not in result.stderr
    assert result.stderr.count("Error:") == 1
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- (d) races, signals

# Runs the CLI with SIGTERM sent to itself just after the run folder is renamed into place.
RENAME_HOOK = r"""
import os, signal, sys
import optimizer.files as files
original = files.publish
def publish_then_term(move, target):
    def move_then_term():
        move()
        os.kill(os.getpid(), signal.SIGTERM)
    original(move_then_term, target)
files.publish = publish_then_term
from optimizer.cli import main
sys.exit(main())
"""


def test_sigterm_just_after_the_rename_says_the_run_was_written(runs: Path, tmp_path: Path) -> None:
    """Replacing an earlier run with --force: the signal waits for both renames, then says what
    was written; the earlier run's copy moved aside is removed."""
    before = tree_hash(runs / "earlier")
    proc = hooked(
        ["run", *SMALL, "--out", str(runs / "earlier"), "--force"], tmp_path / "m", RENAME_HOOK
    )
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert f"Interrupted; {runs / 'earlier'} was written in full." in err
    assert "nothing was written" not in err and "Traceback" not in err
    assert sorted(p.name for p in runs.iterdir()) == ["earlier"]  # no .earlier.old-*, no .tmp
    assert set(tree_hash(runs / "earlier")) == set(before)
    assert read_run(runs / "earlier").summary.status == "optimal"


def test_two_runs_into_one_out_one_wins_the_other_is_refused(runs: Path) -> None:
    """Both start before either has written: the first rename wins, the second is refused (not a
    silent replace), and the folder is one whole run."""
    command = [str(TIPFOCUS)] if TIPFOCUS.exists() else [sys.executable, "-m", "optimizer.cli"]
    args = [*command, "run", *SMALL, "--out", str(runs / "same")]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refused = next(err for code, err in results if code == 2)
    assert "appeared while this run was solving" in refused or "already exists" in refused
    assert read_run(runs / "same").summary.status == "optimal"
    assert sorted(p.name for p in runs.iterdir()) == ["earlier", "same"]


def test_the_rename_refuses_a_folder_that_appeared_meanwhile(runs: Path, tmp_path: Path) -> None:
    """The race made deterministic: the target appears between the check and the rename."""
    from optimizer import files as files_module

    earlier = read_run(runs / "earlier")
    real_check = files_module.check_target

    def check_then_appear(folder, force, **kwargs):
        real_check(folder, force, **kwargs)
        shutil.copytree(runs / "earlier", folder)  # another run finishes first

    before = tree_hash(runs / "earlier")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(files_module, "check_target", check_then_appear)
        with pytest.raises(OutputError, match="appeared while this run was solving"):
            write_run(earlier, runs / "raced")
    assert tree_hash(runs / "raced") == before  # the other run's folder, untouched
    assert hidden_temps(runs) == []


def test_force_refuses_a_run_folder_that_gained_a_file_while_solving(runs: Path) -> None:
    earlier = read_run(runs / "earlier")
    (runs / "earlier" / "my-notes.txt").write_text("keep me")
    with pytest.raises(OutputError, match=r"holds my-notes\.txt, which tipfocus did not write"):
        write_run(earlier, runs / "earlier", force=True)
    assert (runs / "earlier" / "my-notes.txt").read_text() == "keep me"
    assert hidden_temps(runs) == []


def test_stale_model_files_and_old_temporaries_are_cleaned(tmp_path: Path) -> None:
    """A killed --write-lp leaves `.m.lp.tmp-<pid>-*`; a PID reused by a live process does not
    keep a temporary for good: after a day it goes too."""
    dead = _dead_pid()
    (tmp_path / f".m.lp.tmp-{dead}-x1y2").write_text("half an LP")
    reused = tmp_path / f".run.old-{os.getpid()}"  # a live PID (reused, say)
    reused.mkdir()
    (reused / "summary.json").write_text("{}")
    fresh = tmp_path / f".n.lp.tmp-{os.getpid()}-a"
    fresh.write_text("")
    (tmp_path / "m.lp").write_text("mine")
    clean_stale(tmp_path)  # the dead process's partial file goes; live PIDs' entries stay
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([fresh.name, "m.lp", reused.name])
    clean_stale(tmp_path, now=time.time() + 2 * 86400)  # two days on: stale whatever the PID
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.lp", "run"]
    assert (tmp_path / "run" / "summary.json").exists()  # moved aside, put back
    assert (tmp_path / "m.lp").read_text() == "mine"


def test_write_lp_cleans_a_dead_writers_partial_file(tmp_path: Path) -> None:
    from optimizer.files import write_text

    partial = tmp_path / f".m.lp.tmp-{_dead_pid()}-zz"
    partial.write_text("half")
    write_text(tmp_path / "m.lp", "whole\n", force=False, what="--write-lp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.lp"]


def test_an_unwritable_folder_is_refused_before_the_solve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe (a folder made and removed) fails: exit 2 before any solve, nothing written.
    Simulated (root ignores permissions): the file system is read-only."""
    import tempfile

    import optimizer.files as files_module

    def read_only(*_args, **_kwargs):
        raise OSError(30, "Read-only file system")

    def no_solve(*_args, **_kwargs):
        raise AssertionError("solved before checking the output")

    monkeypatch.setattr(files_module.tempfile, "mkdtemp", read_only)
    monkeypatch.setattr(engine_module, "solve", no_solve)
    result = CliRunner().invoke(main, ["run", *SMALL, "--out", str(tmp_path / "ro" / "run")])
    monkeypatch.setattr(files_module.tempfile, "mkdtemp", tempfile.mkdtemp)
    assert result.exit_code == 2, result.output
    assert "cannot write in" in result.stderr and "Read-only file system" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_a_read_only_folder_is_refused_before_the_solve(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = CliRunner().invoke(main, ["run", *SMALL, "--out", str(folder / "run")])
    finally:
        folder.chmod(0o755)
    assert result.exit_code == 2, result.output
    assert "cannot write in" in result.stderr
    assert list(folder.iterdir()) == []
