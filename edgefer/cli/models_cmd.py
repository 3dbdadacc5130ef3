from __future__ import annotations

import typer

from ..runtime.zoo import SHIPPED, format_table, headline
from .app import app


@app.command("models")
def models_command() -> None:
    """The models shipped in the package, with their headline numbers from their committed reports."""
    typer.echo(format_table([headline(model) for model in SHIPPED]))
