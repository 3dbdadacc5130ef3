"""Compact, lossless face packs: FER2013 in a file small enough to travel with the code.

A GPU machine without network gets the data with the repository, in a 64 MiB budget,
so the pack is as small as lossless gets with the standard library and still loads
fast: each face is replaced by its planar-prediction residual (pixel - left - up +
up-left, modulo 256), which turns smooth skin into runs of small numbers that xz
compresses about 10% better than the raw pixels; the faces are cut into chunks that
decompress on all cores at once, and the residual is undone by two cumulative sums.

Layout: ``EDGEFER-FACEPACK 1\\n``, an 8-byte little-endian header length, a JSON
header (splits: size, label/id/chunk byte ranges), then the compressed blobs.
"""

from __future__ import annotations

import json
import lzma
import os
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import ferplus
from .errors import DataError
from .fileio import atomic_path
from .labels import NUM_CLASSES
from .preprocessing import FACE_SIZE

MAGIC = b"EDGEFER-FACEPACK 1\n"
SUFFIX = ".facepack"
CHUNK_FACES = 2048
_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]


def _residual(faces: np.ndarray) -> np.ndarray:
    zero = np.uint8(0)
    return np.diff(np.diff(faces, axis=2, prepend=zero), axis=1, prepend=zero)  # uint8 wraps modulo 256


def _restore(residual: np.ndarray) -> np.ndarray:
    return np.cumsum(np.cumsum(residual, axis=1, dtype=np.uint8), axis=2, dtype=np.uint8)


def write_pack(path: str | Path, splits: dict) -> int:
    """Write {split: dataset} (anything with images, labels, ids, source) as a face pack; returns bytes."""
    header: dict = {"face_size": FACE_SIZE, "splits": {}}
    blobs: list[bytes] = []
    offset = 0

    def add(data: bytes) -> list[int]:
        nonlocal offset
        blob = lzma.compress(data, format=lzma.FORMAT_XZ, filters=_FILTERS)
        blobs.append(blob)
        offset += len(blob)
        return [offset - len(blob), len(blob)]

    for name, ds in splits.items():
        if ds.images.shape[1:] != (FACE_SIZE, FACE_SIZE):
            raise DataError(f"{ds.source}: split {name!r} faces are {ds.images.shape[1:]}, not 48x48")
        chunks = [add(_residual(ds.images[i : i + CHUNK_FACES]).tobytes()) + [len(ds.images[i : i + CHUNK_FACES])]
                  for i in range(0, len(ds), CHUNK_FACES)]
        header["splits"][name] = {
            "faces": len(ds), "source": ds.source, "chunks": chunks,
            "labels": add(ds.labels.astype(np.uint8).tobytes()),
            "ids": add("\n".join(map(str, ds.ids)).encode()),
            "label_source": ds.label_source,
        }
        if ds.votes is not None:  # FER+ vote counts, when the source had them
            header["splits"][name]["votes"] = add(np.ascontiguousarray(ds.votes, np.uint8).tobytes())
    raw = json.dumps(header).encode()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(MAGIC + struct.pack("<Q", len(raw)) + raw)
        for blob in blobs:
            fh.write(blob)
    return Path(path).stat().st_size


@dataclass
class PackedSplit:
    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    votes: np.ndarray | None
    label_source: str


def read_pack(path: str | Path) -> dict[str, PackedSplit]:
    """{split: PackedSplit} from a face pack; a damaged or foreign file is one DataError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if not data.startswith(MAGIC):
        raise DataError(f"{path}: not an edgefer face pack (make one with `edgefer data pack`)")
    try:
        (size,) = struct.unpack_from("<Q", data, len(MAGIC))
        base = len(MAGIC) + 8 + size
        header = json.loads(data[len(MAGIC) + 8 : base])

        def blob(span: list[int]) -> bytes:
            begin, length = span[0], span[1]
            if base + begin + length > len(data):
                raise ValueError("the file is truncated")
            return lzma.decompress(data[base + begin : base + begin + length])

        def faces(span: list[int]) -> np.ndarray:
            return _restore(np.frombuffer(blob(span), np.uint8).reshape(span[2], FACE_SIZE, FACE_SIZE))

        out = {}
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # lzma releases the GIL
            for name, split in header["splits"].items():
                parts = list(pool.map(faces, split["chunks"]))
                images = np.concatenate(parts) if parts else np.zeros((0, FACE_SIZE, FACE_SIZE), np.uint8)
                labels = np.frombuffer(blob(split["labels"]), np.uint8).astype(np.int64)
                ids = np.array(blob(split["ids"]).decode().split("\n"), dtype=object)
                ids = ids if len(images) else ids[:0]
                votes = (np.frombuffer(blob(split["votes"]), np.uint8).reshape(-1, len(ferplus.COLUMNS)).copy()
                         if "votes" in split else None)
                _check_split(name, split, images, labels, ids, votes)
                source = split.get("label_source", ferplus.FER2013_LABELS)
                if source not in (ferplus.FER2013_LABELS, ferplus.FERPLUS_LABELS):
                    raise ValueError(f"split {name!r}: unknown label source {str(source)[:40]!r}")
                out[name] = PackedSplit(images, labels, ids, votes, source)
    except (ValueError, KeyError, TypeError, IndexError, struct.error, lzma.LZMAError) as exc:
        raise DataError(f"{path}: damaged face pack ({exc})") from None
    return out


def _check_split(name: str, split: dict, images: np.ndarray, labels: np.ndarray, ids: np.ndarray,
                 votes: np.ndarray | None) -> None:
    """A pack's blocks must agree with each other and its labels name the seven classes."""
    counts = {"header": split["faces"], "faces": len(images), "labels": len(labels), "ids": len(ids)}
    if votes is not None:
        counts["votes"] = len(votes)
    if len(set(counts.values())) != 1:
        raise ValueError(f"split {name!r}: its blocks disagree on the number of faces "
                         f"({', '.join(f'{k} {v}' for k, v in counts.items())})")
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise ValueError(f"split {name!r}: label {int(labels.max())} is out of range 0..{NUM_CLASSES - 1}")
