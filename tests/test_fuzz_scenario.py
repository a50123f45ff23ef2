"""Fuzz ``load_scenario``: whatever the TOML text, dict or --set, only ScenarioError may escape.

Examples per test: env var TIPFOCUS_FUZZ_EXAMPLES (default 50).
"""

from __future__ import annotations

import atexit
import datetime as dt
import json
import math
import os
import re
import shutil
import tempfile
import typing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from optimizer.cli import FLAGS
from optimizer.errors import ScenarioError
from optimizer.scenario import DEFAULT_SCENARIO, Scenario, load_scenario

EXAMPLES = int(os.environ.get("TIPFOCUS_FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    database=None,
)
BASELINE_TEXT = DEFAULT_SCENARIO.read_text(encoding="utf-8")
WORK = Path(tempfile.mkdtemp(prefix="tipfocus-fuzz-"))
atexit.register(shutil.rmtree, WORK, True)

# Real section and key names, so the fuzzer reaches validation, not just "unknown key".
SECTIONS = {
    name: list(typing.cast(type[Scenario], field.annotation).model_fields)
    for name, field in Scenario.model_fields.items()
    if isinstance(field.annotation, type) and hasattr(field.annotation, "model_fields")
}
TOP_KEYS = [k for k in Scenario.model_fields if k not in SECTIONS]
WORDS = sorted(
    {"AF", "EAP", "THA", "PRK", "XYZ", "2WL", "highs", "cbc", "exclude", "flag", "prevention"}
    | {"labor", "child_protection", "rule_of_law", "bilateral", "baseline.toml", "..", "."}
)

# ---------------------------------------------------------------------------- strategies

names = st.one_of(
    st.sampled_from([*TOP_KEYS, *SECTIONS, *(k for ks in SECTIONS.values() for k in ks)]),
    st.text(min_size=1, max_size=12),
)
scalars = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(WORDS),
    st.sampled_from(["250M", "1.5B", "$40k", "12,000,000", "five million", "-5M", "1e400", ""]),
    st.text(max_size=20),
    st.dates(),
    st.datetimes(),
    st.times(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=4)),
    max_leaves=12,
)
section_tables = st.fixed_dictionaries(
    {},
    optional={
        section: st.dictionaries(st.sampled_from(keys) | names, values, max_size=5)
        for section, keys in SECTIONS.items()
    },
)
scenario_dicts = st.builds(
    lambda sections, top, extra: {**extra, **top, **sections},
    section_tables,
    st.fixed_dictionaries({}, optional={k: values for k in TOP_KEYS}),
    st.dictionaries(names, values, max_size=3),
)


# ---------------------------------------------------------------------------- a TOML writer


def _key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def _value(value: typing.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value, ensure_ascii=False)


def to_toml(data: dict[str, typing.Any]) -> str:
    """TOML text for a dict: scalars and inline tables first, then one [table] per dict."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"[{_key(key)}]")
            lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


_counter = iter(range(10**9))


def write(text: str | bytes, name: str | None = None) -> Path:
    path = WORK / (name or f"s{next(_counter)}.toml")
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return path


def load_or_scenario_error(path: Path, overrides: list[str] | None = None) -> None:
    """The property: success (a Scenario) or ScenarioError; anything else fails the test."""
    try:
        scenario = load_scenario(path, overrides)
    except ScenarioError as exc:
        text = exc.render(FLAGS)  # as the command line shows it
        assert text and "Traceback" not in text
        assert str(path) in text or "--set" in text or ".toml" in text, text
        return
    assert isinstance(scenario, Scenario)
    assert scenario.budget.horizon_years in (3, 4, 5)
    assert math.isfinite(scenario.budget.total_usd) and scenario.budget.total_usd >= 0
    assert scenario.selection.min_countries <= scenario.selection.max_countries


# ---------------------------------------------------------------------------- properties


@FUZZ
@given(data=scenario_dicts)
@example(data={"budget": {"total_usd": float("nan")}})
@example(data={"extends": "\x00"})
@example(data={"extends": ""})
@example(data={"extends": "."})
@example(data={"data": {"dir": "a\x00b"}})
@example(data={"selection": {"lock_in": ["THA", "THA"]}})
def test_generated_dicts(data: dict) -> None:
    try:
        text = to_toml(data)
    except UnicodeEncodeError:  # pragma: no cover - lone surrogates
        return
    load_or_scenario_error(write(text))


@FUZZ
@given(data=scenario_dicts)
def test_generated_dicts_on_top_of_the_baseline(data: dict) -> None:
    data = {**data, "extends": str(DEFAULT_SCENARIO)}
    load_or_scenario_error(write(to_toml(data)))


@FUZZ
@given(text=st.text(max_size=300))
@example(text="[budget\n")
@example(text='extends = "self.toml"\n')
@example(text="\ufeffname = 'bom'\n")
@example(text="name = 'x'\r\n[budget]\r\ntotal_usd = '5M'\r\n")
def test_random_text(text: str) -> None:
    load_or_scenario_error(write(text.encode("utf-8", "surrogatepass")))


@FUZZ
@given(raw=st.binary(max_size=200))
def test_random_bytes(raw: bytes) -> None:
    load_or_scenario_error(write(raw))


@FUZZ
@given(
    position=st.integers(min_value=0, max_value=len(BASELINE_TEXT)),
    cut=st.integers(min_value=0, max_value=40),
    insert=st.text(max_size=12) | st.sampled_from(['"', "[", "]", "=", "\n", "{", "nan", "#"]),
)
def test_mutated_baseline(position: int, cut: int, insert: str) -> None:
    text = BASELINE_TEXT[:position] + insert + BASELINE_TEXT[position + cut :]
    load_or_scenario_error(write(text.encode("utf-8", "surrogatepass")))


@FUZZ
@given(
    overrides=st.lists(
        st.one_of(
            st.builds(
                lambda section, key, value: f"{section}.{key}={value}",
                st.sampled_from(list(SECTIONS)) | names,
                names,
                st.one_of(values.map(_value), st.text(max_size=15)),
            ),
            st.text(max_size=30),
        ),
        max_size=4,
    )
)
@example(overrides=["budget"])
@example(overrides=["=5"])
@example(overrides=['data.catalogue="a\\u0000"'])
@example(overrides=["selection.lock_in=THA"])
def test_random_overrides(overrides: list[str]) -> None:
    load_or_scenario_error(DEFAULT_SCENARIO, overrides)


@FUZZ
@given(parent=st.one_of(values, st.sampled_from(["", ".", "..", "/", "nope.toml", "a\x00b"])))
def test_random_extends(parent) -> None:
    child = write(to_toml({"extends": parent}), "child.toml")
    load_or_scenario_error(child)


def test_extends_chain_of_fuzzed_files() -> None:
    """A cycle through three generated files is caught, naming the chain."""
    write('extends = "c2.toml"\n', "c1.toml")
    write('extends = "c3.toml"\n', "c2.toml")
    write('extends = "c1.toml"\n', "c3.toml")
    with pytest.raises(ScenarioError, match=re.escape("c1.toml -> c2.toml -> c3.toml -> c1.toml")):
        load_scenario(WORK / "c1.toml")
