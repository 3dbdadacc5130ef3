"""Which TFLite interpreter runs the model: LiteRT, else tflite-runtime, else TensorFlow.

LiteRT (``ai-edge-litert``) is a base dependency and the one edgefer is tested with.
``tflite-runtime`` stopped at 2.14 (numpy<2, no int8 XNNPACK), so it is only a fallback
and says so once. TensorFlow is used only when it is already installed, never pulled in.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import os
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

from ..errors import ConfigError, ModelError

# Search order for backend=None, and the names backend= accepts: module, interpreter class.
BACKENDS: dict[str, tuple[str, str]] = {
    "litert": ("ai_edge_litert.interpreter", "Interpreter"),
    "tflite-runtime": ("tflite_runtime.interpreter", "Interpreter"),
    "tensorflow": ("tensorflow", "lite.Interpreter"),  # tf.lite is an attribute, not a module
}
_INSTALL_HINT = {
    "litert": "pip install ai-edge-litert",
    "tflite-runtime": "pip install tflite-runtime",
    "tensorflow": "pip install tensorflow",
}
_warned_tflite_runtime = False


@dataclass(frozen=True)
class Backend:
    name: str
    interpreter_class: Any

    def interpreter(self, model: bytes, num_threads: int | None, name: str = "model") -> Any:
        """An interpreter with tensors allocated; interpreter failures become one-line ModelErrors."""
        try:
            with _native_stderr_silenced():
                interpreter = self.interpreter_class(model_content=model, num_threads=num_threads)
                interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{name}: the {self.name} interpreter cannot load this model ({reason})") from None
        return interpreter


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Mute file descriptor 2 while an interpreter is built.

    LiteRT writes "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." straight to
    fd 2 and honours no log-level setting; it would break the CLI's one-line errors.
    Load failures still reach Python as exception messages, so nothing useful is lost;
    fd 2 is process-wide, so another thread's stderr output in those milliseconds is too.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded interpreters): nothing to mute
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _load(name: str) -> Backend:
    module, attribute = BACKENDS[name]
    try:
        return Backend(name, functools.reduce(getattr, attribute.split("."), importlib.import_module(module)))
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"backend {name!r} is not usable ({exc}); {_INSTALL_HINT[name]}") from None


def _warn_tflite_runtime() -> None:
    global _warned_tflite_runtime
    if not _warned_tflite_runtime:
        _warned_tflite_runtime = True
        warnings.warn(
            "edgefer is running on tflite-runtime, which ended at 2.14 (numpy<2 only, no int8 "
            "acceleration); install ai-edge-litert for supported, faster inference",
            RuntimeWarning,
            stacklevel=3,
        )


def select_backend(backend: str | None = None) -> Backend:
    """The named backend, or the first installed one in :data:`BACKENDS` order."""
    if backend is not None:
        if backend not in BACKENDS:
            raise ConfigError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        return _load(backend)
    for name, (module, _) in BACKENDS.items():
        # find_spec looks for the top-level package without importing it, so TensorFlow
        # is only imported when it is installed and nothing lighter is usable.
        if not _installed(module.split(".")[0]):
            continue
        try:
            selected = _load(name)
        except ConfigError:
            continue
        if name == "tflite-runtime":
            _warn_tflite_runtime()
        return selected
    raise ConfigError("no TFLite interpreter is installed; pip install ai-edge-litert")
