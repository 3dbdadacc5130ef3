"""``edgefer web``: a local page that runs face detection and the emotion model in the browser.

The page uses MediaPipe Tasks Vision for Web (npm ``@mediapipe/tasks-vision``, installed
at set-up time into ``web/node_modules`` by ``make app-deps``) with the shipped BlazeFace
short-range detector and an edgefer emotion model, all served by this process: nothing
is fetched from elsewhere, so it works offline, and no frame leaves the browser.

A model exported before the app-runtime graph edits is edited and stamped in memory
(edgefer.export.graph, edgefer.export.tflite_metadata), so any edgefer model can be served.
"""

from __future__ import annotations

import json
import logging
import mimetypes
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from ..errors import ConfigError
from ..export.graph import has_app_graph, upgrade_model
from ..export.tflite_metadata import METADATA_NAME, stamp
from ..metadata import read_metadata_entries, read_model_info
from ..runtime.blazeface import MODELS_DIR, VARIANTS
from ..runtime.faces import DEFAULT_MARGIN
from ..runtime.model import resolve_model

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# An editable install (a checkout) finds the npm package where `make app-deps` puts it.
DEFAULT_VENDOR = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "@mediapipe" / "tasks-vision"
# MediaPipe Tasks' face detector decodes the short-range model's anchors only.
DETECTOR_FILE = MODELS_DIR / VARIANTS["short"]
MAX_REPORT_BYTES = 8 << 20
Report = Callable[[dict[str, Any]], None]


@dataclass
class WebConfig:
    model: str = "default"  # an edgefer .tflite, or "default" for the shipped model
    host: str = "127.0.0.1"  # loopback: the page and the camera stay on this machine
    port: int = 8765  # 0: any free port
    vendor: str = ""  # the @mediapipe/tasks-vision folder; web/node_modules of this checkout if empty
    min_face_score: float = 0.5  # BlazeFace short range's own threshold in MediaPipe

    def vendor_dir(self) -> Path:
        path = Path(self.vendor) if self.vendor else DEFAULT_VENDOR
        if not (path / "vision_bundle.mjs").is_file() or not (path / "wasm").is_dir():
            raise ConfigError(f"{path}: MediaPipe Tasks Vision for Web is not installed there "
                              "(make app-deps, or npm ci --prefix web; or pass --vendor)")
        return path

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be in 0..65535, got {self.port}")
        if not 0 < self.min_face_score < 1:
            raise ConfigError(f"--min-face-score must be in (0, 1), got {self.min_face_score}")


def app_model(model: str) -> tuple[bytes, dict[str, Any]]:
    """The model as MediaPipe Tasks load it (edited and stamped if it predates that) and the
    page settings taken from its edgefer record."""
    path = Path(resolve_model(model))
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file")
    data, name = path.read_bytes(), str(path)
    info = read_model_info(data, name)
    if info is None:
        raise ConfigError(f"{name}: not an edgefer model (no edgefer metadata)")
    if not has_app_graph(info):
        log.info("%s predates the app-runtime export: editing it in memory (RGB input, probabilities)", name)
        data = stamp(upgrade_model(data))
    elif METADATA_NAME not in read_metadata_entries(data, name):
        data = stamp(data)
    return data, {"labels": list(info.labels), "input_size": info.preprocess.input_size, "model": path.name}


class _Handler(SimpleHTTPRequestHandler):
    def __init__(self, *args, routes: dict[str, tuple[bytes, str]], vendor: Path, on_report: Report | None,
                 **kwargs) -> None:
        self.routes, self.vendor, self.on_report = routes, vendor, on_report
        super().__init__(*args, directory=str(STATIC_DIR), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug(format, *args)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = urlparse(self.path).path
        if path in self.routes:
            return self._send(*self.routes[path])
        if path.startswith("/vendor/"):
            target = (self.vendor / path[len("/vendor/"):]).resolve()
            if self.vendor.resolve() in target.parents and target.is_file():
                return self._send(target.read_bytes(), _content_type(target))
            return self.send_error(404)
        if path in ("/", "/index.html", "/app.js"):
            return super().do_GET()
        return self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        if urlparse(self.path).path != "/report" or self.on_report is None or not 0 < length <= MAX_REPORT_BYTES:
            return self.send_error(404)
        try:
            report = json.loads(self.rfile.read(length))
        except ValueError:
            return self.send_error(400)
        self.on_report(report)
        self._send(b"{}", "application/json")

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _content_type(path: Path) -> str:
    if path.suffix in (".mjs", ".js"):
        return "text/javascript"
    if path.suffix == ".wasm":
        return "application/wasm"
    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def make_server(config: WebConfig, on_report: Report | None = None) -> ThreadingHTTPServer:
    """The page's HTTP server, bound but not yet serving; `on_report` receives what a page
    opened with ``?report=N`` posts after N frames (the browser test reads it)."""
    config.validate()
    vendor = config.vendor_dir()
    model, settings = app_model(config.model)
    settings.update(min_face_score=config.min_face_score, margin=DEFAULT_MARGIN)
    routes = {
        "/models/emotion.tflite": (model, "application/octet-stream"),
        "/models/face_detector.tflite": (DETECTOR_FILE.read_bytes(), "application/octet-stream"),
        "/config.json": (json.dumps(settings).encode(), "application/json"),
    }
    handler = partial(_Handler, routes=routes, vendor=vendor, on_report=on_report)
    try:
        return ThreadingHTTPServer((config.host, config.port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {config.host}:{config.port} ({exc.strerror or exc})") from None


def serve(config: WebConfig) -> None:
    """Serve the page until interrupted."""
    server = make_server(config)
    host, port = server.server_address[:2]
    log.info("edgefer web: open http://%s:%d/ (Ctrl-C stops it)", host, port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
