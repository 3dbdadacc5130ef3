from __future__ import annotations

from typing import Optional

import typer

from .app import app
from .options import command_group

weights_app = command_group(app, "weights", "Pretrained weights: pack the offline ImageNet weights for machines that can install nothing.")


@weights_app.command("pack")
def pack_command(
    family: str = typer.Argument(..., help="lite0, lite1 or lite2 (the families with offline ImageNet weights)."),
    out: Optional[str] = typer.Option(None, "--out", help="File to write.", show_default="EDGEFER_CACHE/FAMILY-imagenet.safetensors"),
) -> None:
    """The ImageNet backbone as float16 safetensors; `--weights FAMILY-imagenet` then reads it from the cache."""
    from ..families import get_family
    from ..training.pretrained import pack_imagenet

    get_family(family)
    path = pack_imagenet(family, out)
    typer.echo(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
