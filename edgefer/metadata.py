"""The record every exported model carries: labels, input spec, output kind, provenance.

It is stored as JSON in the TFLite flatbuffer's own ``metadata`` table under the
name ``edgefer``, so a ``.tflite`` file is self-describing and the runtime needs
nothing but the file. Reading is done here with a tiny flatbuffer walker, so it
works with any interpreter backend (LiteRT, tflite-runtime) and without TensorFlow.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any

from .configtypes import check_range, load_structured, typed_values
from .errors import ConfigError, EdgeferError, ModelError
from .labels import LABELS
from .preprocessing import PreprocessSpec

METADATA_NAME = "edgefer"
FORMAT_VERSION = 1
TFLITE_IDENTIFIER = b"TFL3"


# Where an edited model's edgefer record says so (ModelInfo.source): its temperature now
# lives in the graph, and a re-stamp must not add the ops a second time.
APP_GRAPH_KEY = "app_graph"


@dataclass
class ModelInfo:
    labels: tuple[str, ...] = LABELS
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)
    # "logits": the runtime applies softmax(logits / temperature);
    # "probabilities": the model ends in a softmax already.
    output: str = "logits"
    temperature: float = 1.0
    edgefer_version: str = ""
    source: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.labels = tuple(self.labels)
        if not self.labels or not all(isinstance(label, str) and label for label in self.labels):
            raise ModelError(f"labels must be a list of names, got {self.labels!r:.80}")
        if self.output not in ("logits", "probabilities"):
            raise ModelError(f"model output must be 'logits' or 'probabilities', got {self.output!r}")
        # A NaN or infinite scale gives every face the same label: refused when the model loads.
        try:
            check_range("temperature", self.temperature, 0, low_open=True)
            check_range("preprocess.mean", self.preprocess.mean)
            check_range("preprocess.std", self.preprocess.std, 0, low_open=True)
        except ConfigError as exc:
            raise ModelError(str(exc)) from None

    @property
    def network_size(self) -> int:
        """The input size of the network itself: a canonical-input model resizes the face to it in its graph."""
        return self.source.get(APP_GRAPH_KEY, {}).get("network_size", self.preprocess.input_size)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["preprocess"] = self.preprocess.to_dict()
        data["format_version"] = FORMAT_VERSION
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelInfo":
        """A record as read from a file: every value of its field's type, or a ModelError."""
        if not isinstance(data, dict):
            raise ModelError("the record is not a mapping")
        data = dict(data)
        version = data.pop("format_version", FORMAT_VERSION)
        if not isinstance(version, int) or isinstance(version, bool):
            raise ModelError(f"format_version must be an integer, got {version!r:.40}")
        if version > FORMAT_VERSION:
            raise ModelError(
                f"model metadata format {version} is newer than this edgefer understands "
                f"({FORMAT_VERSION}); upgrade edgefer"
            )
        preprocess, source = data.pop("preprocess", {}), data.pop("source", {})
        if not isinstance(preprocess, dict) or not isinstance(source, dict):
            raise ModelError("preprocess and source must be mappings")
        try:
            return cls(**typed_values(cls, data), source=source,
                       preprocess=PreprocessSpec.from_dict(typed_values(PreprocessSpec, preprocess, "preprocess.")))
        except ConfigError as exc:
            raise ModelError(str(exc)) from None


# --- minimal flatbuffer reader for the TFLite schema -------------------------------
# Only what is needed to find Model.metadata[name].buffer -> Model.buffers[i].data.

_MODEL_BUFFERS, _MODEL_METADATA = 4, 6
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA, _BUFFER_OFFSET, _BUFFER_SIZE = 0, 1, 2


class _Table:
    def __init__(self, buf: bytes, pos: int) -> None:
        self.buf, self.pos = buf, pos
        self.vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        self.vtable_size = struct.unpack_from("<H", buf, self.vtable)[0]

    def _field(self, index: int) -> int:
        entry = 4 + 2 * index
        if entry >= self.vtable_size:
            return 0
        return struct.unpack_from("<H", self.buf, self.vtable + entry)[0]

    def _indirect(self, index: int) -> int | None:
        off = self._field(index)
        if not off:
            return None
        at = self.pos + off
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def scalar(self, index: int, fmt: str, default: int = 0) -> int:
        off = self._field(index)
        return struct.unpack_from(fmt, self.buf, self.pos + off)[0] if off else default

    def bytes_vector(self, index: int) -> bytes | None:
        vec = self._indirect(index)
        if vec is None:
            return None
        n = struct.unpack_from("<I", self.buf, vec)[0]
        return bytes(self.buf[vec + 4 : vec + 4 + n])

    def tables(self, index: int) -> list["_Table"]:
        vec = self._indirect(index)
        if vec is None:
            return []
        n = struct.unpack_from("<I", self.buf, vec)[0]
        out = []
        for i in range(n):
            at = vec + 4 + 4 * i
            out.append(_Table(self.buf, at + struct.unpack_from("<I", self.buf, at)[0]))
        return out


