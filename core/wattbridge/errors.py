"""The errors a client can see, each with a stable code and an HTTP status.

Services raise these; the HTTP layer renders them into the error envelope of
the API contract, the CLI prints their message, embedders catch them. Nothing
else in an error body comes from an exception: no stack trace, SQL or key
material can leak because only these fields are ever rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs


@attrs.frozen
class FieldError:
    """One problem with one input field, located by a JSONPath such as ``$.yearlyKwh``."""

    path: str
    message: str


class WattbridgeError(Exception):
    """Base class of every error with a code, a status and a message for the client."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500

    def __init__(self, message: str, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.headers: dict[str, str] = {}


class Unauthorized(WattbridgeError):
    """Missing, malformed, unknown or revoked API key (deliberately says no more)."""

    code = "UNAUTHORIZED"
    status = 401


class LiveAccessDisabled(WattbridgeError):
    """A live key on a project whose live access is not enabled."""

    code = "LIVE_ACCESS_DISABLED"
    status = 403


class DeviceLimitReached(WattbridgeError):
    """Linking another device would exceed the project's plan."""

    code = "DEVICE_LIMIT_REACHED"
    status = 403


class NotFound(WattbridgeError):
    """The resource does not exist for this project and environment."""

    code = "NOT_FOUND"
    status = 404


class MethodNotAllowed(WattbridgeError):
    """The route exists but not with this HTTP method."""

    code = "METHOD_NOT_ALLOWED"
    status = 405


class ValidationFailed(WattbridgeError):
    """The request is malformed; ``errors`` lists every problem with its ``$.path``."""

    code = "VALIDATION_FAILED"
    status = 400

    def __init__(self, errors: Sequence[FieldError], message: str | None = None) -> None:
        if not errors and message is None:
            raise ValueError("ValidationFailed needs at least one error or a message")
        self.errors = list(errors)
        summary = message or _summarise(self.errors)
        super().__init__(
            summary,
            {"errors": [{"path": e.path, "message": e.message} for e in self.errors]},
        )

    @classmethod
    def single(cls, path: str, message: str) -> ValidationFailed:
        """Build the common case of one bad field."""
        return cls([FieldError(path, message)])


def _summarise(errors: Sequence[FieldError]) -> str:
    first = errors[0]
    text = first.message if first.path in ("$", "") else f"{first.path}: {first.message}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return text


class SandboxOnly(WattbridgeError):
    """A sandbox-only feature was used with a live key."""

    code = "SANDBOX_ONLY"
    status = 400


class SandboxStudioUnsupported(WattbridgeError):
    """Studio scans (custom load profiles) are not simulated in the sandbox."""

    code = "SANDBOX_STUDIO_UNSUPPORTED"
    status = 400


class UnsupportedMode(WattbridgeError):
    """The device does not offer this command."""

    code = "UNSUPPORTED_MODE"
    status = 422


class UnsupportedParameter(WattbridgeError):
    """The command does not take this parameter on this device."""

    code = "UNSUPPORTED_PARAMETER"
    status = 422


class UnsupportedUnit(WattbridgeError):
    """A quantity was given in a unit the parameter does not accept."""

    code = "UNSUPPORTED_UNIT"
    status = 422


class ParameterOutOfRange(WattbridgeError):
    """A quantity lies outside the parameter's bounds."""

    code = "PARAMETER_OUT_OF_RANGE"
    status = 422


class Conflict(WattbridgeError):
    """The request conflicts with the current state of the resource."""

    code = "CONFLICT"
    status = 409


class ActionNotCancellable(WattbridgeError):
    """Only scheduled actions can be cancelled."""

    code = "ACTION_NOT_CANCELLABLE"
    status = 409


class ScanNotCompleted(WattbridgeError):
    """The scan's result is not available yet."""

    code = "SCAN_NOT_COMPLETED"
    status = 409


class IdempotencyKeyReused(WattbridgeError):
    """An Idempotency-Key was reused with a different request body."""

    code = "IDEMPOTENCY_KEY_REUSED"
    status = 422


class IdempotencyInProgress(WattbridgeError):
    """A request with the same Idempotency-Key is still being processed."""

    code = "IDEMPOTENCY_IN_PROGRESS"
    status = 409


class RateLimited(WattbridgeError):
    """Too many requests; ``Retry-After`` says when to try again."""

    code = "RATE_LIMITED"
    status = 429

    def __init__(self, message: str, retry_after_seconds: int) -> None:
        super().__init__(message, {"retryAfterSeconds": retry_after_seconds})
        self.headers["Retry-After"] = str(retry_after_seconds)


class ScanLimitReached(WattbridgeError):
    """The project's hard-capped monthly scan limit is used up."""

    code = "SCAN_LIMIT_REACHED"
    status = 429


class InternalError(WattbridgeError):
    """An unexpected failure; the body never says more than this."""

    code = "INTERNAL_ERROR"
    status = 500


class ConfigurationError(Exception):
    """Operator configuration is wrong (bad TOML, unknown plugin, bad duration).

    Not an API error: it stops the server or the CLI command with one clear line.
    """


class PluginSelectionError(ConfigurationError):
    """A configured plugin cannot serve the environment it was selected for."""
