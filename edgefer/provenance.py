"""Where a report's numbers come from: model and data by name and hash, the command, the host.

Reports are committed and quoted (README, model cards), so they name files without the
directories of the machine that made them, and carry the hashes that tie a number to
the exact model and data behind it.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shlex
from pathlib import Path
from typing import Any, Sequence

# The command line of this process when it is the `edgefer` CLI; library callers have none.
_command: list[str] | None = None


def record_command(argv: Sequence[str]) -> None:
    global _command
    _command = ["edgefer", *(portable(arg) for arg in argv)]


def command_line() -> str | None:
    return shlex.join(_command) if _command else None


def portable(text: str) -> str:
    """An absolute path as its file name (with whatever follows it, such as ' +flip'); anything else as is."""
    return Path(text).name if os.path.isabs(text) else text


def script_command(argv: Sequence[str], data: str | None = None) -> str:
    """A script's command line as a committed report quotes it: `data` by its file name (as the
    report names it), other absolute paths as in :func:`portable`."""
    return shlex.join(["python", *(Path(arg).name if data is not None and arg == data else portable(arg)
                                   for arg in argv)])


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_or_none(path: str | os.PathLike | None) -> str | None:
    """A file's hash; None for a folder (a run directory, a folder of images) or nothing."""
    return file_sha256(path) if path is not None and Path(path).is_file() else None


# The instruction sets int8 and float kernels pick between (a session's host may have any of them).
_ISA_FLAGS = (("amx_int8", "AMX"), ("avx512_vnni", "AVX-512 VNNI"), ("avx512f", "AVX-512"), ("avx2", "AVX2"),
              ("asimddp", "NEON dot product"))


def host_cpu() -> str:
    """The CPU's model name, logical CPU count and its best vector instruction set, e.g.
    "AMD EPYC, 2 logical CPUs, AVX-512 VNNI": int8 latency differs several-fold between them."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    flags = next((set(line.split(":", 1)[1].split()) for line in lines if line.startswith(("flags", "Features"))), set())
    name = names[0] if names else (platform.processor() or platform.machine())
    isa = next((label for flag, label in _ISA_FLAGS if flag in flags), None)
    return f"{name}, {os.cpu_count() or 1} logical CPUs" + (f", {isa}" if isa else "")


def stamp_model(report: dict[str, Any], path: str | os.PathLike | None) -> None:
    """Names the report's model portably and records the hash of its file."""
    report["model"] = portable(str(report["model"]))
    report["model_sha256"] = sha256_or_none(path)


def stamp_run(report: dict[str, Any], data: str) -> None:
    """Records the data by name and hash, the command and the host on a report about to be written."""
    report["data"] = portable(data)
    report["data_sha256"] = sha256_or_none(data)
    report["command"] = command_line()
    report["host_cpu"] = host_cpu()
