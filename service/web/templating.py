"""The Jinja2 environment of the pages: autoescaped templates and the filters they format numbers with."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi.templating import Jinja2Templates

TEMPLATES_DIR = Path(__file__).parent / "templates"


def speedup(value: float | None) -> str:
    """``2.41×``; ``—`` when there is none."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}×"


def percent(value: float | None, digits: int = 0) -> str:
    """A share as a percentage (``0.4`` → ``40%``); ``—`` when there is none."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:.{digits}f}%"


def milliseconds(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.4g} ms"


def when(value: datetime | None) -> str:
    """A UTC timestamp to the minute."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def short_hash(value: str | None, length: int = 12) -> str:
    return (value or "")[:length]


def path_part(value: str) -> str:
    """A value for one URL path segment (task ids), percent-encoded."""
    return quote(value, safe="")


def build_environment() -> jinja2.Environment:
    """Templates from ``service/web/templates``, autoescaped, failing loudly on undefined names."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    filters: dict[str, Any] = {
        "speedup": speedup,
        "percent": percent,
        "ms": milliseconds,
        "when": when,
        "short_hash": short_hash,
        "path_part": path_part,
    }
    env.filters.update(filters)
    return env


templates = Jinja2Templates(env=build_environment())
