"""JSON Schema fragments that several resource modules' OpenAPI schemas share."""

from __future__ import annotations

from typing import Any

TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
"""An instant: ISO 8601 UTC with milliseconds and ``Z``."""

NULLABLE_TIME: dict[str, Any] = {"type": ["string", "null"], "format": "date-time"}
"""An instant, or null."""


def page_of(item: str) -> dict[str, Any]:
    """A page of component ``item``s: the shape :func:`wattbridge.api.params.paginated` makes."""
    return {
        "type": "object",
        "required": ["items", "pagination"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
            "pagination": {"$ref": "#/components/schemas/Pagination"},
        },
    }
