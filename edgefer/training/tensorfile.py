"""Read and write the safetensors format with NumPy alone.

A torch run's weights are a ``.safetensors`` file: no pickle (nothing in the file can
run code), readable where neither torch nor the ``safetensors`` package is installed,
and readable by ``safetensors.torch.load_file`` where they are. Tensor order is kept:
the Keras twin maps tensors onto its layers in the order the network defines them.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Mapping

import numpy as np

from ..errors import ModelError
from ..fileio import atomic_path

_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64, "I32": np.int32,
           "U8": np.uint8, "I8": np.int8, "BOOL": np.bool_}
_NAMES = {np.dtype(v): k for k, v in _DTYPES.items()}
_MAX_HEADER = 100 * 1024 * 1024


def save(path: str | Path, tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str] | None = None) -> None:
    """Write `tensors` in their given order, with string `metadata`, atomically."""
    header: dict[str, object] = {"__metadata__": dict(metadata or {})}
    offset, blobs = 0, []
    for name, array in tensors.items():
        array = np.ascontiguousarray(array)
        if array.dtype not in _NAMES:
            raise ModelError(f"{name}: dtype {array.dtype} cannot be stored in safetensors")
        blob = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _NAMES[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the format aligns the data section to 8 bytes
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(raw)))
        fh.write(raw)
        for blob in blobs:
            fh.write(blob)


def load(path: str | Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors in file order, metadata); a file that is not safetensors is a ModelError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        (size,) = struct.unpack_from("<Q", data, 0)
        if size > min(_MAX_HEADER, len(data) - 8):
            raise ValueError("header size out of range")
        header = json.loads(data[8 : 8 + size])
        metadata = header.pop("__metadata__", {}) or {}
        base = 8 + size
        tensors = {}
        for name, entry in header.items():
            begin, end = entry["data_offsets"]
            dtype = np.dtype(_DTYPES[entry["dtype"]]).newbyteorder("<")
            if not 0 <= begin <= end <= len(data) - base:
                raise ValueError(f"tensor {name} lies outside the file")
            array = np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize, offset=base + begin)
            tensors[name] = array.reshape(entry["shape"]).astype(dtype.newbyteorder("="))
    except (struct.error, ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not a safetensors weights file ({exc})") from None
    return tensors, {str(k): str(v) for k, v in metadata.items()}


MODEL_FORMAT = "edgefer-torch"


def save_model_weights(path: str | Path, tensors: Mapping[str, np.ndarray], family: str) -> None:
    """A torch-engine model's weights, tagged so readers can refuse anything else."""
    save(path, tensors, {"format": MODEL_FORMAT, "family": family})


def load_model_weights(path: str | Path, family: str | None = None) -> dict[str, np.ndarray]:
    """An edgefer torch-engine weights file; other safetensors files are refused."""
    tensors, meta = load(path)
    if meta.get("format") != MODEL_FORMAT:
        raise ModelError(f"{path}: a safetensors file, but not edgefer model weights (no format={MODEL_FORMAT})")
    if family and meta.get("family") != family:
        raise ModelError(f"{path}: weights of a {meta.get('family')} model, not {family}")
    return tensors
