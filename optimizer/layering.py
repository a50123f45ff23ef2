"""Scenario files as layers: TOML files along an ``extends`` chain, then ``--set`` overrides,
merged into one raw table with the file each value comes from.

Precedence (highest first): ``--set`` overrides > the scenario file > the file it ``extends``
(recursively). Sections (``[budget]``, ``[selection]``, ...) merge key by key; a key's value is
replaced whole, tables such as ``region_max`` included, so a file can replace or remove what it
inherits (``region_max = {}`` lifts every regional cap). ``--set`` sets the one key it names:
``selection.region_max.AF=1`` changes one entry, ``selection.region_max={AF=1}`` the whole table.
Relative paths inside a scenario are resolved against the file that names them.
Validation against the schema is ``optimizer.scenario``'s job. ``dump_toml`` writes a resolved
scenario back as TOML.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.errors import ScenarioError


@dataclass(frozen=True)
class Layers:
    """One scenario file merged over what it extends."""

    raw: dict[str, Any]
    files: list[Path]  # the chain, the file given first
    origin: dict[tuple[str, ...], Path]  # key path -> the file its value comes from


def layered(path: Path) -> Layers:
    """Read ``path`` and the chain it extends (ScenarioError on a missing, unreadable or looping
    file)."""
    files: list[Path] = []
    origin: dict[tuple[str, ...], Path] = {}
    raw = _layered(path, (), files, origin)
    return Layers(raw, files, origin)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ScenarioError(
            str(path), "file not found; give the path of a scenario .toml"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(str(path), f"cannot read the file ({exc})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), f"not valid TOML: {exc}") from None
    if _has_nul(raw):
        raise ScenarioError(str(path), "a key or text value contains \\u0000 (NUL); remove it")
    return raw


def _has_nul(value: Any) -> bool:
    """True if a NUL character hides in any key or text (it breaks file paths)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``top`` over ``base``: sections merge key by key, each key's value is replaced whole."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _absolutise(raw: dict[str, Any], folder: Path) -> dict[str, Any]:
    data = raw.get("data")
    if isinstance(data, dict):
        data = dict(data)
        for key in ("dir", "catalogue"):
            if isinstance(data.get(key), str):
                data[key] = str((folder / data[key]).resolve())
        raw = {**raw, "data": data}
    return raw


def _record_origin(raw: dict[str, Any], path: Path, origin: dict, prefix: tuple = ()) -> None:
    """Note ``path`` as the origin of every key (and table) in ``raw``; a table inside a section
    replaces the inherited one, so the entries it inherited are forgotten."""
    for key, value in raw.items():
        here = (*prefix, str(key))
        if prefix and isinstance(value, dict):
            for old in [k for k in origin if k[: len(here)] == here]:
                del origin[old]
        origin[here] = path
        if isinstance(value, dict):
            _record_origin(value, path, origin, here)


def _layered(
    path: Path, seen: tuple[Path, ...], files: list[Path], origin: dict[tuple[str, ...], Path]
) -> dict[str, Any]:
    """The file merged over the chain it extends; ``files`` collects the chain, file first, and
    ``origin`` the file each key's value comes from (the file beats what it extends)."""
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise ScenarioError(
            str(path), f"'extends' loops back on itself ({chain}); remove the cycle"
        )
    raw = _absolutise(_read_toml(path), path.parent)
    files.append(path)
    base: dict[str, Any] = {}
    parent = raw.get("extends")
    if parent is not None:
        if not isinstance(parent, str) or not parent.strip():
            raise ScenarioError(str(path), "'extends' must be a file name in quotes")
        if not (path.parent / parent).is_file():
            raise ScenarioError(
                str(path),
                f"'extends' names {parent!r}, which is not a file ({path.parent / parent}); "
                "give the path of a scenario .toml relative to this file",
            )
        base = _layered(path.parent / parent, (*seen, path), files, origin)
        base.pop("name", None)
        base.pop("description", None)
    _record_origin(raw, path, origin)  # after the base's: the file beats what it extends
    return _merge(base, raw)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``section.key=value`` -> (["section", "key"], value). The value is read as TOML, else as text."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key or not re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*", key):
        raise ScenarioError(
            "--set", f"{text!r} is not section.key=value (e.g. budget.total_usd=200M)"
        )
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    if _has_nul(parsed):
        raise ScenarioError("--set", f"{text!r}: the value contains \\u0000 (NUL); remove it")
    return key.split("."), parsed


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Each ``--set`` sets the one key it names (a table value replaces the table whole)."""
    for text in overrides:
        keys, value = parse_override(text)
        raw = _set_key(raw, keys, value)
    return raw


def _set_key(table: dict[str, Any], keys: list[str], value: Any) -> dict[str, Any]:
    out = dict(table)
    if len(keys) == 1:
        out[keys[0]] = value
    else:
        inner = out.get(keys[0])
        out[keys[0]] = _set_key(inner if isinstance(inner, dict) else {}, keys[1:], value)
    return out


def inherited_from(loc: list[str], origin: dict[tuple[str, ...], Path], given: Path) -> str | None:
    """The extended file a bad value comes from, named as seen from the file ``given`` (None
    when the value is in that file)."""
    top = given.resolve()
    for end in range(len(loc), 0, -1):
        source = origin.get(tuple(loc[:end]))
        if source is not None:
            return (
                None if source == top else str(given.parent / os.path.relpath(source, top.parent))
            )
    return None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    # a JSON string is a valid TOML basic string once DEL is escaped too (control chars are)
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_key(key: Any) -> str:
    return str(key) if re.fullmatch(r"[A-Za-z0-9_-]+", str(key)) else _toml_value(str(key))


def dump_toml(data: dict[str, Any]) -> str:
    """Minimal TOML writer for the scenario's shape (scalars, lists, one level of tables)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for key, table in data.items():
        if isinstance(table, dict):
            lines.append(f"\n[{key}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
