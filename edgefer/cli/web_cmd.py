from __future__ import annotations

import typer

from ..runtime.zoo import names_help
from ..web import WebConfig, serve
from .app import app

_W = WebConfig()


@app.command("web")
def web_command(
    model: str = typer.Option(_W.model, "--model", help=f"An edgefer .tflite, or a shipped model: {names_help()}."),
    host: str = typer.Option(_W.host, help="Address to listen on (loopback keeps the page on this machine)."),
    port: int = typer.Option(_W.port, help="Port to listen on (0: any free port)."),
    vendor: str = typer.Option(_W.vendor, help="The @mediapipe/tasks-vision folder (make app-deps installs it).",
                               show_default="web/node_modules/@mediapipe/tasks-vision of this checkout"),
    min_face_score: float = typer.Option(_W.min_face_score, help="BlazeFace confidence threshold."),
) -> None:
    """A local page: webcam or a file -> BlazeFace -> the emotion model, in the browser (MediaPipe Tasks)."""
    serve(WebConfig(model=model, host=host, port=port, vendor=vendor, min_face_score=min_face_score))
