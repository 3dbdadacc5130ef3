"""The typer application every command module registers on, and the options of all commands."""

from __future__ import annotations

import logging
import os

import typer

from .. import __version__
from .helpstyle import StyledTyper

app = StyledTyper(
    name="edgefer",
    help="Facial-emotion recognition with EfficientNet, from training to int8 on the edge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# An unexpected crash must never read as a verdict (parity's exit 1 means FAIL).
INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"edgefer {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    verbose: bool = typer.Option(False, "--verbose", help="Also show TensorFlow's start-up logs, the converter's "
                                 "and FFmpeg's native log lines, and debug messages."),
    version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                 help="Show edgefer's version and exit."),
) -> None:
    """Facial-emotion recognition with EfficientNet, from training to int8 on the edge."""
    if verbose:
        os.environ["EDGEFER_VERBOSE"] = "1"
        logging.getLogger().setLevel(logging.DEBUG)
