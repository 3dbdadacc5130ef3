"""``edgefer predict``: emotions for image files, whole faces or every face found in them."""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..labels import LABELS
from ..outputs import Input, Output, plan_outputs
from ..preprocessing import to_rgb
from .blazeface import DEFAULT_MIN_SCORE, check_min_face_score
from .classifier import EmotionClassifier
from .faces import DEFAULT_DETECTOR, DETECTORS
from .outputs import (
    STDOUT,
    draw_faces,
    save_image,
    write_results,
)
from .zoo import DEFAULT_MODEL_NAME, is_shipped

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm")
CSV_HEADER = ("file", "x", "y", "w", "h", "face_score", "label", "score", *LABELS)
# Progress lines start above this many images; a handful finishes before anyone waits.
PROGRESS_FROM = 10
# FER faces are square crops; a whole photo classified as one face is a likely mistake.
MAX_FACE_ASPECT, MAX_FACE_SIDE = 1.6, 1000


@dataclass
class PredictConfig:
    # Files, folders (searched recursively for images) and glob patterns.
    images: list[str] = field(default_factory=list)
    model: str = DEFAULT_MODEL_NAME
    # False: each image is one cropped face; True: find the faces in each image first.
    faces: bool = False
    detector: str = DEFAULT_DETECTOR
    min_face_score: float = DEFAULT_MIN_SCORE
    require_face: bool = False  # with faces: an image without a face is an error
    align: bool = False  # with faces: turn each face so its eyes are level (BlazeFace only)
    skip_bad: bool = False  # report unreadable images on stderr and go on
    num_threads: int | None = None
    backend: str | None = None
    flip_tta: bool = False  # average each face with its mirror image
    json: str | None = None  # file, or "-" for stdout
    csv: str | None = None  # file, or "-" for stdout
    annotate: str | None = None  # folder for copies of the images with boxes and labels drawn


def expand_inputs(patterns: list[str], skip_bad: bool = False) -> list[str]:
    """Files as given, folders as the images under them, globs as their matches; in order."""
    found: list[str] = []
    for pattern in patterns:
        path, what = Path(pattern), "no such image file"
        if path.is_dir():
            matches = sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            what = "no images in this folder"
        elif path.is_file():
            matches = [pattern]
        elif glob.has_magic(pattern):
            matches = sorted(p for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
            what = "no file matches this pattern"
        else:
            matches = []
        if not matches:
            if not skip_bad:
                raise DataError(f"{pattern}: {what}")
            log.warning("edgefer: warning: %s: %s", pattern, what)
        found.extend(matches)
    return found


def _check(config: PredictConfig) -> None:
    if not config.images:
        raise ConfigError("no images given")
    if config.detector not in DETECTORS:
        raise ConfigError(f"unknown face detector {config.detector!r} (choose from {', '.join(DETECTORS)})")
    check_min_face_score(config.min_face_score)
    if config.require_face and not config.faces:
        raise ConfigError("--require-face needs --faces")
    if config.json is not None and config.json == config.csv == STDOUT:
        raise ConfigError("--json and --csv cannot both go to stdout ('-')")


def _plan(config: PredictConfig, images: list[str]) -> None:
    plan_outputs([Output("--json", config.json), Output("--csv", config.csv),
                  Output("--annotate", config.annotate, folder=True)],
                 [*(Input("IMAGES", p) for p in config.images if Path(p).is_dir()),
                  *(Input("IMAGES", p) for p in images), Input("--model", _model_path(config.model))])


def _model_path(model: str) -> str | None:
    return None if is_shipped(model) else model


def _looks_like_a_face_crop(rgb_shape: tuple[int, ...]) -> bool:
    height, width = rgb_shape[:2]
    return max(height, width) / min(height, width) <= MAX_FACE_ASPECT and max(height, width) <= MAX_FACE_SIDE


def _no_face_hint(rgb_shape: tuple[int, ...]) -> str:
    """What to do when --faces finds nothing: a tight crop has no face *in* it to find."""
    if not _looks_like_a_face_crop(rgb_shape):
        return ""
    return "; if the image is already a face crop, leave out --faces to classify it whole"


def _warn_if_not_a_face_crop(image: str, rgb_shape: tuple[int, ...]) -> None:
    height, width = rgb_shape[:2]
    if not _looks_like_a_face_crop(rgb_shape):
        log.warning("edgefer: warning: %s: a %dx%d image is classified as one face crop; "
                    "use --faces to find the faces in a photo", image, width, height)


def _predict_one(classifier: EmotionClassifier, image: str, config: PredictConfig) -> tuple[dict[str, Any], Any]:
    """The record for one image, and its RGB pixels (decoded once, for the size check and drawing)."""
    rgb = to_rgb(image)
    if config.faces:
        found = classifier.detect(rgb)
        hint = "" if found else _no_face_hint(rgb.shape)
        if not found and config.require_face:  # raised here, where the file name is known
            raise DataError(f"{image}: no face found (--require-face, minimum face score {config.min_face_score})"
                            + hint)
        if hint:
            log.warning("edgefer: warning: %s: no face found%s", image, hint)
        faces = [{"box": list(d.box), "face_score": d.face_score, **d.prediction.to_dict()} for d in found]
        return {"image": image, "faces": faces}, rgb
    _warn_if_not_a_face_crop(image, rgb.shape)
    return {"image": image, **classifier.predict(rgb).to_dict()}, rgb


def _annotated_name(image: str, taken: set[str]) -> str:
    path = Path(image)
    suffix = path.suffix.lower() if path.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".webp") else ".png"
    name, n = path.stem + suffix, 1
    while name in taken:  # same file name from two folders
        n += 1
        name = f"{path.stem}-{n}{suffix}"
    taken.add(name)
    return name


