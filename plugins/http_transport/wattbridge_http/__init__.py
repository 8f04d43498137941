"""The built-in ``http`` webhook transport, registered like any third-party plugin.

It sends each signed delivery as one HTTPS (or HTTP) POST, connects only to the
address the SSRF check approved, never follows redirects, and reports status,
timing, ``Retry-After`` and the start of the answer to the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable

from wattbridge import hookimpl
from wattbridge.drivers.webhooks import WebhookTransport
from wattbridge_http.transport import HttpTransport, parse_retry_after

__all__ = ["HttpTransport", "parse_retry_after", "register_webhook_transports"]


@hookimpl
def register_webhook_transports(register: Callable[[WebhookTransport], None]) -> None:
    """Register the ``http`` transport for both environments."""
    register(HttpTransport())
