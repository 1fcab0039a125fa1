"""What the ``kiln`` commands share: how a command fails on bad input, reading a source file, ``--device``.

Light on purpose (typer only at import): command modules import their heavy dependencies inside the
command functions.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import typer

Fail = Callable[[str], NoReturn]

DATABASE_HELP = "Database URL (default: $KILN_DATABASE_URL, else ~/.local/share/kernelkiln/kiln.sqlite)."
"""The help of every command's database option (``--url``, ``--database``)."""


def failer(command: str, exit_code: int) -> Fail:
    """``fail(message)`` for ``kiln COMMAND``: ``kiln COMMAND: error: message`` on stderr, exit ``exit_code``."""

    def fail(message: str) -> NoReturn:
        typer.echo(f"kiln {command}: error: {message}", err=True)
        raise typer.Exit(exit_code)

    return fail


def read_source(path: Path, what: str, fail: Fail) -> str:
    """The text of a ``what`` file (``reference``, ``candidate``); ``fail`` says why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"{what} file not found: {path}")
    except IsADirectoryError:
        fail(f"{what} path is a directory, not a Python file: {path}")
    except (OSError, UnicodeDecodeError) as e:
        fail(f"cannot read {what} file {path}: {e}")


def device_option(choice: str, fail: Fail) -> str:
    """``--device CHOICE`` resolved (``service.devices.resolve_device``); ``fail`` when it is unusable."""
    from service.devices import DeviceUnavailable, resolve_device

    try:
        return resolve_device(choice)
    except DeviceUnavailable as e:
        fail(str(e))


def verify_files(reference: Path, candidate: Path, options: Any, fail: Fail, *, quiet: bool = False) -> Any:
    """``verifier.verify`` of the reference and candidate files under ``options`` (progress lines on stderr
    unless ``quiet``): the ``Report``; ``fail`` says why a file cannot be read or the reference is unusable."""
    from verifier import Candidate, Reference, verify
    from verifier.errors import VerifierInputError

    ref_src = read_source(reference, "reference", fail)
    cand_src = read_source(candidate, "candidate", fail)
    progress = None if quiet else (lambda msg: typer.echo(f"[kiln] {msg}", err=True))
    try:
        return verify(
            Reference(source=ref_src, name=reference.stem),
            Candidate(source=cand_src, name=candidate.stem),
            options,
            progress=progress,
        )
    except VerifierInputError as e:
        fail(str(e))


def require_sandbox(fail: Fail, sandbox: str = "auto", *, image: str | None = None, device: str = "cpu") -> str:
    """The sandbox mechanism this host's verifications get (``sandbox``: auto, docker, bwrap, unshare),
    checked before a command starts any work; ``fail`` with the fix when none is usable (no bubblewrap,
    no user namespaces, no docker image), so a run never starts only to fail every candidate."""
    from verifier.errors import SandboxUnavailableError
    from verifier.sandbox.isolation import TRUSTED_CODE_HINT, choose

    try:
        return choose(sandbox, image=image, cuda=device == "cuda").mechanism
    except SandboxUnavailableError as e:  # these commands have no --sandbox none: only kiln verify and kiln profile do
        fail(f"cannot verify on this host: {str(e).replace(TRUSTED_CODE_HINT, '')}")


def join_interruptibly(thread: threading.Thread, cancel: threading.Event, message: str) -> None:
    """Start ``thread`` and wait for it; the first Ctrl-C sets ``cancel``, says ``message`` on stderr and
    waits for the thread to finish what it verifies; a second Ctrl-C raises ``KeyboardInterrupt``.

    It waits on an event the thread sets when its ``run`` returns, not on ``Thread.join``: on CPython
    3.11 a Ctrl-C that lands inside ``join(timeout)`` leaves the thread marked as stopped while it still
    runs, and every later ``join`` returned at once (``kiln compile`` then read a result not yet made)."""
    done = threading.Event()
    run = thread.run

    def run_then_signal() -> None:
        try:
            run()
        finally:
            done.set()

    thread.run = run_then_signal  # type: ignore[method-assign]
    thread.start()
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        cancel.set()
        typer.echo(message, err=True)
        while not done.wait(0.2):
            pass
