"""Video files and cameras: frames for :meth:`EmotionClassifier.stream`, and ``edgefer video``."""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Union

import numpy as np

from ..errors import ConfigError, DataError
from ..fileio import atomic_path
from ..labels import LABELS
from ..outputs import Input, Output, plan_outputs
from .blazeface import DEFAULT_MIN_SCORE, check_min_face_score
from .classifier import EmotionClassifier
from .faces import DEFAULT_DETECTOR, DETECTORS, import_cv2
from .outputs import STDOUT, draw_faces, write_results
from .zoo import DEFAULT_MODEL_NAME, is_shipped

VideoSource = Union[int, str, os.PathLike]
CSV_HEADER = ("frame", "time_s", "x", "y", "w", "h", "face_score", "label", "score", *LABELS)


@contextlib.contextmanager
def _opencv_quiet(cv2: Any) -> Iterator[None]:
    """OpenCV logs every backend it tries for a source it cannot open; the one-line
    error below says it better, so its log is muted while a source is opened."""
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is None:
        yield
        return
    level = logging.getLogLevel()
    logging.setLogLevel(logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging.setLogLevel(level)


def _open(source: VideoSource) -> tuple[Any, Any]:
    if not isinstance(source, int) and not os.path.isfile(source):
        raise DataError(f"{source}: no such video file")
    cv2 = import_cv2()
    with _opencv_quiet(cv2):
        capture = cv2.VideoCapture(source if isinstance(source, int) else os.fspath(source))
    if not capture.isOpened():
        name = f"camera {source}" if isinstance(source, int) else source
        raise DataError(f"{name}: cannot open video source")
    return cv2, capture


def indexed_frames(source: VideoSource = 0, every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, RGB uint8 (H, W, 3) frame) for every `every`-th frame of a camera or file.

    OpenCV decodes to BGR; frames are converted so they mean the same as any other
    colour array edgefer is given.
    """
    if every < 1:
        raise DataError(f"every must be at least 1, got {every}")
    cv2, capture = _open(source)
    try:
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            if index % every == 0:
                yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


def frames(source: VideoSource = 0, every: int = 1) -> Iterator[np.ndarray]:
    """RGB uint8 (H, W, 3) frames from a camera index or a video file, every `every`-th one."""
    return (frame for _, frame in indexed_frames(source, every))


def source_fps(source: VideoSource) -> float | None:
    """The frame rate a file or camera declares, or None when it declares none."""
    cv2, capture = _open(source)
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    return fps if fps > 0 else None


@dataclass
class VideoConfig:
    source: str = "0"  # a video file, or a camera index such as 0
    model: str = DEFAULT_MODEL_NAME
    detector: str = DEFAULT_DETECTOR
    min_face_score: float = DEFAULT_MIN_SCORE
    every: int = 1  # analyse every N-th frame
    align: bool = False  # turn each face so its eyes are level (BlazeFace only)
    max_frames: int | None = None  # stop after this many analysed frames (cameras never end)
    num_threads: int | None = None
    backend: str | None = None
    json: str | None = None  # per-frame timeline; "-" for stdout
    csv: str | None = None  # one row per face per analysed frame; "-" for stdout
    annotate: str | None = None  # an .mp4 (or .avi) of the analysed frames with boxes and labels


# OpenCV takes a camera index as a C int; a longer number can only be a file name.
MAX_CAMERA_INDEX = 2**31 - 1


def _source(text: str) -> VideoSource:
    if not text.isdigit() or os.path.isfile(text):
        return text
    if int(text) > MAX_CAMERA_INDEX:
        raise DataError(f"{text}: no such video file, and too large for a camera index")
    return int(text)


def _check(config: VideoConfig) -> None:
    if config.detector not in DETECTORS:
        raise ConfigError(f"unknown face detector {config.detector!r} (choose from {', '.join(DETECTORS)})")
    if config.every < 1 or (config.max_frames is not None and config.max_frames < 1):
        raise ConfigError(f"--every and --max-frames must be at least 1, got {config.every} and {config.max_frames}")
    if config.json is not None and config.json == config.csv == STDOUT:
        raise ConfigError("--json and --csv cannot both go to stdout ('-')")
    check_min_face_score(config.min_face_score)
    source = _source(config.source)
    plan_outputs([Output("--json", config.json), Output("--csv", config.csv), Output("--annotate", config.annotate)],
                 [Input("SOURCE", None if isinstance(source, int) else source),
                  Input("--model", None if is_shipped(config.model) else config.model)])
    if config.annotate and Path(config.annotate).suffix.lower() not in (".mp4", ".avi"):
        raise ConfigError(f"{config.annotate}: --annotate writes .mp4 or .avi video")


class _VideoWriter:
    """Annotated frames into `path` (set before the first frame), opened at the first frame, whose size it takes."""

    def __init__(self, cv2: Any, fps: float, name: str) -> None:
        self._cv2, self._fps, self._name = cv2, fps, name
        self.path: Path | None = None
        self._writer = None
        self.frames = 0

    def write(self, rgb: np.ndarray) -> None:
        if self._writer is None:
            fourcc = self._cv2.VideoWriter_fourcc(*("mp4v" if self._name.lower().endswith(".mp4") else "MJPG"))
            self._writer = self._cv2.VideoWriter(str(self.path), fourcc, self._fps, (rgb.shape[1], rgb.shape[0]))
            if not self._writer.isOpened():
                raise ConfigError(f"{self._name}: this OpenCV build cannot write this video format")
        self._writer.write(self._cv2.cvtColor(rgb, self._cv2.COLOR_RGB2BGR))
        self.frames += 1

    def release(self) -> None:
        if self._writer is not None:
            self._writer.release()

    def check(self, tmp: Path) -> None:
        """Every frame written is in the file: a video cut short must not be renamed into place."""
        capture = self._cv2.VideoCapture(str(tmp))
        try:
            frames = 0
            while capture.read()[0]:
                frames += 1
        finally:
            capture.release()
        if frames != self.frames:
            raise ConfigError(f"{self._name}: the written video holds {frames} of {self.frames} frames "
                              "(a full disk?); nothing was written")


def analyse_video(config: VideoConfig) -> dict[str, Any]:
    """Faces and emotions per analysed frame; returns the timeline and the measured rate.

    Outputs are checked before the source is opened; the annotated video, JSON and CSV
    appear only once the whole source (or ``max_frames``) has been analysed.
    """
    _check(config)
    source = _source(config.source)
    fps = source_fps(source)
    cv2 = import_cv2()
    classifier = EmotionClassifier(config.model, num_threads=config.num_threads, backend=config.backend,
                                   detector=config.detector, min_face_score=config.min_face_score,
                                   align=config.align)
    timeline = []
    with contextlib.ExitStack() as stack:
        writer = None
        if config.annotate:
            writer = _VideoWriter(cv2, (fps or 25.0) / config.every, config.annotate)
            writer.path = stack.enter_context(atomic_path(config.annotate, suffix=Path(config.annotate).suffix,
                                                          check=writer.check))
            stack.callback(writer.release)  # runs before the rename: the file is complete
        start = time.perf_counter()
        for index, frame in indexed_frames(source, config.every):
            found = classifier.detect(frame)
            timeline.append({
                "frame": index,
                "time_s": None if fps is None else round(index / fps, 3),
                "faces": [{"box": list(d.box), "face_score": d.face_score, **d.prediction.to_dict()} for d in found],
            })
            if writer:
                captions = [(d.box, f"{d.prediction.label} {d.prediction.score:.2f}") for d in found]
                writer.write(np.asarray(draw_faces(frame, captions)))
            if config.max_frames is not None and len(timeline) >= config.max_frames:
                break
        elapsed = time.perf_counter() - start
        if not timeline:
            raise DataError(f"{config.source}: no frames could be read")
    result = {"source": config.source, "source_fps": fps, "every": config.every, "frames": len(timeline),
              "faces": sum(len(t["faces"]) for t in timeline),
              "analysed_fps": round(len(timeline) / elapsed, 2) if elapsed > 0 else None, "timeline": timeline}
    write_results(config.json, config.csv, result, CSV_HEADER, csv_rows(timeline))
    return result


def csv_rows(timeline: list[dict[str, Any]]) -> list[list[Any]]:
    return [[t["frame"], "" if t["time_s"] is None else t["time_s"], *f["box"],
             "" if f["face_score"] is None else f"{f['face_score']:.4f}", f["label"], f"{f['score']:.6f}",
             *(f"{f['probabilities'][label]:.6f}" for label in LABELS)]
            for t in timeline for f in t["faces"]]
