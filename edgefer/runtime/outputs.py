"""Where ``edgefer predict`` and ``edgefer video`` put results: JSON, CSV, annotated images.

Output paths are planned before any work starts (:mod:`edgefer.outputs`), so a typo costs
nothing; every file is written under a temporary name and renamed (:mod:`edgefer.fileio`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import ConfigError
from ..fileio import (
    STDOUT,
    atomic_path,
    strict_json,
    write_json,
    write_text,
)

__all__ = ["STDOUT", "csv_text", "draw_faces", "save_image", "strict_json",
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
    font = caption_font(max(image.size))
    for box, caption in faces:
        x, y = (0, 0) if box is None else box[:2]
        if box is not None:
            draw.rectangle([x, y, x + box[2] - 1, y + box[3] - 1], outline=(0, 255, 0), width=width)
        height = draw.textbbox((0, 0), caption, font=font)[3] + 2
        text_y = y - height if box is not None and y >= height else y
        left, top, right, bottom = draw.textbbox((x, text_y), caption, font=font)
        draw.rectangle([left - 1, top - 1, right + 1, bottom + 1], fill=(0, 0, 0))
        draw.text((x, text_y), caption, fill=(0, 255, 0), font=font)
    return image


def caption_font(image_side: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's own font at about 1/50 of the image's longer side (11 px at least)."""
    try:
        return ImageFont.load_default(size=max(11, image_side // 50))
    except (TypeError, ImportError, OSError):  # Pillow < 10.1 or without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def save_image(image: Image.Image, path: Path) -> None:
    with atomic_path(path, suffix=path.suffix, check=lambda tmp: _check_image(tmp, path, image.size)) as tmp:
        image.save(tmp)


def _check_image(tmp: Path, path: Path, size: tuple[int, int]) -> None:
    """A file cut short (a full disk, a file-size limit) must not be renamed into place."""
    try:
        with Image.open(tmp) as written:
            written.load()
            ok = written.size == size
    except (OSError, SyntaxError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(f"{path}: the written image does not decode (a full disk?); nothing was written")
