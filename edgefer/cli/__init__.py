"""The ``edgefer`` command. Each command parses its options into a config dataclass and
calls the library function that takes it; nothing else happens here."""

from __future__ import annotations

import errno
import logging
import signal
import sys
import traceback

# Ctrl-C while the command modules load (a second, more with TensorFlow) ends the same
# way as Ctrl-C later: one line and exit 130, nothing written yet.
try:
    import typer
    try:  # typer >= 0.2x raises from its own copy of click
        from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
    except ImportError:
        from click.exceptions import ClickException, NoArgsIsHelpError, UsageError

    from ..errors import EdgeferError
    from ..fileio import all_or_nothing
    from ..provenance import record_command
    from . import (  # noqa: F401  (register commands)
        data_cmd,
        demo_cmd,
        evaluate_cmd,
        export_cmd,
        models_cmd,
        parity_cmd,
        runtime_cmd,
        train_cmd,
        weights_cmd,
        web_cmd,
    )
    from .app import INTERNAL_ERROR_EXIT, app
except KeyboardInterrupt:
    print("edgefer: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

# Signals that end a command like Ctrl-C: temporary files are removed and what the command
# wrote is undone on the way out. SIGHUP: the terminal closed.
STOP_SIGNALS = {signal.SIGTERM: "terminated", signal.SIGHUP: "hung up"}


def _setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    for noisy in ("absl", "tensorflow", "h5py"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every way it can end maps to one exit code in :func:`exit_code`."""
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, _terminate)
        _setup_logging()
        # The click command itself, not typer's runner, which would turn Ctrl-C into a
        # silent exit 130 and a truncated file's EOFError into "Aborted." and exit 1.
        command = typer.main.get_command(app)
        argv = sys.argv[1:] if argv is None else list(argv)
        record_command(argv)
        with all_or_nothing(keep=(typer.Exit,)):  # parity's FAIL (exit 1) keeps its report
            with command.make_context("edgefer", argv) as ctx:
                command.invoke(ctx)
    except BaseException as exc:  # noqa: B036 (interrupts and exits are mapped too)
        return exit_code(exc)
    return 0


def _terminate(signum: int, _frame: object) -> None:
    """A kill (SIGTERM) or a closed terminal (SIGHUP) unwinds like Ctrl-C."""
    sys.exit(128 + signum)


def exit_code(exc: BaseException) -> int:
    """The one place a failure becomes an exit code: bad input or environment 2, interrupted 130,
    a bug 70 (with its traceback); parity's FAIL (1) and --help (0) arrive as click's Exit."""
    if isinstance(exc, typer.Exit):
        return exc.exit_code
    stopped = {128 + signum: name for signum, name in STOP_SIGNALS.items()}
    if isinstance(exc, SystemExit) and exc.code in stopped:
        return _error(stopped[exc.code], exc.code, prefix="edgefer: ")
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if isinstance(exc, (KeyboardInterrupt, typer.Abort)) or _interrupted(exc):
        return _error("interrupted", 130, prefix="edgefer: ")
    if isinstance(exc, NoArgsIsHelpError):
        exc.show()
        return exc.exit_code
    if isinstance(exc, UsageError):
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        return _error(exc.format_message() + hint, exc.exit_code)
    if isinstance(exc, ClickException):
        return _error(exc.format_message(), exc.exit_code)
    if isinstance(exc, EdgeferError):
        return _error(str(exc), exc.exit_code)
    if isinstance(exc, OSError) and exc.errno == errno.EPIPE:  # the reader went away (| head): not ours to report
        return 128 + signal.SIGPIPE
    if isinstance(exc, OSError):  # a full disk, a read-only folder, a vanished file: the machine, not edgefer
        name = exc.filename if exc.filename is not None else ""
        return _error(f"{name}: {exc.strerror}" if name and exc.strerror else str(exc) or exc.__class__.__name__, 2)
    if isinstance(exc, EOFError):
        return _error(f"a file ended too early; it is truncated or damaged ({exc})", 2)
    if isinstance(exc, MemoryError):
        return _error("out of memory; use smaller inputs or batches", 2)
    if not isinstance(exc, Exception):
        raise exc
    traceback.print_exception(exc)
    print(f"edgefer: internal error (exit {INTERNAL_ERROR_EXIT}); please report it with the traceback above",
          file=sys.stderr)
    return INTERNAL_ERROR_EXIT


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C that a library turned into its own error (an import that failed half-way, say)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _error(message: str, code: int, prefix: str = "edgefer: error: ") -> int:
    print(prefix + " ".join(message.split("\n")).strip(), file=sys.stderr)
    return code
