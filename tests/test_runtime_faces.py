"""Faces in photos and video: caller boxes, detector plumbing, the Haar cascade, frames.

The Haar test draws a schematic face (oval, hair, brows, eyes, nose, mouth, blurred)
that OpenCV 4's frontal-face cascade finds at every scale tried; it is skipped where
OpenCV or its cascade (gone in OpenCV 5) is missing. Everything else runs without OpenCV.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from edgefer.errors import ConfigError, DataError
from edgefer.preprocessing import to_gray
from edgefer.runtime import EmotionClassifier, FaceDetection, HaarFaceDetector
from edgefer.runtime.faces import crop_face

INT8 = Path(__file__).resolve().parent / "fixtures" / "tiny_int8.tflite"

try:
    import cv2
except ImportError:
    cv2 = None
HAS_CASCADE = cv2 is not None and hasattr(cv2, "CascadeClassifier")
needs_cv2 = pytest.mark.skipif(cv2 is None, reason="OpenCV (the 'faces' extra) is not installed")
needs_cascade = pytest.mark.skipif(not HAS_CASCADE, reason="OpenCV with the Haar cascades (4.x) is not installed")


def photo(seed: int = 3, shape: tuple[int, ...] = (120, 160, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def drawn_face(size: int) -> np.ndarray:
    """A (2*size)^2 grayscale image with one schematic face centred in it."""
    img = np.full((2 * size, 2 * size), 90, np.uint8)
    s = size / 200

    def at(x: float, y: float) -> tuple[int, int]:
        return int(size + x * s), int(size + y * s)

    def axes(a: float, b: float) -> tuple[int, int]:
        return int(a * s), int(b * s)

    cv2.ellipse(img, at(0, 10), axes(80, 105), 0, 0, 360, 185, -1)  # face
    cv2.ellipse(img, at(0, -95), axes(85, 40), 0, 180, 360, 40, -1)  # hair
    for side in (-1, 1):
        cv2.ellipse(img, at(side * 35, -30), axes(22, 6), 0, 0, 360, 50, -1)  # brow
        cv2.ellipse(img, at(side * 35, -5), axes(16, 8), 0, 0, 360, 45, -1)  # eye
        cv2.ellipse(img, at(side * 35, 12), axes(20, 8), 0, 0, 360, 160, -1)  # cheek shadow
    cv2.ellipse(img, at(0, 25), axes(9, 22), 0, 0, 360, 205, -1)  # nose bridge
    cv2.ellipse(img, at(0, 45), axes(14, 5), 0, 0, 360, 110, -1)  # nostrils
    cv2.ellipse(img, at(0, 72), axes(30, 9), 0, 0, 360, 70, -1)  # mouth
    return cv2.GaussianBlur(img, (0, 0), 3 * s)


def test_caller_boxes_are_cropped_with_a_margin_and_classified():
    classifier = EmotionClassifier(INT8)
    image = photo()
    boxes = [(10, 20, 40, 40), (100, 50, 50, 60)]
    found = classifier.detect(image, boxes=boxes)
    assert [d.box for d in found] == boxes
    gray = to_gray(image)
    for detection in found:
        assert isinstance(detection, FaceDetection)
        assert detection.prediction == classifier.predict(crop_face(gray, detection.box))


def test_crop_margin_is_clipped_to_the_image():
    gray = np.zeros((100, 100), np.uint8)
    assert crop_face(gray, (10, 10, 50, 50)).shape == (60, 60)  # 5 px each side
    assert crop_face(gray, (0, 0, 100, 100)).shape == (100, 100)


@pytest.mark.parametrize(
    "boxes", [[(1, 2, 3)], [(0, 0, 0, 10)], [(500, 0, 10, 10)], [(-50, 0, 10, 10)], [(0.5, 0, 10, 10)]],
    ids=["three-values", "no-area", "right-of-image", "left-of-image", "float"],
)
def test_bad_boxes_raise_data_errors(boxes):
    with pytest.raises(DataError):
        EmotionClassifier(INT8).detect(photo(), boxes=boxes)


def test_detector_plumbing_with_a_stand_in_detector():
    seen = []

    def detector(gray: np.ndarray) -> list[tuple[int, int, int, int]]:
        seen.append((gray.shape, gray.dtype))
        return [(5, 5, 30, 30), (60, 40, 40, 40)]

    classifier = EmotionClassifier(INT8, detector=detector)
    found = classifier.detect(photo(shape=(120, 160, 4)))
    assert seen == [((120, 160), np.uint8)]
    assert [d.box for d in found] == [(5, 5, 30, 30), (60, 40, 40, 40)]
    assert EmotionClassifier(INT8, detector=lambda gray: []).detect(photo()) == []


def test_stream_yields_per_frame_results_from_one_interpreter():
    classifier = EmotionClassifier(INT8, detector=lambda gray: [(0, 0, 48, 48)])
    frames = [photo(seed) for seed in range(5)]
    results = list(classifier.stream(iter(frames)))
    assert len(results) == 5 and all(len(r) == 1 for r in results)
    assert results == [classifier.detect(frame) for frame in frames]
    fixed = list(classifier.stream(frames, boxes=[(10, 10, 30, 30)]))
    assert all(r[0].box == (10, 10, 30, 30) for r in fixed)


def test_missing_opencv_names_the_extra_only_for_haar(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)  # makes `import cv2` fail
    classifier = EmotionClassifier(INT8, detector="haar")
    with pytest.raises(ConfigError, match=r"pip install 'edgefer\[faces\]'"):
        classifier.detect(photo())
    assert classifier.detect(photo(), boxes=[(0, 0, 20, 20)])  # caller boxes need no OpenCV
    assert EmotionClassifier(INT8).detect(photo()) == []  # BlazeFace, the default, needs none


def test_opencv_without_cascades_is_a_clear_error(monkeypatch):
    import types

    opencv5 = types.ModuleType("cv2")
    opencv5.__version__ = "5.0.0"
    monkeypatch.setitem(sys.modules, "cv2", opencv5)
    with pytest.raises(ConfigError, match="no Haar face cascade"):
        HaarFaceDetector()


@needs_cascade
@pytest.mark.parametrize("size", [60, 100, 200])
def test_haar_cascade_finds_a_drawn_face(size):
    found = EmotionClassifier(INT8, detector="haar").detect(drawn_face(size))
    assert len(found) == 1
    x, y, w, h = found[0].box
    assert abs(x + w / 2 - size) < size * 0.2 and abs(y + h / 2 - size) < size * 0.3
    assert w > size * 0.6


@needs_cascade
def test_haar_cascade_finds_two_faces_and_none_in_a_blank_image():
    classifier = EmotionClassifier(INT8, detector="haar")
    pair = np.concatenate([drawn_face(100), drawn_face(100)], axis=1)
    assert [d.box[0] < 200 for d in classifier.detect(pair)] == [True, False]
    assert classifier.detect(np.full((300, 300), 90, np.uint8)) == []


@needs_cv2
def test_frames_reads_a_video_file_as_rgb(tmp_path):
    from edgefer.runtime import frames

    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    if not writer.isOpened():
        pytest.skip("this OpenCV build cannot write MJPG video")
    for value in range(6):
        bgr = np.zeros((48, 64, 3), np.uint8)
        bgr[..., 2] = 200  # red in OpenCV's BGR order
        writer.write(bgr)
    writer.release()
    read = list(frames(path))
    assert len(read) == 6 and read[0].shape == (48, 64, 3)
    assert read[0][..., 0].mean() > 150 and read[0][..., 2].mean() < 50  # now RGB
    assert len(list(frames(path, every=2))) == 3
    classifier = EmotionClassifier(INT8, detector=lambda gray: [(0, 0, 48, 48)])
    assert len(list(classifier.stream(frames(path)))) == 6


def test_frames_refuses_a_missing_file(tmp_path):
    from edgefer.runtime import frames

    with pytest.raises(DataError, match="no such video file"):
        next(frames(tmp_path / "missing.mp4"))


@needs_cascade
def test_cli_predict_faces_prints_boxes(tmp_path, capfd):
    from PIL import Image

    from edgefer.cli import main

    path = tmp_path / "portrait.png"
    Image.fromarray(drawn_face(100)).save(path)
    blank = tmp_path / "blank.png"
    Image.fromarray(np.full((200, 200), 90, np.uint8)).save(blank)
    haar = ["--faces", "--detector", "haar", "--model", str(INT8)]
    assert main(["predict", str(path), str(blank), *haar]) == 0
    lines = capfd.readouterr().out.splitlines()
    assert lines[0].startswith(f"{path} [") and lines[1] == f"{blank}: no face found"
    assert main(["predict", str(path), *haar, "--json", "-"]) == 0
    (record,) = json.loads(capfd.readouterr().out)
    (face,) = record["faces"]
    assert set(face) == {"box", "face_score", "label", "score", "probabilities"} and len(face["box"]) == 4
    assert face["face_score"] is None  # the cascade gives no confidence


ASTRONAUT = Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg"


@needs_cascade
@pytest.mark.skipif(not ASTRONAUT.is_file(), reason="examples/astronaut.jpg is not in this checkout")
def test_haar_cascade_finds_the_face_in_a_real_photo():
    (detection,) = EmotionClassifier(INT8, detector="haar").detect(ASTRONAUT)
    x, y, w, h = detection.box
    assert 150 < x + w / 2 < 300 and 60 < y + h / 2 < 180 and w > 60  # her face, top centre
