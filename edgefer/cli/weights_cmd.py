from __future__ import annotations

from typing import Optional

import typer

from ..families import list_families, names_text
from .app import app
from .options import command_group

weights_app = command_group(app, "weights", "Pretrained weights: pack the offline ImageNet weights for machines that can install nothing.")


@weights_app.command("pack")
def pack_command(
    family: str = typer.Argument(..., help=f"A family with offline ImageNet weights: {names_text(list_families(offline_imagenet=True))}."),
    out: Optional[str] = typer.Option(None, "--out", help="File to write.", show_default="EDGEFER_CACHE/FAMILY-imagenet.safetensors"),
) -> None:
    """The ImageNet backbone as float16 safetensors; `--weights FAMILY-imagenet` then reads it from the cache, in either engine."""
    from ..training.pretrained import pack_imagenet

    path = pack_imagenet(family, out)
    typer.echo(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
