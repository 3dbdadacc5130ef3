"""Interpreters of one model shared by many threads, one caller per interpreter at a time."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, Iterator

from ..errors import ConfigError
from .backend import Backend


class InterpreterPool:
    """Lends interpreters of one model; makes a new one only when all are busy, up to `size`.

    An interpreter holds one set of tensors, so set/invoke/get must not interleave
    between callers; LiteRT releases the GIL inside ``invoke``, so interpreters lent to
    different threads run on different cores. One caller at a time only ever uses the
    first interpreter, made at construction (its tensor details describe the model).
    """

    def __init__(self, backend: Backend, model: bytes, num_threads: int | None, name: str,
                 size: int | None = None) -> None:
        if size is not None and size < 1:
            raise ConfigError(f"pool_size must be at least 1, got {size}")
        self.size = size or os.cpu_count() or 1
        self._make = lambda: backend.interpreter(model, num_threads, name)
        self.first = self._make()
        self._free = [self.first]
        self.created = 1
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def borrow(self) -> Iterator[Any]:
        interpreter = self._take()
        try:
            yield interpreter
        finally:
            with self._changed:
                self._free.append(interpreter)
                self._changed.notify()

    def _take(self) -> Any:
        with self._changed:
            while not self._free and self.created >= self.size:
                self._changed.wait()
            if self._free:
                return self._free.pop()
            self.created += 1
        # Made outside the lock: other callers keep using the free interpreters meanwhile.
        try:
            return self._make()
        except BaseException:
            with self._changed:
                self.created -= 1
                self._changed.notify()
            raise
