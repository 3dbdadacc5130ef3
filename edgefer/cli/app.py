"""The typer application every command module registers on, and the options of all commands."""

from __future__ import annotations

import logging
import os

import typer

app = typer.Typer(
    name="edgefer",
    help="Facial-emotion recognition with EfficientNet, from training to int8 on the edge.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# An unexpected crash must never read as a verdict (parity's exit 1 means FAIL).
INTERNAL_ERROR_EXIT = 70  # EX_SOFTWARE


@app.callback()
def _global_options(
    verbose: bool = typer.Option(False, "--verbose", help="Also show TensorFlow's start-up logs and debug messages."),
) -> None:
    """Facial-emotion recognition with EfficientNet, from training to int8 on the edge."""
    if verbose:
        os.environ["EDGEFER_VERBOSE"] = "1"
        logging.getLogger().setLevel(logging.DEBUG)
