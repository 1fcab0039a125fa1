"""Pull the candidate module out of a model's answer."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
_MODEL_NEW = re.compile(r"^\s*class\s+ModelNew\b", re.MULTILINE)


def extract_code(answer: str) -> str | None:
    """The fenced block that defines ``class ModelNew`` (the last such, python-tagged preferred).

    Falls back to the longest python block, then to the whole answer when it is bare code defining
    ModelNew; None when the answer holds no code at all. The verifier judges whatever is returned.
    """
    blocks = [(lang.lower(), body) for lang, body in _FENCE.findall(answer)]
    python = [body for lang, body in blocks if lang in ("python", "py", "python3", "")]
    with_model = [body for body in python if _MODEL_NEW.search(body)]
    if with_model:
        return with_model[-1].strip() + "\n"
    any_model = [body for _, body in blocks if _MODEL_NEW.search(body)]
    if any_model:
        return any_model[-1].strip() + "\n"
    if python:
        return max(python, key=len).strip() + "\n"
    if not blocks and _MODEL_NEW.search(answer):
        return answer.strip() + "\n"
    return None
