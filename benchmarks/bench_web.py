"""Frames per second of the `edgefer web` page in headless Chromium, fed by a fake camera.

    make app-deps                       # chromium, @mediapipe/tasks-vision, mediapipe
    python benchmarks/bench_web.py [--frames 300] [--model default]

The fake camera shows examples/astronaut.jpg in a 640x480 frame, as in tests/test_web.py (whose
video writer and browser flags this reuses). The page detects (BlazeFace short range) and
classifies every frame it draws, in a requestAnimationFrame loop, so the rate is capped by the
browser's frame rate (60 Hz); Chromium runs with --disable-gpu (software rendering, CPU wasm).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_web import CHROMIUM_FLAGS, PHOTO, _serve, _y4m  # noqa: E402

from edgefer.web import WebConfig  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300, help="frames to process before the page reports")
    parser.add_argument("--model", default="default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        frame = np.full((480, 640, 3), 128, np.uint8)
        frame[:, 80:560] = np.asarray(Image.open(PHOTO).convert("RGB").resize((480, 480), Image.BILINEAR))
        _y4m(frame, Path(tmp) / "camera.y4m")
        reports: queue.Queue = queue.Queue()
        server, base = _serve(WebConfig(model=args.model, port=0), reports.put)
        command = ["chromium", *CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={tmp}/camera.y4m",
                   f"--user-data-dir={tmp}/profile", f"{base}/?camera=1&report={args.frames}"]
        browser = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        try:
            report = reports.get(timeout=600)
        finally:
            os.killpg(browser.pid, signal.SIGKILL)
            browser.wait(timeout=30)
            server.shutdown()
    summary = {"frames": report["frames"], "fps_last_2s": report["fps"],
               "faces": [(f["label"], round(f["score"], 3)) for f in report["faces"]]}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
