"""Scenario files as layers: TOML files along an ``extends`` chain, then ``--set`` overrides,
merged into one raw table with the file each value comes from.

Precedence (highest first): ``--set`` overrides > the scenario file > the file it ``extends``
(recursively). Sections (``[budget]``, ``[selection]``, ...) merge key by key; a key's value is
replaced whole, tables such as ``region_max`` included, so a file can replace or remove what it
inherits (``region_max = {}`` lifts every regional cap). ``--set`` sets the one key it names:
``selection.region_max.AF=1`` changes one entry, ``selection.region_max={AF=1}`` the whole table.
Relative paths inside a scenario are resolved against the file that names them.
Validation against the schema is ``optimizer.scenario``'s job (``resolved_toml`` writes a
resolved scenario back as TOML).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizer.errors import ScenarioError, TipfocusError, setting
from optimizer.files import MAX_TOML_BYTES, read_input

MAX_NESTING = 16  # tables and arrays inside each other; the scenario schema needs 3
MAX_EXTENDS = 32  # files in one extends chain; the bundled what-ifs use 2


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


def _read_toml(
    path: Path, missing: str = "file not found; give the path of a scenario .toml"
) -> dict[str, Any]:
    data = read_input(path, ScenarioError, MAX_TOML_BYTES, missing, what="scenario")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(str(path), f"cannot read the file ({exc})") from None
    raw = parse_toml(text, ScenarioError, str(path), "not valid TOML")
    if _has_nul(raw):
        raise ScenarioError(str(path), "a key or text value contains \\u0000 (NUL); remove it")
    return raw


def parse_toml(text: str, error: type[TipfocusError], where: str, what: str) -> dict[str, Any]:
    """TOML text as a table, or ``error(where, ...)``: malformed, or nested deeper than
    ``MAX_NESTING`` (tomllib recurses, so a 500-deep array would end in RecursionError)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(where, f"{what}: {exc}") from None
    except RecursionError:
        raw = None
    _check_nesting(raw, error, where)
    return raw


def _check_nesting(value: Any, error: type[TipfocusError], where: str) -> None:
    """``error`` if ``value`` (None: tomllib gave up) nests deeper than ``MAX_NESTING``."""
    if value is None or nesting(value) > MAX_NESTING:
        raise error(
            where,
            f"tables or arrays are nested more than {MAX_NESTING} levels deep; a scenario or "
            "catalogue needs 3 or 4 levels, flatten it",
        )


def nesting(value: Any) -> int:
    """How deeply tables and arrays nest in ``value`` (a scalar is 0), without recursing."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            depth += 1
            deepest = max(deepest, depth)
            if depth <= MAX_NESTING:
                children = item.values() if isinstance(item, dict) else item
                stack.extend((child, depth) for child in children)
    return deepest


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
    path: Path,
    seen: tuple[Path, ...],
    files: list[Path],
    origin: dict[tuple[str, ...], Path],
    read: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The file merged over the chain it extends; ``files`` collects the chain, file first, and
    ``origin`` the file each key's value comes from (the file beats what it extends). ``read``:
    the file's table when the caller has read it already."""
    if len(seen) >= MAX_EXTENDS:
        raise ScenarioError(
            str(seen[0]),
            f"the 'extends' chain is longer than {MAX_EXTENDS} files (reached {path.name}); "
            "layer each what-if on the baseline instead of on a long chain",
        )
    table = _read_toml(path) if read is None else read  # errors name the path as given
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in (*seen, path))
        raise ScenarioError(
            str(path), f"'extends' loops back on itself ({chain}); remove the cycle"
        )
    raw = _absolutise(table, path.parent)
    files.append(path)
    base: dict[str, Any] = {}
    parent = raw.get("extends")
    if parent is not None:
        if not isinstance(parent, str) or not parent.strip():
            raise ScenarioError(str(path), "'extends' must be a file name in quotes")
        target = path.parent / parent
        if not target.exists() and not target.is_symlink():
            raise ScenarioError(
                str(path),
                f"'extends' names {parent!r}, which is not a file ({target}); "
                "give the path of a scenario .toml relative to this file",
            )
        try:
            parent_table = _read_toml(target)
        except ScenarioError as exc:  # name the file whose 'extends' it is, then the target
            raise ScenarioError(
                str(path), [f"'extends' names {parent!r}: {exc.render()}"]
            ) from None
        base = _layered(target, (*seen, path), files, origin, parent_table)
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
            setting("overrides"), f"{text!r} is not section.key=value (e.g. budget.total_usd=200M)"
        )
    keys = key.split(".")
    if keys[0] == "extends":
        raise ScenarioError(
            setting("overrides"),
            f"{text!r}: 'extends' cannot be set with {setting('overrides')} (the chain is read "
            f"before {setting('overrides')} applies); write a scenario file with "
            'extends = "..." and pass that file',
        )
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        parsed = value.strip()
    except RecursionError:
        parsed = None
    patch = None if parsed is None else _patch(keys, parsed)
    _check_nesting(patch, ScenarioError, setting("overrides", key))
    if _has_nul(parsed):
        raise ScenarioError(
            setting("overrides"), f"{text!r}: the value contains \\u0000 (NUL); remove it"
        )
    return keys, parsed


def _patch(keys: list[str], value: Any) -> dict[str, Any]:
    """``["a", "b"], v`` -> ``{"a": {"b": v}}`` (for the nesting check of a dotted --set key)."""
    patch: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        patch = {key: patch}
    return patch


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
