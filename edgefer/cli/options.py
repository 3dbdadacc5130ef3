"""Helpers for commands whose defaults live in a config dataclass, never here."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path
from typing import Any

import typer

from ..configtypes import load_structured
from ..errors import ConfigError
from .helpstyle import StyledTyper


DATA_HELP = "FER2013 CSV (.csv/.csv.gz), .facepack or image-folder root."
VOTES_HELP = ("FER+ votes (Microsoft's fer2013new.csv) paired row by row with a FER2013 CSV --data: "
              "scores against the FER+ plurality too.")
THREADS_HELP = "Interpreter threads (the backend's own choice if omitted)."


def command_group(parent: typer.Typer, name: str, help: str) -> typer.Typer:
    """A sub-command group such as ``edgefer data ...``."""
    group = StyledTyper(help=help, no_args_is_help=True)
    parent.add_typer(group, name=name)
    return group


def given(**values: Any) -> dict[str, Any]:
    """The options the user set: typer passes None for every option left out."""
    return {k: v for k, v in values.items() if v is not None}


def default_of(cls: type, name: str) -> str:
    """A dataclass field's default, for --help (a tuple as the comma list the option takes)."""
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    return shown(field.default if field.default is not dataclasses.MISSING else field.default_factory())


def shown(value: Any) -> str:
    """A config value as --help shows it."""
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return "none" if value in ("", None) else str(value)


def read_config_file(path: str) -> dict[str, Any]:
    """A recipe file: JSON (a run's config.json is one) or YAML (with PyYAML installed)."""
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{file}: no such config file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not a text file; a config file is JSON or YAML") from None
    yaml = file.suffix in (".yaml", ".yml")
    if yaml and importlib.util.find_spec("yaml") is None:
        raise ConfigError(f"{file}: YAML configs need PyYAML (pip install pyyaml), or use JSON")
    try:
        data = load_structured(text, str(file), yaml=yaml)
    except ValueError as exc:  # json.JSONDecodeError's message names the line
        raise ConfigError(f"{file}: not a valid config file ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: a config file holds one mapping of option names to values")
    return data


def key_values(text: str, option: str) -> dict[str, float]:
    """'a=0.2,b=0.5' -> {'a': 0.2, 'b': 0.5}."""
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        try:
            out[key.strip().replace("-", "_")] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ConfigError(f"{option} takes name=value pairs such as erasing=0.25,mixup=0.2; got {part!r}")
    return out
