"""The command in a pseudo-terminal, as a learner at a keyboard meets it: what it prints, and
keys typed in answer to it (the stepper's raw key reads, predict mode's prompts)."""
from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_in_pty(args: list[str], respond: Callable[[bytes, bool], bytes | None], *,
               size: tuple[int, int] | None = None, timeout: float = 60.0) -> tuple[str, int]:
    """Run `python -m tinygrad_sm *args` on a pseudo-terminal (size = (rows, cols), else the
    default). After each read, and after each 0.2 s of quiet, respond(output so far, quiet) may
    return keys to type. Returns (the output as text, the exit status); a command still running
    after `timeout` seconds is killed and fails the test."""
    pid, fd = pty.fork()
    if pid == 0:  # the child runs the command on the pty
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        if size is not None:
            env.update(LINES=str(size[0]), COLUMNS=str(size[1]), TERM="xterm")
        os.execvpe(sys.executable, [sys.executable, "-m", "tinygrad_sm", *args], env)
    if size is not None:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    output, deadline, status = b"", time.time() + timeout, None
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the child has closed the terminal: it is ending
                break
            if not chunk:
                break
            output += chunk
        keys = respond(output, not ready)
        if keys:
            os.write(fd, keys)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        status = None
    else:
        os.kill(pid, 9)
        pytest.fail(f"`tinygrad-sm {' '.join(args)}` did not end: {output[-600:]!r}")
    if status is None:
        _, status = os.waitpid(pid, 0)
    return output.decode("utf-8", "replace"), os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
