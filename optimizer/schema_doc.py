"""Generate docs/scenario.md from the scenario schema: every key, its type, default and meaning.

    python -m optimizer.schema_doc > docs/scenario.md

tests/test_schema_doc.py fails when the file is out of date.
"""

from __future__ import annotations

import json
import sys
import types
import typing

from pydantic import BaseModel

from optimizer.scenario import Scenario

INTRO = """# Scenario files

A scenario is one TOML file: one what-if. This page is generated from the schema in
`optimizer/scenario.py` by `python -m optimizer.schema_doc > docs/scenario.md`; a test fails when it
is out of date.

## Layering and precedence

`extends = "baseline.toml"` layers a scenario on another (paths relative to the file; chains are
allowed, cycles are errors). `tipfocus run SCENARIO --set section.key=value` layers on top.
Precedence, highest first:

1. `--set section.key=value` on the command line (the value is read as TOML: `--set
   budget.total_usd='"200M"'` or `--set budget.total_usd=200000000`; text that is not TOML is taken
   as a string, so `--set budget.total_usd=200M` works too);
2. the scenario file;
3. the file it extends, then the file that one extends, and so on;
4. the defaults below.

Sections merge key by key: a scenario that sets `[budget] total_usd` keeps the extended file's other
`[budget]` keys. A key's value is replaced whole, lists and tables included: `region_max = { AF = 1
}` caps Africa alone (the extended file's other regional caps go), `region_max = {}` lifts every cap,
and `earmark_share = { labor = 0.4 }` drops an inherited child-protection earmark. So to change one
entry of an inherited table in a file, write the whole table. On the command line `--set` sets the
one key it names: `--set selection.region_max.AF=1` changes one entry and keeps the others, `--set
'policy.earmark_share={migrants=0.9}'` replaces the table. A key whose default is none (an optional
limit) is set back to none with the word `"none"`: `annual_cap_usd = "none"` drops an inherited
annual cap, `--set policy.ramp_up=none` the ramp-up limit. Unknown keys are errors, with the closest
valid key suggested. Money is in US dollars: a number (`250000000`) or a
readable string (`"250M"`, `"1.5B"`, `"40k"`, `"$12,000,000"`). Shares are fractions (0.15 = 15%).
Every run stores the fully resolved scenario as `scenario.toml` in its run folder.

"""


def _type_name(annotation: typing.Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        metadata = " ".join(str(m) for m in args[1:] if "BeforeValidator" in repr(m))
        base = _type_name(args[0])
        return "money (USD)" if "parse_money" in metadata else base
    if origin in (typing.Union, types.UnionType):
        parts = [_type_name(a) for a in args if a is not type(None)]
        optional = " or none" if type(None) in args else ""
        return " or ".join(parts) + optional
    if origin is typing.Literal:
        return " / ".join(f'"{a}"' for a in args)
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"table {{{_type_name(args[0])}: {_type_name(args[1])}}}"
    return getattr(annotation, "__name__", str(annotation))


def _field_type(field: typing.Any) -> str:
    if any("parse_money" in repr(m) for m in field.metadata):
        return "money (USD)"
    return _type_name(field.annotation)


def _default(value: typing.Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return "(table)"
    if hasattr(value, "__fspath__"):
        return str(value)
    return f"`{json.dumps(value)}`"


def scenario_markdown() -> str:
    """The whole docs/scenario.md text."""
    lines = [INTRO.rstrip("\n"), "", "## Top-level keys", "", "| key | type | default | meaning |"]
    lines.append("| --- | --- | --- | --- |")
    sections = []
    for name, field in Scenario.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            sections.append((name, annotation))
            continue
        args = typing.get_args(annotation)  # dict[str, Section]: one section per NAME
        if typing.get_origin(annotation) is dict and issubclass(args[1], BaseModel):
            sections.append((f"{name}.NAME", args[1]))
        lines.append(
            f"| `{name}` | {_field_type(field)} | {_default(field.default)} | {field.description} |"
        )
    for name, model in sections:
        lines += ["", f"## [{name}]", "", (model.__doc__ or "").strip()]
        lines += ["", "| key | type | default | meaning |", "| --- | --- | --- | --- |"]
        for key, field in model.model_fields.items():
            lines.append(
                f"| `{key}` | {_field_type(field)} | {_default(field.default)} "
                f"| {field.description} |"
            )
    return (
        "\n".join(line.replace("\n", " ") if line.startswith("|") else line for line in lines)
        + "\n"
    )


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(scenario_markdown())
