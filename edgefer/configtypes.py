"""Config values checked by type, once, from the dataclass's own field annotations.

A recipe file (JSON or YAML) can hold anything: ``"epochs": "two"``, ``null``, ``1.5``
or a list where a mapping belongs. :func:`typed_values` turns the values a config
dataclass will be built from into the field types, or refuses them with one line
naming the key and the type it wants; nothing downstream meets a wrong type.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from .errors import ConfigError

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
