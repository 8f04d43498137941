"""Parsing query parameters into typed values, with errors that say what to fix."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.datastructures import QueryParams

from wattbridge.api.routing import Param
from wattbridge.clock import parse_instant
from wattbridge.errors import ValidationFailed

LIMIT = Param(
    "limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size (1-100)."
)
OFFSET = Param(
    "offset", {"type": "integer", "minimum": 0, "default": 0}, "Number of items to skip."
)


def integer(query: QueryParams, name: str, default: int, low: int, high: int | None) -> int:
    """An integer parameter within ``[low, high]``."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationFailed.single(
            f"$.query.{name}", f"must be a whole number, got {raw!r}"
        ) from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValidationFailed.single(f"$.query.{name}", f"must be {bound}, got {value}")
    return value


def page_window(query: QueryParams) -> tuple[int, int]:
    """``limit`` (1-100, default 20) and ``offset`` (≥ 0)."""
    return integer(query, "limit", 20, 1, 100), integer(query, "offset", 0, 0, None)


def paginated(items: list[Any], limit: int, offset: int, total: int) -> dict[str, Any]:
    """The list shape of every collection except scans."""
    return {
        "items": items,
        "pagination": {
            "limit": limit,
            "offset": offset,
            "total": total,
            "hasMore": offset + len(items) < total,
        },
    }


def choice(query: QueryParams, name: str, allowed: tuple[str, ...]) -> str | None:
    """An optional parameter that must be one of ``allowed``."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise ValidationFailed.single(
            f"$.query.{name}", f"{raw!r} is not valid; use one of: {', '.join(allowed)}"
        )
    return raw


def boolean(query: QueryParams, name: str) -> bool:
    """An optional flag: ``true``/``false`` or ``1``/``0`` (any case); absent or empty is false."""
    raw = (query.get(name) or "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise ValidationFailed.single(f"$.query.{name}", f"must be true or false, got {raw!r}")
    return raw in ("true", "1")


def instant(query: QueryParams, name: str) -> datetime | None:
    """An optional ISO 8601 instant (see :func:`wattbridge.clock.parse_instant`)."""
    raw = query.get(name)
    if raw is None:
        return None
    try:
        return parse_instant(raw)
    except ValueError as exc:
        raise ValidationFailed.single(f"$.query.{name}", str(exc)) from None
