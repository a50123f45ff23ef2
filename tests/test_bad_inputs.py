"""Every bad input gives exit code 2 (1 if infeasible), one clear message and writes nothing.

The corpus is ``tests/bad_inputs/cases.toml`` (see its header). Each case runs in a temporary mini
project: ``scenarios/``, ``data/`` and ``models/`` copied from the repository and
``tests/bad_inputs/<id>/`` copied to the same relative place, then optionally corrupted, so that
case files can say ``extends = "../../../scenarios/baseline.toml"`` and ``dir = "../../../data"``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from optimizer.cli import main

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "bad_inputs"
CASES = tomllib.loads((CORPUS / "cases.toml").read_text(encoding="utf-8"))["case"]
BY_ID = {case["id"]: case for case in CASES}
TIPFOCUS = Path(sys.executable).parent / "tipfocus"


# ---------------------------------------------------------------------------- corruption


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def corrupt(root: Path, spec: dict) -> None:
    """Apply one corruption from the manifest to the project copy at ``root``."""
    path = root / spec["file"]
    op = spec["op"]
    if op == "set":  # line is 1-based with the header on line 1, as in the error messages
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.loc[spec["line"] - 2, spec["column"]] = spec["value"]
        frame.to_csv(path, index=False, lineterminator="\n")
    elif op == "drop_column":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame.drop(columns=[spec["column"]]).to_csv(path, index=False, lineterminator="\n")
    elif op == "empty":
        path.write_bytes(b"")
    elif op == "duplicate":
        lines = _lines(path)
        lines.insert(spec["line"], lines[spec["line"] - 1])
        _write_lines(path, lines)
    elif op == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    elif op == "crlf":
        path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    elif op == "replace":
        data = path.read_bytes()
        old = spec["old"].encode()
        new = bytes.fromhex(spec["new_hex"]) if "new_hex" in spec else spec["new"].encode()
        assert old in data, f"corpus out of date: {spec['old']!r} not in {spec['file']}"
        path.write_bytes(data.replace(old, new, spec.get("count", -1)))
    elif op == "delete":
        path.unlink()
    elif op == "write":  # generated files (deep nesting, large files)
        path.parent.mkdir(parents=True, exist_ok=True)
        count = spec.get("count", 1)
        text = spec.get("head", "") + spec.get("body", "") * count + spec.get("middle", "")
        path.write_text(text + spec.get("close", "") * count + spec.get("tail", ""), "utf-8")
    elif op == "fifo":
        path.unlink(missing_ok=True)
        os.mkfifo(path)
    elif op == "symlink":
        path.unlink(missing_ok=True)
        os.symlink(spec["target"], path)
    elif op == "chain":  # file extends c1.toml, which extends c2.toml, ... c<count>.toml
        for i in range(spec["count"]):
            name = path if i == 0 else path.with_name(f"c{i}.toml")
            name.write_text(f'extends = "c{i + 1}.toml"\n', encoding="utf-8")
        path.with_name(f"c{spec['count']}.toml").write_text('name = "end"\n', encoding="utf-8")
    elif op == "grow":  # generated here, never committed
        row = b"AFG,2000,1\n"
        with open(path, "ab") as handle:
            block = row * (1 << 16)
            while handle.tell() < spec["mb"] * 1024 * 1024:
                handle.write(block)
    else:  # pragma: no cover - corpus typo
        raise AssertionError(f"unknown corrupt op {op!r}")


def expand(arg: str) -> str:
    """``{nest:N}`` in an argument -> N nested arrays (too long to write in the corpus)."""
    head, sep, rest = arg.partition("{nest:")
    if not sep:
        return arg
    count, _, tail = rest.partition("}")
    return head + "[" * int(count) + "]" * int(count) + tail


def project(tmp_path: Path, case: dict) -> Path:
    """The mini project for ``case``; returns the case folder (the working directory)."""
    root = tmp_path / "project"
    for name in ("scenarios", "data", "models"):
        shutil.copytree(REPO / name, root / name)
    folder = root / "tests" / "bad_inputs" / case["id"]
    source = CORPUS / case["id"]
    if source.is_dir():
        shutil.copytree(source, folder)
    else:
        folder.mkdir(parents=True)
    for spec in case.get("corrupt", []):
        corrupt(root, spec)
    return folder


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root`` with a content hash (folders: 'dir')."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = "dir"
        for name in filenames:
            path = Path(dirpath) / name
            if not stat.S_ISREG(os.lstat(path).st_mode):  # a FIFO or symlink: never read it
                out[os.path.relpath(path, root)] = f"mode {os.lstat(path).st_mode:o}"
                continue
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            out[os.path.relpath(path, root)] = digest
    return out


def check_contract(case: dict, code: int, stdout: str, stderr: str) -> None:
    where = f"case {case['id']}: exit {code}\nstdout: {stdout[-2000:]}\nstderr: {stderr}"
    assert code == case["exit"], where
    assert "Traceback" not in stdout + stderr, where
    if case["exit"] == 0:
        for text in case["expect"]:
            assert text in stdout, f"{where}\nmissing: {text!r}"
        return
    assert stdout == "", f"{where}\nnothing should go to stdout on an error"
    assert stderr.count("Error:") == 1, f"{where}\nexpected exactly one message"
    assert "Internal error" not in stderr, where
    for text in case["expect"]:
        assert text in stderr, f"{where}\nmissing: {text!r}"


# ---------------------------------------------------------------------------- the corpus


def test_corpus_shape() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) >= 40
    for case in CASES:
        assert set(case) <= {"id", "args", "exit", "expect", "corrupt"}, case["id"]
        assert case["exit"] in (0, 1, 2), case["id"]
        assert case["expect"], case["id"]
        if case["exit"] == 2:  # the file (or option) and the key, row or column, at least
            assert len(case["expect"]) >= 2, case["id"]
    folders = {p.name for p in CORPUS.iterdir() if p.is_dir()}
    assert folders <= set(ids), f"case folders without a case: {sorted(folders - set(ids))}"
    assert {c["exit"] for c in CASES} == {0, 1, 2}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = project(tmp_path, case)
    root = tmp_path / "project"
    before = snapshot(tmp_path)
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(main, [expand(arg) for arg in case["args"]])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"case {case['id']} raised {result.exception!r}")
    check_contract(case, result.exit_code, result.stdout, result.stderr)
    after = snapshot(tmp_path)
    assert after == before, (
        f"case {case['id']} changed files: "
        f"added {sorted(set(after) - set(before))}, removed {sorted(set(before) - set(after))}"
    )
    assert not (root / "runs").exists()


# ---------------------------------------------------------------------------- real processes

SUBPROCESS_CASES = [
    "toml_unclosed_table",
    "unknown_key_suggestion",
    "data_percentile_140",
    "impossible_min_countries",
    "out_under_a_file",
]


def _tipfocus(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    command = [str(TIPFOCUS)] if TIPFOCUS.exists() else [sys.executable, "-m", "optimizer.cli"]
    return subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_case_in_a_real_process(case_id: str, tmp_path: Path) -> None:
    case = BY_ID[case_id]
    folder = project(tmp_path, case)
    before = snapshot(tmp_path)
    proc = _tipfocus(case["args"], folder)
    check_contract(case, proc.returncode, proc.stdout, proc.stderr)
    assert snapshot(tmp_path) == before


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    case = BY_ID["unknown_key_suggestion"]
    folder = project(tmp_path, case)
    proc = _tipfocus(["--debug", *case["args"]], folder)
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
    assert "ScenarioError" in proc.stderr
    assert "did you mean 'total_usd'" in proc.stderr
