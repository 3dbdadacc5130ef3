"""Face detectors on real photos: Haar cascade vs BlazeFace short range and full range (the default).

    pip install scikit-image            # the photos (skimage.data, bundled, no download)
    python benchmarks/bench_faces.py [--runs 50]

Per photo: the faces a person counts in it (boxes read off the images), then for each
detector the faces found, missed, and false boxes (a box counts as finding a face when
their intersection over union is at least 0.3). Variants of the astronaut photo test
grayscale, mirroring, a small face in a 640x480 frame, two faces, rotation and a dark
exposure. Then the latency of ``EmotionClassifier.detect`` (detector, crop and int8
classifier) on one 640x480 photo, everything at one thread (OpenCV's included).
Last, eye alignment (``--align``): the astronaut turned about her face centre, each
angle classified by the shipped model with and without alignment, compared with the
upright photo's prediction (total variation distance of the 7 probabilities).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from PIL import Image, ImageEnhance

from edgefer.runtime import EmotionClassifier
from edgefer.runtime.blazeface import iou

DETECTORS = ("haar", "blazeface-short", "blazeface")
ASTRONAUT_FACE = (180, 85, 95, 95)  # x, y, w, h in the 512x512 photo, brows to chin
CAMERAMAN_FACE = (180, 110, 80, 85)
MATCH_IOU = 0.3


def _photos() -> list[tuple[str, np.ndarray, list[tuple[int, int, int, int]]]]:
    try:
        import skimage.data as data
    except ImportError:
        sys.exit("bench_faces.py needs the photos of scikit-image: pip install scikit-image")
    astronaut = data.astronaut()
    x, y, w, h = ASTRONAUT_FACE
    frame = np.full((480, 640, 3), 128, np.uint8)
    frame[:, 80:560] = np.asarray(Image.fromarray(astronaut).resize((480, 480), Image.BILINEAR))
    small = np.full((480, 640, 3), 128, np.uint8)
    small[112:368, 192:448] = np.asarray(Image.fromarray(astronaut).resize((256, 256), Image.BILINEAR))
    centre = (x + w / 2, y + h / 2)
    rotated = np.asarray(Image.fromarray(astronaut).rotate(25, resample=Image.BILINEAR, center=centre))
    dark = np.asarray(ImageEnhance.Brightness(Image.fromarray(astronaut)).enhance(0.35))
    faces = [
        ("astronaut", astronaut, [ASTRONAUT_FACE]),
        ("astronaut, gray", np.asarray(Image.fromarray(astronaut).convert("L")), [ASTRONAUT_FACE]),
        ("astronaut, mirrored", astronaut[:, ::-1].copy(), [(512 - x - w, y, w, h)]),
        ("astronaut, 640x480 frame", frame, [tuple(round(v * 480 / 512) + o for v, o in zip(ASTRONAUT_FACE, (80, 0, 0, 0)))]),
        ("astronaut, small in 640x480", small, [(192 + x // 2, 112 + y // 2, w // 2, h // 2)]),
        ("two astronauts", np.concatenate([astronaut, astronaut[:, ::-1]], axis=1),
         [ASTRONAUT_FACE, (1024 - x - w, y, w, h)]),
        ("astronaut, rotated 25 deg", rotated, [ASTRONAUT_FACE]),
        ("astronaut, dark (x0.35)", dark, [ASTRONAUT_FACE]),
        ("camera (cameraman)", data.camera(), [CAMERAMAN_FACE]),
    ]
    no_faces = ["chelsea", "coffee", "rocket", "immunohistochemistry", "clock", "coins", "moon", "brick",
                "grass", "hubble_deep_field", "retina"]
    return faces + [(name + (" (a cat)" if name == "chelsea" else ""), getattr(data, name)(), []) for name in no_faces]


def _score(found: list[tuple[int, ...]], expected: list[tuple[int, ...]]) -> tuple[int, int, int]:
    """found, missed, false boxes; each expected face is matched at most once."""
    corners = lambda b: np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]], float)  # noqa: E731
    unmatched = [corners(b) for b in expected]
    hits = 0
    for box in found:
        if unmatched:
            overlaps = iou(corners(box), np.stack(unmatched))
            best = int(np.argmax(overlaps))
            if overlaps[best] >= MATCH_IOU:
                unmatched.pop(best)
                hits += 1
    return hits, len(expected) - hits, len(found) - hits


def _latency_ms(classifier: EmotionClassifier, photo: np.ndarray, runs: int) -> float:
    for _ in range(3):
        classifier.detect(photo)
    elapsed = []
    for _ in range(runs):
        start = time.perf_counter()
        classifier.detect(photo)
        elapsed.append(time.perf_counter() - start)
    return float(np.median(elapsed) * 1000)


def _alignment_rows(astronaut: np.ndarray) -> list[str]:
    x, y, w, h = ASTRONAUT_FACE
    plain, aligned = EmotionClassifier(num_threads=1), EmotionClassifier(num_threads=1, align=True)
    (upright,) = plain.detect(astronaut)
    reference = np.array(list(upright.prediction.probabilities.values()))
    rows = []
    for angle in (-40, -30, -20, -10, 0, 10, 20, 30, 40):
        turned = np.asarray(Image.fromarray(astronaut).rotate(angle, resample=Image.BILINEAR,
                                                              center=(x + w / 2, y + h / 2)))
        cells = []
        for classifier in (plain, aligned):
            found = classifier.detect(turned)
            if len(found) != 1:
                cells.append(f"{len(found)} faces")
                continue
            probs = np.array(list(found[0].prediction.probabilities.values()))
            cells.append(f"{found[0].prediction.label} {found[0].prediction.score:.2f}, "
                         f"TV {0.5 * np.abs(probs - reference).sum():.3f}")
        rows.append(f"| {angle} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="timed calls per detector")
    args = parser.parse_args()
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        sys.exit("the Haar cascade needs OpenCV: pip install 'edgefer[faces]'")
    classifiers = {name: EmotionClassifier(num_threads=1, detector=name) for name in DETECTORS}
    photos = _photos()
    header = "| photo | faces | " + " | ".join(f"{d} found / missed / false" for d in DETECTORS) + " |"
    print(header)
    print("|---|---:|" + "---:|" * len(DETECTORS))
    totals = np.zeros((len(DETECTORS), 3), int)
    for name, image, expected in photos:
        cells = []
        for i, detector in enumerate(DETECTORS):
            scored = _score([d.box for d in classifiers[detector].detect(image)], expected)
            totals[i] += scored
            cells.append(" / ".join(map(str, scored)))
        print(f"| {name} | {len(expected)} | " + " | ".join(cells) + " |")
    print(f"| **total ({len(photos)} photos)** | {sum(len(e) for _, _, e in photos)} | "
          + " | ".join("**" + " / ".join(map(str, t)) + "**" for t in totals) + " |")
    photo = photos[3][1]  # the astronaut in a 640x480 frame: one face, which every detector finds
    print()
    print("| detector | faces found | detect + classify p50 ms, 640x480, 1 thread |")
    print("|---|---:|---:|")
    for detector in DETECTORS:
        found = len(classifiers[detector].detect(photo))
        print(f"| {detector} | {found} | {_latency_ms(classifiers[detector], photo, args.runs):.1f} |")
    print()
    print("| turned (deg) | without --align | with --align |")
    print("|---:|---|---|")
    for row in _alignment_rows(photos[0][1]):
        print(row)


if __name__ == "__main__":
    main()