def _captions(record: dict[str, Any]) -> list[tuple[list[int] | None, str]]:
    if "faces" in record:
        return [(face["box"], f"{face['label']} {face['score']:.2f}") for face in record["faces"]]
    return [(None, f"{record['label']} {record['score']:.2f}")]


def predict_images(config: PredictConfig) -> list[dict[str, Any]]:
    """One record per readable image: its prediction, or with ``faces`` a list of faces.

    Options, output paths and input files are checked before the model loads. With
    ``skip_bad`` an unreadable image is reported on stderr and left out; it is an
    error only when no image at all could be read.
    """
    _check(config)
    images = expand_inputs(config.images, config.skip_bad)
    _plan(config, images)
    classifier = EmotionClassifier(config.model, num_threads=config.num_threads, backend=config.backend,
                                   flip_tta=config.flip_tta, detector=config.detector,
                                   min_face_score=config.min_face_score, align=config.align)
    records, taken = [], set()
    for done, image in enumerate(images, 1):
        try:
            record, rgb = _predict_one(classifier, image, config)
        except DataError as exc:
            if not config.skip_bad:
                if len(images) > 1:  # one bad file among many: the way on is one flag away
                    raise DataError(f"{exc} (--skip-bad reports it and goes on with the other images)") from None
                raise
            log.warning("edgefer: warning: skipped %s", exc)
            continue
        records.append(record)
        if config.annotate:
            save_image(draw_faces(rgb, _captions(record)), Path(config.annotate) / _annotated_name(image, taken))
        if len(images) > PROGRESS_FROM and (done % max(1, len(images) // 10) == 0 or done == len(images)):
            log.info("edgefer: %d/%d images", done, len(images))
    if not records:
        raise DataError("no image could be read" if images else "no images given")
    write_results(config.json, config.csv, records, CSV_HEADER, csv_rows(records))
    return records


def csv_rows(records: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per face (per image without ``faces``); images without a face have no row."""
    rows = []
    for record in records:
        for face in record.get("faces", [record]):
            box = face.get("box") or ["", "", "", ""]
            score = face.get("face_score")
            rows.append([record["image"], *box, "" if score is None else f"{score:.4f}", face["label"],
                         f"{face['score']:.6f}", *(f"{face['probabilities'][label]:.6f}" for label in LABELS)])
    return rows


def format_records(records: list[dict[str, Any]]) -> list[str]:
    """Human-readable lines: one per image, or one per face with its (x, y, w, h) box."""
    lines = []
    for record in records:
        if "faces" not in record:
            lines.append(f"{record['image']}: {record['label']} {record['score']:.3f}")
        elif not record["faces"]:
            lines.append(f"{record['image']}: no face found")
        for face in record.get("faces", []):
            x, y, w, h = face["box"]
            lines.append(f"{record['image']} [{x},{y},{w},{h}]: {face['label']} {face['score']:.3f}")
    return lines
