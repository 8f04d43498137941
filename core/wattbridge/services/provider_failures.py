"""What a client sees when a device provider fails during a request.

Providers classify their failures with the
:class:`~wattbridge.drivers.devices.ProviderError` subclasses. Most failures
never reach the client as an error: a failed state read serves the last known
state as ``fallback`` (with the reason in ``sync.error``), and a failed
``execute`` moves the action to ``failed`` or retries it (see
:mod:`wattbridge.services.action_lifecycle`). What remains is a provider that
fails while the core needs its answer *now*, e.g. the device's capabilities
while checking a push; :func:`api_error` turns that into an API error that says
what to do.
"""

from __future__ import annotations

import math

from wattbridge.drivers.devices import (
    AuthFailed,
    ProviderError,
    ProviderRateLimited,
    TransientError,
)
from wattbridge.errors import RateLimited, WattbridgeError


class ProviderUnavailable(WattbridgeError):
    """The device's vendor did not answer; retrying later may work."""

    code = "PROVIDER_UNAVAILABLE"
    status = 503


class ProviderAuthFailed(WattbridgeError):
    """The vendor no longer accepts the stored credentials: the end user must re-link."""

    code = "PROVIDER_AUTH_FAILED"
    status = 409


class ProviderFailed(WattbridgeError):
    """The vendor refused in a way that retrying will not fix."""

    code = "PROVIDER_ERROR"
    status = 502


TRANSIENT_RETRY_AFTER = 30
"""Seconds a client is asked to wait after a transient vendor failure."""

_RELINK = "The end user must link the device again through the Link UI."


def api_error(exc: ProviderError, device_id: str) -> WattbridgeError:
    """The API error for a provider failure that the request cannot work around."""
    reason = f"The vendor of device {device_id!r} said: {exc.message}"
    if isinstance(exc, ProviderRateLimited):
        return RateLimited(
            f"{reason}. It is throttling requests; retry after the Retry-After seconds.",
            max(1, math.ceil(exc.retry_after)),
        )
    if isinstance(exc, TransientError):
        error: WattbridgeError = ProviderUnavailable(
            f"{reason}. This is usually temporary; retry in a moment.",
            {"providerCode": exc.code},
        )
        error.headers["Retry-After"] = str(TRANSIENT_RETRY_AFTER)
        return error
    if isinstance(exc, AuthFailed):
        return ProviderAuthFailed(
            f"{reason}. {_RELINK}",
            {"providerCode": exc.code},
        )
    return ProviderFailed(f"{reason}.", {"providerCode": exc.code})


_HINTS: tuple[tuple[type[ProviderError], str], ...] = (
    (AuthFailed, _RELINK),
    (ProviderRateLimited, "The vendor is throttling requests; wattbridge retries later."),
    (TransientError, "The vendor did not answer; this is usually temporary."),
)


def explain(exc: ProviderError) -> dict[str, str]:
    """``{"code", "message"}`` of a provider failure, with what to do about it.

    Used for ``sync.error`` of a fallback read and the ``error`` of a failed action.
    """
    hint = next((text for kind, text in _HINTS if isinstance(exc, kind)), "")
    message = exc.message.rstrip()
    if hint:
        message = f"{message}{'' if message.endswith('.') else '.'} {hint}"
    return {"code": exc.code, "message": message}
