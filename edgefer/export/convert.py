"""Keras -> TFLite for the four formats edgefer ships: int8, float32, float16, dynamic.

Every model is converted with a fixed batch of 1 (the device runs one face at a time);
a dynamic batch left 64 dynamic reshape ops in an EfficientNetB0.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ..errors import ConfigError, ModelError
from ..training.keras_env import native_stderr_muted, tf
from .formats import INT8_IO_TYPES, get_format

# Yields one float32 (1, S, S, C) model input per call, as the converter wants it.
RepresentativeData = Callable[[], Iterable[list[np.ndarray]]]


def representative_data(x: np.ndarray) -> RepresentativeData:
    """Preprocessed faces (N, S, S, C) as the converter's representative dataset."""
    return lambda: ([x[i : i + 1].astype(np.float32)] for i in range(len(x)))


def _converter(model):
    shape = [1, *model.input_shape[1:]]
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="image"))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)


def convert(model, fmt: str, representative: RepresentativeData | None = None, io: str = "int8") -> bytes:
    """TFLite flatbuffer bytes of a float or QAT Keras model in format `fmt`."""
    spec = get_format(fmt)
    converter = _converter(model)
    if spec.optimize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if spec.float16_weights:
        converter.target_spec.supported_types = [tf.float16]
    if spec.full_integer:
        if representative is None:
            raise ConfigError("int8 export needs calibration data (--data)")
        if io not in INT8_IO_TYPES:
            raise ConfigError(f"--io must be one of {', '.join(INT8_IO_TYPES)}, got {io!r}")
        converter.representative_dataset = representative
        # Float builtins stay allowed so an op without an int8 kernel converts and is then
        # named by the audit, instead of failing inside the converter with a long MLIR dump.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.inference_input_type = getattr(tf, io)
        converter.inference_output_type = getattr(tf, io)
    try:
        with native_stderr_muted():  # "fully_quantize: 0, inference_type: 6, ..." unless --verbose
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and assorted internals
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ModelError(f"TFLite conversion to {fmt} failed: {first}") from None
