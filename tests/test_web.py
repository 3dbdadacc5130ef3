"""``edgefer web``: the local server, and the page in a real headless Chromium with a fake camera.

The browser test needs Debian's ``chromium`` and the npm package ``@mediapipe/tasks-vision``
in web/node_modules (``make app-deps`` installs both); it skips, saying which, without them,
and fails under ``CI=true``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import missing_app_dependency

from edgefer.cli import main as cli_main
from edgefer.errors import ConfigError
from edgefer.export.graph import has_app_graph
from edgefer.export.tflite_metadata import METADATA_NAME
from edgefer.labels import LABELS
from edgefer.metadata import read_metadata_entries, read_model_info
from edgefer.runtime import EmotionClassifier
from edgefer.runtime.blazeface import iou
from edgefer.runtime.faces import DEFAULT_DETECTOR, make_detector
from edgefer.runtime.zoo import DEFAULT_MODEL_NAME, SHIPPED
from edgefer.web import DEFAULT_VENDOR, WebConfig, make_server

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "examples" / "astronaut.jpg"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
                  "--use-fake-device-for-media-stream", "--autoplay-policy=no-user-gesture-required")
BROWSER_SECONDS = 240  # wasm compilation on a busy 2-core machine is slow; a bound, not a measurement


def _serve(config: WebConfig, on_report=None):
    server = make_server(config, on_report)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _get(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), response.headers["Content-Type"]


@pytest.fixture()
def fake_vendor(tmp_path) -> Path:
    vendor = tmp_path / "tasks-vision"
    (vendor / "wasm").mkdir(parents=True)
    (vendor / "vision_bundle.mjs").write_text("export {};\n")
    (vendor / "wasm" / "vision_wasm_internal.wasm").write_bytes(b"\0asm")
    (tmp_path / "secret.txt").write_text("not for the page")
    return vendor


def test_server_serves_page_models_and_vendor_files_only(fake_vendor):
    server, base = _serve(WebConfig(port=0, vendor=str(fake_vendor)))
    try:
        assert b"/app.js" in _get(base + "/")[0]
        assert _get(base + "/app.js")[1] == "text/javascript"
        assert _get(base + "/vendor/wasm/vision_wasm_internal.wasm")[1] == "application/wasm"
        config = json.loads(_get(base + "/config.json")[0])
        assert config["labels"] == list(LABELS) and config["margin"] > 0
        # The shipped model, whatever its age, reaches the page as MediaPipe loads it.
        model = _get(base + "/models/emotion.tflite")[0]
        assert METADATA_NAME in read_metadata_entries(model) and has_app_graph(read_model_info(model))
        # The page detects faces as predict and video do: the same model, threshold and decoding.
        runtime_detector = make_detector(DEFAULT_DETECTOR, WebConfig().min_face_score)
        assert _get(base + "/models/face_detector.tflite")[0] == runtime_detector.model_path.read_bytes()
        assert config["detector"] == json.loads(json.dumps(runtime_detector.decoding()))
        assert _get(base + "/faces.js")[1] == _get(base + "/canonical_face.js")[1] == "text/javascript"
        for path in ("/vendor/../secret.txt", "/vendor/%2e%2e/secret.txt", "/models/other.tflite", "/etc/passwd"):
            with pytest.raises(urllib.error.HTTPError, match="404"):
                _get(base + path)
        with pytest.raises(urllib.error.HTTPError, match="404"):  # no report hook outside tests
            urllib.request.urlopen(urllib.request.Request(base + "/report", data=b"{}", method="POST"), timeout=30)
    finally:
        server.shutdown()
        server.server_close()


def test_missing_vendor_and_bad_options_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="make app-deps"):
        make_server(WebConfig(port=0, vendor=str(tmp_path / "nothing")))
    with pytest.raises(ConfigError, match="--port"):
        make_server(WebConfig(port=70000))


@pytest.mark.parametrize("score, allowed", [(0.0, False), (1.0, True), (1.01, False)])
def test_the_page_takes_the_face_scores_predict_takes(score, allowed, tmp_path):
    from edgefer.errors import EdgeferError
    from edgefer.runtime.predict import PredictConfig, predict_images

    messages = []
    for check in (lambda: WebConfig(min_face_score=score).validate(),
                  lambda: predict_images(PredictConfig(images=[str(tmp_path / "missing.png")], faces=True,
                                                       min_face_score=score))):
        try:
            check()
            messages.append("")
        except EdgeferError as exc:
            messages.append(str(exc))
    refused = ["--min-face-score must lie in (0, 1]" in m for m in messages]
    assert refused == [not allowed, not allowed], messages


def _y4m(rgb: np.ndarray, path: Path, frames: int = 4) -> np.ndarray:
    """A 4:2:0 YUV4MPEG2 video of one still frame; returns the RGB frame it decodes to."""
    y, cb, cr = Image.fromarray(rgb).convert("YCbCr").split()
    half = (rgb.shape[1] // 2, rgb.shape[0] // 2)
    cb, cr = cb.resize(half, Image.BOX), cr.resize(half, Image.BOX)
    planes = b"".join(np.asarray(p, np.uint8).tobytes() for p in (y, cb, cr))
    header = f"YUV4MPEG2 W{rgb.shape[1]} H{rgb.shape[0]} F10:1 Ip A1:1 C420jpeg\n".encode()
    path.write_bytes(header + b"FRAME\n".join([b""] + [planes] * frames))
    size = (rgb.shape[1], rgb.shape[0])
    decoded = Image.merge("YCbCr", (y, cb.resize(size, Image.BILINEAR), cr.resize(size, Image.BILINEAR)))
    return np.asarray(decoded.convert("RGB"))


def _browser_missing() -> str | None:
    if shutil.which("chromium") is None:
        return "Debian's chromium is not installed (make app-deps installs it)"
    if not (DEFAULT_VENDOR / "vision_bundle.mjs").is_file():
        return f"@mediapipe/tasks-vision is not installed in {DEFAULT_VENDOR} (make app-deps installs it)"
    return None


@pytest.fixture
def browser() -> None:
    """Chromium and the page's npm package: a skip without them, a failure under CI=true."""
    missing = _browser_missing()
    if missing is not None:
        missing_app_dependency(missing)


