"""The one error of ``kiln regress`` itself: the run could not start (exit code 2)."""

from __future__ import annotations


class RegressSetupError(Exception):
    """No store, an unreadable bundle, an empty explicit selection, an unusable device: nothing was checked."""
