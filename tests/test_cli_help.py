"""One --help style across every command: what a newcomer reads first."""

from __future__ import annotations

import re

import pytest
import typer

from edgefer import __version__
from edgefer.cli import app, main


def _commands(group=None, path=()):
    """Every command and group of the CLI, as the argument paths that reach them."""
    group = group or typer.main.get_command(app)
    yield path
    for name, command in getattr(group, "commands", {}).items():
        yield from _commands(command, (*path, name))


COMMANDS = sorted(_commands())


def _help(path, capsys, monkeypatch) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    assert main([*path, "--help"]) == 0
    return capsys.readouterr().out


def test_every_command_is_covered():
    names = {" ".join(path) for path in COMMANDS}
    assert {"", "train", "export", "predict", "bench", "video", "evaluate", "parity", "demo", "data pack",
            "weights pack"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "edgefer")
def test_help_is_plain_and_fits_80_columns(path, capsys, monkeypatch):
    text = _help(path, capsys, monkeypatch)
    assert text.startswith(f"Usage: edgefer {' '.join(path)}".rstrip())
    assert max(len(line) for line in text.splitlines()) <= 80
    assert not re.search(r"<(bool|str|int|float|list|path)[^>]*>", text), "type tags"
    assert "{" not in text.splitlines()[0], "arguments are written NAME, [NAME] or NAME..."
    assert "(default:" not in text and "[default: (" not in text, "defaults are shown one way: [default: X]"
    assert "╭" not in text, "no rich panels"


@pytest.mark.parametrize("path", [p for p in COMMANDS if p], ids=" ".join)
def test_every_option_and_argument_is_described(path):
    for param in _params(*path).values():
        assert (param.help or "").strip(), f"edgefer {' '.join(path)}: {param.name} has no description"


def _params(*path):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return {p.name: p for p in command.params}


def test_defaults_come_from_the_config_dataclasses():
    from edgefer.cli.helpstyle import default_text
    from edgefer.export.config import ExportConfig
    from edgefer.runtime.bench import BenchConfig
    from edgefer.runtime.predict import PredictConfig
    from edgefer.training import preset

    cpu, train = preset("cpu"), _params("train")
    assert default_text(train["epochs"]) == str(cpu.epochs) and default_text(train["lr"]) == str(cpu.lr)
    assert default_text(train["mixed_precision"]) == "--no-mixed-precision"
    assert default_text(train["skip_bad"]) is None  # a plain flag is off unless given
    assert default_text(_params("bench")["threads"]) == ",".join(map(str, BenchConfig().threads))
    export = _params("export")
    assert default_text(export["formats"]) == ",".join(ExportConfig().formats)
    assert default_text(export["qat"]) == "--qat"
    assert default_text(_params("predict")["min_face_score"]) == str(PredictConfig().min_face_score)


def test_threads_reads_the_same_in_every_command(capsys, monkeypatch):
    for path in (("predict",), ("video",), ("evaluate",), ("parity",), ("bench",)):
        assert re.search(r"^  --threads THREADS ", _help(path, capsys, monkeypatch), re.M), path


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"edgefer {__version__}"
