"""MediaPipe's BlazeFace face detectors on the TFLite runtime, decoded in NumPy.

The two ``.tflite`` files ship in ``edgefer/models`` (Apache-2.0, copied from the
``mediapipe`` wheel; see LICENSE-mediapipe.txt), so detection needs neither OpenCV nor
MediaPipe. What MediaPipe's graph does around the network is redone here with its
published settings: letterbox to the input size with values in [-1, 1], SSD anchors
on fixed-size grids, box and keypoint offsets relative to the anchors, a sigmoid score,
and weighted non-maximum suppression (overlapping boxes are averaged by score).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..errors import ConfigError, DataError, ModelError
from ..metadata import check_tflite_bytes
from .backend import select_backend
from .pool import InterpreterPool

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
VARIANTS = {
    # Faces up to about 5 m from the camera, so also small faces in group photos.
    "full": "face_detection_full_range_sparse.tflite",
    # Faces within about 2 m (selfies, webcams), at about half the cost.
    "short": "face_detection_short_range.tflite",
}
# (stride, anchors per grid cell) per output grid, in the order the network emits them;
# keyed by the input size that identifies each model. MediaPipe's short-range graph
# has four layers (strides 8, 16, 16, 16, two anchors each); layers of equal stride
# share one grid, hence six anchors per 16-px cell.
ANCHOR_LAYOUTS = {128: ((8, 2), (16, 6)), 192: ((4, 1),)}
# MediaPipe's threshold for the full-range model (0.5 for short range). Measured with
# full range: real faces in benchmarks/bench_faces.py scored 0.69-0.94, its non-face
# photos at most 0.47; uniform noise reached 0.6 in 2 of 48 images (at most 0.65).
DEFAULT_MIN_SCORE = 0.6


def check_min_face_score(score: float) -> None:
    """--min-face-score, for every command that detects faces alike: a score of 1 is allowed
    (only faces the detector is certain of), 0 is not (every anchor would be a face)."""
    if not 0.0 < score <= 1.0:
        raise ConfigError(f"--min-face-score must lie in (0, 1], got {score}")
NMS_IOU = 0.3
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")  # the subject's right/left
_SCORE_CLIP = 100.0  # raw scores are clipped before the sigmoid, as MediaPipe does


class DetectedFace(NamedTuple):
    box: tuple[int, int, int, int]  # x, y, width, height in pixels, inside the image
    score: float  # detector confidence in [0, 1]
    keypoints: np.ndarray  # (6, 2) x, y in pixels, in KEYPOINTS order


def anchor_centres(input_size: int, layout: tuple[tuple[int, int], ...]) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in [0, 1]: per grid, row by row, then per anchor."""
    centres = []
    for stride, per_cell in layout:
        cells = -(-input_size // stride)
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        centres.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_cell, axis=0))
    return np.concatenate(centres)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, anchors: np.ndarray, input_size: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Network outputs -> (N, 4) boxes (xmin, ymin, xmax, ymax), (N, 6, 2) keypoints, (N,) scores.

    Coordinates are fractions of the (letterboxed) input. Anchors have a fixed size of
    1, so offsets are simply pixels of the input divided by its size.
    """
    raw = raw_boxes.reshape(len(anchors), -1).astype(np.float64) / input_size
    centre = anchors + raw[:, 0:2]
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = anchors[:, None, :] + raw[:, 4 : 4 + 2 * len(KEYPOINTS)].reshape(-1, len(KEYPOINTS), 2)
    logits = np.clip(raw_scores.reshape(-1).astype(np.float64), -_SCORE_CLIP, _SCORE_CLIP)
    return boxes, keypoints, 1.0 / (1.0 + np.exp(-logits))


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (xmin, ymin, xmax, ymax) box with each of (N, 4)."""
    lo, hi = np.maximum(box[:2], boxes[:, :2]), np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU
                 ) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted NMS: each cluster around the best remaining box becomes the
    score-weighted mean of its members (boxes and keypoints), keeping the best score.

    BlazeFace fires on many neighbouring anchors per face; averaging them gives steadier
    boxes than keeping one, which matters frame to frame in video.
    """
    order = np.argsort(-scores, kind="stable")
    merged = []
    while len(order):
        overlaps = iou(boxes[order[0]], boxes[order]) > iou_threshold
        overlaps[0] = True  # a degenerate box still forms its own cluster
        members, order = order[overlaps], order[~overlaps]
        weights = scores[members] / scores[members].sum()
        merged.append((weights @ boxes[members], np.tensordot(weights, keypoints[members], axes=1),
                       float(scores[members[0]])))
    return merged


def letterbox(rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """uint8 (H, W, 3) -> float32 (1, size, size, 3) in [-1, 1] with the aspect kept,
    black bars centred as MediaPipe pads; plus the scale and the x, y padding in pixels."""
    height, width = rgb.shape[:2]
    scale = size / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    resized = np.asarray(Image.fromarray(rgb).resize((new_w, new_h), Image.BILINEAR), np.float32)
    pad_x, pad_y = (size - new_w) // 2, (size - new_h) // 2
    canvas = np.full((size, size, 3), -1.0, np.float32)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized / 127.5 - 1.0
    return canvas[None], scale, float(pad_x), float(pad_y)


class BlazeFaceDetector:
    """Faces in an RGB (or grayscale) image, with a score and six keypoints each.

    Calling it returns :class:`DetectedFace` records, left to right; safe to share
    between threads, which borrow interpreters from a pool of up to `pool_size`.
    """

    wants_rgb = True  # colour helps BlazeFace; EmotionClassifier passes RGB when asked

    def __init__(self, variant: str = "full", min_score: float = DEFAULT_MIN_SCORE, iou_threshold: float = NMS_IOU,
                 num_threads: int | None = 1, backend: str | None = None, model_path: str | Path | None = None,
                 pool_size: int | None = None) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"unknown BlazeFace variant {variant!r} (choose from {', '.join(VARIANTS)})")
        if not 0.0 <= min_score <= 1.0:
            raise ConfigError(f"the minimum face score must lie in 0..1, got {min_score}")
        self.min_score, self.iou_threshold = min_score, iou_threshold
        self.model_path = path = Path(model_path) if model_path is not None else MODELS_DIR / VARIANTS[variant]
        if not path.is_file():
            raise ModelError(f"{path}: no such face detector model; reinstall edgefer")
        data = path.read_bytes()
        check_tflite_bytes(data, str(path))
        self.pool = InterpreterPool(select_backend(backend), data, num_threads, str(path), pool_size)
        (inp,) = self.pool.first.get_input_details()
        self.input_size = int(inp["shape"][1])
        if tuple(inp["shape"]) != (1, self.input_size, self.input_size, 3) or self.input_size not in ANCHOR_LAYOUTS:
            raise ModelError(f"{path}: input {tuple(inp['shape'])} is not a BlazeFace input (1, 128|192, same, 3)")
        self._input = inp["index"]
        self.anchors = anchor_centres(self.input_size, ANCHOR_LAYOUTS[self.input_size])
        outputs = {int(d["shape"][-1]): d["index"] for d in self.pool.first.get_output_details()}
        if set(outputs) != {16, 1}:
            raise ModelError(f"{path}: expected box (N, 16) and score (N, 1) outputs")
        self._boxes, self._scores = outputs[16], outputs[1]

    def decoding(self) -> dict:
        """How this detector turns the network's outputs into faces, as JSON: what the browser
        page (edgefer.web) decodes with, so that it finds the faces this class finds."""
        return {"input_size": self.input_size, "anchor_layout": ANCHOR_LAYOUTS[self.input_size],
                "min_score": self.min_score, "iou_threshold": self.iou_threshold, "score_clip": _SCORE_CLIP,
                "keypoints": len(KEYPOINTS)}

    def __call__(self, image: np.ndarray) -> list[DetectedFace]:
        rgb = np.asarray(image)
        if rgb.ndim == 2:
            rgb = np.repeat(rgb[..., None], 3, axis=-1)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[-1] != 3:
            raise DataError(f"BlazeFace needs a uint8 (H, W, 3) or (H, W) image, got {rgb.dtype} {rgb.shape}")
        tensor, scale, pad_x, pad_y = letterbox(rgb, self.input_size)
        with self.pool.borrow() as interpreter:
            interpreter.set_tensor(self._input, tensor)
            interpreter.invoke()
            raw_boxes = interpreter.get_tensor(self._boxes)
            raw_scores = interpreter.get_tensor(self._scores)
        boxes, keypoints, scores = decode(raw_boxes, raw_scores, self.anchors, self.input_size)
        keep = scores >= self.min_score
        faces = [self._to_pixels(b, k, s, scale, pad_x, pad_y, rgb.shape)
                 for b, k, s in weighted_nms(boxes[keep], keypoints[keep], scores[keep], self.iou_threshold)]
        return sorted((f for f in faces if f is not None), key=lambda f: (f.box[0], f.box[1]))

    def _to_pixels(self, box: np.ndarray, keypoints: np.ndarray, score: float, scale: float, pad_x: float,
                   pad_y: float, shape: tuple[int, ...]) -> DetectedFace | None:
        """Undo the letterbox; None for a box wholly in the padding."""
        height, width = shape[:2]
        xmin, ymin, xmax, ymax = ((box * self.input_size) - [pad_x, pad_y, pad_x, pad_y]) / scale
        left, top = max(0, round(xmin)), max(0, round(ymin))
        right, bottom = min(width, round(xmax)), min(height, round(ymax))
        if right <= left or bottom <= top:
            return None
        points = (keypoints * self.input_size - [pad_x, pad_y]) / scale
        return DetectedFace((left, top, right - left, bottom - top), score, points.astype(np.float32))