def _page_report(tmp_path: Path, frames: int) -> dict:
    """What the page, in headless Chromium with tmp_path/camera.y4m as its camera, reports after `frames` frames."""
    reports: queue.Queue = queue.Queue()
    server, base = _serve(WebConfig(port=0), reports.put)
    command = ["chromium", *CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={tmp_path / 'camera.y4m'}",
               f"--user-data-dir={tmp_path / 'profile'}", f"{base}/?camera=1&report={frames}"]
    browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        report = reports.get(timeout=BROWSER_SECONDS)
    except queue.Empty:
        pytest.fail(f"the page sent no report within {BROWSER_SECONDS} s")
    finally:
        os.killpg(browser.pid, signal.SIGKILL)  # the browser's own process group, started above
        browser.wait(timeout=30)
        server.shutdown()
        server.server_close()
    return report


class CropPage:
    """The page in headless Chromium with "images are face crops" on, opening image files through
    its own file input. Chromium is driven over the DevTools protocol on a pipe (fds 3 and 4),
    so no package beyond the standard library is needed."""

    def __init__(self, model: str, profile: Path) -> None:
        self.reports: queue.Queue = queue.Queue()
        self.server, base = _serve(WebConfig(model=model, port=0), self.reports.put)
        commands, self._commands = os.pipe()
        self._answers, answers = os.pipe()

        def pipe_fds() -> None:  # in the child: Chromium reads commands on fd 3 and answers on fd 4
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in (commands, answers)]
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        command = ["chromium", *CHROMIUM_FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
                   f"{base}/?crops=1&report=1"]
        self.browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True, close_fds=False, preexec_fn=pipe_fds)
        os.close(commands)
        os.close(answers)
        self._buffer, self._id, self._session = b"", 0, None

    def _call(self, method: str, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if self._session:
            message["sessionId"] = self._session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        while True:  # answers come in order with events between them
            while b"\0" not in self._buffer:
                chunk = os.read(self._answers, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed its DevTools pipe")
                self._buffer += chunk
            text, self._buffer = self._buffer.split(b"\0", 1)
            answer = json.loads(text)
            if answer.get("id") == self._id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]

    def wait_ready(self, seconds: float = BROWSER_SECONDS) -> None:
        """Attach to the page's tab and wait until it has loaded both models."""
        deadline = time.monotonic() + seconds
        while self._session is None:
            pages = [t for t in self._call("Target.getTargets")["targetInfos"] if t["type"] == "page"]
            if pages:
                self._session = self._call("Target.attachToTarget", targetId=pages[0]["targetId"],
                                           flatten=True)["sessionId"]
            elif time.monotonic() > deadline:
                pytest.fail(f"Chromium opened no page within {seconds} s")
        while True:
            status = self._call("Runtime.evaluate", expression="document.getElementById('status').textContent")
            if status["result"].get("value", "").startswith("ready"):
                return
            if time.monotonic() > deadline:
                pytest.fail(f"the page was not ready within {seconds} s: {status['result'].get('value')!r}")
            time.sleep(0.5)

    def classify(self, image: Path) -> dict:
        """The page's one face for an image file opened through its file input."""
        root = self._call("DOM.getDocument")["root"]["nodeId"]
        node = self._call("DOM.querySelector", nodeId=root, selector="#file")["nodeId"]
        self._call("DOM.setFileInputFiles", nodeId=node, files=[str(image.resolve())])
        while True:
            report = self.reports.get(timeout=60)
            if report["source"] == image.name:
                (face,) = report["faces"]
                return face

    def close(self) -> None:
        os.killpg(self.browser.pid, signal.SIGKILL)  # the browser's own process group, started above
        self.browser.wait(timeout=30)
        os.close(self._commands)
        os.close(self._answers)
        self.server.shutdown()
        self.server.server_close()


def page_and_predict(model: str, images: list[Path], profile: Path) -> tuple[list[dict], list[dict]]:
    """What the page and `edgefer predict --json` say about the same face-crop files, in order."""
    page = CropPage(model, profile)
    try:
        page.wait_ready()
        seen = [page.classify(image) for image in images]
    finally:
        page.close()
    listing = profile.parent / f"predict_{model}.json"
    assert cli_main(["predict", *map(str, images), "--model", model, "--json", str(listing)]) == 0
    return seen, json.loads(listing.read_text())


def agreement(seen: list[dict], predicted: list[dict]) -> tuple[float, float]:
    """(top-1 agreement, mean absolute score difference) between page faces and predict records."""
    same = [s["label"] == p["label"] for s, p in zip(seen, predicted, strict=True)]
    gaps = [abs(s["scores"][label] - p["probabilities"][label]) for s, p in zip(seen, predicted) for label in LABELS]
    return float(np.mean(same)), float(np.mean(gaps))


def _face_crops(folder: Path, sizes: tuple[int, ...]) -> list[Path]:
    """Colour crops around the astronaut's face (shifted, zoomed, mirrored, darkened), at each size."""
    photo = Image.open(PHOTO).convert("RGB")
    folder.mkdir()
    paths = []
    for i, (dx, dy, grow, flip, light) in enumerate([(0, 0, 0, False, 1.0), (-12, 6, 10, False, 1.0),
                                                     (10, -8, -14, True, 1.0), (4, 12, 24, False, 0.6),
                                                     (-6, -4, 4, True, 1.3), (16, 0, -20, False, 0.8)]):
        crop = photo.crop((150 + dx - grow, 44 + dy - grow, 300 + dx + grow, 194 + dy + grow))
        crop = crop.transpose(Image.FLIP_LEFT_RIGHT) if flip else crop
        crop = Image.fromarray(np.clip(np.asarray(crop) * light, 0, 255).astype(np.uint8))
        for size in sizes:
            paths.append(folder / f"crop{i}_{size}.png")
            crop.resize((size, size), Image.BICUBIC).save(paths[-1])
    return paths


def _odd_crops(folder: Path) -> list[Path]:
    """The astronaut's face as a cut-out (transparent, black under the transparency) and as 16-bit grey."""
    face = Image.open(PHOTO).convert("RGB").crop((150, 44, 300, 194)).resize((120, 120), Image.BICUBIC)
    folder.mkdir()
    yy, xx = np.mgrid[:120, :120]
    inside = ((yy - 60) / 50) ** 2 + ((xx - 60) / 38) ** 2
    alpha = np.where(inside < 0.8, 255, np.where(inside < 1.0, 128, 0)).astype(np.uint8)
    rgba = np.dstack([np.asarray(face) * (alpha[..., None] > 0), alpha]).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(folder / "cutout.png")
    grey = np.asarray(face.convert("L")).astype(np.uint16) * 257 + np.uint16(100)
    Image.fromarray(grey).save(folder / "grey16.png")  # Pillow writes a uint16 array as a 16-bit PNG
    assert Image.open(folder / "grey16.png").mode.startswith("I")
    return [folder / "cutout.png", folder / "grey16.png"]


def test_page_gives_predicts_answer_for_a_transparent_and_a_16_bit_crop(tmp_path, browser):
    images = _odd_crops(tmp_path / "odd")
    seen, predicted = page_and_predict(DEFAULT_MODEL_NAME, images, tmp_path / "profile")
    top1, _ = agreement(seen, predicted)
    # Transparency on white and 16 bits scaled to 8 in both; what is left is a pixel's rounding
    # here and there (the page's canvas, Chromium's PNG decoder): an int8 score step or two.
    worst = max(abs(s["scores"][label] - p["probabilities"][label]) for s, p in zip(seen, predicted) for label in LABELS)
    assert top1 == 1.0 and worst <= 2 / 256, (worst, seen, predicted)


@pytest.mark.slow
@pytest.mark.parametrize("name", [model.name for model in SHIPPED])
def test_page_gives_predicts_answer_for_face_crops_of_any_size(name, tmp_path, browser):
    images = _face_crops(tmp_path / "crops", tuple(sorted({48, EmotionClassifier(name).info.network_size, 160})))
    seen, predicted = page_and_predict(name, images, tmp_path / "profile")
    top1, gap = agreement(seen, predicted)
    assert top1 >= 0.99 and gap <= 0.01, (top1, gap)


@pytest.mark.slow
def test_page_in_headless_chromium_finds_the_face_and_gives_the_runtimes_label(tmp_path, browser):
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[:, 80:560] = np.asarray(Image.open(PHOTO).convert("RGB").resize((480, 480), Image.BILINEAR))
    decoded = _y4m(frame, tmp_path / "camera.y4m")
    # What `edgefer predict --faces` says about the frame the fake camera shows.
    expected = [p.label for _, p in EmotionClassifier(None).detect(decoded)]
    assert len(expected) == 1

    report = _page_report(tmp_path, 30)
    assert report["frames"] >= 30 and report["fps"] > 0 and (report["width"], report["height"]) == (640, 480)
    assert [face["label"] for face in report["faces"]] == expected
    face = report["faces"][0]
    assert abs(sum(face["scores"].values()) - 1) < 0.02 and set(face["scores"]) == set(LABELS)
    png = base64.b64decode(report["screenshot"].split(",", 1)[1])
    (tmp_path / "page.png").write_bytes(png)
    if os.environ.get("EDGEFER_WEB_SCREENSHOT"):  # the README's picture: EDGEFER_WEB_SCREENSHOT=docs/web.png
        Path(os.environ["EDGEFER_WEB_SCREENSHOT"]).write_bytes(png)


def _group_photo(widths: tuple[int, ...], size: tuple[int, int] = (960, 540)) -> np.ndarray:
    """The astronaut's head and shoulders at several widths, side by side on a grey wall."""
    photo = Image.open(PHOTO).convert("RGB").crop((112, 16, 338, 242))
    canvas = Image.new("RGB", size, (110, 120, 130))
    left = 20
    for width in widths:
        canvas.paste(photo.resize((width, width), Image.BICUBIC), (left, size[1] - width - 10))
        left += width + 30
    return np.asarray(canvas)


@pytest.mark.slow
def test_page_in_headless_chromium_finds_the_faces_predict_finds(tmp_path, browser):
    decoded = _y4m(_group_photo((140, 200, 280)), tmp_path / "camera.y4m")
    # `edgefer predict --faces` on the frame the fake camera shows (the short-range model finds
    # only the largest face here).
    expected = [box for box, _ in EmotionClassifier(None).detect(decoded)]
    assert len(expected) == 3

    found = [face["detection"] for face in _page_report(tmp_path, 5)["faces"]]
    assert len(found) == len(expected)
    for want, got in zip(expected, found):
        x, y, w, h = want
        overlap = iou(np.array([x, y, x + w, y + h]), np.array([[got["originX"], got["originY"],
                                                                got["originX"] + got["width"],
                                                                got["originY"] + got["height"]]]))[0]
        assert overlap >= 0.5, (want, got)
