"""Config values checked by type and range, and numbers and structures read from files.

A recipe file (JSON or YAML) can hold anything: ``"epochs": "two"``, ``null``, ``1.5``
or a list where a mapping belongs. :func:`typed_values` turns the values a config
dataclass will be built from into the field types, or refuses them with one line
naming the key and the type it wants; nothing downstream meets a wrong type.
:func:`check_range` is each config's range check (the message names the range);
:func:`parse_number` is the one parser for numbers in data files, and
:func:`load_structured` the one reader of JSON and YAML, bounded in size and nesting.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any

from .errors import ConfigError, DataError

_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def typed_values(cls: type, data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`data` (names of `cls`'s fields -> values) with each value of its field's type.

    Integers are accepted where a float is meant, and whole floats (``2.0``) where an
    integer is; anything else that is not the field's type is a ConfigError.
    """
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    return {name: _typed(value, hints[name], prefix + name) if name in known else value
            for name, value in data.items()}


def _typed(value: Any, hint: Any, key: str) -> Any:
    options = typing.get_args(hint) if _is_union(hint) else ()
    if options:
        if value is None and type(None) in options:
            return None
        hint = next(o for o in options if o is not type(None))
    if dataclasses.is_dataclass(hint):
        if dataclasses.is_dataclass(value):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping of {hint.__name__} fields, got {_shown(value)}")
        return value
    if typing.get_origin(hint) in (tuple, list):
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list of strings, got {_shown(value)}")
        for item in value:
            _typed(item, typing.get_args(hint)[0], key)
        return tuple(value)
    return _scalar(value, hint, key)


def _scalar(value: Any, hint: type, key: str) -> Any:
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{key} must be {_NAMES.get(hint, hint.__name__)}, got {_shown(value)}")


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (typing.Union, types.UnionType)


def _shown(value: Any) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return (text if len(text) <= 40 else text[:37] + "...") + f" ({type(value).__name__})"


# --- numbers and structures read from files ------------------------------------------------

MAX_SEED = 2**32 - 1  # what NumPy's and the frameworks' seeding takes
MAX_BATCH = 65536
MAX_NESTING = 32  # configs and metadata are a few levels deep; more is a crafted file
MAX_STRUCTURED_BYTES = 16 << 20
_ASCII_DIGITS = frozenset("0123456789")


def check_range(name: str, value: float, low: float | None = None, high: float | None = None, *,
                low_open: bool = False, high_open: bool = False) -> None:
    """Refuse a value outside its declared range (or not finite), naming the range it must lie in."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        raise ConfigError(f"{name} must be {_range_text(low, high, low_open, high_open)}, got {value}")


def check_ranges(config: Any, ranges: dict[str, str], prefix: str = "") -> None:
    """Each field named in `ranges` within its declared interval, such as ``"[0, 1)"`` or
    ``"(0, inf)"``: every numeric option is checked before any work, NaN and infinity refused."""
    for name, interval in ranges.items():
        low_text, high_text = (part.strip() for part in interval[1:-1].split(","))
        low, high = float(low_text), float(high_text)
        check_range(prefix + name, getattr(config, name), None if math.isinf(low) else low,
                    None if math.isinf(high) else high, low_open=interval[0] == "(", high_open=interval[-1] == ")")


def _range_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    low, high = (_plain(v) for v in (low, high))
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return "a finite number"


def _plain(value: float | None) -> float | int | None:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def parse_number(text: str, where: str, kind: type = int, low: float | None = None, high: float | None = None) -> Any:
    """A number from a file (a CSV cell, a history row): ASCII digits only, finite, in range.

    ``int('²')`` and ``float('١')`` accept other scripts' digits, and a 5,000-digit
    label overflows later; both are one DataError naming `where` here.
    """
    text = text.strip()
    body = text[1:] if text[:1] in "+-" else text
    if kind is int:
        ok = 0 < len(body) <= 18 and set(body) <= _ASCII_DIGITS
    else:
        ok = 0 < len(body) <= 64 and set(body) <= _ASCII_DIGITS | set(".eE+-") and body[0] in _ASCII_DIGITS | {"."}
    try:
        value = kind(text) if ok else None
    except ValueError:  # "1.2.3", "1e"
        value = None
    if value is None or (kind is float and not math.isfinite(value)):
        raise DataError(f"{where}: {_shown(text)} is not {_NAMES[kind]}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise DataError(f"{where}: {value} is out of range (must be {_range_text(low, high, False, False)})")
    return value


def load_structured(text: str | bytes, where: str, yaml: bool = False, error: type = ConfigError) -> Any:
    """JSON (or YAML) of bounded size and nesting: a crafted file is one `error`, never a RecursionError."""
    if len(text) > MAX_STRUCTURED_BYTES:
        raise error(f"{where}: larger than {MAX_STRUCTURED_BYTES >> 20} MiB; not a config or metadata record")
    try:
        if yaml:
            import yaml as pyyaml

            try:
                data = pyyaml.safe_load(text)
            except pyyaml.YAMLError as exc:  # its message spans lines; the first names the problem
                raise ValueError(" ".join(str(exc).split())) from None
        else:
            data = json.loads(text)
    except RecursionError:
        raise error(f"{where}: nested more than {MAX_NESTING} levels deep") from None
    _check_nesting(data, where, error)
    return data


def _check_nesting(data: Any, where: str, error: type) -> None:
    level = [data]
    for _ in range(MAX_NESTING + 1):
        level = [v for item in level if isinstance(item, (dict, list))
                 for v in (item.values() if isinstance(item, dict) else item)]
        if not level:
            return
    raise error(f"{where}: nested more than {MAX_NESTING} levels deep")
