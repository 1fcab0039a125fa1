"""What an error may say to a client: its message, never a traceback or a path on the server.

The verifier's errors carry the worker's traceback (useful on a terminal: ``kiln verify`` prints it);
an HTTP answer or a job's ``error`` gets the first line, with absolute paths replaced, and the line of
the submitted source where it failed, when the traceback names it.
"""

from __future__ import annotations

import re

_SUBMITTED_FRAME = re.compile(r'File "[^"]*kiln_(?:reference|candidate)\.py", line (\d+)')
_ABSOLUTE_PATH = re.compile(r"(?<![\w.])(?:/[^\s'\"():,]+){2,}")
MAX_CHARS = 500


def public_message(text: str) -> str:
    """``text``'s first line without server paths, and the submitted source's line (``at line N of the
    submitted source``) when a traceback in ``text`` names it."""
    lines = str(text).strip().splitlines()
    first = _ABSOLUTE_PATH.sub("<path>", lines[0] if lines else "")
    frames = _SUBMITTED_FRAME.findall(str(text))
    where = f" (at line {frames[-1]} of the submitted source)" if frames else ""
    message = first + where
    return message if len(message) <= MAX_CHARS else message[:MAX_CHARS] + "…"
