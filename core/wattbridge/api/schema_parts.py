"""JSON Schema fragments that several resource modules' OpenAPI schemas share."""

from __future__ import annotations

from typing import Any

TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
"""An instant: ISO 8601 UTC with milliseconds and ``Z``."""

NULLABLE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
"""An instant, or null."""
