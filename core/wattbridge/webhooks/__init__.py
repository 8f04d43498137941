"""Webhook building blocks: signing, the SSRF guard, the local receiver.

The dispatcher, the outbox and the endpoint API build on these; transports (the
``http`` plugin) send what :func:`signed_headers` produced to the address that
:func:`check_url` approved.
"""

from wattbridge.webhooks.signing import (
    InvalidSignature,
    generate_secret,
    sign,
    signed_headers,
    verify,
)
from wattbridge.webhooks.ssrf import (
    CheckedTarget,
    UnresolvableTarget,
    UnsafeTarget,
    check_url,
    check_url_async,
)

__all__ = [
    "CheckedTarget",
    "InvalidSignature",
    "UnresolvableTarget",
    "UnsafeTarget",
    "check_url",
    "check_url_async",
    "generate_secret",
    "sign",
    "signed_headers",
    "verify",
]
