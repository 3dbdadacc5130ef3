"""Every command's output plan, made before any work: no output is lost, none overwrites an input.

A command names its outputs (files and folders it writes) and its inputs (files it
reads, folders whose files it reads, and the files a model's folder holds) and calls
:func:`plan_outputs` first. The plan refuses, in one line each: an output that could not
be written (a missing or read-only folder, a folder where a file is meant or the other
way round, a device or pipe, an empty name), an output inside the installed edgefer
package (its shipped models), an output that is one of the inputs or lies inside an
input folder, an input that lies inside an output folder (it could be written over),
and two outputs on one path or one inside the other's folder (one would be lost).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .errors import ConfigError
from .fileio import STDOUT, check_name, check_output_dir, check_output_file

PACKAGE_DIR = Path(__file__).resolve().parent  # the shipped models and the web page live here


@dataclass(frozen=True)
class Output:
    option: str  # how the user named it, e.g. "--json"
    path: str | os.PathLike | None  # None or "-" (standard output): nothing to plan
    folder: bool = False  # a folder the command writes files into, rather than one file
    parents: bool = False  # a folder whose missing parent folders the command creates (run folders)


@dataclass(frozen=True)
class Input:
    option: str  # e.g. "--data", "IMAGES"
    path: str | os.PathLike | None
    # A folder whose files are read (a data set, a folder of photos): nothing may be
    # written inside it. Otherwise only the path itself is protected, and the files named
    # in `reads` inside it (or beside it, for a file): what a run folder's reader opens.
    tree: bool = True
    reads: tuple[str, ...] = ()


def report_outputs(json_path: str | os.PathLike | None) -> list[Output]:
    """A report's --json file and the pictures written beside it (edgefer.scoring)."""
    if json_path is None:
        return []
    stem = Path(json_path).with_suffix("")
    return [Output("--json", json_path), *(Output("--json", f"{stem}.{name}.png") for name in ("confusion", "reliability"))]


def plan_outputs(outputs: Iterable[Output], inputs: Iterable[Input] = ()) -> None:
    """Check every output before any work; raises ConfigError naming the path and the options."""
    planned = [o for o in outputs if o.path is not None and str(o.path) != STDOUT]
    for out in planned:
        check_name(out.path, out.option)
    for n, out in enumerate(planned):  # first: a file meant inside another output's new folder
        for other in planned[n + 1:]:
            if _same(out.path, other.path):
                raise ConfigError(f"{out.path}: {out.option} and {other.option} name the same path; "
                                  "one would overwrite the other")
            for outer, inner in ((out, other), (other, out)):
                if outer.folder and _resolved(inner.path).is_relative_to(_resolved(outer.path)):
                    raise ConfigError(f"{inner.path}: {inner.option} lies inside the {outer.option} folder "
                                      f"{outer.path}, whose files the command writes; write it elsewhere")
    for out in planned:
        if _resolved(out.path).is_relative_to(PACKAGE_DIR):
            raise ConfigError(f"{out.path}: {out.option} lies inside the installed edgefer package ({PACKAGE_DIR}), "
                              "whose files (the shipped models) it would replace; write it elsewhere")
        if out.folder:
            check_output_dir(str(out.path), out.option, parents=out.parents)
        else:
            check_output_file(str(out.path), out.option)
    # Only what exists can be lost; a name that is no path (a camera, "imagenet") is none.
    read = [i for i in inputs if i.path is not None and str(i.path) not in ("", STDOUT) and Path(i.path).exists()]
    read += [Input(i.option, _folder(i.path) / name) for i in read for name in i.reads
             if (_folder(i.path) / name).exists()]
    for out in planned:
        for source in read:
            _check_against_input(out, source)


def _check_against_input(out: Output, source: Input) -> None:
    target, original = _resolved(out.path), _resolved(source.path)
    if _same(out.path, source.path):
        raise ConfigError(f"{out.path}: {out.option} would overwrite the input {source.option} {source.path}")
    if source.tree and Path(source.path).is_dir() and target.is_relative_to(original):
        raise ConfigError(f"{out.path}: {out.option} lies inside the input folder {source.path} ({source.option}), "
                          "which is being read; write it elsewhere")
    if out.folder and original.is_relative_to(target):
        raise ConfigError(f"{out.path}: the {out.option} folder holds the input {source.path} ({source.option}), "
                          "which it could overwrite; write it elsewhere")


def _folder(path: str | os.PathLike) -> Path:
    return Path(path) if Path(path).is_dir() else Path(path).parent


def _resolved(path: str | os.PathLike) -> Path:
    return Path(path).expanduser().resolve()


def _same(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    if _resolved(a) == _resolved(b):
        return True
    try:  # hard links, and the same file reached through two mounts
        return os.path.samefile(a, b)
    except OSError:
        return False
