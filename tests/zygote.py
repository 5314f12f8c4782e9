"""`custody serve` in a process forked from one that imported Custody once.

A new interpreter spends about 3 s of CPU importing Custody before it serves; the suite
starts servers dozens of times (and restarts them after every SIGKILL of the fault tests),
so that was a large share of the run, taken from the tests beside it. Here each server is
still a process of its own, with its own environment, standard streams and signals,
killable with SIGKILL, running the real `custody serve` command: it only skips the import,
forked by multiprocessing's fork server from a process that has done it (and done nothing
else). Whatever Custody reads from the environment it reads when it runs, not on import.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path

# Imported here so that the fork server imports them once, before it forks anyone.
import custody.cli
import custody.cli.serve
import custody.web.app  # noqa: F401

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload([__name__])
_running: list[BaseProcess] = []


def _command(argv: Sequence[str], env: dict[str, str], stdin: str, out: str, err: str) -> None:
    """In the forked process: the command's environment and streams, then the command."""
    for fd, path, flags in (
        (0, stdin, os.O_RDONLY),
        (1, out, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
        (2, err, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
    ):
        opened = os.open(path, flags, 0o600)
        os.dup2(opened, fd)
        os.close(opened)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(env)
    from custody.cli import app

    app(list(argv), prog_name="custody")


class Forked:
    """A forked `custody` process with the part of `subprocess.Popen` the tests use."""

    def __init__(self, process: BaseProcess) -> None:
        self._process = process

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(["custody", "serve"], timeout or 0)
        return self._process.exitcode

    def send_signal(self, signal: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signal)

    def terminate(self) -> None:
        self._process.terminate()

    def kill(self) -> None:
        self._process.kill()


def _fork(argv: Sequence[str], env: dict[str, str], stdin: str, out: str, err: str) -> Forked:
    process = _context.Process(target=_command, args=(list(argv), dict(env), stdin, out, err))
    process.start()
    _running.append(process)
    return Forked(process)


def start(argv: Sequence[str], env: dict[str, str], log: Path) -> Forked:
    """`custody *argv` with exactly `env`, its output appended to `log`."""
    return _fork(argv, env, os.devnull, str(log), str(log))


def run(
    argv: Sequence[str], env: dict[str, str], stdin: str | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """`custody *argv` to its end, as `subprocess.run(..., capture_output=True, text=True)`."""
    with tempfile.TemporaryDirectory(prefix="custody-command-") as where:
        given, out, err = (Path(where) / name for name in ("stdin", "stdout", "stderr"))
        given.write_text(stdin or "")
        command = _fork(argv, env, str(given), str(out), str(err))
        try:
            code = command.wait(timeout)
        except subprocess.TimeoutExpired:
            command.kill()
            command.wait()
            raise
        return subprocess.CompletedProcess(
            ["custody", *argv],
            code,
            out.read_text() if out.exists() else "",
            err.read_text() if err.exists() else "",
        )


@atexit.register
def _kill_leftovers() -> None:
    # Before multiprocessing's own exit handler (registered earlier, so run later), which
    # waits for every child: a server a failed test left running must not hang the run.
    for process in _running:
        if process.exitcode is None:
            process.kill()
            process.join(5)
