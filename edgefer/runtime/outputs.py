"""Where ``edgefer predict`` and ``edgefer video`` put results: JSON, CSV, annotated images.

Output paths are checked before any work starts, so a typo costs nothing; every file is
written under a temporary name and renamed (:mod:`edgefer.fileio`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..errors import ConfigError
from ..fileio import atomic_path, write_text

STDOUT = "-"


def check_output_file(path: str | None, option: str) -> None:
    """Refuse an output file that could not be written: a folder, a missing or read-only folder."""
    if path is None or path == STDOUT:
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{target}: {option} needs a file name, but this is a directory")
    _check_folder(target.parent, f"{target}: {option}")


def check_output_dir(path: str | None, option: str) -> None:
    """Refuse an output folder that could not be created or written."""
    if path is None:
        return
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"{target}: {option} needs a directory, but this is a file")
        _check_folder(target, f"{target}: {option}")
    else:
        _check_folder(target.parent, f"{target}: {option}")


def _check_folder(folder: Path, what: str) -> None:
    folder = folder if str(folder) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"{what}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: the folder {folder} is not writable")


def strict_json(obj: Any) -> str:
    """JSON that any parser reads: a NaN or infinity is an error, never a bare token."""
    return json.dumps(obj, indent=2, allow_nan=False) + "\n"


def write_json(path: str, obj: Any) -> None:
    write_text(path, strict_json(obj))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def draw_faces(rgb: np.ndarray, faces: Sequence[tuple[Sequence[int] | None, str]]) -> Image.Image:
    """The image with each (box, caption) drawn; a None box captions the whole image."""
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    # Lines and text scale with the image so they stay readable on large photos.
    width = max(1, round(max(image.size) / 300))
    for box, caption in faces:
        x, y = (0, 0) if box is None else box[:2]
        if box is not None:
            draw.rectangle([x, y, x + box[2] - 1, y + box[3] - 1], outline=(0, 255, 0), width=width)
        text_y = y - 12 if box is not None and y >= 12 else y
        left, top, right, bottom = draw.textbbox((x, text_y), caption)
        draw.rectangle([left - 1, top - 1, right + 1, bottom + 1], fill=(0, 0, 0))
        draw.text((x, text_y), caption, fill=(0, 255, 0))
    return image


def save_image(image: Image.Image, path: Path) -> None:
    with atomic_path(path, suffix=path.suffix) as tmp:
        image.save(tmp)
