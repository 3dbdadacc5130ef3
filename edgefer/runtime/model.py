"""A self-describing edgefer ``.tflite`` file behind one thread-safe ``run`` call.

The model's own tensor parameters decide how inputs are quantized and outputs
dequantized, so int8, uint8 and float32 exports all take the same float input
(the preprocessing spec's output) and give float logits or probabilities.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import ConfigError, DataError, ModelError
from ..labels import LABELS
from ..metadata import ModelInfo, check_tflite_bytes, read_model_info
from ..preprocessing import (
    PreprocessSpec,
    model_input,
    replicate_channels,
    resize_faces,
)
from .backend import select_backend
from .pool import InterpreterPool
from .zoo import DEFAULT_MODEL_NAME, is_shipped, shipped_model_path

log = logging.getLogger(__name__)
ModelSource = Union[str, os.PathLike, bytes]

_QUANTIZED = (np.int8, np.uint8)
# Interpreter threads (and bench callers) beyond a few per core only thrash the machine.
MAX_THREADS = max(8, 4 * (os.cpu_count() or 1))


def check_thread_count(count: int | None, name: str = "num_threads (--threads)") -> None:
    if count is not None and not 1 <= count <= MAX_THREADS:
        raise ConfigError(f"{name} must lie in 1..{MAX_THREADS} (4 per CPU core here), got {count}")


def default_model_path() -> Path:
    """The model used when none is named, shipped as package data."""
    return shipped_model_path(DEFAULT_MODEL_NAME)


def resolve_model(model: ModelSource | None) -> ModelSource:
    """``None`` means the default model, a shipped model's name that model; anything else is passed through."""
    if model is None:
        return default_model_path()
    if is_shipped(model):
        return shipped_model_path(model)
    return model


def _read(model: ModelSource) -> tuple[bytes, str]:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model), "model"
    path = Path(model)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read model ({exc.strerror or exc})") from None


