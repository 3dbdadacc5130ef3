"""Where ``edgefer predict`` and ``edgefer video`` put results: JSON, CSV, annotated images.

Output paths are checked before any work starts, so a typo costs nothing; every file is
written under a temporary name and renamed (:mod:`edgefer.fileio`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..fileio import (
    STDOUT,
    atomic_path,
    check_output_dir,
    check_output_file,
    strict_json,
    write_json,
    write_text,
)

__all__ = ["STDOUT", "check_output_dir", "check_output_file", "csv_text", "draw_faces", "save_image", "strict_json",
           "write_json", "write_results"]


def write_results(json_path: str | None, csv_path: str | None, result: Any, csv_header: Sequence[str],
                  rows: Iterable[Sequence[Any]]) -> None:
    """A result's JSON and CSV files; standard output is the command's to print."""
    if json_path not in (None, STDOUT):
        write_json(json_path, result)
    if csv_path not in (None, STDOUT):
        write_text(csv_path, csv_text(csv_header, rows))


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
