"""Token counts where the server reports none, and before a request is sent.

A character estimate: one token per ``CHARS_PER_TOKEN`` characters, rounded up, plus a few tokens of
chat framing per message. Source code and English run at about 3.5 to 4 characters per token on
the common BPE vocabularies, so 3 over-counts a little: a budget estimated this way is reached early,
not overrun. No tokenizer is used: the packages that have one fetch their vocabularies from the
network on first use, and the model behind an OpenAI-compatible URL is often not one they know.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

CHARS_PER_TOKEN = 3.0
MESSAGE_OVERHEAD = 4
"""Tokens of role and separators around each chat message."""


def estimate_text(text: str) -> int:
    """Estimated tokens of ``text`` (0 for an empty one)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_messages(messages: Iterable[Mapping[str, Any]]) -> int:
    """Estimated prompt tokens of a chat request's ``messages``."""
    total = 0
    for message in messages:
        content = message.get("content")
        total += MESSAGE_OVERHEAD + estimate_text(content if isinstance(content, str) else str(content or ""))
    return total
