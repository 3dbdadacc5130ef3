"""The ``edgefer`` command. Each command parses its options into a config dataclass and
calls the library function that takes it; nothing else happens here."""

from __future__ import annotations

import logging
import signal
import sys
import traceback

from ..errors import EdgeferError
from . import (  # noqa: F401  (register commands)
    data_cmd,
    demo_cmd,
    evaluate_cmd,
    export_cmd,
    parity_cmd,
    runtime_cmd,
    train_cmd,
    weights_cmd,
)
from .app import INTERNAL_ERROR_EXIT, app


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("absl", "tensorflow", "h5py"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; usage errors exit 2 (click's convention), input errors exit 2 with one line."""
    _setup_logging()
    # A kill (SIGTERM) unwinds like Ctrl-C, so temporary files are removed on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        app(args=argv, prog_name="edgefer")
    except EdgeferError as exc:
        print(f"edgefer: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        print("edgefer: interrupted", file=sys.stderr)
        return 130
    except Exception:  # a bug, not bad input: show where, with an exit code of its own
        traceback.print_exc()
        print(f"edgefer: internal error (exit {INTERNAL_ERROR_EXIT}); please report it with the traceback above",
              file=sys.stderr)
        return INTERNAL_ERROR_EXIT
    return 0
