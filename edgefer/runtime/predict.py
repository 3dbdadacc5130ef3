"""``edgefer predict``: emotions for image files, whole faces or every face found in them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from .classifier import EmotionClassifier


@dataclass
class PredictConfig:
    images: list[str] = field(default_factory=list)
    model: str = "default"
    # False: each image is one cropped face; True: find the faces in each image first.
    faces: bool = False
    num_threads: int | None = None
    backend: str | None = None
    flip_tta: bool = False  # average each face with its mirror image


def predict_images(config: PredictConfig) -> list[dict[str, Any]]:
    """One record per image: its prediction, or with ``faces`` a list of boxes and predictions."""
    if not config.images:
        raise ConfigError("no images given")
    # Refuse a missing file before spending time loading the model and earlier images.
    for image in config.images:
        if not Path(image).is_file():
            raise DataError(f"{image}: no such image file")
    classifier = EmotionClassifier(config.model, num_threads=config.num_threads, backend=config.backend,
                                   flip_tta=config.flip_tta)
    records = []
    for image in config.images:
        if config.faces:
            found = classifier.detect(image)
            records.append({"image": image, "faces": [{"box": list(d.box), **d.prediction.to_dict()} for d in found]})
        else:
            records.append({"image": image, **classifier.predict(image).to_dict()})
    return records


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
