"""Keras 2 (tf-keras) for every TensorFlow import in edgefer.

tensorflow-model-optimization only works with Keras 2, so TF_USE_LEGACY_KERAS must be
set before TensorFlow is first imported. Import ``keras`` and ``tf`` from here.
"""

from __future__ import annotations

import contextlib
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ..errors import ConfigError  # noqa: E402


@contextlib.contextmanager
def native_stderr_muted():
    """TensorFlow's C++ lines (absl INFO at start-up, the converter's quantizer settings) bypass
    TF_CPP_MIN_LOG_LEVEL and precede every message, errors included: they go to /dev/null
    unless EDGEFER_VERBOSE (--verbose)."""
    if os.environ.get("EDGEFER_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


try:
    with native_stderr_muted():
        import tensorflow as tf  # noqa: E402
        import tf_keras as keras  # noqa: E402

        tf.config.list_physical_devices()  # device probing logs now, while muted
except ImportError as exc:
    raise ConfigError(
        f"training and export need the train extra ({exc.name} is missing): pip install 'edgefer[train]'"
    ) from None

if not tf.keras.__name__.startswith("tf_keras") and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
    raise ConfigError(
        "TensorFlow was imported with Keras 3 before edgefer; set TF_USE_LEGACY_KERAS=1 "
        "before importing TensorFlow"
    )

__all__ = ["tf", "keras"]
