"""Frames per second of the `edgefer web` page in headless Chromium, fed by a fake camera; or,
with --crops, how often the page and `edgefer predict` agree on real face crops.

    make app-deps                       # chromium, @mediapipe/tasks-vision, mediapipe
    python benchmarks/bench_web.py [--frames 300] [--model default]
    python benchmarks/bench_web.py --crops fer2013.csv.gz [--n 300] [--split PublicTest] [--json OUT]

The fake camera shows examples/astronaut.jpg in a 640x480 frame, as in tests/test_web.py (whose
video writer and browser flags this reuses). The page detects (BlazeFace short range) and
classifies every frame it draws, in a requestAnimationFrame loop, so the rate is capped by the
browser's frame rate (60 Hz); Chromium runs with --disable-gpu (software rendering, CPU wasm).

--crops writes the first N faces of the split as PNG crops of 48 px, each shipped model's network
size and 160 px (Pillow's bicubic upscale) into a temporary folder, opens each through the page's
file input with "images are face crops" on (tests/test_web.py's CropPage) and runs `edgefer predict`
on the same files: top-1 agreement and mean absolute score difference per model and size;
--json writes that report (tools/report_tables.py renders it in the README).
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

from edgefer.runtime.zoo import DEFAULT_MODEL_NAME

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_web import CHROMIUM_FLAGS, PHOTO, _serve, _y4m, agreement, page_and_predict  # noqa: E402

from edgefer.data import load_split  # noqa: E402
from edgefer.fileio import write_json  # noqa: E402
from edgefer.runtime import EmotionClassifier  # noqa: E402
from edgefer.provenance import file_sha256, host_cpu, script_command, sha256_or_none  # noqa: E402
from edgefer.runtime.zoo import SHIPPED  # noqa: E402
from edgefer.web import WebConfig  # noqa: E402


def crop_agreement(args: argparse.Namespace) -> dict:
    faces = load_split(args.crops, args.split).images[: args.n]
    result = {"data": Path(args.crops).name, "data_sha256": sha256_or_none(args.crops), "split": args.split,
              "faces": len(faces), "command": script_command(sys.argv, args.crops),
              "host_cpu": host_cpu(), "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for model in SHIPPED:
            network = EmotionClassifier(model.name).info.network_size
            sizes, images = sorted({48, network, 160}), []
            folder = Path(tmp) / model.name
            folder.mkdir()
            for i, face in enumerate(faces):
                for size in sizes:
                    images.append(folder / f"face{i:04d}_{size}.png")
                    Image.fromarray(face).resize((size, size), Image.BICUBIC).save(images[-1])
            seen, predicted = page_and_predict(model.name, images, folder / "profile")
            entry = result["models"][model.name] = {"model": model.file, "model_sha256": file_sha256(model.path),
                                                    "network_size": network, "sizes": {}}
            for size in sizes:
                picked = [i for i, path in enumerate(images) if path.stem.endswith(f"_{size}")]
                top1, gap = agreement([seen[i] for i in picked], [predicted[i] for i in picked])
                entry["sizes"][str(size)] = {"agreement": top1, "mean_abs_score_diff": gap}
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300, help="frames to process before the page reports")
    parser.add_argument("--model", default=DEFAULT_MODEL_NAME)
    parser.add_argument("--crops", help="a FER2013 CSV: measure page/predict agreement on its faces instead")
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--n", type=int, default=300, help="faces for --crops")
    parser.add_argument("--json", help="with --crops: write the report here")
    args = parser.parse_args()
    if args.crops:
        result = crop_agreement(args)
        if args.json:
            write_json(args.json, result)
        print(json.dumps(result, indent=2))
        return 0
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
