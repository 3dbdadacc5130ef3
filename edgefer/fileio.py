"""Atomic artifact writing: readers never see a half-written file."""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import ConfigError

STDOUT = "-"  # an output file name that means standard output


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it into place only on success.

    `suffix` is for writers that pick a format from the file name (Keras: .h5, .keras).
    The temporary file is removed on any exit, interrupts included.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600; artifacts get the permissions any new file would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    except OSError as exc:
        # A full disk or a vanished folder while writing: name the file the user asked
        # for, not the hidden temporary one (which is gone by the time they look).
        if exc.filename not in (None, str(tmp_path)):
            raise
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc}); nothing was written") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def check_output_file(path: str | None, option: str) -> None:
    """Refuse an output file that could not be written: a folder, a missing or read-only folder."""
    if path is None or path == STDOUT:
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{target}: {option} needs a file name, but this is a directory")
    _check_folder(target.parent, f"{target}: {option}")


def check_output_dir(path: str | None, option: str, parents: bool = False) -> None:
    """Refuse an output folder that could not be created or written.

    With `parents`, missing folders above it are created too (a run folder under `runs/`),
    so the nearest folder that exists must be writable.
    """
    if path is None:
        return
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"{target}: {option} needs a directory, but this is a file")
        _check_folder(target, f"{target}: {option}")
        return
    parent = target.parent
    while parents and str(parent) and not parent.exists() and parent != parent.parent:
        parent = parent.parent
    _check_folder(parent, f"{target}: {option}")


def _check_folder(folder: Path, what: str) -> None:
    folder = folder if str(folder) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"{what}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what}: the folder {folder} is not writable")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """UTF-8; a file name that is not UTF-8 (a surrogate escape) is written as its original bytes."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8", errors="surrogateescape")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, strict_json(obj))


def strict_json(obj: Any) -> str:
    """JSON any parser reads: NaN and infinities (an undefined metric) become null."""
    return json.dumps(_finite(obj), indent=2, sort_keys=False, default=_jsonable, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _finite(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays appear in metric dicts; JSON wants plain Python.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
