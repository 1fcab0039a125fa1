"""The device a command or the service verifies on: one rule, ``verifier.engine.resolve_device``.

``cpu`` is the CPU; ``cuda`` must exist; ``auto`` (the default everywhere) is ``cuda`` when a GPU is
present, else ``cpu``. Callers turn the one error into their own: a CLI exit 2, a regress set-up error.
"""

from __future__ import annotations

DEVICES = ("auto", "cpu", "cuda")


class DeviceUnavailable(ValueError):
    """``--device`` names no device, or a device this host does not have."""


def resolve_device(choice: str) -> str:
    """``cuda`` or ``cpu`` for ``choice`` (one of ``DEVICES``); ``DeviceUnavailable`` saying why not."""
    if choice not in DEVICES:
        raise DeviceUnavailable(f"--device must be auto, cpu or cuda, not {choice!r}")
    from verifier.engine import resolve_device as verifier_device
    from verifier.errors import VerifierInputError

    try:
        return verifier_device(choice)
    except VerifierInputError as e:
        raise DeviceUnavailable(str(e)) from None
