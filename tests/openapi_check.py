"""Validate real responses against the served OpenAPI document."""

from __future__ import annotations

from typing import Any

import jsonschema


def response_schema(document: dict[str, Any], method: str, path: str, status: int) -> Any:
    """The JSON schema the document declares for a response."""
    operation = document["paths"][path][method.lower()]
    return operation["responses"][str(status)]["content"]["application/json"]["schema"]


def validate(document: dict[str, Any], method: str, path: str, status: int, body: Any) -> None:
    """Raise if ``body`` does not match the documented response schema."""
    schema = {**response_schema(document, method, path, status),
              "components": document["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)
