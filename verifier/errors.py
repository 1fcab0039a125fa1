"""Errors the verifier raises to its caller (as opposed to verdicts about a candidate)."""

from __future__ import annotations


class VerifierError(Exception):
    """Base class of errors that stop a verification before a verdict is possible."""


class VerifierInputError(VerifierError):
    """The reference or the options are unusable (syntax error, no ``Model``, reference crashed...).

    `kiln verify` maps this to exit code 2: the fault is in what was asked, not in the candidate.
    """


class SandboxUnavailableError(VerifierError):
    """The requested sandbox mechanism cannot run on this host."""
