"""Keras -> model bytes: one converter function per row of the format table (edgefer.export.formats).

A converter takes the float or QAT Keras model, the calibration faces (full-integer
formats) and the --io type, and returns the file's bytes; :func:`convert` finds it by the
name its format row gives. TFLite models are converted with a fixed batch of 1 (the device
runs one face at a time); a dynamic batch left 64 dynamic reshape ops in an EfficientNetB0.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from ..errors import ConfigError, ModelError
from ..training.keras_env import native_stderr_muted, tf
from .formats import INT8_IO_TYPES, get_format

# Yields one float32 (1, S, S, C) model input per call, as the converter wants it.
RepresentativeData = Callable[[], Iterable[list[np.ndarray]]]
# (Keras model, calibration data or None, --io type) -> the file's bytes.
Converter = Callable[[object, "RepresentativeData | None", str], bytes]
CONVERTERS: dict[str, Converter] = {}


def converter(fn: Converter) -> Converter:
    """Decorator: make `fn` a converter that format rows can name."""
    CONVERTERS[fn.__name__] = fn
    return fn


def representative_data(x: np.ndarray) -> RepresentativeData:
    """Preprocessed faces (N, S, S, C) as the converter's representative dataset."""
    return lambda: ([x[i : i + 1].astype(np.float32)] for i in range(len(x)))


def convert(model, fmt: str, representative: RepresentativeData | None = None, io: str = "int8") -> bytes:
    """The bytes of a float or QAT Keras model in format `fmt`, by the converter its row names."""
    name = get_format(fmt).converter
    try:
        return CONVERTERS[name](model, representative, io)
    except (ConfigError, ModelError):
        raise
    except Exception as exc:  # the TFLite converter raises ConverterError and assorted internals
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ModelError(f"conversion to {fmt} failed: {first}") from None


def _tflite_converter(model):
    shape = [1, *model.input_shape[1:]]
    fn = tf.function(lambda x: model(x, training=False))
    concrete = fn.get_concrete_function(tf.TensorSpec(shape, tf.float32, name="image"))
    return tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)


def _tflite_bytes(tflite) -> bytes:
    with native_stderr_muted():  # "fully_quantize: 0, inference_type: 6, ..." unless --verbose
        return bytes(tflite.convert())


@converter
def tflite_float32(model, representative: RepresentativeData | None, io: str) -> bytes:
    return _tflite_bytes(_tflite_converter(model))


@converter
def tflite_float16(model, representative: RepresentativeData | None, io: str) -> bytes:
    tflite = _tflite_converter(model)
    tflite.optimizations = [tf.lite.Optimize.DEFAULT]
    tflite.target_spec.supported_types = [tf.float16]
    return _tflite_bytes(tflite)


@converter
def tflite_dynamic(model, representative: RepresentativeData | None, io: str) -> bytes:
    tflite = _tflite_converter(model)
    tflite.optimizations = [tf.lite.Optimize.DEFAULT]
    return _tflite_bytes(tflite)


@converter
def tflite_int8(model, representative: RepresentativeData | None, io: str) -> bytes:
    if representative is None:
        raise ConfigError("int8 export needs calibration data (--data)")
    if io not in INT8_IO_TYPES:
        raise ConfigError(f"--io must be one of {', '.join(INT8_IO_TYPES)}, got {io!r}")
    tflite = _tflite_converter(model)
    tflite.optimizations = [tf.lite.Optimize.DEFAULT]
    tflite.representative_dataset = representative
    # Float builtins stay allowed so an op without an int8 kernel converts and is then
    # named by the audit, instead of failing inside the converter with a long MLIR dump.
    tflite.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    tflite.inference_input_type = getattr(tf, io)
    tflite.inference_output_type = getattr(tf, io)
    return _tflite_bytes(tflite)
