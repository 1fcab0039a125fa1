"""Running the verifier for a regression check: the real one by default, a stand-in in tests.

On the CPU a kernel is verified once (correctness only), and a prepared reference is shared by the
kernels checked against the same reference, shapes and mode. Each kernel is verified in the mode its
recorded verification was made in (a training kernel as a training step). On a GPU it is verified
``repeats`` times, each with a freshly prepared reference, so the eager reference is timed next to the
candidate in the same machine state every time (the speed rule compares speedups run by run); a
rejection stops the repeats.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from verifier import Candidate, Reference, Report, VerifyOptions

Progress = Callable[[str], None]


class Verifier(Protocol):
    """What the regression run needs from the verifier (``verifier.prepare`` / ``verifier.verify``)."""

    def prepare(self, reference: Reference, options: VerifyOptions, progress: Progress | None) -> Any: ...

    def verify(
        self, prepared: Any, candidate: Candidate, options: VerifyOptions, progress: Progress | None
    ) -> Report: ...


class LocalVerifier:
    """The verifier's public API, sandbox and all: what the product always uses."""

    def prepare(self, reference: Reference, options: VerifyOptions, progress: Progress | None) -> Any:
        from verifier import prepare

        return prepare(reference, options, progress)

    def verify(self, prepared: Any, candidate: Candidate, options: VerifyOptions, progress: Progress | None) -> Report:
        from verifier import verify

        return verify(prepared, candidate, options, progress)


def reference_key(reference: Reference) -> str:
    """Identity of a reference for sharing its prepared run: source, shapes, tolerances, allowed ops."""
    return json.dumps(
        [
            reference.sha256,
            {name: dict(params) for name, params in reference.shapes.items()},
            {dtype: tol.to_dict() for dtype, tol in reference.tolerances.items()},
            sorted(reference.allowed_ops),
        ],
        sort_keys=True,
        default=str,
    )


class RepeatedVerification:
    """Verifies kernels on one device by the rules in this module's docstring."""

    def __init__(self, verifier: Verifier, options: VerifyOptions, device: str, repeats: int) -> None:
        self.verifier = verifier
        self.options = options
        self.device = device
        self.repeats = repeats if device == "cuda" else 1
        self._prepared: dict[str, Any] = {}

    def _prepare(self, reference: Reference, options: VerifyOptions, progress: Progress | None) -> Any:
        if self.device == "cuda":
            return self.verifier.prepare(reference, options, progress)
        key = json.dumps([reference_key(reference), options.mode])
        if key not in self._prepared:
            try:
                self._prepared[key] = self.verifier.prepare(reference, options, progress)
            except Exception as e:  # remembered: the next kernel of this reference fails the same way
                self._prepared[key] = e
        prepared = self._prepared[key]
        if isinstance(prepared, Exception):
            raise prepared
        return prepared

    def run(
        self, reference: Reference, candidate: Candidate, progress: Progress | None = None, *, mode: str = "forward"
    ) -> list[Report]:
        """One report per run, verified in ``mode``; stops at the first run that is not accepted. Raises
        ``VerifierError`` (reference unusable, sandbox unavailable) before any verdict."""
        options = replace(self.options, mode=mode) if mode != self.options.mode else self.options
        reports: list[Report] = []
        for run in range(self.repeats):
            if progress is not None and self.repeats > 1:
                progress(f"run {run + 1}/{self.repeats}")
            report = self.verifier.verify(self._prepare(reference, options, progress), candidate, options, progress)
            reports.append(report)
            if not report.accepted:
                break
        return reports
