"""BlazeFace, the default face detector: anchors, decoding and weighted NMS on synthetic
arrays, then the shipped models on a real photo (examples/astronaut.jpg) and on non-faces,
and eye alignment. No OpenCV is needed anywhere here."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgefer.cli import main
from edgefer.errors import ConfigError, DataError
from edgefer.runtime import BlazeFaceDetector, EmotionClassifier
from edgefer.runtime.blazeface import (
    ANCHOR_LAYOUTS,
    anchor_centres,
    decode,
    iou,
    letterbox,
    weighted_nms,
)
from edgefer.runtime.faces import crop_aligned, crop_face

INT8 = Path(__file__).resolve().parent / "fixtures" / "tiny_int8.tflite"
ASTRONAUT = Path(__file__).resolve().parent.parent / "examples" / "astronaut.jpg"
# Eileen Collins' face in the 512x512 photo (brows to chin, ear to ear), read off the image.
FACE_REGION = (180, 85, 95, 95)


def box_iou(a, b) -> float:
    to_corners = lambda b: np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]], float)  # noqa: E731
    return float(iou(to_corners(a), to_corners(b)[None])[0])


def test_short_range_anchors_match_mediapipe_layout():
    anchors = anchor_centres(128, ANCHOR_LAYOUTS[128])
    assert anchors.shape == (896, 2)  # 16x16 cells x 2 + 8x8 cells x 6
    np.testing.assert_allclose(anchors[0], anchors[1])  # two anchors share each 8-px cell
    np.testing.assert_allclose(anchors[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(anchors[2], [1.5 / 16, 0.5 / 16])  # then the next cell to the right
    np.testing.assert_allclose(anchors[32], [0.5 / 16, 1.5 / 16])  # a row of 16 cells later, the next row
    np.testing.assert_allclose(anchors[512:518], [[0.5 / 8, 0.5 / 8]] * 6)  # the 16-px grid, six per cell
    np.testing.assert_allclose(anchors[-1], [7.5 / 8, 7.5 / 8])


def test_full_range_anchors_are_one_per_4px_cell():
    anchors = anchor_centres(192, ANCHOR_LAYOUTS[192])
    assert anchors.shape == (2304, 2) and len(np.unique(anchors, axis=0)) == 2304


def test_decode_offsets_boxes_and_keypoints_from_their_anchor():
    anchors = np.array([[0.25, 0.5], [0.75, 0.75]])
    raw = np.zeros((1, 2, 16), np.float32)
    raw[0, 1, :4] = [12.8, -6.4, 32, 64]  # centre shifted by (+0.1, -0.05) of 128 px, 0.25 x 0.5 in size
    raw[0, 1, 4:6] = [-12.8, 0]  # the first keypoint 0.1 left of the anchor
    scores = np.array([[[0.0], [1000.0]]])  # clipped to 100 before the sigmoid: no overflow
    boxes, keypoints, probs = decode(raw, scores, anchors, 128)
    np.testing.assert_allclose(boxes[0], [0.25, 0.5, 0.25, 0.5])  # zero offsets: a point on the anchor
    np.testing.assert_allclose(boxes[1], [0.85 - 0.125, 0.7 - 0.25, 0.85 + 0.125, 0.7 + 0.25], atol=1e-6)
    np.testing.assert_allclose(keypoints[1, 0], [0.65, 0.75], atol=1e-6)
    np.testing.assert_allclose(keypoints[1, 1:], [[0.75, 0.75]] * 5)
    np.testing.assert_allclose(probs, [0.5, 1.0])


def test_decoding_settings_rebuild_the_detectors_anchors_and_threshold():
    # What the browser page decodes with (edgefer web's /config.json), so it must survive JSON.
    detector = BlazeFaceDetector("full", min_score=0.7)
    settings = json.loads(json.dumps(detector.decoding()))
    assert settings["input_size"] == detector.input_size == 192
    np.testing.assert_array_equal(anchor_centres(settings["input_size"], settings["anchor_layout"]), detector.anchors)
    assert (settings["min_score"], settings["iou_threshold"]) == (0.7, detector.iou_threshold)
    assert detector.model_path.name == "face_detection_full_range_sparse.tflite"


def test_iou_of_known_boxes():
    box = np.array([0.0, 0.0, 2.0, 2.0])
    others = np.array([[0, 0, 2, 2], [1, 0, 3, 2], [5, 5, 6, 6], [1, 1, 1, 1]], float)
    np.testing.assert_allclose(iou(box, others), [1.0, 2 / 6, 0.0, 0.0])


def test_weighted_nms_averages_each_cluster_by_score():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]])
    keypoints = np.stack([np.full((6, 2), v) for v in (0.0, 1.0, 5.0)])
    scores = np.array([0.6, 0.9, 0.7])
    merged = weighted_nms(boxes, keypoints, scores, iou_threshold=0.3)
    assert [score for _, _, score in merged] == [0.9, 0.7]  # best first; each cluster keeps its best score
    np.testing.assert_allclose(merged[0][0], (0.6 * boxes[0] + 0.9 * boxes[1]) / 1.5)
    np.testing.assert_allclose(merged[0][1], np.full((6, 2), 0.9 / 1.5))
    np.testing.assert_allclose(merged[1][0], boxes[2])  # a lone box is kept as it is
    assert weighted_nms(boxes[:0], keypoints[:0], scores[:0]) == []


def test_letterbox_keeps_the_aspect_ratio_with_black_bars():
    wide = np.full((50, 200, 3), 255, np.uint8)
    tensor, scale, pad_x, pad_y = letterbox(wide, 128)
    assert tensor.shape == (1, 128, 128, 3) and tensor.dtype == np.float32
    assert scale == 128 / 200 and pad_x == 0 and pad_y == (128 - 32) // 2
    top = int(pad_y)
    assert np.all(tensor[0, :top] == -1.0) and np.all(tensor[0, top + 32 :] == -1.0)
    np.testing.assert_allclose(tensor[0, top : top + 32], 1.0)


@pytest.fixture(scope="module")
def blazeface() -> BlazeFaceDetector:
    return BlazeFaceDetector()


def test_finds_exactly_the_astronauts_face(blazeface):
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    (face,) = blazeface(rgb)
    assert box_iou(face.box, FACE_REGION) > 0.6, face.box
    assert 0.5 <= face.score <= 1.0
    x, y, w, h = face.box
    right_eye, left_eye = face.keypoints[:2]  # the subject's right eye is on the image's left
    assert x < right_eye[0] < left_eye[0] < x + w and y < right_eye[1] < y + h / 2


@pytest.mark.parametrize("variant", ["short", "full"])
def test_both_shipped_variants_find_the_face_and_no_face_in_noise_or_a_gradient(variant):
    detector = BlazeFaceDetector(variant)
    (face,) = detector(np.asarray(Image.open(ASTRONAUT).convert("RGB")))
    assert box_iou(face.box, FACE_REGION) > 0.5
    noise = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    gradient = np.repeat(np.linspace(0, 255, 640, dtype=np.uint8)[None, :, None], 480, axis=0).repeat(3, axis=2)
    assert detector(noise) == [] and detector(gradient) == []


@pytest.mark.parametrize("width, height, dx, dy", [(500, 300, 150, 0), (300, 500, 0, 120)], ids=["wide", "tall"])
def test_boxes_map_back_through_the_letterbox(blazeface, width, height, dx, dy):
    portrait = np.asarray(Image.open(ASTRONAUT).convert("RGB"))[:300, 100:400]
    canvas = np.zeros((height, width, 3), np.uint8)
    canvas[dy : dy + 300, dx : dx + 300] = portrait  # the same face, moved, in a frame padded on other sides
    centre = lambda box: np.array([box[0] + box[2] / 2, box[1] + box[3] / 2])  # noqa: E731
    (alone,) = blazeface(portrait)
    (placed,) = blazeface(canvas)
    np.testing.assert_allclose(centre(placed.box), centre(alone.box) + [dx, dy], atol=6)
    assert placed.box[2] == pytest.approx(alone.box[2], rel=0.15)


def test_grayscale_input_is_accepted(blazeface):
    gray = np.asarray(Image.open(ASTRONAUT).convert("L"))
    (face,) = blazeface(gray)
    assert box_iou(face.box, FACE_REGION) > 0.5


def test_classifier_uses_blazeface_by_default_with_scores_and_a_threshold():
    (found,) = EmotionClassifier(INT8).detect(ASTRONAUT)
    box, prediction = found  # still unpacks as (box, prediction)
    assert box_iou(box, FACE_REGION) > 0.6 and 0.5 <= found.face_score <= 1.0
    strict = EmotionClassifier(INT8, min_face_score=0.999)
    assert strict.detect(ASTRONAUT) == []
    with pytest.raises(DataError, match=f"{ASTRONAUT}: no face found"):
        strict.detect(ASTRONAUT, require_face=True)


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="min"):
        BlazeFaceDetector(min_score=1.5)
    with pytest.raises(ConfigError, match="variant"):
        BlazeFaceDetector("long")
    with pytest.raises(ConfigError, match="unknown face detector"):
        EmotionClassifier(INT8, detector="yolo").detect(ASTRONAUT)


def test_concurrent_detection_equals_sequential(blazeface):
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    images = [rgb, rgb[:, ::-1].copy(), rgb[64:, 32:].copy()] * 3
    expected = [[f.box for f in blazeface(image)] for image in images]
    results = [None] * len(images)

    def work(i: int) -> None:
        results[i] = [f.box for f in blazeface(images[i])]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == expected


def test_cli_predict_faces_uses_blazeface_and_require_face_fails_without_a_face(tmp_path, capfd):
    assert main(["predict", str(ASTRONAUT), "--faces", "--model", str(INT8)]) == 0
    (line,) = capfd.readouterr().out.splitlines()
    assert line.startswith(f"{ASTRONAUT} [")
    blank = tmp_path / "gradient.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 320).astype(np.uint8), (240, 1))).save(blank)
    assert main(["predict", str(blank), "--faces", "--require-face", "--model", str(INT8)]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"edgefer: error: {blank}: no face found"), err
    assert main(["predict", str(ASTRONAUT), "--faces", "--min-face-score", "2", "--model", str(INT8)]) == 2
    assert "--min-face-score" in capfd.readouterr().err


def test_crop_aligned_levels_the_eyes():
    gray = np.zeros((200, 200), np.uint8)
    right_eye, left_eye = np.array([80.0, 90.0]), np.array([120.0, 110.0])  # a 26.6 degree tilt
    for x, y in (right_eye, left_eye):
        gray[int(y) - 2 : int(y) + 3, int(x) - 2 : int(x) + 3] = 255
    box = (60, 60, 80, 80)
    crop = crop_aligned(gray, box, np.stack([right_eye, left_eye]))
    assert crop.shape == crop_face(gray, box).shape == (96, 96)
    spots = [np.argwhere(crop[:, half] > 100) for half in (slice(0, 48), slice(48, 96))]
    rows = [float(s[:, 0].mean()) for s in spots]
    cols = [float(s[:, 1].mean()) + offset for s, offset in zip(spots, (0, 48))]
    assert abs(rows[0] - rows[1]) <= 1 and cols[0] < cols[1]  # level, and still left to right
    assert abs(cols[1] - cols[0] - np.hypot(40, 20)) <= 2  # their distance is kept


def test_alignment_applies_to_blazeface_faces_only():
    turned = np.asarray(Image.open(ASTRONAUT).convert("RGB").rotate(30, center=(227, 132)))
    plain, aligned = EmotionClassifier(INT8), EmotionClassifier(INT8, align=True)
    (a,), (b,) = plain.detect(turned), aligned.detect(turned)
    assert a.box == b.box and a.prediction != b.prediction
    boxes = [(150, 60, 150, 150)]
    assert plain.detect(turned, boxes=boxes) == aligned.detect(turned, boxes=boxes)  # no eyes, no turn