def check_tflite_bytes(data: bytes, name: str = "model") -> None:
    """Refuse anything that is not a TFLite flatbuffer before an interpreter sees it."""
    if len(data) < 16 or data[4:8] != TFLITE_IDENTIFIER:
        raise ModelError(f"{name}: not a TFLite model (flatbuffer identifier 'TFL3' missing)")
    root = struct.unpack_from("<I", data, 0)[0]
    if root + 4 > len(data):
        raise ModelError(f"{name}: truncated or corrupt TFLite model")


def read_metadata_entries(data: bytes, name: str = "model") -> dict[str, bytes]:
    """All entries of the TFLite ``metadata`` table, name -> raw bytes."""
    check_tflite_bytes(data, name)
    try:
        model = _Table(data, struct.unpack_from("<I", data, 0)[0])
        buffers = model.tables(_MODEL_BUFFERS)
        entries: dict[str, bytes] = {}
        for meta in model.tables(_MODEL_METADATA):
            key = (meta.bytes_vector(_METADATA_NAME) or b"").decode("utf-8", "replace")
            buffer = buffers[meta.scalar(_METADATA_BUFFER, "<I")]
            payload = buffer.bytes_vector(_BUFFER_DATA)
            offset = buffer.scalar(_BUFFER_OFFSET, "<Q")
            if not payload and offset > 1:
                # Models over 2 GB keep buffers after the flatbuffer.
                payload = data[offset : offset + buffer.scalar(_BUFFER_SIZE, "<Q")]
            entries[key] = payload or b""
        return entries
    except (struct.error, IndexError):
        raise ModelError(f"{name}: truncated or corrupt TFLite model") from None


def read_model_info(data: bytes, name: str = "model") -> ModelInfo | None:
    """The embedded edgefer record, or None for a TFLite file edgefer did not write."""
    raw = read_metadata_entries(data, name).get(METADATA_NAME)
    if raw is None:
        return None
    try:
        return ModelInfo.from_dict(load_structured(raw.decode("utf-8"), name, error=ModelError))
    except (ValueError, TypeError, EdgeferError) as exc:  # EdgeferError: a record describing an impossible model
        raise ModelError(f"{name}: embedded edgefer metadata is unreadable ({exc})") from None


def embed_metadata_entry(data: bytes, key: str, payload: bytes, files: dict[str, bytes] | None = None) -> bytes:
    """Return a copy of a TFLite model with ``metadata[key]`` set to `payload` (replacing any).

    `files` are zipped after the flatbuffer; by default the ones `data` carries.
    """
    check_tflite_bytes(data)
    import flatbuffers

    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:  # pragma: no cover - LiteRT is a base dependency
        from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytearray(data), 0))
    model.metadata = model.metadata or []
    buffer = schema.BufferT()
    buffer.data = list(payload)
    entry = next((m for m in model.metadata if (m.name or b"").decode() == key), None)
    if entry is None:
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = key
        entry.buffer = len(model.buffers) - 1
        model.metadata.append(entry)
    else:  # a replaced entry reuses its buffer, so re-stamping a file does not grow it
        model.buffers[entry.buffer] = buffer
    builder = flatbuffers.Builder(len(data) + len(payload) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=TFLITE_IDENTIFIER)
    # Repacking keeps only the flatbuffer: the zipped associated files go back after it.
    return append_files(bytes(builder.Output()), packed_files(data) if files is None else files)


def packed_files(data: bytes) -> dict[str, bytes]:
    """The files zipped after the flatbuffer (TFLite Metadata's associated files), name -> bytes."""
    buffer = io.BytesIO(data)
    if not zipfile.is_zipfile(buffer):
        return {}
    try:
        with zipfile.ZipFile(buffer) as archive:
            return {name: archive.read(name) for name in archive.namelist()}
    except (zipfile.BadZipFile, OSError):
        return {}


def append_files(data: bytes, files: dict[str, bytes]) -> bytes:
    """The model with `files` zipped after its flatbuffer, where the TFLite Metadata readers look."""
    if not files:
        return data
    buffer = io.BytesIO()
    buffer.write(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        for name, payload in files.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def embed_model_info(data: bytes, info: ModelInfo) -> bytes:
    """A copy of the model carrying `info` as its ``edgefer`` metadata."""
    return embed_metadata_entry(data, METADATA_NAME, info.to_json().encode("utf-8"))
