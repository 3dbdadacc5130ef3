"""The standard TFLite Metadata (``TFLITE_METADATA``) that MediaPipe Tasks, Android Studio's ML
Model Binding and the TFLite Task Library read, written beside edgefer's own record.

It says what an app runtime needs to feed the model and name its scores: an RGB image
input with its normalization (the same mean and std as edgefer's preprocessing), and a
probability output whose axis labels are the associated file ``labels.txt``, zipped after
the flatbuffer as the metadata format prescribes.

The flatbuffer is built here with the ``flatbuffers`` package from the field slots of the
published schema (metadata_schema.fbs, version 1.5.0): MediaPipe 1.2.2's own
``metadata_writers`` cannot be imported from its wheel (it lacks the compiled
``_pywrap_metadata_version``), and the device install needs nothing from this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..fileio import write_bytes
from ..metadata import ModelInfo, embed_metadata_entry, packed_files, read_model_info
from .audit import list_ops
from .graph import has_app_graph, upgrade_model

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
# The oldest metadata parser that understands every field written here (all date from 1.0).
MIN_PARSER_VERSION = "1.0.0"
LABELS_FILE = "labels.txt"

# Enum values of metadata_schema.fbs.
_TENSOR_AXIS_LABELS = 2
_RGB = 1
_FEATURE_PROPERTIES, _IMAGE_PROPERTIES = 1, 2  # ContentProperties union
_NORMALIZATION_OPTIONS = 1  # ProcessUnitOptions union


@dataclass(frozen=True)
class ModelCard:
    """The model-level fields of the metadata."""

    name: str = "edgefer facial emotion classifier"
    description: str = (
        "Seven facial emotions (FER2013 classes) from one face crop. Input: an RGB face crop, "
        "turned to luminance inside the model. Output: calibrated probabilities, one per label."
    )
    author: str = "edgefer"
    license: str = "Apache-2.0 (code and initial weights); the weights were trained on FER2013, whose terms apply"
    version: str = ""  # the edgefer version that exported the model if empty


class _Builder:
    """Thin helpers over flatbuffers.Builder: children first, then the table that points at them."""

    def __init__(self) -> None:
        import flatbuffers

        self.b = flatbuffers.Builder(1024)

    def string(self, text: str | None) -> int | None:
        return None if text is None else self.b.CreateString(text)

    def floats(self, values) -> int:
        return self.b.CreateNumpyVector(np.asarray(values, np.float32))

    def tables(self, offsets: list[int]) -> int:
        self.b.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            self.b.PrependUOffsetTRelative(offset)
        return self.b.EndVector()

    def table(self, slots: int, refs: dict[int, int | None] | None = None,
              bytes_: dict[int, int] | None = None) -> int:
        self.b.StartObject(slots)
        for slot, offset in (refs or {}).items():
            if offset is not None:
                self.b.PrependUOffsetTRelativeSlot(slot, offset, 0)
        for slot, value in (bytes_ or {}).items():
            self.b.PrependUint8Slot(slot, value, 0)
        return self.b.EndObject()

    def finish(self, root: int) -> bytes:
        self.b.Finish(root, file_identifier=METADATA_IDENTIFIER)
        return bytes(self.b.Output())


def _input_tensor(fb: _Builder, info: ModelInfo, quantized: bool) -> int:
    spec = info.preprocess
    # Quantized inputs take raw 0..255 pixels (the input's quantization holds the scaling);
    # float inputs take (pixel - mean) / std, which the normalization tells the runtime to do.
    low, high = (0.0, 255.0) if quantized else (spec.normalize(0.0), spec.normalize(255.0))
    norm = fb.table(2, {0: fb.floats([spec.mean] * 3), 1: fb.floats([spec.std] * 3)})
    unit = fb.table(2, {1: norm}, {0: _NORMALIZATION_OPTIONS})
    stats = fb.table(2, {0: fb.floats([high]), 1: fb.floats([low])})
    props = fb.table(2, bytes_={0: _RGB})
    content = fb.table(3, {1: props}, {0: _IMAGE_PROPERTIES})
    name, description = fb.string("image"), fb.string(
        f"RGB face crop, {spec.input_size}x{spec.input_size}; the model converts it to luminance")
    return fb.table(7, {0: name, 1: description, 3: content, 4: fb.tables([unit]), 5: stats})


def _output_tensor(fb: _Builder) -> int:
    labels = fb.table(5, {0: fb.string(LABELS_FILE), 1: fb.string("The emotion of each score")},
                      {2: _TENSOR_AXIS_LABELS})
    stats = fb.table(2, {0: fb.floats([1.0]), 1: fb.floats([0.0])})
    content = fb.table(3, {1: fb.table(0)}, {0: _FEATURE_PROPERTIES})
    name, description = fb.string("probability"), fb.string("Calibrated probability of each emotion")
    return fb.table(7, {0: name, 1: description, 3: content, 5: stats, 6: fb.tables([labels])})


def metadata_buffer(info: ModelInfo, quantized_input: bool, card: ModelCard = ModelCard()) -> bytes:
    """The ``TFLITE_METADATA`` flatbuffer of an edgefer model edited for the app runtimes."""
    fb = _Builder()
    inputs, outputs = fb.tables([_input_tensor(fb, info, quantized_input)]), fb.tables([_output_tensor(fb)])
    subgraph = fb.table(10, {2: inputs, 3: outputs})
    text = [fb.string(s) for s in (card.name, card.description, card.version or info.edgefer_version or "unknown",
                                   card.author, card.license, MIN_PARSER_VERSION)]
    root = fb.table(8, {0: text[0], 1: text[1], 2: text[2], 3: fb.tables([subgraph]), 4: text[3], 5: text[4],
                        7: text[5]})
    return fb.finish(root)


def stamp(blob: bytes, card: ModelCard = ModelCard()) -> bytes:
    """The model with the standard metadata and its labels file (replacing any it had)."""
    info = read_model_info(blob)
    if info is None or not has_app_graph(info):
        raise ModelError("the standard metadata describes an RGB-input, probability-output edgefer model; "
                         "edit the model first (edgefer.export.graph.upgrade_model) or re-export it")
    _, graph_in, _, dtypes = list_ops(blob)
    quantized = dtypes[graph_in[0]] in ("UINT8", "INT8")
    files = {**packed_files(blob), LABELS_FILE: ("\n".join(info.labels) + "\n").encode("utf-8")}
    return embed_metadata_entry(blob, METADATA_NAME, metadata_buffer(info, quantized, card), files)


def stamp_file(source: str | Path, out: str | Path, card: ModelCard = ModelCard()) -> Path:
    """Re-stamp a ``.tflite`` file: edit an older edgefer export for the app runtimes if needed,
    then write the standard metadata; `out` is written atomically and must not be `source`."""
    source, out = Path(source), Path(out)
    if out.resolve() == source.resolve():
        raise ModelError(f"{out}: would overwrite the input model; choose another output file")
    if not source.is_file():
        raise ModelError(f"{source}: no such model file")
    write_bytes(out, stamp(upgrade_model(source.read_bytes()), card))
    return out
