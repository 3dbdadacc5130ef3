"""``edgefer web``: a local page that runs face detection and the emotion model in the browser.

The page uses MediaPipe Tasks Vision for Web (npm ``@mediapipe/tasks-vision``, installed
at set-up time into ``web/node_modules`` by ``make app-deps``) with the face detector that
``predict`` and ``video`` use (its model and its decoding settings, read from
edgefer.runtime.faces) and an edgefer emotion model, all served by this process: nothing
is fetched from elsewhere, so it works offline, and no frame leaves the browser.

A model exported before the app-runtime graph edits is edited and stamped in memory
(edgefer.export.graph, edgefer.export.tflite_metadata), so any edgefer model can be served.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import sys
import mimetypes
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse, urlsplit

from ..errors import ConfigError
from ..export.graph import has_app_graph, upgrade_model
from ..export.tflite_metadata import METADATA_NAME, stamp
from ..metadata import read_metadata_entries, read_model_info
from ..runtime.blazeface import DEFAULT_MIN_SCORE, check_min_face_score
from ..runtime.faces import DEFAULT_DETECTOR, DEFAULT_MARGIN, make_detector
from ..runtime.model import resolve_model
from ..runtime.zoo import DEFAULT_MODEL_NAME

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
# An editable install (a checkout) finds the npm package where `make app-deps` puts it.
DEFAULT_VENDOR = Path(__file__).resolve().parents[2] / "web" / "node_modules" / "@mediapipe" / "tasks-vision"
MAX_REPORT_BYTES = 8 << 20
LOOPBACK = "127.0.0.1"
Report = Callable[[dict[str, Any]], None]


@dataclass
class WebConfig:
    model: str = DEFAULT_MODEL_NAME  # an edgefer .tflite, or a shipped model's name
    host: str = LOOPBACK  # the page and the camera stay on this machine; empty is loopback too
    port: int = 8765  # 0: any free port
    vendor: str = ""  # the @mediapipe/tasks-vision folder; web/node_modules of this checkout if empty
    min_face_score: float = DEFAULT_MIN_SCORE  # predict's and video's, so the page finds the faces they find

    def vendor_dir(self) -> Path:
        path = Path(self.vendor) if self.vendor else DEFAULT_VENDOR
        if not (path / "vision_bundle.mjs").is_file() or not (path / "wasm").is_dir():
            raise ConfigError(f"{path}: MediaPipe Tasks Vision for Web is not installed there "
                              "(make app-deps, or npm ci --prefix web; or pass --vendor)")
        return path

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be in 0..65535, got {self.port}")
        check_min_face_score(self.min_face_score)


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

    server: "_PageServer"
    timeout = 60  # a client that stops sending mid-request frees its thread

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug(format, *args)

    def parse_request(self) -> bool:
        """http.server's own checks (a malformed request line or header is 400), then the Host
        header: a page on another site that a DNS name rebinds to this address is refused."""
        if not super().parse_request():
            return False
        host = self.headers.get("Host")
        if not host:
            self.send_error(400, "Host header missing")
            return False
        if not self.server.serves(host):
            self.send_error(421, "Host header names another server")
            return False
        return True

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = urlparse(self.path).path
        if path in self.routes:
            return self._send(*self.routes[path])
        if path.startswith("/vendor/"):
            try:
                target = (self.vendor / path[len("/vendor/"):]).resolve()
                found = self.vendor.resolve() in target.parents and target.is_file()
            except (OSError, ValueError):  # a NUL byte, a name too long
                found = False
            if found:
                return self._send(target.read_bytes(), _content_type(target))
            return self.send_error(404)
        if path in ("/", "/index.html", "/app.js", "/canonical_face.js", "/faces.js"):
            return super().do_GET()
        return self.send_error(404)

    def do_POST(self) -> None:  # noqa: N802
        if urlparse(self.path).path != "/report" or self.on_report is None:
            return self.send_error(404)
        length = self.headers.get("Content-Length", "")
        if not (length.isascii() and length.isdigit() and 0 < int(length) <= MAX_REPORT_BYTES):
            return self.send_error(400, f"Content-Length must be 1..{MAX_REPORT_BYTES}")
        try:
            report = json.loads(self.rfile.read(int(length)))
        except (ValueError, RecursionError):
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


class _PageServer(ThreadingHTTPServer):
    daemon_threads = True  # Ctrl-C does not wait for a browser's open connections
    host_name = ""  # the address it was asked to listen on

    def serves(self, host_header: str) -> bool:
        """The Host header names this server: an IP address or localhost (which no other site's
        page can send), or the name it was started with; and the port it listens on."""
        try:
            parts = urlsplit("//" + host_header)
            name, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return False
        if port is not None and port != self.server_address[1]:
            return False
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return name in ("localhost", str(self.server_address[0]).lower(), self.host_name.lower())

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line, no traceback: a browser that closes a tab mid-download is no failure of the server."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            log.info("edgefer web: %s closed the connection", client_address[0])
        else:
            log.warning("edgefer web: a request from %s failed (%s: %s)", client_address[0], type(exc).__name__, exc)


def make_server(config: WebConfig, on_report: Report | None = None) -> ThreadingHTTPServer:
    """The page's HTTP server, bound but not yet serving; `on_report` receives what a page
    opened with ``?report=N`` posts after N frames (the browser test reads it)."""
    config.validate()
    vendor = config.vendor_dir()
    model, settings = app_model(config.model)
    detector = make_detector(DEFAULT_DETECTOR, config.min_face_score)
    settings.update(detector=detector.decoding(), margin=DEFAULT_MARGIN)
    routes = {
        "/models/emotion.tflite": (model, "application/octet-stream"),
        "/models/face_detector.tflite": (detector.model_path.read_bytes(), "application/octet-stream"),
        "/config.json": (json.dumps(settings).encode(), "application/json"),
    }
    handler = partial(_Handler, routes=routes, vendor=vendor, on_report=on_report)
    host = config.host or LOOPBACK  # every interface only when asked for by name (0.0.0.0)
    try:
        server = _PageServer((host, config.port), handler)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{config.port} ({exc.strerror or exc})") from None
    server.host_name = host
    return server


def serve(config: WebConfig) -> None:
    """Serve the page until interrupted."""
    server = make_server(config)
    host, port = server.server_address[:2]
    log.info("edgefer web: open http://%s:%d/ (Ctrl-C stops it)", host, port)
    try:
        server.serve_forever()
    finally:
        server.server_close()