class _Tensor:
    """One input or output tensor: index, dtype and the affine quantization, if any."""

    def __init__(self, detail: dict[str, Any], name: str) -> None:
        self.index = detail["index"]
        self.dtype = np.dtype(detail["dtype"])
        self.shape = tuple(int(d) for d in detail["shape"])
        self.signature = tuple(int(d) for d in detail.get("shape_signature", detail["shape"]))
        scale, zero_point = detail["quantization"]
        self.scale, self.zero_point = float(scale), int(zero_point)
        if self.dtype.type in _QUANTIZED and self.scale <= 0:
            raise ModelError(f"{name}: {self.dtype} tensor {detail['name']!r} has no quantization scale")
        if self.dtype.type not in _QUANTIZED and self.dtype != np.float32:
            raise ModelError(f"{name}: tensor {detail['name']!r} has unsupported type {self.dtype}")

    def quantize(self, x: np.ndarray) -> np.ndarray:
        if self.dtype.type not in _QUANTIZED:
            return x
        limits = np.iinfo(self.dtype)
        q = np.rint(x / self.scale) + self.zero_point
        return np.clip(q, limits.min, limits.max).astype(self.dtype)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        if self.dtype.type not in _QUANTIZED:
            return q.astype(np.float32)
        return ((q.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)


class TFLiteModel:
    """An edgefer-exported TFLite classifier; ``run`` may be called from many threads.

    Concurrent calls each borrow an interpreter from an :class:`InterpreterPool` of up
    to `pool_size` (default: the CPU count); a batch of several fixed-size chunks is
    spread over the pool.
    """

    def __init__(self, model: ModelSource, num_threads: int | None = None, backend: str | None = None,
                 pool_size: int | None = None) -> None:
        check_thread_count(num_threads)
        data, self.name = _read(model)
        # Interpreters trust the flatbuffer; a truncated or foreign file must be refused
        # here, as a ModelError, before native code can crash on it.
        check_tflite_bytes(data, self.name)
        try:
            info = read_model_info(data, self.name)
        except ConfigError as exc:  # well-formed JSON describing an impossible spec
            raise ModelError(f"{self.name}: embedded edgefer metadata is invalid ({exc})") from None
        if info is None:
            raise ModelError(
                f"{self.name}: TFLite model carries no edgefer metadata; it was not exported by "
                "edgefer (export it with edgefer, which records labels and preprocessing)"
            )
        self.info: ModelInfo = info
        self.size_bytes = len(data)
        self.backend = select_backend(backend)
        self.pool = InterpreterPool(self.backend, data, num_threads, self.name, pool_size)
        inputs, outputs = self.pool.first.get_input_details(), self.pool.first.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{self.name}: expected one input and one output tensor, "
                             f"found {len(inputs)} and {len(outputs)}")
        self._input, self._output = _Tensor(inputs[0], self.name), _Tensor(outputs[0], self.name)
        self._check_shapes()
        if not self.info.preprocess.takes_canonical_face:
            spec = self.info.preprocess
            log.warning("edgefer: warning: %s takes %d px faces, not the canonical %d px face: runtimes that resize a "
                        "crop straight to %d px (MediaPipe, the browser) can answer differently from edgefer; "
                        "re-export it, or re-stamp it (edgefer.export.tflite_metadata.stamp_file)",
                        self.name, spec.input_size, spec.face_size, spec.input_size)
        if sorted(self.info.labels) != sorted(LABELS):
            raise ModelError(f"{self.name}: its labels ({', '.join(map(str, self.info.labels))}) are not the seven "
                             f"FER2013 emotions ({', '.join(LABELS)}) edgefer reads")
        # A dynamic batch dimension lets one invoke score a whole batch; edgefer's
        # exports fix it to 1, and those are fed one chunk at a time.
        self._dynamic_batch = self._input.signature[0] == -1
        self._batch = self._input.shape[0]
        self._pixel_table = self._pixel_table_for(self.info.preprocess)
        self._executor: ThreadPoolExecutor | None = None
        self._executor_lock = threading.Lock()

    def _check_shapes(self) -> None:
        spec, labels = self.info.preprocess, self.info.labels
        if self._input.shape[1:] != spec.input_shape or len(self._input.shape) != 4:
            raise ModelError(f"{self.name}: input shape {self._input.shape} does not match the "
                             f"metadata's preprocessing (N, {', '.join(map(str, spec.input_shape))})")
        if len(self._output.shape) != 2 or self._output.shape[1] != len(labels):
            raise ModelError(f"{self.name}: output shape {self._output.shape} does not give "
                             f"{len(labels)} classes as the metadata's labels do")

    def _pixel_table_for(self, spec: PreprocessSpec) -> np.ndarray | None:
        """uint8 pixel value -> quantized model input, or None for a float input."""
        if self._input.dtype.type not in _QUANTIZED:
            return None
        return self._input.quantize(spec.normalize(np.arange(256, dtype=np.float32)).astype(np.float32))

    @property
    def input_dtype(self) -> np.dtype:
        return self._input.dtype

    def run(self, x: np.ndarray) -> np.ndarray:
        """float32 (N, S, S, C) preprocessed faces -> float32 (N, classes) raw model outputs."""
        return self._run_prepared(self._input.quantize(self._check_input(x)))

    def run_faces(self, faces: np.ndarray) -> np.ndarray:
        """uint8 (N, 48, 48) canonical faces -> raw outputs, exactly ``run(model_input(faces, spec))``.

        For a quantized input, scaling and quantizing a pixel depends on its value
        alone, so a 256-entry table built with the same arithmetic replaces two float
        passes over every input element: a sizeable share of a sub-millisecond call.
        """
        spec = self.info.preprocess
        if self._pixel_table is None:
            return self.run(model_input(faces, spec))
        quantized = self._pixel_table[resize_faces(faces, spec.input_size)]
        return self._run_prepared(replicate_channels(quantized, spec.channels))

    def _run_prepared(self, q: np.ndarray) -> np.ndarray:
        """Inputs already in the input tensor's dtype (quantized, or float32) -> raw outputs."""
        if len(q) == 0:
            return np.zeros((0, len(self.info.labels)), np.float32)
        if self._dynamic_batch:
            return self._invoke(q)
        starts = range(0, len(q), self._batch)
        # Padded to whole fixed-size batches, then in about one run of chunks per interpreter.
        padded = np.concatenate([q, np.zeros((len(starts) * self._batch - len(q), *q.shape[1:]), q.dtype)])
        chunks = [padded[start : start + self._batch] for start in starts]
        if len(chunks) == 1 or self.pool.size == 1:
            outputs = [self._invoke(chunk) for chunk in chunks]
        else:
            groups = np.array_split(np.arange(len(chunks)), min(self.pool.size, len(chunks)))
            runs = self._pool_executor().map(lambda group: [self._invoke(chunks[i]) for i in group], groups)
            outputs = [output for run in runs for output in run]
        return np.concatenate(outputs)[: len(q)]

    def _check_input(self, x: Any) -> np.ndarray:
        if not isinstance(x, np.ndarray):
            raise DataError(f"model input must be a NumPy array, got {type(x).__name__}")
        expected = self.info.preprocess.input_shape
        if x.ndim != 4 or x.shape[1:] != expected:
            raise DataError(f"model input must have shape (N, {', '.join(map(str, expected))}), got {x.shape}")
        if not np.issubdtype(x.dtype, np.floating):
            raise DataError(f"model input must be float (preprocessed faces), got {x.dtype}")
        if not np.isfinite(x).all():
            raise DataError("model input contains NaN or infinity")
        return x.astype(np.float32, copy=False)

    def _pool_executor(self) -> ThreadPoolExecutor:
        with self._executor_lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.pool.size, thread_name_prefix="edgefer-tflite")
        return self._executor

    def _invoke(self, q: np.ndarray) -> np.ndarray:
        q = np.ascontiguousarray(q)
        with self.pool.borrow() as interpreter:
            # Each interpreter keeps the batch size it last ran; resize only on a change.
            if self._dynamic_batch and interpreter.get_input_details()[0]["shape"][0] != len(q):
                interpreter.resize_tensor_input(self._input.index, q.shape)
                interpreter.allocate_tensors()
            interpreter.set_tensor(self._input.index, q)
            interpreter.invoke()
            raw = interpreter.get_tensor(self._output.index)
        return self._output.dequantize(raw)
