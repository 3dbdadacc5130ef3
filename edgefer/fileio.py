"""Atomic artifact writing: readers never see a half-written file, and a failed command leaves nothing.

Every file goes to a hidden temporary name, is checked (size, and a caller's decode check
for images and video), then renamed into place. Inside :func:`all_or_nothing` (the CLI
wraps each command in it) each rename is recorded, with a hard link to the file it
replaced, so a command that fails or is interrupted removes what it wrote, puts back
what it replaced and removes the folders it created.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import math
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from .errors import ConfigError

STDOUT = "-"  # an output file name that means standard output
# The longest file name most file systems take (bytes); the temporary name is kept shorter.
NAME_MAX = 255


@dataclass
class _Written:
    # Each file written or removed -> a hard link to what was there before (None: nothing, or no link).
    files: dict[Path, Path | None] = field(default_factory=dict)
    folders: list[Path] = field(default_factory=list)  # created by this command, outermost first


_WRITTEN: contextvars.ContextVar[_Written | None] = contextvars.ContextVar("edgefer_written", default=None)


@contextlib.contextmanager
def all_or_nothing(keep: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Undo every write made inside the block if it raises (interrupts included), unless
    the exception is one of `keep` (a verdict such as parity's FAIL, not a failure)."""
    written = _Written()
    token = _WRITTEN.set(written)
    try:
        yield
    except keep:
        _drop_backups(written.files.values())
        raise
    except BaseException:
        _undo(written)
        raise
    else:
        _drop_backups(written.files.values())
    finally:
        _WRITTEN.reset(token)


def keep_written(folder: str | os.PathLike) -> None:
    """What this command wrote inside `folder` stays even if it fails (a run with a checkpoint to resume)."""
    written = _WRITTEN.get()
    if written is None:
        return
    root = Path(folder).resolve()
    kept = [f for f in written.files if f.resolve().is_relative_to(root)]
    _drop_backups([written.files.pop(f) for f in kept])
    # The folders it made inside `folder` stay with their files, and so do those holding it.
    written.folders = [d for d in written.folders
                       if not (d.resolve().is_relative_to(root) or root.is_relative_to(d.resolve()))]


def _undo(written: _Written) -> None:
    for path, backup in reversed(written.files.items()):
        with contextlib.suppress(OSError):
            if backup is not None:
                os.replace(backup, path)
            else:
                path.unlink(missing_ok=True)
    for folder in reversed(written.folders):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only if empty: a folder the user filled since is theirs


def _drop_backups(backups: Iterable[Path | None]) -> None:
    for backup in backups:
        if backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()


def remove_file(path: str | os.PathLike) -> None:
    """Remove `path` if it exists; inside all_or_nothing it comes back if the command fails."""
    path = Path(path)
    if not path.is_file():
        return
    written = _WRITTEN.get()
    if written is not None and path not in written.files:
        written.files[path] = _backup(path)
    path.unlink()


def make_folder(folder: str | os.PathLike) -> None:
    """`folder` and its missing parents; inside all_or_nothing, the new ones are removed if the command fails."""
    folder = Path(folder)
    missing = []
    parent = folder
    while not parent.exists() and parent != parent.parent:
        missing.append(parent)
        parent = parent.parent
    folder.mkdir(parents=True, exist_ok=True)
    written = _WRITTEN.get()
    if written is not None:
        written.folders.extend(reversed(missing))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp",
                check: Callable[[Path], None] | None = None) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it into place only on success.

    `suffix` is for writers that pick a format from the file name (Keras: .h5, .keras).
    `check` is called on the finished temporary file and raises if it is incomplete (an
    image that does not decode); an empty file is always refused. The temporary file is
    removed on any exit, interrupts included.
    """
    path = Path(path)
    try:
        make_folder(path.parent)
        # A name near NAME_MAX plus the random part would be too long for the file system.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:64]}.", suffix=suffix[:16], dir=path.parent)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc})") from None
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.stat().st_size == 0:
            raise ConfigError(f"{path}: the written file is empty; nothing was written")
        if check is not None:
            check(tmp_path)
        # mkstemp creates 0600; artifacts get the permissions any new file would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        _replace(tmp_path, path)
    except OSError as exc:
        # A full disk or a vanished folder while writing: name the file the user asked
        # for, not the hidden temporary one (which is gone by the time they look).
        if exc.filename not in (None, str(tmp_path)):
            raise
        raise ConfigError(f"{path}: cannot write ({exc.strerror or exc}); nothing was written") from None
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _replace(tmp: Path, path: Path) -> None:
    written = _WRITTEN.get()
    # Only the file that was there before the command needs keeping: a file the command
    # wrote itself and now rewrites (a checkpoint each epoch) is simply removed on undo.
    if written is not None and path not in written.files:
        written.files[path] = _backup(path) if path.is_file() else None
    os.replace(tmp, path)


def _backup(path: Path) -> Path | None:
    """A hard link to the file about to be replaced or removed, to put back if the command fails."""
    backup = path.parent / f".{path.name[:64]}.{secrets.token_hex(6)}.old"
    try:
        os.link(path, backup)
    except OSError:  # a file system without hard links: the old file cannot come back
        return None
    return backup


def check_output_file(path: str | None, option: str) -> None:
    """Refuse an output file that could not be written: a folder, a device or pipe, a name too long,
    a missing or read-only folder."""
    if path is None or path == STDOUT:
        return
    check_name(path, option)
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{target}: {option} needs a file name, but this is a directory")
    _check_regular(target, option)
    _check_folder(target.parent, f"{target}: {option}")


def check_output_dir(path: str | None, option: str, parents: bool = False) -> None:
    """Refuse an output folder that could not be created or written.

    With `parents`, missing folders above it are created too (a run folder under `runs/`),
    so the nearest folder that exists must be writable.
    """
    if path is None:
        return
    check_name(path, option)
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


def check_name(path: str | os.PathLike, option: str) -> None:
    """Refuse an empty name, or a name too long for the file system, before any work."""
    if not str(path):
        raise ConfigError(f"{option} needs a name, got an empty one")
    too_long = [part for part in Path(path).parts if len(os.fsencode(part)) > NAME_MAX]
    if too_long:
        raise ConfigError(f"{option}: the name {too_long[0][:40]}... is longer than {NAME_MAX} bytes")


def _check_regular(target: Path, option: str) -> None:
    """Only a regular file may be replaced: renaming over a device node or a pipe would replace it."""
    try:
        mode = os.stat(target).st_mode
    except OSError:
        return  # missing (or a dangling link, which the rename replaces)
    if not stat.S_ISREG(mode):
        raise ConfigError(f"{target}: {option} needs a regular file, but this is a device, pipe or socket; "
                          "write to a file (or '-' for standard output)")


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
    """JSON any parser reads: NaN and infinities (an undefined metric) become null; floats are
    shortened (:func:`_short`) so a score reads 0.890625, not 0.8906249999999999."""
    return json.dumps(_finite(obj), indent=2, sort_keys=False, default=_jsonable, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _finite(value.tolist())
    if isinstance(value, float):
        return _short(value) if math.isfinite(value) else None
    return value


def _short(value: float) -> float:
    # Scores, rates and seconds keep 6 decimals; tiny values (learning rates) 6 significant digits.
    return round(value, 6) if abs(value) >= 1e-3 else float(f"{value:.6g}")


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays appear in metric dicts; JSON wants plain Python.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
