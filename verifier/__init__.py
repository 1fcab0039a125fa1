"""Kernel Kiln's verifier: decides, without being fooled, whether a candidate kernel computes an op.

Public API::

    from verifier import verify, prepare, Reference, Candidate, VerifyOptions, Report, fast_p
    report = verify(Reference.from_file("ref.py"), Candidate.from_file("cand.py"), VerifyOptions())

This package imports only the standard library, torch and (inside sandbox workers) triton: it
runs on a GPU host with nothing else installed. It never imports the service or the database.
Names are resolved lazily, so ``verifier.report`` and ``verifier.spec`` can be used without torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "VERDICTS": "verifier.report",
    "Check": "verifier.report",
    "Report": "verifier.report",
    "Timing": "verifier.report",
    "Verdict": "verifier.report",
    "fast_p": "verifier.report",
    "Candidate": "verifier.spec",
    "Reference": "verifier.spec",
    "Tolerance": "verifier.spec",
    "VerifyOptions": "verifier.spec",
    "degeneracy": "verifier.nondegenerate",
    "prepare": "verifier.engine",
    "verify": "verifier.engine",
    "PreparedReference": "verifier.reference_run",
    "OpTrace": "verifier.trace",
    "trace_reference": "verifier.trace",
    "VerifierError": "verifier.errors",
    "VerifierInputError": "verifier.errors",
}

__all__ = [
    "VERDICTS",
    "Candidate",
    "Check",
    "OpTrace",
    "PreparedReference",
    "Reference",
    "Report",
    "Timing",
    "Tolerance",
    "Verdict",
    "VerifierError",
    "VerifierInputError",
    "VerifyOptions",
    "degeneracy",
    "fast_p",
    "prepare",
    "trace_reference",
    "verify",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'verifier' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from verifier.engine import prepare, verify
    from verifier.errors import VerifierError, VerifierInputError
    from verifier.nondegenerate import degeneracy
    from verifier.reference_run import PreparedReference
    from verifier.report import VERDICTS, Check, Report, Timing, Verdict, fast_p
    from verifier.spec import Candidate, Reference, Tolerance, VerifyOptions
    from verifier.trace import OpTrace, trace_reference
