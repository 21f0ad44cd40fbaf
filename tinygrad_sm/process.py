"""How a command ends: its exit statuses, Ctrl-C and SIGTERM, a standard output that is closed
(`| head -1`) or full (`> /dev/full`).

`cli.main` runs every command inside `interrupts_and_stdout()`: SIGTERM (`kill`, `timeout`)
then raises KeyboardInterrupt as Ctrl-C does, so one `except KeyboardInterrupt` handles both,
and a failed write to stdout raises StdoutFailed (after pointing stdout at /dev/null, so that
Python's own flush at exit cannot fail a second time). Standard library only: this module is
imported before anything else, while Ctrl-C must still give one line.
"""
from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Iterator, TextIO

EXIT_ERROR, EXIT_USAGE = 1, 2
EXIT_INTERRUPTED, EXIT_STDOUT_CLOSED = 128 + signal.SIGINT, 128 + signal.SIGPIPE  # 130, 141


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled wherever Ctrl-C is; the exit status says which signal it was."""

    signum = signal.SIGTERM


def exit_status(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal: 130 for Ctrl-C, 143 for SIGTERM."""
    return 128 + getattr(interrupt, "signum", signal.SIGINT)


class StdoutFailed(Exception):
    """Standard output cannot be written: its reader left (`closed`) or the disk is full.
    Not an OSError, so that rich does not take it for its own BrokenPipeError (and exit 1)."""

    def __init__(self, error: OSError):
        super().__init__(error.strerror or str(error))
        self.reason = error.strerror or str(error)
        self.closed = isinstance(error, BrokenPipeError)


class GuardedStdout:
    """sys.stdout, except that a write or flush that fails raises StdoutFailed; stdout then
    points at /dev/null (terminal.silence_stdout), so later writes and the exit flush succeed."""

    def __init__(self, stream: TextIO):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as e:
            raise self._failed(e) from None

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as e:
            raise self._failed(e) from None

    def _failed(self, error: OSError) -> StdoutFailed:
        from .terminal import silence_stdout  # rich loads only when stdout has failed

        silence_stdout()
        return StdoutFailed(error)

    def __getattr__(self, name: str):  # isatty, fileno, encoding …: the stream's own
        return getattr(self.stream, name)


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


@contextlib.contextmanager
def interrupts_and_stdout() -> Iterator[None]:
    """SIGTERM raises Terminated (a KeyboardInterrupt), stdout is guarded; both put back after."""
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    stdout = sys.stdout
    sys.stdout = GuardedStdout(stdout) if stdout is not None else None
    try:
        yield
    finally:
        sys.stdout = stdout
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM wait until the block is done (a few renames that belong together);
    a signal that came meanwhile is raised right after it."""
    held = {signal.SIGINT, signal.SIGTERM}
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
